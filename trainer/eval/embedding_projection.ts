// 2-D PCA of embeddings for a picture: top principal axes of the D×D covariance in float64, with a deterministic sign.
import { DataError } from "../errors.js";
import { Rng } from "../utils/rng.js";
import { symmetricEigen } from "../utils/symmetric_eigen.js";

/** A scatter of at most ~2,000 points is what a person can still read (and what keeps the JSON small). */
export const DEFAULT_MAX_POINTS = 2000;

export interface PrincipalAxes {
  /** Unit vectors of length dim, by decreasing variance; the entry of largest magnitude is positive. */
  components: Float64Array[];
  /** Variance along each component. */
  variances: number[];
  /** Sum of the variances of all dim columns (the covariance's trace). */
  totalVariance: number;
}

export interface AxesOptions {
  /** How many axes (default 2, at most dim). */
  count?: number;
  /**
   * Iteration cap of the subspace iteration (default 1000; reached only when the top eigenvalues are all but
   * equal, where any axes in their span draw the same cloud).
   */
  maxIterations?: number;
  /** Relative residual ‖Cv − λv‖ / λ₁ at which an axis counts as found (default 1e-10). */
  tolerance?: number;
}

/**
 * Top principal axes of the rows of `centered` (row-major [n, dim], already centred). The covariance is
 * formed in float64 and its top eigenvectors found by subspace iteration on a block wider than asked
 * (so near-equal eigenvalues do not slow the axes wanted), with a Rayleigh–Ritz step solved exactly by
 * Jacobi rotations. Deterministic: a fixed start block and a sign rule (largest-magnitude entry positive,
 * as scikit-learn's svd_flip does for components), so the same features always give the same picture.
 */
export function principalAxes(centered: Float64Array, dim: number, options: AxesOptions = {}): PrincipalAxes {
  const n = centered.length / dim;
  if (!Number.isInteger(n) || n < 2) {
    throw new DataError(`PCA needs at least 2 rows of ${dim} values, got ${centered.length} values`);
  }
  const count = Math.min(options.count ?? 2, dim);
  const tolerance = options.tolerance ?? 1e-10;
  const cov = covariance(centered, n, dim);
  let totalVariance = 0;
  for (let i = 0; i < dim; i++) totalVariance += cov[i * dim + i];

  const block = Math.min(dim, count + 8);
  const rng = Rng.fromSeed(0, "principal-axes");
  let q: Float64Array[] = Array.from({ length: block }, () => Float64Array.from({ length: dim }, () => rng.normal()));
  orthonormalise(q);
  let ritz: Ritz = { values: [], vectors: [], images: [] };
  const maxIterations = options.maxIterations ?? 1000;
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    ritz = rayleighRitz(
      q,
      q.map((v) => multiply(cov, v, dim)),
      dim,
    );
    if (totalVariance === 0 || converged(ritz, count, tolerance)) break;
    // The next block is C times the Ritz vectors (their images, already at hand): sorted and well conditioned.
    q = ritz.images.map((v) => Float64Array.from(v));
    orthonormalise(q);
  }
  const components = ritz.vectors.slice(0, count).map(fixSign);
  return { components, variances: ritz.values.slice(0, count).map((v) => Math.max(0, v)), totalVariance };
}

export interface EmbeddingProjection {
  /** Rows projected (at most maxPoints, evenly spaced through the split) and the feature width. */
  count: number;
  dim: number;
  /** Coordinates on the first and second principal axes. */
  x: number[];
  y: number[];
  /** Class index of each point (-1: unlabelled). */
  labels: number[];
  /** Share of the total variance along each axis, in [0, 1]. */
  explainedVariance: [number, number];
}

export interface ProjectionOptions {
  maxPoints?: number;
  /**
   * Scale each column to unit variance before the PCA (default true): the probe's features are
   * standardised the same way, so the picture shows the geometry the probe sees.
   */
  standardize?: boolean;
}

/** Indices of at most `max` of `count` rows, evenly spaced and in order (all of them when count ≤ max). */
export function evenlySpacedIndices(count: number, max: number): Int32Array {
  const n = Math.min(count, Math.max(0, Math.floor(max)));
  return Int32Array.from({ length: n }, (_, i) => Math.floor((i * count) / n));
}

/**
 * Projects the rows of `features` (row-major [count, dim]) onto their top two principal axes. Rows are
 * first thinned to at most maxPoints, evenly spaced, so a test split stored class by class keeps every class.
 */
