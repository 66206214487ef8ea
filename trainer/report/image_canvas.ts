// An RGB pixel canvas for image figures: blit uint8 NHWC images scaled up (nearest), recolour pixels, add captions, encode PNG.
import sharp from "sharp";
import { DataError } from "../errors.js";
import { FONT_FAMILY, escapeXml } from "./svg_text.js";

export type Rgb = readonly [number, number, number];

/** A batch of uint8 NHWC images, as the batch sources hand them out. */
export interface ImageBatch {
  images: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

export interface Caption {
  x: number;
  y: number;
  text: string;
  size: number;
  anchor?: "start" | "middle" | "end";
  color?: string;
}

/** Checks that the bytes hold `count` images of the stated shape, naming the mismatch. */
export function checkImageBatch(batch: ImageBatch, what: string): void {
  const { images, count, height, width, channels } = batch;
  for (const [name, value] of Object.entries({ count, height, width, channels })) {
    if (!Number.isInteger(value) || value < 1)
      throw new DataError(`${what}: ${name} must be a positive integer, got ${value}`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new DataError(
      `${what}: images with ${channels} channels cannot be drawn`,
      "pass greyscale (1), RGB (3) or RGBA (4) uint8 NHWC images",
    );
  }
  const expected = count * height * width * channels;
  if (images.length !== expected) {
    throw new DataError(
      `${what}: images hold ${images.length} bytes, but ${count} × ${height} × ${width} × ${channels} needs ${expected}`,
      "pass uint8 NHWC pixels with count, height, width and channels describing them",
    );
  }
}

/** White RGB canvas; pixels are written directly, captions are rendered as SVG text on top when encoding. */
export class RgbCanvas {
  readonly pixels: Uint8Array;
  private readonly captions: Caption[] = [];

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = new Uint8Array(width * height * 3).fill(255);
  }

  /** RGB of image `index` at (row, col) of the source image (greyscale is repeated; alpha is ignored). */
  static sourcePixel(batch: ImageBatch, index: number, row: number, col: number): Rgb {
    const base = ((index * batch.height + row) * batch.width + col) * batch.channels;
    const px = batch.images;
    return batch.channels === 1 ? [px[base], px[base], px[base]] : [px[base], px[base + 1], px[base + 2]];
  }

  /**
   * Draws image `index` with its top-left at (x, y), each source pixel as a `scale` × `scale` block.
   * `recolour` may change each source pixel (it gets the source row and column); it is called once per source pixel.
   */
  drawImage(
    batch: ImageBatch,
    index: number,
    x: number,
    y: number,
    scale: number,
    recolour?: (rgb: Rgb, row: number, col: number) => Rgb,
  ): void {
    for (let row = 0; row < batch.height; row++) {
      for (let col = 0; col < batch.width; col++) {
        const source = RgbCanvas.sourcePixel(batch, index, row, col);
        this.fillRect(x + col * scale, y + row * scale, scale, scale, recolour ? recolour(source, row, col) : source);
      }
    }
  }

  fillRect(x: number, y: number, width: number, height: number, rgb: Rgb): void {
    for (let yy = Math.max(0, y); yy < Math.min(this.height, y + height); yy++) {
      for (let xx = Math.max(0, x); xx < Math.min(this.width, x + width); xx++) {
        const o = (yy * this.width + xx) * 3;
        this.pixels[o] = rgb[0];
        this.pixels[o + 1] = rgb[1];
        this.pixels[o + 2] = rgb[2];
      }
    }
  }

  caption(caption: Caption): void {
    this.captions.push(caption);
  }

  async toPng(): Promise<Uint8Array> {
    let image = sharp(Buffer.from(this.pixels.buffer, this.pixels.byteOffset, this.pixels.byteLength), {
      raw: { width: this.width, height: this.height, channels: 3 },
    });
    if (this.captions.length) {
      const texts = this.captions
        .map(
          (c) =>
            `<text x="${c.x}" y="${c.y}" font-size="${c.size}" fill="${c.color ?? "#222"}"${c.anchor && c.anchor !== "start" ? ` text-anchor="${c.anchor}"` : ""}>${escapeXml(c.text)}</text>`,
        )
        .join("");
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" font-family="${FONT_FAMILY}">${texts}</svg>`;
      image = image.composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
    }
    const png = await image.png({ compressionLevel: 9 }).toBuffer();
    return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
  }
}

/** `keep` parts of `rgb` and the rest of `toward`, rounded: the one blend all figures use. */
export function blend(rgb: Rgb, toward: Rgb, keep: number): Rgb {
  return [
    Math.round(rgb[0] * keep + toward[0] * (1 - keep)),
    Math.round(rgb[1] * keep + toward[1] * (1 - keep)),
    Math.round(rgb[2] * keep + toward[2] * (1 - keep)),
  ];
}
