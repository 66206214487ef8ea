// Transformer building blocks on 2-D token matrices [tokens, width], with hand-written gradients where
// tfjs's own are slow on wasm (transposed matmuls) or missing there (UnsortedSegmentSum for gather).
import * as tf from "@tensorflow/tfjs-core";
import { FUSED, fusedKernelsActive } from "../kernels/wasm_elementwise.js";
import { pairwiseMean } from "./pairwise_mean.js";

type GradResult = { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] };

/** tf.customGrad with the argument types spelled out (its own typing is variadic and rejects them). */
function withGradient<F>(f: (...args: never[]) => GradResult): F {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as F;
}

/**
 * y = x·W + b with x [M, K], W [K, N] (stored [in, out]), b [N].
 *
 * The gradient's products read their operands transposed in place (dx = dy·Wᵀ, dW = xᵀ·dy): on wasm our GEMM
 * (trainer/kernels/gemm.wat) takes every transpose as strides, so no transposed copy is ever made.
 */
export const linear = withGradient<(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D>(
  (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x, w]);
    const value = tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b });
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as tf.Tensor2D[];
        const dx = tf.matMul(dy as tf.Tensor2D, ws, false, true);
        const dw = tf.matMul(xs, dy as tf.Tensor2D, true, false);
        const db = tf.sum(dy, 0);
        return [dx, dw, db];
      },
    };
  },
);

/**
 * LayerNorm over the last axis with affine γ, β (PyTorch nn.LayerNorm). On wasm one fused kernel each way
 * (trainer/kernels/elementwise.wat; the backward recomputes x̂ from x and the per-row μ, rstd); elsewhere one
 * hand-written gradient instead of ~15 op gradients.
 */
export const layerNorm: (x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number) => tf.Tensor2D = (
  x,
  gamma,
  beta,
  eps,
) => (fusedKernelsActive() ? fusedLayerNormAffine(eps) : layerNormAffine(eps))(x, gamma, beta);

const layerNormCache = new Map<number, (x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D>();
function layerNormAffine(eps: number) {
  let fn = layerNormCache.get(eps);
  if (!fn) {
    fn = withGradient<(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D>(
      (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
        const { xhat, rstd } = normalizeRows(x as tf.Tensor2D, eps);
        save([xhat, rstd, gamma]);
        const value = tf.add(tf.mul(xhat, gamma), beta);
        return {
          value,
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
            const [xh, rs, g] = saved;
            const dxhat = tf.mul(dy, g);
            const dx = normalizeGrad(dxhat, xh, rs);
            const dgamma = tf.sum(tf.mul(dy, xh), 0);
            const dbeta = tf.sum(dy, 0);
            return [dx, dgamma, dbeta];
          },
        };
      },
    );
    layerNormCache.set(eps, fn);
  }
  return fn;
}

const fusedLayerNormCache = new Map<number, (x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D>();
function fusedLayerNormAffine(eps: number) {
  let fn = fusedLayerNormCache.get(eps);
  if (!fn) {
    fn = withGradient<(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D>(
      (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
        const [value, stats] = tf.engine().runKernel(FUSED.layerNorm, { x, gamma, beta }, { eps }) as tf.Tensor[];
        save([x, gamma, stats]);
        return {
          value,
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
            const [xs, g, st] = saved;
            return tf.engine().runKernel(FUSED.layerNormGrad, { x: xs, gamma: g, dy, stats: st }, {}) as tf.Tensor[];
          },
        };
      },
    );
    fusedLayerNormCache.set(eps, fn);
  }
  return fn;
}

/** F.layer_norm without affine parameters (applied to the target encoder's output). Not differentiated. */
export function layerNormNoAffine(x: tf.Tensor2D, eps = 1e-5): tf.Tensor2D {
  if (fusedKernelsActive()) {
    const [y, stats] = tf.engine().runKernel(FUSED.layerNorm, { x }, { eps }) as tf.Tensor2D[];
    stats.dispose();
    return y;
  }
  return tf.tidy(() => normalizeRows(x, eps).xhat);
}

/** (x − mean) / sqrt(var + eps) per row, with the biased variance as PyTorch uses. */
function normalizeRows(x: tf.Tensor2D, eps: number): { xhat: tf.Tensor2D; rstd: tf.Tensor2D } {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  const rstd = tf.rsqrt(tf.add(variance, eps)) as tf.Tensor2D;
  return { xhat: tf.mul(centered, rstd), rstd };
}

/** d/dx of xhat given d/dxhat: rstd · (g − mean(g) − xhat · mean(g · xhat)). */
function normalizeGrad(g: tf.Tensor, xhat: tf.Tensor, rstd: tf.Tensor): tf.Tensor {
  const meanG = tf.mean(g, -1, true);
  const meanGX = tf.mean(tf.mul(g, xhat), -1, true);
  return tf.mul(tf.sub(tf.sub(g, meanG), tf.mul(xhat, meanGX)), rstd);
}

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Exact GELU, x·Φ(x) with Φ from erf (nn.GELU's default); gradient Φ(x) + x·φ(x). On wasm one fused kernel each
 * way that keeps only x (the backward recomputes Φ); elsewhere composed of tfjs ops.
 */
export const gelu = (x: tf.Tensor2D): tf.Tensor2D => (fusedKernelsActive() ? fusedGelu(x) : composedGelu(x));

const fusedGelu = withGradient<(x: tf.Tensor2D) => tf.Tensor2D>((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return {
    value: tf.engine().runKernel(FUSED.gelu, { x }, {}) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
      tf.engine().runKernel(FUSED.geluGrad, { x: saved[0], dy }, {}) as tf.Tensor,
    ],
  };
});

const composedGelu = withGradient<(x: tf.Tensor2D) => tf.Tensor2D>((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const cdf = tf.mul(tf.add(tf.erf(tf.mul(x, INV_SQRT2)), 1), 0.5);
  save([x, cdf]);
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, c] = saved;
      const pdf = tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), INV_SQRT_2PI);
      return [tf.mul(dy, tf.add(c, tf.mul(xs, pdf)))];
    },
  };
});

