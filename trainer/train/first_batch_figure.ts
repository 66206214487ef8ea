// The picture of step 0's masks: the first crops as 8-bit pixels with their blocks, for a drawer the caller injects.
import type { BatchMasks } from "../masks/multiblock.js";

/** What a drawer of the first batch's masks is given (report/mask_figure.ts's renderMaskFigure takes exactly this). */
export interface FirstBatchFigure {
  /** `count` images, height × width × channels bytes each, row-major (HWC). */
  images: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  gridHeight: number;
  gridWidth: number;
  /** Per image, the patch indices the context encoder sees. */
  context: Int32Array[];
  /** Per image, one index array per target block. */
  targets: Int32Array[][];
  /** Screen pixels per image pixel. */
  scale: number;
}

/**
 * Draws the figure as PNG bytes; the trainer stores them at the run contract's MASKS_FIGURE_KEY. Injected
 * so that training does not depend on the report's drawing code (the CLI passes renderMaskFigure).
 */
export type MaskFigureDrawer = (figure: FirstBatchFigure) => Promise<Uint8Array>;

/** The crops as the encoder saw them (normalisation undone, back to 0–255) and their masks, at most 8 images. */
export function firstBatchFigure(
  crops: Float32Array,
  masks: BatchMasks,
  crop: { size: number; channels: number; mean: number[]; std: number[] },
  batchSize: number,
): FirstBatchFigure {
  const { size, channels: c, mean, std } = crop;
  const count = Math.min(8, batchSize);
  const pixels = new Uint8Array(count * size * size * c);
  for (let i = 0; i < pixels.length; i++)
    pixels[i] = Math.max(0, Math.min(255, Math.round((crops[i] * std[i % c] + mean[i % c]) * 255)));
  const rows = (mask: Int32Array, keep: number, b: number) => mask.subarray(b * keep, (b + 1) * keep);
  return {
    images: pixels,
    count,
    height: size,
    width: size,
    channels: c,
    gridHeight: masks.gridHeight,
    gridWidth: masks.gridWidth,
    context: Array.from({ length: count }, (_, b) => rows(masks.context[0], masks.contextKeep, b)),
    targets: Array.from({ length: count }, (_, b) => masks.target.map((t) => rows(t, masks.targetKeep, b))),
    scale: Math.max(1, Math.round(160 / size)),
  };
}
