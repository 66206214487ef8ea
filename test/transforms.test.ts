// RandomResizedCrop's box against torchvision's RandomResizedCrop.get_params: the scale and log-uniform
// ratio draws, 10 attempts, the centre-crop fallback with the ratio clamped, and Python's rounding.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CropBox, randomResizedCropBox } from "../trainer/transforms.js";
import { Rng } from "../trainer/utils/rng.js";

/**
 * An Rng that hands out the given float draws in order, answers int(lo, hi) with the given values and
 * records each range it was asked for. Rng's state is private, hence the cast.
 */
function scriptedRng(floats: number[], ints: number[] = []) {
  const intRanges: Array<[number, number]> = [];
  let floatsUsed = 0;
  const rng = {
    float: () => {
      if (floatsUsed >= floats.length) throw new Error(`asked for float draw #${floatsUsed + 1} of ${floats.length}`);
      return floats[floatsUsed++];
    },
    int: (lo: number, hi: number) => {
      intRanges.push([lo, hi]);
      return ints[intRanges.length - 1] ?? lo;
    },
  } as unknown as Rng;
  return { rng, intRanges, floatsUsed: () => floatsUsed };
}

/** Python 3's round(), which torchvision's int(round(x)) uses: a half goes to the even neighbour. */
const pythonRound = (x: number): number => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/**
 * torchvision's get_params rule by rule (transforms.py, RandomResizedCrop, torchvision ≥ 0.8), drawing
 * uniform(a, b) as a + (b - a)·u and randint(0, n) (n exclusive) from the given Rng.
 */
function torchvisionGetParams(rng: Rng, height: number, width: number, scale: number[], ratio: number[]): CropBox {
  const area = height * width;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (scale[0] + (scale[1] - scale[0]) * rng.float());
    const aspectRatio = Math.exp(logRatio[0] + (logRatio[1] - logRatio[0]) * rng.float());
    const w = pythonRound(Math.sqrt(targetArea * aspectRatio));
    const h = pythonRound(Math.sqrt(targetArea / aspectRatio));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const i = rng.int(0, height - h + 1);
      const j = rng.int(0, width - w + 1);
      return { top: i, left: j, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < Math.min(...ratio)) h = pythonRound(w / Math.min(...ratio));
  else if (inRatio > Math.max(...ratio)) w = pythonRound(h * Math.max(...ratio));
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

describe("randomResizedCropBox (torchvision's RandomResizedCrop.get_params)", () => {
  it("draws the area from scale, the ratio log-uniformly, then a position with randint's exclusive bound", () => {
    // area 10000 × (0.08 + 0.5 × 0.92) = 5400; ratio exp((log ¾ + log 4⁄3) / 2) = 1;
    // side round(√5400 = 73.48) = 73.
    const { rng, intRanges } = scriptedRng([0.5, 0.5], [7, 11]);
    expect(randomResizedCropBox(rng, 100, 100, [0.08, 1], [3 / 4, 4 / 3])).toEqual({
      top: 7,
      left: 11,
      height: 73,
      width: 73,
    });
    expect(intRanges).toEqual([
      [0, 28],
      [0, 28],
    ]);
  });

  it("tries again when a crop does not fit, drawing area then ratio each time", () => {
    // Attempt 1: area 360, ratio 4 → w = round(√1440 = 37.9) = 38 > 20. Attempt 2: ratio 1 → 19 × 19.
    const { rng, intRanges, floatsUsed } = scriptedRng([0, 1, 0, 0]);
    const box = randomResizedCropBox(rng, 20, 20, [0.9, 0.9], [1, 4]);
    expect(box).toEqual({ top: 0, left: 0, height: 19, width: 19 });
    expect(floatsUsed()).toBe(4);
    expect(intRanges).toEqual([
      [0, 2],
      [0, 2],
    ]);
  });

  it("gives up after exactly 10 attempts and falls back to the central crop, drawing no position", () => {
    // Twice the image's area never fits, whatever the ratio.
    const { rng, intRanges, floatsUsed } = scriptedRng(Array.from({ length: 20 }, (_, k) => (k * 0.37) % 1));
    expect(randomResizedCropBox(rng, 9, 8, [2, 2], [0.5, 2])).toEqual({ top: 0, left: 0, height: 9, width: 8 });
    expect(floatsUsed()).toBe(20);
    expect(intRanges).toEqual([]);
  });

  it.each([
    // [height, width, ratio, expected]: too wide → full height, width clamped to max ratio; too tall → full
    // width, height clamped to min ratio; the offsets are floor((size - crop) / 2).
    [4, 10, [0.5, 2], { top: 0, left: 1, height: 4, width: 8 }],
    [4, 11, [0.5, 2], { top: 0, left: 1, height: 4, width: 8 }],
    [20, 5, [0.5, 2], { top: 5, left: 0, height: 10, width: 5 }],
    // 5 / 2 = 2.5 rounds to 2 as Python's round does (half to even), not to 3.
    [30, 5, [2, 3], { top: 14, left: 0, height: 2, width: 5 }],
  ] as const)("falls back on a %i×%i image with ratio %j to %j", (height, width, ratio, expected) => {
    const { rng } = scriptedRng(Array(20).fill(0.5));
    expect(randomResizedCropBox(rng, height, width, [2, 2], [ratio[0], ratio[1]])).toEqual(expected);
  });

  it("rounds a sampled side of exactly n + ½ to the even neighbour, as Python's round does", () => {
    // area 100 × 0.0625 = 6.25, ratio 1 → √6.25 = 2.5 → 2.
    const { rng } = scriptedRng([0, 0]);
    expect(randomResizedCropBox(rng, 10, 10, [0.0625, 0.0625], [1, 1])).toMatchObject({ height: 2, width: 2 });
  });

  it("makes get_params's box from the same draws, using as many, for any image, scale and ratio", () => {
    const setting = fc.record({
      height: fc.integer({ min: 1, max: 300 }),
      width: fc.integer({ min: 1, max: 300 }),
      scale: fc.tuple(fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 0, max: 1.5, noNaN: true })),
      ratio: fc.tuple(fc.double({ min: 0.2, max: 1, noNaN: true }), fc.double({ min: 1, max: 5, noNaN: true })),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    });
    fc.assert(
      fc.property(setting, ({ height, width, scale, ratio, seed }) => {
        const scaleRange: [number, number] = [scale[0], scale[0] + scale[1]];
        const ours = Rng.fromSeed(seed, "crop");
        const theirs = Rng.fromSeed(seed, "crop");
        const box = randomResizedCropBox(ours, height, width, scaleRange, ratio);
        expect(box).toEqual(torchvisionGetParams(theirs, height, width, scaleRange, ratio));
        expect(ours.float()).toBe(theirs.float());
        expect(box.height).toBeGreaterThan(0);
        expect(box.width).toBeGreaterThan(0);
        expect(box.top + box.height).toBeLessThanOrEqual(height);
        expect(box.left + box.width).toBeLessThanOrEqual(width);
      }),
      { numRuns: 500 },
    );
  });
});
