import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { DataError } from "../../trainer/errors.js";
import {
  GREY_OUT,
  type MaskFigureInput,
  maskFigureLayout,
  renderMaskFigure,
} from "../../trainer/report/mask_figure.js";
import { TARGET_BLOCK_COLORS } from "../../trainer/report/palette.js";

type Rgb = [number, number, number];

/** Decoded PNG with a pixel reader. */
async function decode(png: Uint8Array): Promise<{ width: number; height: number; at(x: number, y: number): Rgb }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    at: (x, y) => {
      const o = (y * info.width + x) * info.channels;
      return [data[o], data[o + 1], data[o + 2]];
    },
  };
}

const distance = (a: readonly number[], b: readonly number[]): number =>
  Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

/**
 * Two 8×8 greyscale images on a 2×2 patch grid (4-pixel patches), drawn at scale 3. Every pixel of
 * image 0 has the value 200 in its top-left patch and 20 elsewhere; image 1 is a gradient.
 */
function input(overrides: Partial<MaskFigureInput> = {}): MaskFigureInput {
  const images = new Uint8Array(2 * 8 * 8);
  for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) images[r * 8 + c] = r < 4 && c < 4 ? 200 : 20;
  for (let i = 0; i < 64; i++) images[64 + i] = i * 4;
  return {
    images,
    count: 2,
    height: 8,
    width: 8,
    channels: 1,
    gridHeight: 2,
    gridWidth: 2,
    // Image 0: context = patch 0 (top-left); targets = patch 3 (bottom-right), then patch 1 (top-right).
    context: [Int32Array.from([0]), Int32Array.from([0, 1])],
    targets: [[Int32Array.from([3]), Int32Array.from([1])], [Int32Array.from([2, 3])]],
    scale: 3,
    ...overrides,
  };
}

/** Centre pixel of patch (pr, pc) of image `index` in panel `panel`, for 4-pixel patches at scale 3. */
function patchCentre(
  layout: ReturnType<typeof maskFigureLayout>,
  index: number,
  panel: 0 | 1 | 2,
  pr: number,
  pc: number,
): [number, number] {
  const { x, y } = layout.origin(index, panel);
  return [x + pc * 12 + 6, y + pr * 12 + 6];
}

describe("renderMaskFigure", () => {
  it("shows each image as it is in the first panel", async () => {
    const figure = await decode(await renderMaskFigure(input()));
    const layout = maskFigureLayout(input());
    expect(figure.width).toBe(layout.width);
    expect(figure.height).toBe(layout.height);
    expect(figure.at(...patchCentre(layout, 0, 0, 0, 0))).toEqual([200, 200, 200]);
    expect(figure.at(...patchCentre(layout, 0, 0, 1, 1))).toEqual([20, 20, 20]);
  });

  it("leaves context pixels unchanged and greys out every other pixel of the context panel", async () => {
    const figure = await decode(await renderMaskFigure(input()));
    const layout = maskFigureLayout(input());
    expect(figure.at(...patchCentre(layout, 0, 1, 0, 0))).toEqual([200, 200, 200]);
    for (const [pr, pc] of [
      [0, 1],
      [1, 0],
      [1, 1],
    ]) {
      const hidden = figure.at(...patchCentre(layout, 0, 1, pr, pc));
      expect(hidden, `patch ${pr},${pc}`).not.toEqual([20, 20, 20]);
      expect(distance(hidden, GREY_OUT), `patch ${pr},${pc}`).toBeLessThan(distance([20, 20, 20], GREY_OUT) / 2);
    }
  });

  it("tints each target block in its own palette colour", async () => {
    const figure = await decode(await renderMaskFigure(input()));
    const layout = maskFigureLayout(input());
    const first = figure.at(...patchCentre(layout, 0, 2, 1, 1)); // block 0
    const second = figure.at(...patchCentre(layout, 0, 2, 0, 1)); // block 1
    // Nearer its own tint than the other block's, and pulled towards its tint from the original grey 20.
    expect(distance(first, TARGET_BLOCK_COLORS[0])).toBeLessThan(distance(first, TARGET_BLOCK_COLORS[1]));
    expect(distance(second, TARGET_BLOCK_COLORS[1])).toBeLessThan(distance(second, TARGET_BLOCK_COLORS[0]));
    expect(distance(first, TARGET_BLOCK_COLORS[0])).toBeLessThan(distance([20, 20, 20], TARGET_BLOCK_COLORS[0]) / 2);
    // Orange keeps orange's channel order (red > green > blue); sky blue keeps blue > green > red.
    expect(first[0]).toBeGreaterThan(first[1]);
    expect(first[1]).toBeGreaterThan(first[2]);
    expect(second[2]).toBeGreaterThan(second[1]);
    expect(second[1]).toBeGreaterThan(second[0]);
    // A patch in no target block is greyed out, not tinted.
    const none = figure.at(...patchCentre(layout, 0, 2, 1, 0));
    expect(Math.max(...none) - Math.min(...none)).toBe(0);
  });

  it("fills a whole patch, and only that patch, with its mask", async () => {
    const figure = await decode(await renderMaskFigure(input()));
    const layout = maskFigureLayout(input());
    const { x, y } = layout.origin(0, 1);
    // Patch 0 spans screen pixels 0..11 of the panel: its last column is clear, the next (patch 1) greyed.
    expect(figure.at(x + 11, y + 11)).toEqual([200, 200, 200]);
    expect(figure.at(x + 12, y + 11)).not.toEqual([20, 20, 20]);
    expect(figure.at(x + 12, y + 11)).not.toEqual([200, 200, 200]);
  });

  it("gives four target blocks four distinguishable colours", () => {
    for (let i = 0; i < 4; i++)
      for (let j = i + 1; j < 4; j++)
        expect(distance(TARGET_BLOCK_COLORS[i], TARGET_BLOCK_COLORS[j])).toBeGreaterThan(100);
  });

  it("keeps the colours of an RGB image in its context", async () => {
    const images = new Uint8Array(8 * 8 * 3);
    for (let i = 0; i < 64; i++) images.set([250, 10, 120], i * 3);
    const rgb = input({ images, count: 1, channels: 3, context: [Int32Array.from([0, 1, 2, 3])], targets: [[]] });
    const figure = await decode(await renderMaskFigure(rgb));
    expect(figure.at(...patchCentre(maskFigureLayout(rgb), 0, 1, 1, 1))).toEqual([250, 10, 120]);
  });

  it("refuses a grid that does not tile the image, naming both", async () => {
    await expect(renderMaskFigure(input({ gridHeight: 3 }))).rejects.toThrow(/3 × 2 patch grid does not tile 8 × 8/);
  });

  it("refuses a patch index outside the grid, naming image and block", async () => {
    const bad = input({ targets: [[Int32Array.from([4])], [Int32Array.from([0])]] });
    await expect(renderMaskFigure(bad)).rejects.toThrow(/image 0 target block 0 has patch index 4/);
  });

  it("refuses pixel bytes that do not match the stated shape", async () => {
    await expect(renderMaskFigure(input({ images: new Uint8Array(100) }))).rejects.toBeInstanceOf(DataError);
  });
});
