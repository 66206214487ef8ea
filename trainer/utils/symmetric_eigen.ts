// Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations, in float64: the collapse metrics'
// spectrum (RankMe) and the report's PCA both use it.

export interface SymmetricEigenOptions {
  /** Also accumulate the eigenvectors (the columns of `vectors`); a third more work per sweep. */
  withVectors?: boolean;
  /** Stop once the off-diagonal mass is this small relative to the diagonal's. */
  relativeTolerance?: number;
  maxSweeps?: number;
}

/** All eigenvalues (in no particular order) and, if asked, the eigenvectors as columns; `matrix` is copied. */
export function symmetricEigen(
  matrix: Float64Array,
  k: number,
  options: SymmetricEigenOptions = {},
): { values: number[]; vectors: Float64Array | undefined } {
  const { withVectors = true, relativeTolerance = 1e-30, maxSweeps = 100 } = options;
  const a = Float64Array.from(matrix);
  const v = withVectors ? new Float64Array(k * k) : undefined;
  if (v) for (let i = 0; i < k; i++) v[i * k + i] = 1;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < k; i++) {
      diag += a[i * k + i] ** 2;
      for (let j = i + 1; j < k; j++) off += a[i * k + j] ** 2;
    }
    if (off === 0 || off <= relativeTolerance * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < k; p++) {
      for (let r = p + 1; r < k; r++) {
        const apr = a[p * k + r];
        if (Math.abs(apr) < 1e-300) continue;
        const theta = (a[r * k + r] - a[p * k + p]) / (2 * apr);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let i = 0; i < k; i++) {
          const aip = a[i * k + p];
          const air = a[i * k + r];
          a[i * k + p] = c * aip - s * air;
          a[i * k + r] = s * aip + c * air;
        }
        for (let i = 0; i < k; i++) {
          const api = a[p * k + i];
          const ari = a[r * k + i];
          a[p * k + i] = c * api - s * ari;
          a[r * k + i] = s * api + c * ari;
        }
        if (!v) continue;
        for (let i = 0; i < k; i++) {
          const vip = v[i * k + p];
          const vir = v[i * k + r];
          v[i * k + p] = c * vip - s * vir;
          v[i * k + r] = s * vip + c * vir;
        }
      }
    }
  }
  return { values: Array.from({ length: k }, (_, i) => a[i * k + i]), vectors: v };
}
