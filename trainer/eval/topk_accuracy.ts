// Top-1 / top-5 accuracy of per-class scores, with ties ranked by lower class index so results are deterministic.
import { DataError } from "../errors.js";

/** Fractions in [0, 1]; `top5` only when there are more than 5 classes (otherwise it is always 1). */
export interface ClassificationAccuracy {
  top1: number;
  top5?: number;
}

/**
 * Fraction of rows whose label is among the `k` best-scored classes. `scores` is row-major
 * [labels.length, numClasses]. A class outranks the label when its score is higher, or equal with a
 * lower index — the same order a stable descending sort gives, so a tie never counts twice.
 */
export function topKAccuracy(
  scores: Float32Array | Float64Array,
  labels: Int32Array,
  numClasses: number,
  k: number,
): number {
  const rows = labels.length;
  if (scores.length !== rows * numClasses) {
    throw new DataError(
      `top-k accuracy: ${scores.length} scores for ${rows} rows × ${numClasses} classes (expected ${rows * numClasses})`,
    );
  }
  if (rows === 0) return 0;
  let correct = 0;
  for (let i = 0; i < rows; i++) {
    const base = i * numClasses;
    const label = labels[i];
    const labelScore = scores[base + label];
    // A NaN score compares false with everything and would rank first; it is never a correct answer.
    if (Number.isNaN(labelScore)) continue;
    let rank = 0;
    for (let c = 0; c < numClasses && rank < k; c++) {
      const s = scores[base + c];
      if (s > labelScore || (s === labelScore && c < label)) rank++;
    }
    if (rank < k) correct++;
  }
  return correct / rows;
}

/** Top-1, and top-5 when numClasses > 5. */
export function classificationAccuracy(
  scores: Float32Array | Float64Array,
  labels: Int32Array,
  numClasses: number,
): ClassificationAccuracy {
  const top1 = topKAccuracy(scores, labels, numClasses, 1);
  return numClasses > 5 ? { top1, top5: topKAccuracy(scores, labels, numClasses, 5) } : { top1 };
}