/**
 * Rows of x [R, D] at `rows` (int32 [M]) → [M, D]. Its gradient scatters back with ScatterNd (which
 * sums repeated rows); tfjs's own gather gradient needs UnsortedSegmentSum, which wasm lacks.
 */
export function gatherRows(x: tf.Tensor2D, rows: tf.Tensor1D): tf.Tensor2D {
  const fn = withGradient<(x: tf.Tensor2D) => tf.Tensor2D>((xs: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    return {
      value: tf.gather(xs, rows, 0),
      gradFunc: (dy: tf.Tensor) => [tf.scatterND(tf.expandDims(rows, 1), dy, xs.shape)],
    };
  });
  return fn(x);
}

// tfjs's own Add, Multiply and Reshape keep their inputs alive until the whole backward ends (Add and Reshape only
// to read their shapes back), so every residual branch and every tensor reshaped on its way to a head transpose
// stayed in memory. These three compute the same values with the same kernels and keep nothing.

/** a + b for tensors of one shape; its gradient is dy for each. */
export const addNoSave = withGradient<<T extends tf.Tensor>(a: T, b: T) => T>(
  (a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    if (!tf.util.arraysEqual(a.shape, b.shape)) throw new Error(`addNoSave: shapes ${a.shape} and ${b.shape} differ`);
    save([]);
    // Two tensors (shared data, no copy): each input's gradient is then its own, as the engine expects.
    return { value: tf.add(a, b), gradFunc: (dy: tf.Tensor) => [tf.clone(dy), tf.clone(dy)] };
  },
);

/** x · c for a constant c; its gradient is dy · c. */
export function scaleNoSave<T extends tf.Tensor>(x: T, c: number): T {
  const fn = withGradient<(x: T) => T>((xs: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    return { value: tf.mul(xs, c), gradFunc: (dy: tf.Tensor) => [tf.mul(dy, c)] };
  });
  return fn(x);
}

