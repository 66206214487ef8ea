// How much GPU memory a training config needs (float32, TensorFlow eager with a gradient tape), and the refusal
// of a config that cannot fit the GPU it is given. An estimate: the arithmetic is spelled out so it can be checked.
import type { TrainConfig } from "../config/schema.js";
import { ConfigError } from "../errors.js";
import { maskOptionsFromConfig } from "../masks/mask_config.js";
import { describeMaskStats } from "../masks/mask_stats.js";
import { resolveModelDims, type ModelDims } from "../models/model_dims.js";

const F32 = 4;
const GIB = 1024 ** 3;
/** CUDA context, cuBLAS/cuDNN workspaces and TensorFlow's own allocations, measured as ~0.8-1 GiB on Ampere GPUs. */
const FIXED_OVERHEAD_BYTES = 1.0 * GIB;
/** TensorFlow's BFC allocator rounds and fragments: leave 15 % headroom on top of the tensors. */
const FRAGMENTATION = 1.15;

export interface GpuMemoryEstimate {
  encoderParams: number;
  predictorParams: number;
  /** Trainable weights, their gradients and AdamW's two moments (4 copies), plus the EMA target encoder. */
  stateBytes: number;
  /** Tensors the gradient tape keeps for the backward pass (context encoder + predictor). */
  activationBytes: number;
  /** The largest transient of the target encoder's forward pass (no tape: one block at a time). */
  targetForwardBytes: number;
  totalBytes: number;
  /** Largest context and target token counts per image the mask sampler produced (the budget is for the worst). */
  contextTokens: number;
  targetTokens: number;
}

/** Parameters of one pre-norm ViT block of width d with an MLP of width hidden. */
function blockParams(d: number, hidden: number): number {
  return 3 * d * d + 3 * d + d * d + d + d * hidden + hidden + hidden * d + d + 4 * d;
}

/**
 * Floats one block keeps for backward, for `seqs` sequences of `tokens` tokens: layer-norm inputs and outputs,
 * q/k/v and their per-head transposes, attention scores, softmax and its exponentials, the attention output, the
 * residual, and the MLP's pre- and post-GELU hidden layer.
 */
function blockActivationFloats(seqs: number, tokens: number, d: number, hidden: number, heads: number): number {
  return seqs * (11 * tokens * d + 2 * tokens * hidden + 3 * heads * tokens * tokens);
}

export function estimateTrainingMemory(config: TrainConfig, channels = 3): GpuMemoryEstimate {
  const dims: ModelDims = resolveModelDims(config, channels);
  const b = config.data.batch_size;
  const stats = describeMaskStats(maskOptionsFromConfig(config), { batchSize: Math.min(b, 256), batches: 40, seed: 0 });
  const ctx = stats.contextKeep.max;
  const tgt = stats.targetKeep.max;
  const nenc = config.mask.num_enc_masks;
  const npred = config.mask.num_pred_masks;

  const {
    embedDim: d,
    depth,
    numHeads,
    mlpHidden,
    predEmbedDim: dp,
    predDepth,
    predNumHeads,
    predMlpHidden,
    patchSize: p,
  } = dims;
  const encoderParams = channels * p * p * d + d + depth * blockParams(d, mlpHidden) + 2 * d;
  const predictorParams = d * dp + dp + dp + predDepth * blockParams(dp, predMlpHidden) + 2 * dp + dp * d + d;
  const stateBytes = F32 * (4 * (encoderParams + predictorParams) + encoderParams);

  const encoderActs = depth * blockActivationFloats(b * nenc, ctx, d, mlpHidden, numHeads);
  const predictorActs = predDepth * blockActivationFloats(b * nenc * npred, ctx + tgt, dp, predMlpHidden, predNumHeads);
  const activationBytes = F32 * (encoderActs + predictorActs);
  const n = dims.numPatches;
  const targetForwardBytes = F32 * (b * n * (2 * mlpHidden + 6 * d) + 2 * b * numHeads * n * n);

  const totalBytes = FRAGMENTATION * (stateBytes + activationBytes + targetForwardBytes) + FIXED_OVERHEAD_BYTES;
  return {
    encoderParams,
    predictorParams,
    stateBytes,
    activationBytes,
    targetForwardBytes,
    totalBytes,
    contextTokens: ctx,
    targetTokens: tgt,
  };
}

/** One line for logs and the README: "ViT-B/16 @224, batch 64: ~17.9 GiB (state 1.9, activations 14.2 …)". */
export function describeMemory(config: TrainConfig, e: GpuMemoryEstimate): string {
  const g = (x: number) => (x / GIB).toFixed(1);
  return (
    `${config.meta.model_name}/${config.mask.patch_size} @${config.data.crop_size}px, batch ${config.data.batch_size}: ~${g(e.totalBytes)} GiB ` +
    `(weights+grads+AdamW+EMA ${g(e.stateBytes)}, activations ${g(e.activationBytes)} for ${e.contextTokens} context + ${e.targetTokens} target tokens, ` +
    `target forward ${g(e.targetForwardBytes)}, ×${FRAGMENTATION} + ${g(FIXED_OVERHEAD_BYTES)} fixed)`
  );
}

/** The largest batch size (a multiple of 8, or 1) whose estimate fits, or 0 when not even one image fits. */
export function largestFittingBatch(config: TrainConfig, gpuBytes: number, channels = 3): number {
  const at = (batch: number) =>
    estimateTrainingMemory({ ...config, data: { ...config.data, batch_size: batch } }, channels).totalBytes;
  if (at(1) > gpuBytes) return 0;
  let lo = 1;
  let hi = Math.max(1, config.data.batch_size);
  while (at(hi) <= gpuBytes && hi < 1 << 16) hi *= 2;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (at(mid) <= gpuBytes) lo = mid;
    else hi = mid;
  }
  return lo >= 8 ? lo - (lo % 8) : lo;
}

/** Refuses a config whose estimate exceeds the GPU's memory, saying what fits instead. */
export function checkGpuFit(
  config: TrainConfig,
  gpu: { name: string; memoryBytes: number },
  channels = 3,
  origin = "config",
): GpuMemoryEstimate {
  const estimate = estimateTrainingMemory(config, channels);
  if (estimate.totalBytes <= gpu.memoryBytes) return estimate;
  const fits = largestFittingBatch(config, gpu.memoryBytes, channels);
  throw new ConfigError(
    `${origin}: does not fit one ${gpu.name} (${(gpu.memoryBytes / GIB).toFixed(1)} GiB): ${describeMemory(config, estimate)}`,
    fits > 0
      ? `lower data.batch_size to ${fits} or less (and scale optimization.lr with it), or use a smaller meta.model_name`
      : "use a smaller meta.model_name or data.crop_size: not even one image fits",
  );
}