export function projectEmbeddings(
  features: Float32Array | Float64Array,
  labels: ArrayLike<number>,
  dim: number,
  options: ProjectionOptions = {},
): EmbeddingProjection {
  const count = features.length / dim;
  if (!Number.isInteger(count))
    throw new DataError(`features: ${features.length} values is not a whole number of rows of ${dim}`);
  if (labels.length !== count) throw new DataError(`features have ${count} rows but there are ${labels.length} labels`);
  if (dim < 2) throw new DataError(`a 2-D projection needs features of at least 2 dimensions, got ${dim}`);
  const rows = evenlySpacedIndices(count, options.maxPoints ?? DEFAULT_MAX_POINTS);
  const n = rows.length;
  const x = new Float64Array(n * dim);
  rows.forEach((row, i) => {
    for (let j = 0; j < dim; j++) x[i * dim + j] = features[row * dim + j];
  });
  // A NaN would spread through the covariance into every coordinate; a diverged encoder has no picture to draw.
  const bad = x.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    const row = rows[Math.floor(bad / dim)];
    throw new DataError(`features of row ${row} hold a non-finite value: no projection to draw`);
  }
  for (let j = 0; j < dim; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[i * dim + j];
    mean /= n;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      x[i * dim + j] -= mean;
      sq += x[i * dim + j] ** 2;
    }
    // Constant columns stay 0 rather than becoming NaN.
    const scale = options.standardize === false ? 1 : Math.sqrt(sq / n) || 1;
    for (let i = 0; i < n; i++) x[i * dim + j] /= scale;
  }
  const axes = principalAxes(x, dim, { count: 2 });
  const [px, py] = [0, 1].map((k) => {
    const c = axes.components[k];
    return Array.from({ length: n }, (_, i) => {
      let s = 0;
      for (let j = 0; j < dim; j++) s += x[i * dim + j] * c[j];
      return s;
    });
  });
  const share = (k: number): number => (axes.totalVariance > 0 ? axes.variances[k] / axes.totalVariance : 0);
  return {
    count: n,
    dim,
    x: px,
    y: py,
    labels: Array.from(rows, (r) => labels[r]),
    explainedVariance: [share(0), share(1)],
  };
}

/** Xᵀ X / n of the centred rows, full symmetric D×D in float64. */
function covariance(x: Float64Array, n: number, dim: number): Float64Array {
  const cov = new Float64Array(dim * dim);
  for (let r = 0; r < n; r++) {
    const o = r * dim;
    for (let i = 0; i < dim; i++) {
      const xi = x[o + i];
      if (xi === 0) continue;
      const row = i * dim;
      for (let j = i; j < dim; j++) cov[row + j] += xi * x[o + j];
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      cov[i * dim + j] /= n;
      cov[j * dim + i] = cov[i * dim + j];
    }
  }
  return cov;
}

function multiply(m: Float64Array, v: Float64Array, dim: number): Float64Array {
  const out = new Float64Array(dim);
  for (let i = 0; i < dim; i++) {
    let s = 0;
    const row = i * dim;
    for (let j = 0; j < dim; j++) s += m[row + j] * v[j];
    out[i] = s;
  }
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Modified Gram–Schmidt, twice (enough for float64); a vector that vanishes is replaced by a unit axis. */
function orthonormalise(vectors: Float64Array[]): void {
  vectors.forEach((v, k) => {
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < k; p++) {
        const d = dot(v, vectors[p]);
        for (let i = 0; i < v.length; i++) v[i] -= d * vectors[p][i];
      }
    }
    let norm = Math.sqrt(dot(v, v));
    if (!(norm > 1e-300)) {
      v.fill(0);
      v[k % v.length] = 1;
      norm = 1;
    }
    for (let i = 0; i < v.length; i++) v[i] /= norm;
  });
}

/** Ritz pairs by decreasing value, with C times each Ritz vector. */
interface Ritz {
  values: number[];
  vectors: Float64Array[];
  images: Float64Array[];
}

/** Eigenpairs of C restricted to span(Q) (Q orthonormal, CQ given), by decreasing eigenvalue. */
function rayleighRitz(q: Float64Array[], cq: Float64Array[], dim: number): Ritz {
  const k = q.length;
  const t = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = i; j < k; j++) t[i * k + j] = t[j * k + i] = (dot(q[i], cq[j]) + dot(q[j], cq[i])) / 2;
  const { values, vectors } = jacobiEigen(t, k);
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a] || a - b);
  const combine = (basis: Float64Array[], i: number): Float64Array => {
    const v = new Float64Array(dim);
    for (let p = 0; p < k; p++) {
      const w = vectors[p * k + i];
      for (let r = 0; r < dim; r++) v[r] += w * basis[p][r];
    }
    return v;
  };
  return {
    values: order.map((i) => values[i]),
    vectors: order.map((i) => combine(q, i)),
    images: order.map((i) => combine(cq, i)),
  };
}

/** All eigenpairs of a small symmetric matrix by cyclic Jacobi rotations; eigenvectors are the columns. */
export function jacobiEigen(matrix: Float64Array, k: number): { values: number[]; vectors: Float64Array } {
  const { values, vectors } = symmetricEigen(matrix, k, { withVectors: true });
  return { values, vectors: vectors as Float64Array };
}

/** Whether each wanted Ritz vector v satisfies ‖Cv − λv‖ ≤ tolerance · λ₁. */
function converged(ritz: Ritz, count: number, tolerance: number): boolean {
  const top = Math.abs(ritz.values[0]);
  for (let k = 0; k < count; k++) {
    const v = ritz.vectors[k];
    const cv = ritz.images[k];
    let residual = 0;
    for (let i = 0; i < v.length; i++) residual += (cv[i] - ritz.values[k] * v[i]) ** 2;
    if (Math.sqrt(residual) > tolerance * top) return false;
  }
  return true;
}

function fixSign(v: Float64Array): Float64Array {
  let largest = 0;
  for (let i = 1; i < v.length; i++) if (Math.abs(v[i]) > Math.abs(v[largest]) + 1e-12) largest = i;
  if (v[largest] < 0) for (let i = 0; i < v.length; i++) v[i] = -v[i];
  return v;
}
