// Mask statistics: consistent summaries of sampled batches, reproducible, and refusing what the sampler refuses.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../trainer/errors.js";
import { describeMaskStats, formatMaskStats } from "../../trainer/masks/mask_stats.js";
import { OFFICIAL_MASK_SETTINGS } from "../../trainer/masks/multiblock.js";

const fashionMnist = {
  ...OFFICIAL_MASK_SETTINGS,
  inputSize: 28,
  patchSize: 4,
  npred: 3,
  predMaskScale: [0.1, 0.2] as const,
  minKeep: 3,
};

describe("describeMaskStats", () => {
  it("summarises kept patches within the block ranges and above min_keep", () => {
    const stats = describeMaskStats(fashionMnist, { batchSize: 16, batches: 50, seed: 1 });
    expect(stats).toMatchObject({ gridHeight: 7, gridWidth: 7, numPatches: 49, batchSize: 16, batches: 50 });
    for (const count of [stats.contextKeep, stats.targetKeep, stats.targetUnion]) {
      expect(count.min).toBeLessThanOrEqual(count.mean);
      expect(count.mean).toBeLessThanOrEqual(count.max);
    }
    expect(stats.contextKeep.min).toBeGreaterThan(fashionMnist.minKeep);
    expect(stats.contextKeep.max).toBeLessThanOrEqual(stats.contextBlockArea.max);
    // Targets keep whole blocks, so their length spans the block-area range (over enough batches).
    expect(stats.targetKeep.min).toBeGreaterThanOrEqual(stats.targetBlockArea.min);
    expect(stats.targetKeep.max).toBeLessThanOrEqual(stats.targetBlockArea.max);
    expect(stats.targetUnion.min).toBeGreaterThanOrEqual(stats.targetKeep.min);
    expect(stats.targetUnion.max).toBeLessThanOrEqual(fashionMnist.npred * stats.targetKeep.max);
    expect(stats.relaxedContextFraction).toBeGreaterThanOrEqual(0);
    expect(stats.relaxedContextFraction).toBeLessThanOrEqual(1);
  });

  it("keeps the whole context block when overlap is allowed and there is one context mask", () => {
    const stats = describeMaskStats({ ...fashionMnist, allowOverlap: true }, { batchSize: 8, batches: 20 });
    // enc scale 0.85–1 on 7×7: max_keep 41..48 → round(sqrt) = 6 or 7 → capped at 6 → always 6×6.
    expect(stats.contextBlockArea).toEqual({ min: 36, max: 36 });
    expect(stats.contextKeep).toEqual({ mean: 36, min: 36, max: 36 });
    expect(stats.relaxedContextFraction).toBe(0);
  });

  it("gives the same numbers for the same seed", () => {
    const run = { batchSize: 8, batches: 10, seed: 9 };
    expect(describeMaskStats(fashionMnist, run)).toEqual(describeMaskStats(fashionMnist, run));
  });

  it("refuses settings the sampler refuses", () => {
    expect(() =>
      describeMaskStats({ ...OFFICIAL_MASK_SETTINGS, inputSize: 28, patchSize: 4 }, { batchSize: 8 }),
    ).toThrow(ConfigError);
  });
});

describe("formatMaskStats", () => {
  it("prints grid, batch, kept patches and relaxation rate on one line", () => {
    const line = formatMaskStats(describeMaskStats(fashionMnist, { batchSize: 4, batches: 5 }));
    expect(line).not.toContain("\n");
    expect(line).toMatch(
      /^masks on 7×7 patches, batch 4: context keeps \d+\.\d \(\d+–\d+\) patches, each target \d+\.\d/,
    );
    expect(line).toMatch(/% of context blocks relaxed$/);
  });
});
