// What a config asks of a machine, estimated before anything is built: parameters, memory and time per step.
import os from "node:os";
import type { ModelDims } from "../models/model_dims.js";
import { ConfigError } from "../errors.js";

/** Float32 copies of each trained parameter: weights, the EMA target (encoder only), gradients, two Adam moments. */
const COPIES_ENCODER = 5;
const COPIES_PREDICTOR = 4;
/** Beyond this no machine we run on has the memory: refused when the config is read, whatever the machine. */
export const ABSOLUTE_MAX_BYTES = 4 * 1024 ** 4;
/** Per-core float32 matmul throughput measured on CPUs (README, "Backends and speed"); GPUs are far faster. */
const CPU_FLOPS_PER_CORE = 20e9;

export interface ResourceEstimate {
  encoderParams: number;
  predictorParams: number;
  /** Weights, EMA target, gradients and Adam moments. */
  stateBytes: number;
  /** Activations kept for the backward pass of one step. */
  activationBytes: number;
  totalBytes: number;
  /** Matmul FLOPs of one step (forward and backward). */
  flopsPerStep: number;
}

/** Parameters of one pre-norm ViT block of width d, MLP width m: qkv, proj, fc1, fc2 with biases, two LayerNorms. */
function blockParams(d: number, m: number): number {
  return 3 * d * d + 3 * d + d * d + d + d * m + m + m * d + d + 4 * d;
}

/**
 * The estimate for `batchSize` images and `numPredMasks` target masks. Activations follow the usual
 * count for a transformer layer (Korthikanti et al. 2022, in float32): 4·(17·D + 2.5·heads·N) bytes per token.
 */
export function estimateResources(dims: ModelDims, batchSize: number, numPredMasks: number): ResourceEstimate {
  const n = dims.numPatches;
  const patchWidth = dims.inChannels * dims.patchSize * dims.patchSize;
  const encoderParams =
    patchWidth * dims.embedDim +
    dims.embedDim +
    dims.depth * blockParams(dims.embedDim, dims.mlpHidden) +
    2 * dims.embedDim;
  const predictorParams =
    dims.embedDim * dims.predEmbedDim +
    dims.predEmbedDim +
    dims.predEmbedDim +
    dims.predDepth * blockParams(dims.predEmbedDim, dims.predMlpHidden) +
    2 * dims.predEmbedDim +
    dims.predEmbedDim * dims.embedDim +
    dims.embedDim;
  const stateBytes = 4 * (COPIES_ENCODER * encoderParams + COPIES_PREDICTOR * predictorParams);
  const perToken = (d: number, heads: number) => 4 * (17 * d + 2.5 * heads * n);
  const activationBytes =
    batchSize * n * dims.depth * perToken(dims.embedDim, dims.numHeads) +
    batchSize * numPredMasks * n * dims.predDepth * perToken(dims.predEmbedDim, dims.predNumHeads);
  const encBlockFlops = 2 * n * blockParams(dims.embedDim, dims.mlpHidden) + 4 * n * n * dims.embedDim;
  const predBlockFlops = 2 * n * blockParams(dims.predEmbedDim, dims.predMlpHidden) + 4 * n * n * dims.predEmbedDim;
  // Context encoder and predictor forward + backward (×3), target encoder forward only (×1).
  const flopsPerStep =
    batchSize * (4 * dims.depth * encBlockFlops + 3 * numPredMasks * dims.predDepth * predBlockFlops);
  return {
    encoderParams,
    predictorParams,
    stateBytes,
    activationBytes,
    totalBytes: stateBytes + activationBytes,
    flopsPerStep,
  };
}

/** The memory a trainer may count on: the machine's RAM. */
export function machineMemoryBytes(): number {
  return os.totalmem();
}

/**
 * Refuses a config whose estimate exceeds `limitBytes`, with the arithmetic and the time one step would
 * take on this machine's CPUs. `what` names the config (file or run) for the message.
 */
export function refuseUnfitConfig(
  what: string,
  dims: ModelDims,
  batchSize: number,
  numPredMasks: number,
  limitBytes: number,
  limitName: string,
): ResourceEstimate {
  const e = estimateResources(dims, batchSize, numPredMasks);
  if (e.totalBytes <= limitBytes) return e;
  const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  const seconds = e.flopsPerStep / (CPU_FLOPS_PER_CORE * cores);
  throw new ConfigError(
    `${what} asks for more memory than ${limitName}: a ViT ${dims.embedDim} wide × ${dims.depth} blocks on ` +
      `${dims.gridSize}×${dims.gridSize} = ${dims.numPatches} patches ` +
      `(data.crop_size ${dims.imageSize} / mask.patch_size ${dims.patchSize}), ` +
      `predictor ${dims.predEmbedDim} × ${dims.predDepth}: ` +
      `${count(e.encoderParams + e.predictorParams)} parameters × 4 bytes × 4–5 copies ` +
      `(weights, EMA target, gradients, Adam moments) = ${bytes(e.stateBytes)}, ` +
      `plus activations for data.batch_size ${batchSize} ≈ ${bytes(e.activationBytes)}, ` +
      `in all ≈ ${bytes(e.totalBytes)} > ${bytes(limitBytes)}; one step would take ≈ ${duration(seconds)} ` +
      `on this machine's ${cores} core(s)`,
    "lower meta.depth / meta.embed_dim, data.crop_size (or raise mask.patch_size) or data.batch_size",
  );
}

function count(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} G` : `${(n / 1e6).toFixed(2)} M`;
}

function bytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  return `${n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`;
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 2 * 3600) return `${(seconds / 60).toFixed(0)} min`;
  if (seconds < 2 * 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(0)} days`;
}