/** tf.reshape that keeps only the input's shape for its gradient. */
export function reshapeNoSave(x: tf.Tensor, shape: number[]): tf.Tensor {
  const from = x.shape;
  const fn = withGradient<(x: tf.Tensor) => tf.Tensor>((xs: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    return { value: tf.reshape(xs, shape), gradFunc: (dy: tf.Tensor) => [tf.reshape(dy, from)] };
  });
  return fn(x);
}

/** Multi-head self-attention weights (internal [in, out] layout). */
export interface AttentionParams {
  qkvW: tf.Tensor2D;
  qkvB: tf.Tensor1D;
  projW: tf.Tensor2D;
  projB: tf.Tensor1D;
}

/** The rows of each sequence whose outputs are wanted: `rows` [batch·len, D], taken from the block's input. */
export interface QueryRows {
  rows: tf.Tensor2D;
  len: number;
}

/**
 * Self-attention over `batch` sequences of `seqLen` tokens stored as rows of x [batch·seqLen, D],
 * as in the official Attention: qkv → heads → softmax(q·kᵀ·scale) → ·v → merge heads → proj.
 * With `queries`, only those rows are computed ([batch·queries.len, D] out): keys and values still come from
 * every row of x, and each output row is the same as in the full computation (attention is row-wise in its
 * queries), so rows nobody reads need not be computed.
 */
export function attention(
  x: tf.Tensor2D,
  p: AttentionParams,
  batch: number,
  seqLen: number,
  numHeads: number,
  queries?: QueryRows,
): tf.Tensor2D {
  const width = x.shape[1];
  const headDim = width / numHeads;
  const qLen = queries?.len ?? seqLen;
  // One [D, 3D] qkv weight as in PyTorch, applied as three [D, D] slices: splitting the weights costs
  // nothing, while splitting the [B·T, 3D] activations needs a rank-5 transpose that wasm runs ~100× slower.
  // A transpose's backward needs neither its input nor its output, and nothing else reads the tensors a head
  // transpose is made from, so they are released at once (the reshapes around it keep nothing either) rather than
  // kept until the gradient is done: per block, four activations fewer alive at the peak.
  const transposeReleasing = (t: tf.Tensor, from: number[], to: number[]) => {
    const shaped = reshapeNoSave(t, from);
    const moved = tf.transpose(shaped, [0, 2, 1, 3]);
    shaped.dispose();
    t.dispose();
    const out = reshapeNoSave(moved, to);
    moved.dispose();
    return out;
  };
  const toHeads = (t: tf.Tensor2D, len: number) =>
    transposeReleasing(t, [batch, len, numHeads, headDim], [batch * numHeads, len, headDim]) as tf.Tensor3D;
  const project = (input: tf.Tensor2D, i: number, len: number) =>
    toHeads(
      linear(input, tf.slice(p.qkvW, [0, i * width], [width, width]), tf.slice(p.qkvB, [i * width], [width])),
      len,
    );
  const q = project(queries?.rows ?? x, 0, qLen);
  const k = project(x, 1, seqLen);
  const v = project(x, 2, seqLen);
  const scores = scaleNoSave(tf.matMul(q, k, false, true), headDim ** -0.5);
  const weights = tf.softmax(scores);
  const context = tf.matMul(weights, v); // [B·H, Tq, dh]
  const merged = transposeReleasing(context, [batch, numHeads, qLen, headDim], [batch * qLen, width]) as tf.Tensor2D;
  return linear(merged, p.projW, p.projB);
}

/** smooth-L1 (PyTorch default beta = 1) or mean squared error, averaged over every element (by pairwiseMean). */
export function regressionLoss(pred: tf.Tensor, target: tf.Tensor, kind: "smooth_l1" | "l2"): tf.Scalar {
  const diff = tf.sub(pred, target);
  if (kind === "l2") return pairwiseMean(tf.square(diff));
  const absDiff = tf.abs(diff);
  // 0.5·d² where |d| < 1, |d| − 0.5 elsewhere; written with minimum so the gradient is tfjs's own.
  const quadratic = tf.minimum(absDiff, 1);
  const linearPart = tf.sub(absDiff, quadratic);
  return pairwiseMean(tf.add(tf.mul(tf.square(quadratic), 0.5), linearPart));
}
