// I-JEPA multi-block masks: per image, npred target blocks and nenc context blocks that avoid them, as the official MaskCollator samples them.
import { ConfigError } from "../errors.js";
import { Rng } from "../utils/rng.js";
import {
  blockAreaRange,
  blockSizeFromDraw,
  type BlockAreaRange,
  type BlockSize,
  type ValueRange,
} from "./block_size.js";

/**
 * Where a block's top-left corner may go.
 * - "official": top = randint(0, H - h), left = randint(0, W - w), as facebookresearch/ijepa does. torch.randint's
 *   upper bound is exclusive, so a block never touches the last row or the last column of the grid, and a block
 *   of H-1 rows always sits at the top. On small grids this biases context and targets towards the top-left.
 * - "uniform": top = randint(0, H - h + 1), left = randint(0, W - w + 1): every position, the last row and column included.
 */
export type CornerSampling = "official" | "uniform";

/** Mask settings; each field is the config key in its comment (official I-JEPA YAML schema). */
export interface MultiBlockMaskOptions {
  /** data.crop_size: image side in pixels, or [height, width]. */
  inputSize: number | readonly [number, number];
  /** mask.patch_size: the grid is floor(inputSize / patchSize) patches per side. */
  patchSize: number;
  /** mask.enc_mask_scale: context block area as a fraction of the grid (aspect ratio fixed at 1). */
  encMaskScale: ValueRange;
  /** mask.pred_mask_scale: target block area as a fraction of the grid. */
  predMaskScale: ValueRange;
  /** mask.aspect_ratio: target block height / width. */
  aspectRatio: ValueRange;
  /** mask.num_enc_masks */
  nenc: number;
  /** mask.num_pred_masks */
  npred: number;
  /** mask.min_keep: a block is accepted only if it keeps MORE than this many patches. */
  minKeep: number;
  /** mask.allow_overlap: when false, context blocks avoid every target block of the same image. */
  allowOverlap: boolean;
  /** mask.corner_sampling; default "official" (see CornerSampling). */
  cornerSampling?: CornerSampling;
}

/** The mask settings of the official ImageNet configs (configs/in1k_vith14_ep300.yaml); add inputSize and patchSize. */
export const OFFICIAL_MASK_SETTINGS = {
  encMaskScale: [0.85, 1.0],
  predMaskScale: [0.15, 0.2],
  aspectRatio: [0.75, 1.5],
  nenc: 1,
  npred: 4,
  minKeep: 10,
  allowOverlap: false,
} as const satisfies Omit<MultiBlockMaskOptions, "inputSize" | "patchSize">;

/**
 * The masks of one batch, mask-major like the official collated tensors (a list over masks of [B, K] tensors).
 * Every index is a flat patch index r * gridWidth + c; each image's row is ascending.
 */
export interface BatchMasks {
  /** nenc arrays, each [batchSize * contextKeep] row-major. */
  context: Int32Array[];
  /** npred arrays, each [batchSize * targetKeep] row-major. */
  target: Int32Array[];
  /** Kc: every context mask cut to the shortest one in the batch (keeping its lowest indices). */
  contextKeep: number;
  /** Kt: every target mask cut to the shortest one in the batch. */
  targetKeep: number;
  gridHeight: number;
  gridWidth: number;
  batchSize: number;
  /** Block sizes drawn for this batch (all images share them). */
  targetBlock: BlockSize;
  contextBlock: BlockSize;
  /**
   * [nenc * batchSize], mask-major like `context`: how many target exclusions context block m of image b had to
   * drop before it kept more than minKeep patches (0 = none). With d dropped it still avoids targets 0..npred-d-1;
   * with d > 0 it may overlap the others, exactly as the official sampler may.
   */
  contextConstraintsDropped: Int32Array;
}

