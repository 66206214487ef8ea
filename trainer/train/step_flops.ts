// Floating-point operations of one I-JEPA training step (matmuls only: 2 per multiply-add), for throughput figures.
import type { StepIndices } from "../models/ijepa.js";
import type { ModelDims } from "../models/model_dims.js";

/** FLOPs of one forward pass of `depth` blocks over `seqs` sequences of `len` tokens of width `d`. */
function blocksForward(seqs: number, len: number, d: number, hidden: number, depth: number): number {
  const tokens = seqs * len;
  const linear = 2 * tokens * d * (3 * d + d + 2 * hidden); // qkv, proj, fc1, fc2
  const attention = 2 * 2 * seqs * len * len * d; // q·kᵀ and weights·v over all heads
  return depth * (linear + attention);
}

/**
 * Target encoder forward on every patch, context encoder and predictor forward + backward (backward
 * counted as twice the forward, the usual convention).
 */
export function stepFlops(dims: ModelDims, idx: StepIndices): number {
  const B = idx.batch;
  const N = dims.numPatches;
  const patchIn = dims.inChannels * dims.patchSize * dims.patchSize;
  const D = dims.embedDim;
  const target = 2 * B * N * patchIn * D + blocksForward(B, N, D, dims.mlpHidden, dims.depth);
  const ctxSeqs = idx.numCtxMasks * B;
  const context = 2 * B * N * patchIn * D + blocksForward(ctxSeqs, idx.ctxLen, D, dims.mlpHidden, dims.depth);
  const predSeqs = idx.numTargetMasks * ctxSeqs;
  const Dp = dims.predEmbedDim;
  const predictor =
    2 * ctxSeqs * idx.ctxLen * D * Dp +
    blocksForward(predSeqs, idx.ctxLen + idx.targetLen, Dp, dims.predMlpHidden, dims.predDepth) +
    2 * predSeqs * idx.targetLen * Dp * D;
  return target + 3 * (context + predictor);
}
