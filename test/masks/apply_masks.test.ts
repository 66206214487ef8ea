// Gather indices for apply_masks and repeat_interleave_batch, checked on hand-worked cases and against literal nested-array versions of the official functions.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DataError } from "../../trainer/errors.js";
import {
  gatherRowsIndex,
  maskedPatchIndex,
  repeatBatch,
  repeatInterleaveBatch,
} from "../../trainer/masks/apply_masks.js";

// Two images of four patches; masks are [B=2, K=2] row-major.
const mask0 = Int32Array.from([0, 2, /* image 1: */ 1, 3]);
const mask1 = Int32Array.from([1, 2, /* image 1: */ 0, 3]);

describe("gatherRowsIndex", () => {
  it("lists rows mask-major, then image, then kept patch (hand-worked)", () => {
    // mask 0: image 0 → rows 0, 2; image 1 → 4+1, 4+3.  mask 1: image 0 → 1, 2; image 1 → 4+0, 4+3.
    expect([...gatherRowsIndex([mask0, mask1], 2, 4)]).toEqual([0, 2, 5, 7, 1, 2, 4, 7]);
  });

  it("equals torch.cat([gather(x, 1, m) for m in masks], 0) on a token tensor", () => {
    const settings = fc
      .record({
        batchSize: fc.integer({ min: 1, max: 5 }),
        numPatches: fc.integer({ min: 1, max: 12 }),
        numMasks: fc.integer({ min: 1, max: 4 }),
        keep: fc.integer({ min: 1, max: 6 }),
      })
      .chain((s) =>
        fc.record({
          s: fc.constant(s),
          masks: fc.array(
            fc.array(fc.integer({ min: 0, max: s.numPatches - 1 }), {
              minLength: s.batchSize * s.keep,
              maxLength: s.batchSize * s.keep,
            }),
            {
              minLength: s.numMasks,
              maxLength: s.numMasks,
            },
          ),
        }),
      );
    fc.assert(
      fc.property(settings, ({ s, masks }) => {
        // x[b][n] is the token of patch n of image b; we label it by its row in the flattened [B*N, D] matrix.
        const x = Array.from({ length: s.batchSize }, (_, b) =>
          Array.from({ length: s.numPatches }, (_, n) => `img${b}/patch${n}`),
        );
        const official: string[] = [];
        for (const m of masks)
          for (let b = 0; b < s.batchSize; b++) for (let j = 0; j < s.keep; j++) official.push(x[b][m[b * s.keep + j]]);
        const rows = gatherRowsIndex(
          masks.map((m) => Int32Array.from(m)),
          s.batchSize,
          s.numPatches,
        );
        const flat = x.flat();
        expect([...rows].map((r) => flat[r])).toEqual(official);
      }),
      { numRuns: 100 },
    );
  });

  it("refuses masks of different widths or indices off the grid", () => {
    expect(() => gatherRowsIndex([mask0, Int32Array.from([0, 1, 2])], 2, 4)).toThrow(DataError);
    expect(() => gatherRowsIndex([Int32Array.from([0, 4, 1, 2])], 2, 4)).toThrow(
      /patch index 4 for image 0, outside \[0, 4\)/,
    );
  });
});

describe("maskedPatchIndex", () => {
  it("gives the patch of every gathered row, for a positional-embedding table shared by all images", () => {
    expect([...maskedPatchIndex([mask0, mask1], 2)]).toEqual([0, 2, 1, 3, 1, 2, 0, 3]);
    const rows = gatherRowsIndex([mask0, mask1], 2, 4);
    expect([...maskedPatchIndex([mask0, mask1], 2)]).toEqual([...rows].map((r) => r % 4));
  });
});

describe("repeatInterleaveBatch", () => {
  it("repeats each chunk of B rows in place (hand-worked: 2 chunks of 2, repeat 3)", () => {
    expect([...repeatInterleaveBatch(4, 2, 3)]).toEqual([0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3]);
  });

  it("refuses a row count that is not whole batches", () => {
    expect(() => repeatInterleaveBatch(5, 2, 1)).toThrow(DataError);
  });
});

describe("repeatBatch", () => {
  it("tiles all rows, like x.repeat(n, 1, 1)", () => {
    expect([...repeatBatch(3, 2)]).toEqual([0, 1, 2, 0, 1, 2]);
  });
});

describe("the I-JEPA loss pairing", () => {
  it("lines every predictor row up with the target features of the same image and target mask", () => {
    for (const [batchSize, nenc, npred] of [
      [2, 1, 4],
      [3, 2, 3],
      [1, 2, 1],
    ]) {
      // Predictor input: context rows (nenc × B, mask-major), tiled once per target mask: x.repeat(len(masks_pred), 1, 1).
      const predictorRows = repeatBatch(nenc * batchSize, npred);
      // Targets: apply_masks gives npred × B rows, then repeat_interleave_batch(h, B, repeat=nenc).
      const targetRows = repeatInterleaveBatch(npred * batchSize, batchSize, nenc);
      expect(predictorRows.length).toBe(targetRows.length);
      for (let j = 0; j < targetRows.length; j++) {
        const predictorImage = predictorRows[j] % batchSize;
        const predictorTargetMask = Math.floor(j / (nenc * batchSize)); // the predictor is asked for masks_pred in this order
        expect(targetRows[j] % batchSize).toBe(predictorImage);
        expect(Math.floor(targetRows[j] / batchSize)).toBe(predictorTargetMask);
      }
    }
  });
});