/** A rectangle of patches. */
export interface BlockRect {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** One sampled block: its rectangle and the patches it keeps. */
export interface SampledBlock {
  rect: BlockRect;
  /** Kept patch indices, ascending. */
  indices: Int32Array;
  /** Exclusions dropped before the block was accepted. */
  constraintsDropped: number;
}

/** Official: after this many blocks in a row keep too few patches, one exclusion (the last target) is dropped. */
export const FAILURES_BEFORE_RELAXING = 20;
/** No block takes more tries than this; the official loops forever instead. */
export const MAX_TRIES_PER_BLOCK = 1000;

/** Where a block is placed and what it must avoid; `describe` names it in errors. */
export interface BlockPlacement {
  size: BlockSize;
  gridHeight: number;
  gridWidth: number;
  minKeep: number;
  cornerSampling: CornerSampling;
  /** Blocks whose patches this one may not keep, in order; the last ones are dropped first when relaxing. */
  exclusions: readonly BlockRect[];
  describe: string;
}

/**
 * `MaskCollator._sample_block_mask`: draws a corner (top, then left) until the block, minus the active
 * exclusions, keeps more than minKeep patches (strict `>`, as official). After FAILURES_BEFORE_RELAXING
 * failures the last active exclusion is dropped. Throws ConfigError after MAX_TRIES_PER_BLOCK tries.
 */
export function sampleBlock(rng: Pick<Rng, "int">, placement: BlockPlacement): SampledBlock {
  const { size, gridHeight, gridWidth, exclusions } = placement;
  const firstExcludedBy = new Int32Array(gridHeight * gridWidth);
  markExclusions(firstExcludedBy, exclusions, gridWidth);
  const kept = new Int32Array(size.height * size.width);
  const placed = placeBlock(rng, placement, firstExcludedBy, kept, 0);
  return {
    rect: { top: placed.top, left: placed.left, height: size.height, width: size.width },
    indices: kept.slice(0, placed.count),
    constraintsDropped: placed.dropped,
  };
}

/** Fills `firstExcludedBy` with, per patch, the index of the first exclusion covering it (exclusions.length if none). */
function markExclusions(firstExcludedBy: Int32Array, exclusions: readonly BlockRect[], gridWidth: number): void {
  firstExcludedBy.fill(exclusions.length);
  for (let k = exclusions.length - 1; k >= 0; k--) {
    const x = exclusions[k];
    for (let r = x.top; r < x.top + x.height; r++)
      firstExcludedBy.fill(k, r * gridWidth + x.left, r * gridWidth + x.left + x.width);
  }
}

/**
 * The loop of sampleBlock, writing kept patches into out[offset...] so a batch needs no array per block
 * (typed-array allocation dominated the cost). A patch is excluded while its first covering exclusion is active.
 */
function placeBlock(
  rng: Pick<Rng, "int">,
  placement: BlockPlacement,
  firstExcludedBy: Int32Array,
  out: Int32Array,
  offset: number,
): { top: number; left: number; count: number; dropped: number } {
  const { gridHeight, gridWidth, minKeep, exclusions } = placement;
  const { height, width } = placement.size;
  const cornerSpan = placement.cornerSampling === "official" ? 0 : 1;
  let dropped = 0;
  let failuresSinceRelaxing = 0;
  for (let tries = 1; tries <= MAX_TRIES_PER_BLOCK; tries++) {
    const top = rng.int(0, gridHeight - height + cornerSpan);
    const left = rng.int(0, gridWidth - width + cornerSpan);
    const active = Math.max(exclusions.length - dropped, 0);
    let count = 0;
    for (let r = top; r < top + height; r++) {
      for (let i = r * gridWidth + left; i < r * gridWidth + left + width; i++) {
        if (firstExcludedBy[i] >= active) out[offset + count++] = i;
      }
    }
    if (count > minKeep) return { top, left, count, dropped };
    if (++failuresSinceRelaxing === FAILURES_BEFORE_RELAXING) {
      dropped++;
      failuresSinceRelaxing = 0;
    }
  }
  throw new ConfigError(
    `no ${placement.describe} of ${height}×${width} patches on the ${gridHeight}×${gridWidth} grid kept more than ` +
      `mask.min_keep=${minKeep} patches in ${MAX_TRIES_PER_BLOCK} tries (${exclusions.length} exclusions, ${dropped} dropped)`,
    "lower mask.min_keep, raise mask.pred_mask_scale / mask.enc_mask_scale, or use more patches (smaller mask.patch_size or larger data.crop_size)",
  );
}

/**
 * Samples the masks of a batch from (seed, step) alone: block sizes from the stream "mask-size/<step>", corners
 * from "mask-position/<step>". No state is kept between calls, so a resumed run samples what an uninterrupted
 * run would. Impossible settings are refused in the constructor with a ConfigError naming the mask.* keys.
 */
export class MultiBlockMaskSampler {
  readonly options: Readonly<Required<MultiBlockMaskOptions>>;
  readonly gridHeight: number;
  readonly gridWidth: number;
  /** Smallest and largest target / context block over every size draw. */
  readonly targetBlockArea: BlockAreaRange;
  readonly contextBlockArea: BlockAreaRange;

