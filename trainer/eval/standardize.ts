// Per-feature standardisation whose mean and std come from the training features only.
import { DataError } from "../errors.js";

/** Features whose train std is below this are divided by it instead, so constant columns map to 0, not NaN. */
export const STD_FLOOR = 1e-6;

/**
 * (x − mean) / max(std, STD_FLOOR) per column, with mean and population std (ddof 0, as
 * scikit-learn's StandardScaler) estimated once on the train features and then applied unchanged to
 * every split, so nothing about the test set leaks into the probe.
 */
export class FeatureStandardizer {
  readonly dim: number;
  /** Per-column train mean. */
  readonly mean: Float64Array;
  /** Per-column train std after the floor. */
  readonly std: Float64Array;

  private constructor(dim: number, mean: Float64Array, std: Float64Array) {
    this.dim = dim;
    this.mean = mean;
    this.std = std;
  }

  /** Estimates mean and std of each column of the row-major [n, dim] train matrix (two passes, float64). */
  static fit(trainFeatures: Float32Array, dim: number): FeatureStandardizer {
    const rows = rowCount(trainFeatures, dim, "train features");
    if (rows === 0) throw new DataError("train features: no rows to estimate mean and std from");
    const mean = new Float64Array(dim);
    for (let i = 0; i < rows; i++) {
      const base = i * dim;
      for (let j = 0; j < dim; j++) mean[j] += trainFeatures[base + j];
    }
    for (let j = 0; j < dim; j++) mean[j] /= rows;
    // Second pass on centred values: one-pass E[x²] − E[x]² loses every digit when |mean| ≫ std.
    const variance = new Float64Array(dim);
    for (let i = 0; i < rows; i++) {
      const base = i * dim;
      for (let j = 0; j < dim; j++) {
        const centred = trainFeatures[base + j] - mean[j];
        variance[j] += centred * centred;
      }
    }
    const std = new Float64Array(dim);
    for (let j = 0; j < dim; j++) std[j] = Math.max(Math.sqrt(variance[j] / rows), STD_FLOOR);
    return new FeatureStandardizer(dim, mean, std);
  }

  /** A new standardised copy of a row-major [n, dim] matrix from any split. */
  apply(features: Float32Array, what = "features"): Float32Array {
    const rows = rowCount(features, this.dim, what);
    const out = new Float32Array(features.length);
    const invStd = this.std.map((s) => 1 / s);
    for (let i = 0; i < rows; i++) {
      const base = i * this.dim;
      for (let j = 0; j < this.dim; j++) out[base + j] = (features[base + j] - this.mean[j]) * invStd[j];
    }
    return out;
  }
}

function rowCount(features: Float32Array, dim: number, what: string): number {
  if (!Number.isInteger(dim) || dim < 1)
    throw new DataError(`${what}: feature dimension ${dim} is not a positive integer`);
  if (features.length % dim !== 0) {
    throw new DataError(`${what}: ${features.length} values is not a whole number of rows of dimension ${dim}`);
  }
  return features.length / dim;
}
