// A grid of sample images (optionally captioned, e.g. with class names): what a dataset or a batch looks like.
import { DataError } from "../errors.js";
import { type ImageBatch, RgbCanvas, checkImageBatch } from "./image_canvas.js";
import { textWidth } from "./svg_chart.js";

export interface SampleGridInput extends ImageBatch {
  /** Images per row (default 8). */
  columns?: number;
  /** Screen pixels per image pixel (default 3). */
  scale?: number;
  /** How many of the first images to show (default 64). */
  maxImages?: number;
  /** One caption per image, drawn under it and shortened with "…" to the image's width. */
  captions?: string[];
}

const MARGIN = 6;
const GAP = 4;
const CAPTION_SIZE = 11;

export interface SampleGridLayout {
  width: number;
  height: number;
  shown: number;
  /** Top-left pixel of image `index`. */
  origin(index: number): { x: number; y: number };
}

export function sampleGridLayout(input: Pick<SampleGridInput, "count" | "height" | "width" | "columns" | "scale" | "maxImages" | "captions">): SampleGridLayout {
  const shown = Math.min(input.count, input.maxImages ?? 64);
  const columns = Math.max(1, Math.min(input.columns ?? 8, shown));
  const rows = Math.ceil(shown / columns);
  const scale = input.scale ?? 3;
  const cellWidth = input.width * scale;
  const cellHeight = input.height * scale + (input.captions ? CAPTION_SIZE + 6 : 0);
  return {
    width: 2 * MARGIN + columns * cellWidth + (columns - 1) * GAP,
    height: 2 * MARGIN + rows * cellHeight + (rows - 1) * GAP,
    shown,
    origin(index) {
      return { x: MARGIN + (index % columns) * (cellWidth + GAP), y: MARGIN + Math.floor(index / columns) * (cellHeight + GAP) };
    },
  };
}

/** Renders the first images of a uint8 NHWC batch as a PNG grid, upscaled with nearest-neighbour sampling. */
export async function renderSampleGrid(input: SampleGridInput): Promise<Uint8Array> {
  checkImageBatch(input, "sample grid");
  const scale = input.scale ?? 3;
  if (!Number.isInteger(scale) || scale < 1 || scale > 32) throw new DataError(`sample grid: scale must be an integer in [1, 32], got ${scale}`);
  const layout = sampleGridLayout(input);
  if (input.captions && input.captions.length < layout.shown) {
    throw new DataError(`sample grid: ${layout.shown} images to draw but ${input.captions.length} captions`, "pass one caption per image, or none");
  }
  const canvas = new RgbCanvas(layout.width, layout.height);
  const cellWidth = input.width * scale;
  for (let i = 0; i < layout.shown; i++) {
    const { x, y } = layout.origin(i);
    canvas.drawImage(input, i, x, y, scale);
    if (input.captions) {
      canvas.caption({
        x: x + cellWidth / 2,
        y: y + input.height * scale + CAPTION_SIZE + 2,
        text: fitText(input.captions[i], cellWidth),
        size: CAPTION_SIZE,
        anchor: "middle",
        color: "#333",
      });
    }
  }
  return canvas.toPng();
}

function fitText(text: string, width: number): string {
  if (textWidth(text, CAPTION_SIZE) <= width) return text;
  let cut = text;
  while (cut.length > 1 && textWidth(`${cut}…`, CAPTION_SIZE) > width) cut = cut.slice(0, -1);
  return `${cut}…`;
}
