// Expected context and target patch counts of a mask setting, by sampling batches: to print at startup and to compare presets.
import { MultiBlockMaskSampler, type MultiBlockMaskOptions } from "./multiblock.js";

/** How many batches to sample, and how big: Kc and Kt are minima over a batch, so they shrink as batches grow. */
export interface MaskStatsRun {
  batchSize: number;
  /** Default 200. */
  batches?: number;
  /** Default 0. */
  seed?: number;
}

export interface CountSummary {
  mean: number;
  min: number;
  max: number;
}

export interface MaskStats {
  gridHeight: number;
  gridWidth: number;
  numPatches: number;
  batchSize: number;
  batches: number;
  /** Smallest and largest block over every size draw (exact, not sampled). */
  targetBlockArea: { min: number; max: number };
  contextBlockArea: { min: number; max: number };
  /** Kc per batch: context patches each image's encoder sees (per context mask). */
  contextKeep: CountSummary;
  /** Kt per batch: patches per target mask. */
  targetKeep: CountSummary;
  /** Distinct patches the predictor must predict per image (union of its cut target masks). */
  targetUnion: CountSummary;
  /** Fraction of context blocks that had to drop a target exclusion (and so may overlap a target). */
  relaxedContextFraction: number;
}

/** Samples `batches` batches (steps 0..batches-1) and summarises the mask sizes. Throws ConfigError for impossible settings. */
export function describeMaskStats(options: MultiBlockMaskOptions, run: MaskStatsRun): MaskStats {
  const sampler = new MultiBlockMaskSampler(options);
  const batches = run.batches ?? 200;
  const seed = run.seed ?? 0;
  const { batchSize } = run;
  const contextKeep = new Summary();
  const targetKeep = new Summary();
  const targetUnion = new Summary();
  let relaxed = 0;
  let contextBlocks = 0;
  const covered = new Uint8Array(sampler.numPatches);
  for (let step = 0; step < batches; step++) {
    const masks = sampler.sample(batchSize, seed, step);
    contextKeep.add(masks.contextKeep);
    targetKeep.add(masks.targetKeep);
    for (let b = 0; b < batchSize; b++) {
      covered.fill(0);
      let union = 0;
      for (const target of masks.target) {
        for (const patch of target.subarray(b * masks.targetKeep, (b + 1) * masks.targetKeep)) {
          if (!covered[patch]) union++;
          covered[patch] = 1;
        }
      }
      targetUnion.add(union);
    }
    for (const dropped of masks.contextConstraintsDropped) if (dropped > 0) relaxed++;
    contextBlocks += masks.contextConstraintsDropped.length;
  }
  return {
    gridHeight: sampler.gridHeight,
    gridWidth: sampler.gridWidth,
    numPatches: sampler.numPatches,
    batchSize,
    batches,
    targetBlockArea: { min: sampler.targetBlockArea.min.area, max: sampler.targetBlockArea.max.area },
    contextBlockArea: { min: sampler.contextBlockArea.min.area, max: sampler.contextBlockArea.max.area },
    contextKeep: contextKeep.summary(),
    targetKeep: targetKeep.summary(),
    targetUnion: targetUnion.summary(),
    relaxedContextFraction: contextBlocks === 0 ? 0 : relaxed / contextBlocks,
  };
}

/** One line for the startup log. */
export function formatMaskStats(stats: MaskStats): string {
  const count = (c: CountSummary): string => `${c.mean.toFixed(1)} (${c.min}–${c.max})`;
  return (
    `masks on ${stats.gridHeight}×${stats.gridWidth} patches, batch ${stats.batchSize}: ` +
    `context keeps ${count(stats.contextKeep)} patches, each target ${count(stats.targetKeep)}, ` +
    `targets cover ${count(stats.targetUnion)} per image; ` +
    `blocks: target ${stats.targetBlockArea.min}–${stats.targetBlockArea.max}, context ${stats.contextBlockArea.min}–${stats.contextBlockArea.max}; ` +
    `${(100 * stats.relaxedContextFraction).toFixed(1)}% of context blocks relaxed`
  );
}

class Summary {
  private total = 0;
  private n = 0;
  private low = Infinity;
  private high = -Infinity;
  add(value: number): void {
    this.total += value;
    this.n++;
    this.low = Math.min(this.low, value);
    this.high = Math.max(this.high, value);
  }
  summary(): CountSummary {
    return this.n === 0
      ? { mean: NaN, min: NaN, max: NaN }
      : { mean: this.total / this.n, min: this.low, max: this.high };
  }
}