  constructor(options: MultiBlockMaskOptions) {
    this.options = { ...options, cornerSampling: options.cornerSampling ?? "official" };
    validateOptions(this.options);
    const [inputHeight, inputWidth] =
      typeof options.inputSize === "number" ? [options.inputSize, options.inputSize] : options.inputSize;
    this.gridHeight = Math.floor(inputHeight / options.patchSize);
    this.gridWidth = Math.floor(inputWidth / options.patchSize);
    const grid = `${this.gridHeight}×${this.gridWidth} patch grid (data.crop_size ${inputHeight}×${inputWidth} / mask.patch_size ${options.patchSize})`;
    const moreGrid = "smaller mask.patch_size or larger data.crop_size";
    if (this.gridHeight < 2 || this.gridWidth < 2) {
      throw new ConfigError(
        `the ${grid} is too small: blocks are at most (H-1)×(W-1) patches, so nothing fits`,
        `use a ${moreGrid}`,
      );
    }
    this.targetBlockArea = blockAreaRange(options.predMaskScale, options.aspectRatio, this.gridHeight, this.gridWidth);
    this.contextBlockArea = blockAreaRange(options.encMaskScale, [1, 1], this.gridHeight, this.gridWidth);

    // A target block keeps every patch, so one of minKeep or fewer patches can never be accepted (the official loops
    // forever). Refuse if any draw gives one: otherwise the run would stop at a random step.
    const { minKeep } = options;
    const target = this.targetBlockArea;
    if (target.min.area <= minKeep) {
      throw new ConfigError(
        `mask.min_keep=${minKeep} cannot be met by target blocks: on the ${grid}, mask.pred_mask_scale ` +
          `[${options.predMaskScale.join(", ")}] with mask.aspect_ratio [${options.aspectRatio.join(", ")}] gives target blocks of ` +
          `${target.min.area} (${target.min.size.height}×${target.min.size.width}) to ${target.max.area} patches, and a block must keep more than mask.min_keep`,
        `set mask.min_keep below ${target.min.area}, raise mask.pred_mask_scale, or use a ${moreGrid}`,
      );
    }
    // A context block terminates once all exclusions are dropped, so only its own area can make it impossible.
    const context = this.contextBlockArea;
    if (context.min.area <= minKeep) {
      throw new ConfigError(
        `mask.min_keep=${minKeep} cannot be met by context blocks: on the ${grid}, mask.enc_mask_scale ` +
          `[${options.encMaskScale.join(", ")}] gives context blocks of ${context.min.area} (${context.min.size.height}×${context.min.size.width}) ` +
          `to ${context.max.area} patches, and a block must keep more than mask.min_keep`,
        `set mask.min_keep below ${context.min.area}, raise mask.enc_mask_scale, or use a ${moreGrid}`,
      );
    }
  }

  get numPatches(): number {
    return this.gridHeight * this.gridWidth;
  }

