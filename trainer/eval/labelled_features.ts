// A labelled feature matrix (what every probe in trainer/eval consumes) and the checks that it is usable.
import { DataError } from "../errors.js";

/** `features` is row-major [n, dim] float32; `labels[i]` in [0, numClasses) is the class of row i. */
export interface LabelledFeatures {
  features: Float32Array;
  labels: Int32Array;
}

/**
 * Checks shape, label range and finiteness, and returns the row count. `what` names the matrix
 * in the error ("train features"), because the caller's data came from somewhere we cannot see.
 */
export function checkLabelledFeatures(data: LabelledFeatures, dim: number, numClasses: number, what: string): number {
  if (!Number.isInteger(dim) || dim < 1)
    throw new DataError(`${what}: feature dimension ${dim} is not a positive integer`);
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new DataError(
      `${what}: numClasses ${numClasses} must be an integer ≥ 2`,
      "a probe needs at least two classes",
    );
  }
  const rows = data.labels.length;
  if (rows === 0) throw new DataError(`${what}: no rows`, "extract features for at least one example per class");
  if (data.features.length !== rows * dim) {
    throw new DataError(
      `${what}: ${data.features.length} feature values for ${rows} labels of dimension ${dim} (expected ${rows * dim})`,
      "features must be row-major [n, dim] with one label per row",
    );
  }
  for (let i = 0; i < rows; i++) {
    const label = data.labels[i];
    if (label < 0 || label >= numClasses) {
      throw new DataError(
        `${what}: label ${label} at row ${i} is outside [0, ${numClasses})`,
        "pass numClasses covering every label",
      );
    }
  }
  for (let i = 0; i < data.features.length; i++) {
    if (!Number.isFinite(data.features[i])) {
      throw new DataError(
        `${what}: non-finite value ${data.features[i]} at row ${Math.floor(i / dim)}, column ${i % dim}`,
        "the encoder produced NaN/Inf; check the checkpoint (a diverged run) before probing it",
      );
    }
  }
  return rows;
}
