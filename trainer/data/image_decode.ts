// Decodes one JPEG/PNG/WebP file with sharp into a square uint8 HWC image (shorter side to R, centre crop).
import sharp from "sharp";

/** File name endings an image folder reads; anything else is listed as rejected. */
export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".webp"] as const;
const DECODABLE_FORMATS = new Set(["jpeg", "png", "webp"]);

export interface SquareImageOptions {
  /** Output side in pixels. */
  resolution: number;
  channels: 1 | 3;
}

/** Decoded pixels (resolution² × channels bytes), or the reason the file cannot be used. */
export type DecodeResult = { pixels: Uint8Array } | { reason: string };

export function hasImageExtension(key: string): boolean {
  const lower = key.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/**
 * Decodes, applies the EXIF orientation, scales so the shorter side is `resolution`, crops the
 * centre square and converts to sRGB (or grey). Never throws for bad input: a truncated, empty or
 * non-image file gives `{reason}` so one bad file cannot stop a whole job.
 */
export async function decodeSquareImage(bytes: Uint8Array, options: SquareImageOptions): Promise<DecodeResult> {
  if (bytes.length === 0) return { reason: "empty file (0 bytes)" };
  try {
    // failOn "warning": libvips otherwise fills a truncated JPEG with grey and calls it a success.
    const image = sharp(bytes, { failOn: "warning" });
    const meta = await image.metadata();
    if (!meta.format || !DECODABLE_FORMATS.has(meta.format)) {
      return { reason: `unsupported image format ${meta.format ?? "unknown"} (expected JPEG, PNG or WebP)` };
    }
    let pipeline = image.rotate().resize(options.resolution, options.resolution, { fit: "cover", position: "centre" });
    pipeline = options.channels === 1 ? pipeline.grayscale() : pipeline.removeAlpha().toColourspace("srgb");
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    const pixels = toChannels(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      info.channels,
      options.channels,
    );
    const expected = options.resolution * options.resolution * options.channels;
    if (info.width !== options.resolution || info.height !== options.resolution || pixels.length !== expected) {
      return {
        reason: `decoded to ${info.width}x${info.height}x${info.channels}, expected ${options.resolution}x${options.resolution}x${options.channels}`,
      };
    }
    return { pixels };
  } catch (err) {
    return { reason: `cannot decode: ${(err as Error).message.split("\n")[0]}` };
  }
}

/** Converts interleaved pixels between channel counts sharp may hand back (grey, grey+alpha, RGB, RGBA). */
function toChannels(data: Uint8Array, from: number, to: 1 | 3): Uint8Array {
  if (from === to) return data;
  const n = data.length / from;
  const out = new Uint8Array(n * to);
  for (let i = 0; i < n; i++) {
    const src = i * from;
    if (to === 3) {
      if (from >= 3) {
        out[3 * i] = data[src];
        out[3 * i + 1] = data[src + 1];
        out[3 * i + 2] = data[src + 2];
      } else {
        out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = data[src];
      }
    } else {
      // ITU-R BT.601 luma, as PIL's convert("L") uses.
      out[i] = from >= 3 ? Math.round(0.299 * data[src] + 0.587 * data[src + 1] + 0.114 * data[src + 2]) : data[src];
    }
  }
  return out;
}