  /** The masks for batch `step` of a run seeded with `seed`; same arguments, same masks. */
  sample(batchSize: number, seed: number, step: number): BatchMasks {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be a non-negative integer, got ${step}`);
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    const { predMaskScale, encMaskScale, aspectRatio, npred, nenc, minKeep, allowOverlap, cornerSampling } =
      this.options;
    const { gridHeight, gridWidth } = this;

    // Official order: one draw for the target size, then one for the context size.
    const sizeRng = Rng.fromSeed(seed, `mask-size/${step}`);
    const targetBlock = blockSizeFromDraw(sizeRng.float(), predMaskScale, aspectRatio, gridHeight, gridWidth);
    const contextBlock = blockSizeFromDraw(sizeRng.float(), encMaskScale, [1, 1], gridHeight, gridWidth);

    const positionRng = Rng.fromSeed(seed, `mask-position/${step}`);
    // Block (b, k) keeps its patches at store[(b * numMasks + k) * area ...]; the batch keeps the shortest length.
    const targetArea = targetBlock.height * targetBlock.width;
    const contextArea = contextBlock.height * contextBlock.width;
    const targetStore = new Int32Array(batchSize * npred * targetArea);
    const contextStore = new Int32Array(batchSize * nenc * contextArea);
    const contextConstraintsDropped = new Int32Array(nenc * batchSize);
    const noExclusions = new Int32Array(gridHeight * gridWidth);
    const firstExcludedBy = new Int32Array(gridHeight * gridWidth);
    const targetPlacement: BlockPlacement = {
      size: targetBlock,
      gridHeight,
      gridWidth,
      minKeep,
      cornerSampling,
      exclusions: [],
      describe: "target block",
    };
    let targetKeep = gridHeight * gridWidth;
    let contextKeep = gridHeight * gridWidth;
    for (let b = 0; b < batchSize; b++) {
      const targets: BlockRect[] = [];
      for (let k = 0; k < npred; k++) {
        const placed = placeBlock(
          positionRng,
          targetPlacement,
          noExclusions,
          targetStore,
          (b * npred + k) * targetArea,
        );
        targets.push({ top: placed.top, left: placed.left, height: targetBlock.height, width: targetBlock.width });
        targetKeep = Math.min(targetKeep, placed.count);
      }
      const exclusions = allowOverlap ? [] : targets;
      markExclusions(firstExcludedBy, exclusions, gridWidth);
      const contextPlacement: BlockPlacement = {
        size: contextBlock,
        gridHeight,
        gridWidth,
        minKeep,
        cornerSampling,
        exclusions,
        describe: "context block",
      };
      for (let m = 0; m < nenc; m++) {
        const placed = placeBlock(
          positionRng,
          contextPlacement,
          firstExcludedBy,
          contextStore,
          (b * nenc + m) * contextArea,
        );
        contextConstraintsDropped[m * batchSize + b] = placed.dropped;
        contextKeep = Math.min(contextKeep, placed.count);
      }
    }

    return {
      context: collateMaskMajor(contextStore, batchSize, nenc, contextArea, contextKeep),
      target: collateMaskMajor(targetStore, batchSize, npred, targetArea, targetKeep),
      contextKeep,
      targetKeep,
      gridHeight,
      gridWidth,
      batchSize,
      targetBlock,
      contextBlock,
      contextConstraintsDropped,
    };
  }
}

/** Blocks stored image-major ((b, m) at (b * numMasks + m) * area) → per mask a [B, keep] array of each block's first `keep` (lowest) indices. */
function collateMaskMajor(
  store: Int32Array,
  batchSize: number,
  numMasks: number,
  area: number,
  keep: number,
): Int32Array[] {
  const collated: Int32Array[] = [];
  for (let m = 0; m < numMasks; m++) {
    const rows = new Int32Array(batchSize * keep);
    for (let b = 0; b < batchSize; b++) {
      const from = (b * numMasks + m) * area;
      for (let j = 0; j < keep; j++) rows[b * keep + j] = store[from + j];
    }
    collated.push(rows);
  }
  return collated;
}

function validateOptions(options: Required<MultiBlockMaskOptions>): void {
  const sizes = typeof options.inputSize === "number" ? [options.inputSize, options.inputSize] : [...options.inputSize];
  if (sizes.length !== 2 || !sizes.every((s) => Number.isInteger(s) && s > 0)) {
    throw new ConfigError(
      `data.crop_size must be a positive integer or [height, width], got ${JSON.stringify(options.inputSize)}`,
      "set data.crop_size to the image side in pixels, e.g. 28",
    );
  }
  if (!Number.isInteger(options.patchSize) || options.patchSize < 1) {
    throw new ConfigError(
      `mask.patch_size must be a positive integer, got ${options.patchSize}`,
      "set mask.patch_size, e.g. 4 for 28×28 images",
    );
  }
  const checkRange = (key: string, range: ValueRange, upper: number, example: string): void => {
    const ok =
      Array.isArray(range) &&
      range.length === 2 &&
      range.every((v) => Number.isFinite(v)) &&
      range[0] > 0 &&
      range[0] <= range[1] &&
      range[1] <= upper;
    if (!ok) {
      const bound = Number.isFinite(upper) ? ` ≤ ${upper}` : "";
      throw new ConfigError(
        `${key} must be [low, high] with 0 < low ≤ high${bound}, got ${JSON.stringify(range)}`,
        `set ${key}, e.g. ${example}`,
      );
    }
  };
  checkRange("mask.enc_mask_scale", options.encMaskScale, 1, "[0.85, 1.0]");
  checkRange("mask.pred_mask_scale", options.predMaskScale, 1, "[0.15, 0.2]");
  checkRange("mask.aspect_ratio", options.aspectRatio, Infinity, "[0.75, 1.5]");
  const checkCount = (key: string, value: number, lowest: number, example: string): void => {
    if (!Number.isInteger(value) || value < lowest) {
      throw new ConfigError(`${key} must be an integer ≥ ${lowest}, got ${value}`, `set ${key}, e.g. ${example}`);
    }
  };
  checkCount("mask.num_enc_masks", options.nenc, 1, "1");
  checkCount("mask.num_pred_masks", options.npred, 1, "4");
  checkCount("mask.min_keep", options.minKeep, 0, "10");
  if (typeof options.allowOverlap !== "boolean") {
    throw new ConfigError(
      `mask.allow_overlap must be true or false, got ${JSON.stringify(options.allowOverlap)}`,
      "set mask.allow_overlap: false",
    );
  }
  if (options.cornerSampling !== "official" && options.cornerSampling !== "uniform") {
    throw new ConfigError(
      `mask.corner_sampling must be "official" or "uniform", got ${JSON.stringify(options.cornerSampling)}`,
      'set mask.corner_sampling: "official" (as facebookresearch/ijepa) or "uniform"',
    );
  }
}
