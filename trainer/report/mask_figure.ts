// Masks drawn on images: each image beside its context (the rest greyed out) and its target blocks (one tint per block).
import { DataError } from "../errors.js";
import { TARGET_BLOCK_COLORS } from "./palette.js";
import { type ImageBatch, type Rgb, RgbCanvas, blend, checkImageBatch } from "./image_canvas.js";
import { textWidth } from "./svg_text.js";

export interface MaskFigureInput extends ImageBatch {
  /** Patch grid of the encoder (e.g. 7 × 7 for 28-pixel images and 4-pixel patches). */
  gridHeight: number;
  gridWidth: number;
  /** Per image, the patch indices the context encoder sees; row-major on the grid (idx = r * gridWidth + c). */
  context: Int32Array[];
  /** Per image, one index array per target block. */
  targets: Int32Array[][];
  /** Screen pixels per image pixel (nearest-neighbour upscaling). */
  scale: number;
  /** How many of the first images to show (default 8). */
  maxImages?: number;
  /** Image triplets per row of the figure (default 2). */
  columns?: number;
}

/** Where the trainer puts the first batch's mask figure in a run (the run contract's key, re-exported). */
export { MASKS_FIGURE_KEY } from "../run/run_layout.js";

/** What a patch outside the context (or outside every target, in the targets panel) is blended towards. */
export const GREY_OUT: Rgb = [128, 128, 128];
/** Share of the original pixel kept when greying out: low enough to read as "hidden", high enough to see the shape. */
export const GREY_OUT_KEEP = 0.3;
/** Share of the original pixel kept under a target tint, so the object stays visible through the colour. */
export const TINT_KEEP = 0.35;

const MARGIN = 8;
const CAPTION_HEIGHT = 22;
const PANEL_GAP = 6;
const TRIPLET_GAP = 20;
const ROW_GAP = 10;
const PANEL_TITLES = ["image", "context", "targets"] as const;

/** Where things are in the figure, so callers (and tests) can find a panel's pixels. */
export interface MaskFigureLayout {
  width: number;
  height: number;
  shown: number;
  panelWidth: number;
  panelHeight: number;
  /** Top-left pixel of panel 0 (image), 1 (context) or 2 (targets) of image `index`. */
  origin(index: number, panel: 0 | 1 | 2): { x: number; y: number };
}

export function maskFigureLayout(
  input: Pick<MaskFigureInput, "count" | "height" | "width" | "scale" | "maxImages" | "columns">,
): MaskFigureLayout {
  const shown = Math.min(input.count, input.maxImages ?? 8);
  const columns = Math.max(1, Math.min(input.columns ?? 2, shown));
  const rows = Math.ceil(shown / columns);
  const panelWidth = input.width * input.scale;
  const panelHeight = input.height * input.scale;
  const tripletWidth = 3 * panelWidth + 2 * PANEL_GAP;
  return {
    width: 2 * MARGIN + columns * tripletWidth + (columns - 1) * TRIPLET_GAP,
    height: 2 * MARGIN + CAPTION_HEIGHT + rows * panelHeight + (rows - 1) * ROW_GAP,
    shown,
    panelWidth,
    panelHeight,
    origin(index, panel) {
      const row = Math.floor(index / columns);
      const column = index % columns;
      return {
        x: MARGIN + column * (tripletWidth + TRIPLET_GAP) + panel * (panelWidth + PANEL_GAP),
        y: MARGIN + CAPTION_HEIGHT + row * (panelHeight + ROW_GAP),
      };
    },
  };
}

/**
 * Renders the first few images as PNG, each shown three times: as it is, with only its context
 * patches clear (the rest greyed out), and with each target block tinted in its own colour
 * (colour-blind-safe; where blocks overlap, the later block's tint shows).
 */
