// Representation-collapse diagnostics on pooled features: per-dimension spread and RankMe effective rank.
import { symmetricEigen } from "../utils/symmetric_eigen.js";

export interface CollapseMetrics {
  /** Mean over dimensions of each dimension's standard deviation across samples. */
  targetStd: number;
  /**
   * RankMe (Garrido et al., ICML 2023) of the centred features: exp of the entropy of the normalised
   * singular values, in [1, min(n, d)]. Centred because the encoder's final LayerNorm gives every
   * sample a large shared mean (|mean| ≈ 10 against a per-dimension std ≈ 0.05 at init), which alone
   * would pin the uncentred RankMe near 1 and hide how many directions the features actually vary in.
   */
  effectiveRank: number;
}

/** features: row-major [n, d]. */
export function collapseMetrics(features: Float32Array, n: number, d: number): CollapseMetrics {
  if (features.length !== n * d) throw new Error(`collapseMetrics: ${features.length} values for [${n}, ${d}]`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += features[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const centred = new Float32Array(n * d);
  let stdSum = 0;
  for (let j = 0; j < d; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const x = features[i * d + j] - mean[j];
      centred[i * d + j] = x;
      s += x * x;
    }
    stdSum += Math.sqrt(s / Math.max(1, n - 1));
  }
  return { targetStd: stdSum / d, effectiveRank: rankMe(centred, n, d) };
}

/**
 * RankMe of a feature matrix as given (the paper's definition): σ² are the eigenvalues of ZᵀZ, or of
 * ZZᵀ when there are fewer samples than dimensions (the same non-zero values, on the smaller matrix).
 */
export function rankMe(features: Float32Array, n: number, d: number, eps = 1e-7): number {
  const size = Math.min(n, d);
  const gram = new Float64Array(size * size);
  if (d <= n) {
    for (let i = 0; i < n; i++) {
      const row = i * d;
      for (let a = 0; a < d; a++) {
        const x = features[row + a];
        if (x === 0) continue;
        for (let b = a; b < d; b++) gram[a * d + b] += x * features[row + b];
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        let dot = 0;
        for (let k = 0; k < d; k++) dot += features[i * d + k] * features[j * d + k];
        gram[i * n + j] = dot;
      }
    }
  }
  for (let a = 0; a < size; a++) for (let b = 0; b < a; b++) gram[a * size + b] = gram[b * size + a];
  const eigen = symmetricEigenvalues(gram, size);
  const sigma = eigen.map((l) => Math.sqrt(Math.max(0, l)));
  const total = sigma.reduce((s, x) => s + x, 0);
  if (total === 0) return 1;
  let entropy = 0;
  for (const s of sigma) {
    const p = s / total + eps;
    entropy -= p * Math.log(p);
  }
  return Math.exp(entropy);
}

/** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations (the matrix is copied). */
export function symmetricEigenvalues(matrix: Float64Array, d: number, maxSweeps = 60): number[] {
  return symmetricEigen(matrix, d, { withVectors: false, relativeTolerance: 1e-22, maxSweeps }).values;
}
