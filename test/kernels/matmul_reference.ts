// Plain-JS batched matmul in float64 and the error measure the kernel tests hold the SIMD kernels to.
import type { Rng } from "../../trainer/utils/rng.js";

/** A product to check: op(A) is m×k, op(B) is k×n, each of `batch` matrices; A is stored k×m when transposeA. */
export interface ProductCase {
  batch: number;
  m: number;
  k: number;
  n: number;
  transposeA: boolean;
  transposeB: boolean;
}

export const LAYOUTS = [
  { transposeA: false, transposeB: false, name: "NN" },
  { transposeA: false, transposeB: true, name: "NT" },
  { transposeA: true, transposeB: false, name: "TN" },
  { transposeA: true, transposeB: true, name: "TT" },
] as const;

/** Uniform values in [-1, 1) from a seeded generator. */
export function randomValues(count: number, rng: Rng): Float32Array {
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = rng.float() * 2 - 1;
  return values;
}

/**
 * C = op(A)·op(B) in float64, plus Σ_k |op(A)[i,k]·op(B)[k,j]| per element: the scale float32 rounding errors are
 * proportional to, so "relative error" stays meaningful where entries of C cancel to near zero.
 */
export function referenceProduct(
  c: ProductCase,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): { value: Float64Array; scale: Float64Array } {
  const { batch, m, k, n, transposeA, transposeB } = c;
  const value = new Float64Array(batch * m * n);
  const scale = new Float64Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    const aBase = p * m * k;
    const bBase = p * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        let abs = 0;
        for (let q = 0; q < k; q++) {
          const x = a[aBase + (transposeA ? q * m + i : i * k + q)];
          const y = b[bBase + (transposeB ? j * k + q : q * n + j)];
          sum += x * y;
          abs += Math.abs(x * y);
        }
        value[p * m * n + i * n + j] = sum;
        scale[p * m * n + i * n + j] = abs;
      }
    }
  }
  return { value, scale };
}

/** max over elements of |got − want| / scale (scale floored so all-zero products compare absolutely). */
export function maxRelativeError(got: ArrayLike<number>, want: { value: Float64Array; scale: Float64Array }): number {
  if (got.length !== want.value.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const error = Math.abs(got[i] - want.value[i]) / Math.max(want.scale[i], 1e-20);
    if (!(error <= worst)) worst = Number.isNaN(error) ? Infinity : error;
  }
  return worst;
}
