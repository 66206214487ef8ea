// Multi-block masks: invariants over random settings, parity with a literal port of the official sampler, determinism, corners, and refusals.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../trainer/errors.js";
import { blockAreaRange } from "../../trainer/masks/block_size.js";
import {
  FAILURES_BEFORE_RELAXING,
  MAX_TRIES_PER_BLOCK,
  MultiBlockMaskSampler,
  OFFICIAL_MASK_SETTINGS,
  sampleBlock,
  type BatchMasks,
  type BlockPlacement,
  type MultiBlockMaskOptions,
} from "../../trainer/masks/multiblock.js";
import { Rng } from "../../trainer/utils/rng.js";
import { referenceMasks } from "./official_reference.js";

const PATCH = 4;

interface Case {
  options: MultiBlockMaskOptions;
  batchSize: number;
  seed: number;
  step: number;
}

/** Random settings on grids of 4..20 patches per side; many are infeasible, and those must be refused with a reason. */
const cases: fc.Arbitrary<Case> = fc
  .record({
    gridHeight: fc.integer({ min: 4, max: 20 }),
    gridWidth: fc.integer({ min: 4, max: 20 }),
    predLow: fc.integer({ min: 50, max: 400 }),
    predSpan: fc.integer({ min: 0, max: 200 }),
    encLow: fc.integer({ min: 400, max: 1000 }),
    encSpan: fc.integer({ min: 0, max: 300 }),
    ratioLow: fc.integer({ min: 300, max: 1500 }),
    ratioSpan: fc.integer({ min: 0, max: 1500 }),
    npred: fc.integer({ min: 1, max: 4 }),
    nenc: fc.integer({ min: 1, max: 2 }),
    minKeep: fc.integer({ min: 0, max: 6 }),
    allowOverlap: fc.integer({ min: 0, max: 4 }).map((x) => x === 0), // mostly false, the official default
    uniform: fc.boolean(),
    batchSize: fc.integer({ min: 1, max: 16 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    step: fc.integer({ min: 0, max: 1_000_000 }),
  })
  .map((r) => ({
    options: {
      inputSize: [r.gridHeight * PATCH, r.gridWidth * PATCH] as const,
      patchSize: PATCH,
      predMaskScale: [r.predLow / 1000, (r.predLow + r.predSpan) / 1000] as const,
      encMaskScale: [r.encLow / 1000, Math.min(1, (r.encLow + r.encSpan) / 1000)] as const,
      aspectRatio: [r.ratioLow / 1000, (r.ratioLow + r.ratioSpan) / 1000] as const,
      npred: r.npred,
      nenc: r.nenc,
      minKeep: r.minKeep,
      allowOverlap: r.allowOverlap,
      cornerSampling: r.uniform ? ("uniform" as const) : ("official" as const),
    },
    batchSize: r.batchSize,
    seed: r.seed,
    step: r.step,
  }));

/** The sampler, or undefined after checking that a refusal names mask.min_keep and is justified by the exact block range. */
function samplerOrJustifiedRefusal(options: MultiBlockMaskOptions): MultiBlockMaskSampler | undefined {
  try {
    return new MultiBlockMaskSampler(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/mask\.min_keep/);
    const [height, width] = options.inputSize as readonly [number, number];
    const grid = [height / PATCH, width / PATCH] as const;
    const smallestTarget = blockAreaRange(options.predMaskScale, options.aspectRatio, ...grid).min.area;
    const smallestContext = blockAreaRange(options.encMaskScale, [1, 1], ...grid).min.area;
    expect(Math.min(smallestTarget, smallestContext)).toBeLessThanOrEqual(options.minKeep);
    return undefined;
  }
}

function rowOf(mask: Int32Array, keep: number, b: number): Int32Array {
  return mask.subarray(b * keep, (b + 1) * keep);
}

function boundingBox(indices: Int32Array, gridWidth: number): { rows: number; cols: number } {
  let r0 = Infinity;
  let r1 = -Infinity;
  let c0 = Infinity;
  let c1 = -Infinity;
  for (const i of indices) {
    const r = Math.floor(i / gridWidth);
    const c = i % gridWidth;
    r0 = Math.min(r0, r);
    r1 = Math.max(r1, r);
    c0 = Math.min(c0, c);
    c1 = Math.max(c1, c);
  }
  return { rows: r1 - r0 + 1, cols: c1 - c0 + 1 };
}

describe("MultiBlockMaskSampler over random grids, scales, aspect ratios and batches", () => {
  it("keeps every mask row sorted, unique, on the grid, and more than min_keep long", () => {
    let accepted = 0;
    fc.assert(
      fc.property(cases, ({ options, batchSize, seed, step }) => {
        const sampler = samplerOrJustifiedRefusal(options);
        if (!sampler) return;
        accepted++;
        const masks = sampler.sample(batchSize, seed, step);
        expect(masks.target).toHaveLength(options.npred);
        expect(masks.context).toHaveLength(options.nenc);
        expect(masks.targetKeep).toBeGreaterThan(options.minKeep);
        expect(masks.contextKeep).toBeGreaterThan(options.minKeep);
        for (const [group, keep] of [
          [masks.target, masks.targetKeep],
          [masks.context, masks.contextKeep],
        ] as const) {
          for (const mask of group) {
            expect(mask.length).toBe(batchSize * keep);
            for (let b = 0; b < batchSize; b++) {
              const row = rowOf(mask, keep, b);
              for (let j = 0; j < row.length; j++) {
                if (!(row[j] >= 0 && row[j] < sampler.numPatches)) throw new Error(`index ${row[j]} off the grid`);
                if (j > 0 && !(row[j] > row[j - 1]))
                  throw new Error(`row not strictly ascending at ${j}: ${row.join(",")}`);
              }
            }
          }
        }
      }),
      { numRuns: 300 },
    );
    expect(accepted).toBeGreaterThan(100); // the property must not hold vacuously
  });

  it("never puts a target patch in the context unless the sampler had to drop that target's exclusion", () => {
    let relaxedSeen = 0;
    fc.assert(
      fc.property(cases, ({ options, batchSize, seed, step }) => {
        const sampler = samplerOrJustifiedRefusal({ ...options, allowOverlap: false });
        if (!sampler) return;
        const masks = sampler.sample(batchSize, seed, step);
        for (let m = 0; m < options.nenc; m++) {
          for (let b = 0; b < batchSize; b++) {
            const dropped = masks.contextConstraintsDropped[m * batchSize + b];
            if (dropped > 0) relaxedSeen++;
            const context = new Set(rowOf(masks.context[m], masks.contextKeep, b));
            // With d exclusions dropped, targets 0..npred-d-1 are still excluded (the official drops from the end).
            for (let k = 0; k < options.npred - dropped; k++) {
              for (const patch of rowOf(masks.target[k], masks.targetKeep, b)) {
                if (context.has(patch))
                  throw new Error(
                    `context ${m} of image ${b} holds patch ${patch} of target ${k} (dropped ${dropped})`,
                  );
              }
            }
          }
        }
      }),
      { numRuns: 300 },
    );
    // Random small grids do relax sometimes; that is what makes the invariant above precise rather than vacuous.
    expect(relaxedSeen).toBeGreaterThan(0);
  });

  it("draws blocks within H-1 × W-1 and the exact area range of the scale and aspect settings", () => {
    fc.assert(
      fc.property(cases, ({ options, batchSize, seed, step }) => {
        const sampler = samplerOrJustifiedRefusal(options);
        if (!sampler) return;
        const masks = sampler.sample(batchSize, seed, step);
        const { gridHeight: H, gridWidth: W } = sampler;
        for (const [block, range] of [
          [masks.targetBlock, sampler.targetBlockArea],
          [masks.contextBlock, sampler.contextBlockArea],
        ] as const) {
          expect(block.height).toBeLessThanOrEqual(H - 1);
          expect(block.width).toBeLessThanOrEqual(W - 1);
          expect(block.height * block.width).toBeGreaterThanOrEqual(range.min.area);
          expect(block.height * block.width).toBeLessThanOrEqual(range.max.area);
        }
        // max_keep ≤ int(H*W*max_scale), and each rounding adds at most 1/2 to a side.
        const maxKeep = Math.trunc(H * W * options.predMaskScale[1]);
        const [arLow, arHigh] = options.aspectRatio;
        const bound = (Math.sqrt(maxKeep * arHigh) + 0.5) * (Math.sqrt(maxKeep / arLow) + 0.5);
        expect(masks.targetBlock.height * masks.targetBlock.width).toBeLessThanOrEqual(bound);
        // Targets keep whole blocks, so the batch's target length is the block area and each row is that rectangle.
        expect(masks.targetKeep).toBe(masks.targetBlock.height * masks.targetBlock.width);
        for (const mask of masks.target) {
          for (let b = 0; b < batchSize; b++) {
            expect(boundingBox(rowOf(mask, masks.targetKeep, b), W)).toEqual({
              rows: masks.targetBlock.height,
              cols: masks.targetBlock.width,
            });
          }
        }
        for (const mask of masks.context) {
          for (let b = 0; b < batchSize; b++) {
            const box = boundingBox(rowOf(mask, masks.contextKeep, b), W);
            expect(box.rows).toBeLessThanOrEqual(masks.contextBlock.height);
            expect(box.cols).toBeLessThanOrEqual(masks.contextBlock.width);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it("samples exactly what a literal port of the official MaskCollator samples from the same streams", () => {
    fc.assert(
      fc.property(cases, ({ options, batchSize, seed, step }) => {
        const sampler = samplerOrJustifiedRefusal(options);
        if (!sampler) return;
        const masks = sampler.sample(batchSize, seed, step);
        const expected = referenceMasks(
          {
            gridHeight: sampler.gridHeight,
            gridWidth: sampler.gridWidth,
            encMaskScale: options.encMaskScale,
            predMaskScale: options.predMaskScale,
            aspectRatio: options.aspectRatio,
            nenc: options.nenc,
            npred: options.npred,
            minKeep: options.minKeep,
            allowOverlap: options.allowOverlap,
            uniformCorners: options.cornerSampling === "uniform",
          },
          batchSize,
          seed,
          step,
        );
        // contextKeep / targetKeep are the minima over the batch, so this also pins the cut to the shortest mask.
        expect({
          context: masks.context.map((m) => [...m]),
          target: masks.target.map((m) => [...m]),
          contextKeep: masks.contextKeep,
          targetKeep: masks.targetKeep,
          targetBlock: [masks.targetBlock.height, masks.targetBlock.width],
          contextBlock: [masks.contextBlock.height, masks.contextBlock.width],
        }).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe("determinism", () => {
  const sampler = new MultiBlockMaskSampler({ ...OFFICIAL_MASK_SETTINGS, inputSize: 224, patchSize: 16 });

  it("gives identical masks for the same seed and step, with no state carried between calls", () => {
    const first = sampler.sample(8, 1234, 77);
    sampler.sample(8, 1234, 78); // an unrelated call in between changes nothing
    const again = new MultiBlockMaskSampler({ ...OFFICIAL_MASK_SETTINGS, inputSize: 224, patchSize: 16 }).sample(
      8,
      1234,
      77,
    );
    expect(again).toEqual(first);
    expect(sampler.sample(8, 1234, 77)).toEqual(first);
  });

  it("gives different masks for different steps and different seeds", () => {
    const fingerprint = (m: BatchMasks): string => [...m.context, ...m.target].map((a) => a.join(",")).join("|");
    const seen = new Set<string>();
    for (let step = 0; step < 30; step++) seen.add(fingerprint(sampler.sample(8, 1234, step)));
    expect(seen.size).toBe(30);
    expect(fingerprint(sampler.sample(8, 1235, 0))).not.toBe(fingerprint(sampler.sample(8, 1234, 0)));
  });
});

describe("corner sampling", () => {
  const settings = {
    ...OFFICIAL_MASK_SETTINGS,
    inputSize: 32,
    patchSize: PATCH,
    minKeep: 2,
    predMaskScale: [0.05, 0.1] as const,
    encMaskScale: [0.3, 0.5] as const,
  };

  /** Whether any target or context patch of 40 batches of 8 lies in the last row and in the last column. */
  function touchesLastRowAndColumn(cornerSampling: "official" | "uniform"): { lastRow: boolean; lastColumn: boolean } {
    const sampler = new MultiBlockMaskSampler({ ...settings, cornerSampling });
    const { gridHeight: H, gridWidth: W } = sampler;
    let lastRow = false;
    let lastColumn = false;
    for (let step = 0; step < 40; step++) {
      const masks = sampler.sample(8, 5, step);
      for (const mask of [...masks.target, ...masks.context]) {
        for (const patch of mask) {
          lastRow ||= Math.floor(patch / W) === H - 1;
          lastColumn ||= patch % W === W - 1;
        }
      }
    }
    return { lastRow, lastColumn };
  }

  it("official: never touches the last row or column (torch.randint's bound is exclusive)", () => {
    expect(touchesLastRowAndColumn("official")).toEqual({ lastRow: false, lastColumn: false });
  });

  it("uniform: reaches the last row and column", () => {
    expect(touchesLastRowAndColumn("uniform")).toEqual({ lastRow: true, lastColumn: true });
  });

  it("defaults to official", () => {
    expect(new MultiBlockMaskSampler({ ...settings }).options.cornerSampling).toBe("official");
  });
});

describe("sampleBlock (one block, with a scripted corner source)", () => {
  /** Returns the scripted corners in order and records the [lo, hi) ranges asked for. */
  function scripted(values: number[]): { int(lo: number, hi: number): number; ranges: [number, number][] } {
    const ranges: [number, number][] = [];
    let next = 0;
    return {
      ranges,
      int(lo, hi) {
        ranges.push([lo, hi]);
        return values[next++ % values.length];
      },
    };
  }

  const grid4: Omit<BlockPlacement, "size" | "exclusions" | "cornerSampling"> = {
    gridHeight: 4,
    gridWidth: 4,
    minKeep: 0,
    describe: "test block",
  };

  it("keeps the block's patches minus the excluded target, row-major ascending (hand-worked 4×4 case)", () => {
    // Target 2×2 at (top 1, left 2) covers (1,2) (1,3) (2,2) (2,3) = indices 6 7 10 11.
    const target = sampleBlock(scripted([1, 2]), {
      ...grid4,
      size: { height: 2, width: 2 },
      exclusions: [],
      cornerSampling: "official",
    });
    expect([...target.indices]).toEqual([6, 7, 10, 11]);
    // Context 3×3 at (0, 0) covers rows 0..2, cols 0..2; minus target patches 6 and 10 leaves 0 1 2 4 5 8 9.
    const context = sampleBlock(scripted([0, 0]), {
      ...grid4,
      size: { height: 3, width: 3 },
      exclusions: [target.rect],
      cornerSampling: "official",
    });
    expect([...context.indices]).toEqual([0, 1, 2, 4, 5, 8, 9]);
    expect(context.constraintsDropped).toBe(0);
  });

  it("draws top from [0, H-h) and left from [0, W-w) when official, [0, H-h+1) and [0, W-w+1) when uniform", () => {
    const official = scripted([0]);
    sampleBlock(official, { ...grid4, size: { height: 3, width: 2 }, exclusions: [], cornerSampling: "official" });
    expect(official.ranges).toEqual([
      [0, 1],
      [0, 2],
    ]);
    const uniform = scripted([0]);
    sampleBlock(uniform, { ...grid4, size: { height: 3, width: 2 }, exclusions: [], cornerSampling: "uniform" });
    expect(uniform.ranges).toEqual([
      [0, 2],
      [0, 3],
    ]);
  });

  it("drops the last exclusion after every 20 failures, as the official does", () => {
    const everything = { top: 0, left: 0, height: 4, width: 4 };
    const rng = Rng.fromSeed(3, "relax");
    const block = sampleBlock(rng, {
      ...grid4,
      size: { height: 2, width: 2 },
      exclusions: [everything, everything],
      cornerSampling: "uniform",
    });
    expect(block.constraintsDropped).toBe(2);
    // 2 × 20 failed tries, then one that succeeds: 41 corners, two draws each.
    const twin = Rng.fromSeed(3, "relax");
    for (let i = 0; i < 2 * FAILURES_BEFORE_RELAXING + 1; i++) {
      twin.int(0, 3);
      twin.int(0, 3);
    }
    expect(twin.getState()).toEqual(rng.getState());
  });

  it("gives up with a ConfigError after MAX_TRIES_PER_BLOCK tries instead of looping forever", () => {
    const started = performance.now();
    const rng = scripted([0]);
    expect(() =>
      sampleBlock(rng, {
        ...grid4,
        minKeep: 4,
        size: { height: 2, width: 2 },
        exclusions: [],
        cornerSampling: "official",
      }),
    ).toThrow(/no test block of 2×2 patches.*mask\.min_keep=4.*1000 tries/);
    expect(rng.ranges).toHaveLength(2 * MAX_TRIES_PER_BLOCK);
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe("refusing impossible settings", () => {
  function refusal(options: MultiBlockMaskOptions): { error: unknown; ms: number } {
    const started = performance.now();
    try {
      new MultiBlockMaskSampler(options);
      return { error: undefined, ms: performance.now() - started };
    } catch (error) {
      return { error, ms: performance.now() - started };
    }
  }

  it("refuses the official settings on 28×28 images with patch 4 at once: targets of at most 12 patches cannot keep more than 10", () => {
    const { error, ms } = refusal({ ...OFFICIAL_MASK_SETTINGS, inputSize: 28, patchSize: 4 });
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const key of [
      "mask.min_keep",
      "mask.pred_mask_scale",
      "mask.aspect_ratio",
      "mask.patch_size",
      "data.crop_size",
    ])
      expect(message).toContain(key);
    expect(message).toContain("7×7");
    expect((error as ConfigError).hint).toMatch(/mask\.min_keep below 6/);
    expect(ms).toBeLessThan(100);
  });

  it("refuses context blocks too small for min_keep", () => {
    // 7×7, enc scale 0.1 → max_keep int(4.9) = 4 → 2×2 = 4 patches, not more than 4.
    const { error, ms } = refusal({
      ...OFFICIAL_MASK_SETTINGS,
      inputSize: 28,
      patchSize: 4,
      minKeep: 4,
      predMaskScale: [0.3, 0.3],
      encMaskScale: [0.1, 0.1],
    });
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/context blocks.*mask\.enc_mask_scale/s);
    expect(ms).toBeLessThan(100);
  });

  it("refuses a grid with a single row of patches", () => {
    const { error } = refusal({ ...OFFICIAL_MASK_SETTINGS, inputSize: [4, 64], patchSize: 4, minKeep: 0 });
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/1×16 patch grid.*too small/);
  });

  it("refuses out-of-range settings naming the key", () => {
    const base = { ...OFFICIAL_MASK_SETTINGS, inputSize: 224, patchSize: 16 };
    expect(() => new MultiBlockMaskSampler({ ...base, predMaskScale: [0.2, 0.1] })).toThrow(/mask\.pred_mask_scale/);
    expect(() => new MultiBlockMaskSampler({ ...base, encMaskScale: [0.85, 1.2] })).toThrow(/mask\.enc_mask_scale/);
    expect(() => new MultiBlockMaskSampler({ ...base, aspectRatio: [0, 1] })).toThrow(/mask\.aspect_ratio/);
    expect(() => new MultiBlockMaskSampler({ ...base, npred: 0 })).toThrow(/mask\.num_pred_masks/);
    expect(() => new MultiBlockMaskSampler({ ...base, nenc: 1.5 })).toThrow(/mask\.num_enc_masks/);
    expect(() => new MultiBlockMaskSampler({ ...base, minKeep: -1 })).toThrow(/mask\.min_keep/);
    expect(() => new MultiBlockMaskSampler({ ...base, patchSize: 0 })).toThrow(/mask\.patch_size/);
    expect(() => new MultiBlockMaskSampler({ ...base, cornerSampling: "random" as never })).toThrow(
      /mask\.corner_sampling/,
    );
  });

  it("decides every random setting in under 100 ms", () => {
    fc.assert(
      fc.property(cases, ({ options }) => {
        const { ms } = refusal(options);
        expect(ms).toBeLessThan(100);
      }),
      { numRuns: 200 },
    );
  });
});

describe("official settings on ImageNet-sized grids", () => {
  it.each([
    [224, 16],
    [224, 14],
  ])("never relax a context block (%i px, patch %i)", (inputSize, patchSize) => {
    const sampler = new MultiBlockMaskSampler({ ...OFFICIAL_MASK_SETTINGS, inputSize, patchSize });
    let relaxed = 0;
    for (let step = 0; step < 40; step++) {
      relaxed += sampler.sample(32, 11, step).contextConstraintsDropped.reduce((sum, d) => sum + d, 0);
    }
    expect(relaxed).toBe(0);
  });
});
