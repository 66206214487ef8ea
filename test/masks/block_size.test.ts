// Block sizes: the official formula on hand-worked 4×4 cases (banker's rounding included), and the exact area range.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_DRAW, blockAreaRange, blockSizeFromDraw, roundHalfToEven } from "../../trainer/masks/block_size.js";

describe("roundHalfToEven", () => {
  it("rounds exact halves to the even neighbour, like Python 3's round()", () => {
    expect([0.5, 1.5, 2.5, 3.5, 4.5].map(roundHalfToEven)).toEqual([0, 2, 2, 4, 4]);
  });

  it("rounds everything else to the nearest integer", () => {
    expect(roundHalfToEven(2.4999999999999996)).toBe(2);
    expect(roundHalfToEven(2.5000000000000004)).toBe(3);
    expect(roundHalfToEven(3.4641016151377544)).toBe(3); // sqrt(12)
    expect(roundHalfToEven(7)).toBe(7);
  });
});

describe("blockSizeFromDraw on a 4×4 grid (worked by hand from _sample_block_size)", () => {
  it("rounds a height of exactly 2.5 down to 2, where Math.round would give 3", () => {
    // max_keep = int(16 * 0.3125) = int(5.0) = 5
    // h = round(sqrt(5 * 1.25)) = round(sqrt(6.25)) = round(2.5) = 2 (ties to even)
    // w = round(sqrt(5 / 1.25)) = round(sqrt(4)) = 2
    expect(blockSizeFromDraw(0.37, [0.3125, 0.3125], [1.25, 1.25], 4, 4)).toEqual({ height: 2, width: 2 });
  });

  it("rounds a height of exactly 1.5 up to 2 (the even neighbour)", () => {
    // max_keep = int(16 * 0.1875) = int(3.0) = 3
    // h = round(sqrt(3 * 0.75)) = round(sqrt(2.25)) = round(1.5) = 2
    // w = round(sqrt(3 / 0.75)) = round(sqrt(4)) = 2
    expect(blockSizeFromDraw(0.9, [0.1875, 0.1875], [0.75, 0.75], 4, 4)).toEqual({ height: 2, width: 2 });
  });

  it("uses the same draw for scale and aspect ratio", () => {
    // draw 0:    scale 0.25 → max_keep 4;  ar 0.5 → h = round(sqrt(2)) = 1, w = round(sqrt(8)) = 3
    expect(blockSizeFromDraw(0, [0.25, 0.75], [0.5, 2.5], 4, 4)).toEqual({ height: 1, width: 3 });
    // draw 0.5:  scale 0.5 → max_keep 8;   ar 1.5 → h = round(sqrt(12)) = 3, w = round(sqrt(5.33)) = 2
    expect(blockSizeFromDraw(0.5, [0.25, 0.75], [0.5, 2.5], 4, 4)).toEqual({ height: 3, width: 2 });
  });

  it("shrinks a block to at most H-1 rows and W-1 columns", () => {
    // draw 0.75: scale 0.625 → max_keep int(10.0) = 10; ar 2 → h = round(sqrt(20)) = 4 → shrinks to 3; w = round(sqrt(5)) = 2
    expect(blockSizeFromDraw(0.75, [0.25, 0.75], [0.5, 2.5], 4, 4)).toEqual({ height: 3, width: 2 });
    // scale 1 → max_keep 16, ar 1 → 4×4 → 3×3
    expect(blockSizeFromDraw(0.2, [1, 1], [1, 1], 4, 4)).toEqual({ height: 3, width: 3 });
  });

  it("can exceed int(H*W*max_scale) through rounding, as the official formula does", () => {
    // 7×7 grid, scale 1/7 → max_keep int(49/7) = 7; ar 1 → h = w = round(2.6458) = 3 → 9 patches > 7
    expect(blockSizeFromDraw(0, [1 / 7, 1 / 7], [1, 1], 7, 7)).toEqual({ height: 3, width: 3 });
  });
});

describe("blockAreaRange", () => {
  const settings = fc.record({
    gridHeight: fc.integer({ min: 2, max: 24 }),
    gridWidth: fc.integer({ min: 2, max: 24 }),
    scaleLow: fc.integer({ min: 1, max: 1000 }),
    scaleSpan: fc.integer({ min: 0, max: 600 }),
    ratioLow: fc.integer({ min: 200, max: 2000 }),
    ratioSpan: fc.integer({ min: 0, max: 3000 }),
  });

  it("finds areas that some draw produces, and no scanned draw goes outside them", () => {
    fc.assert(
      fc.property(settings, (s) => {
        const scale = [s.scaleLow / 1000, Math.min(1, (s.scaleLow + s.scaleSpan) / 1000)] as const;
        const ratio = [s.ratioLow / 1000, (s.ratioLow + s.ratioSpan) / 1000] as const;
        const range = blockAreaRange(scale, ratio, s.gridHeight, s.gridWidth);
        for (const end of [range.min, range.max]) {
          const size = blockSizeFromDraw(end.draw, scale, ratio, s.gridHeight, s.gridWidth);
          expect(size).toEqual(end.size);
          expect(size.height * size.width).toBe(end.area);
        }
        let scannedMin = Infinity;
        let scannedMax = -Infinity;
        for (let i = 0; i <= 2000; i++) {
          const size = blockSizeFromDraw((i / 2000) * MAX_DRAW, scale, ratio, s.gridHeight, s.gridWidth);
          scannedMin = Math.min(scannedMin, size.height * size.width);
          scannedMax = Math.max(scannedMax, size.height * size.width);
        }
        expect(scannedMin).toBeGreaterThanOrEqual(range.min.area);
        expect(scannedMax).toBeLessThanOrEqual(range.max.area);
      }),
      { numRuns: 150 },
    );
  });

  it("gives 6 to 12 patches for the official target settings on a 7×7 grid", () => {
    // draw 0: max_keep int(49 * 0.15) = 7, ar 0.75 → round(2.29) × round(3.06) = 2×3 = 6
    // draw 0.9: max_keep int(49 * 0.195) = 9, ar 1.425 → round(3.58) × round(2.51) = 4×3 = 12
    expect(blockSizeFromDraw(0.9, [0.15, 0.2], [0.75, 1.5], 7, 7)).toEqual({ height: 4, width: 3 });
    const range = blockAreaRange([0.15, 0.2], [0.75, 1.5], 7, 7);
    expect(range.min.area).toBe(6);
    expect(range.max.area).toBe(12);
    // A fixed scale gives one max_keep; area then depends only on the aspect ratio's roundings.
    const fixed = blockAreaRange([0.5, 0.5], [1, 1], 10, 10);
    expect(fixed.min.area).toBe(49); // max_keep 50 → round(7.07) = 7 → 7×7
    expect(fixed.max.area).toBe(49);
  });
});