export async function renderMaskFigure(input: MaskFigureInput): Promise<Uint8Array> {
  checkMaskInput(input);
  const layout = maskFigureLayout(input);
  const canvas = new RgbCanvas(layout.width, layout.height);
  const patchHeight = input.height / input.gridHeight;
  const patchWidth = input.width / input.gridWidth;
  const patchOf = (row: number, col: number): number =>
    Math.floor(row / patchHeight) * input.gridWidth + Math.floor(col / patchWidth);
  const patches = input.gridHeight * input.gridWidth;

  for (let i = 0; i < layout.shown; i++) {
    const inContext = new Uint8Array(patches);
    for (const p of input.context[i]) inContext[p] = 1;
    // 0 = no target; k + 1 = target block k (the last block listed wins an overlap).
    const targetOf = new Int32Array(patches);
    input.targets[i].forEach((block, k) => {
      for (const p of block) targetOf[p] = k + 1;
    });
    const image = layout.origin(i, 0);
    const context = layout.origin(i, 1);
    const targets = layout.origin(i, 2);
    canvas.drawImage(input, i, image.x, image.y, input.scale);
    canvas.drawImage(input, i, context.x, context.y, input.scale, (rgb, row, col) =>
      inContext[patchOf(row, col)] ? rgb : greyedOut(rgb),
    );
    canvas.drawImage(input, i, targets.x, targets.y, input.scale, (rgb, row, col) => {
      const block = targetOf[patchOf(row, col)];
      return block ? tinted(rgb, block - 1) : greyedOut(rgb);
    });
  }

  const captionSize = Math.min(13, Math.floor(layout.panelWidth / (textWidth("targets", 1) + 0.5)));
  // Panels too narrow for legible captions (tiny images at scale 1–2) go without.
  const columns = captionSize >= 8 ? Math.min(layout.shown, input.columns ?? 2) : 0;
  for (let c = 0; c < columns; c++) {
    PANEL_TITLES.forEach((title, panel) => {
      const { x } = layout.origin(c, panel as 0 | 1 | 2);
      canvas.caption({
        x: x + layout.panelWidth / 2,
        y: MARGIN + CAPTION_HEIGHT - 7,
        text: title,
        size: captionSize,
        anchor: "middle",
      });
    });
  }
  return canvas.toPng();
}

/** A pixel outside the context: pulled most of the way to mid-grey, so hidden parts read as fog over the image. */
export function greyedOut(rgb: Rgb): Rgb {
  return blend(rgb, GREY_OUT, GREY_OUT_KEEP);
}

/** A pixel of target block `block`: tinted with that block's palette colour. */
export function tinted(rgb: Rgb, block: number): Rgb {
  return blend(rgb, TARGET_BLOCK_COLORS[block % TARGET_BLOCK_COLORS.length], TINT_KEEP);
}

function checkMaskInput(input: MaskFigureInput): void {
  checkImageBatch(input, "mask figure");
  const { height, width, gridHeight, gridWidth, scale } = input;
  if (!Number.isInteger(scale) || scale < 1 || scale > 32)
    throw new DataError(`mask figure: scale must be an integer in [1, 32], got ${scale}`);
  if (
    !Number.isInteger(gridHeight) ||
    !Number.isInteger(gridWidth) ||
    gridHeight < 1 ||
    gridWidth < 1 ||
    height % gridHeight ||
    width % gridWidth
  ) {
    throw new DataError(
      `mask figure: a ${gridHeight} × ${gridWidth} patch grid does not tile ${height} × ${width} images`,
      "pass the encoder's grid: image size divided by patch size along each side",
    );
  }
  const shown = Math.min(input.count, input.maxImages ?? 8);
  if (input.context.length < shown || input.targets.length < shown) {
    throw new DataError(
      `mask figure: ${shown} images to draw but masks for ${input.context.length} (context) and ${input.targets.length} (targets)`,
      "pass one context array and one list of target blocks per image",
    );
  }
  const patches = gridHeight * gridWidth;
  for (let i = 0; i < shown; i++) {
    for (const [what, indices] of [
      ["context", input.context[i]],
      ...input.targets[i].map((t, k) => [`target block ${k}`, t] as const),
    ] as const) {
      const bad = indices.find((p) => !(p >= 0 && p < patches));
      if (bad !== undefined) {
        throw new DataError(
          `mask figure: image ${i} ${what} has patch index ${bad}, outside the ${gridHeight} × ${gridWidth} grid (0..${patches - 1})`,
        );
      }
    }
  }
}
