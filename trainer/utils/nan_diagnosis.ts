// Saying what is wrong before a loss turns NaN: data whose pixels are all equal (std 0), weights that hold NaN or Inf.
import { CorruptDataError, DataError } from "../errors.js";

/** A tensor as the checkpoint and export code hold it (only float data is checked). */
interface NamedData {
  name: string;
  data: ArrayLike<number>;
}

/**
 * Below this std (pixels in [0, 1]; one grey level is 0.0039) a channel is constant: summing squares in
 * float64 leaves a rounding residue rather than an exact 0.
 */
export const MIN_DATA_STD = 1e-4;

/**
 * Refuses training data whose per-channel std is 0 (every pixel equal: a blank dataset, a broken
 * decode) or not finite: normalising divides by it, so every input would be NaN or Inf.
 */
export function refuseConstantData(origin: string, mean: readonly number[], std: readonly number[]): void {
  std.forEach((s, c) => {
    if (Number.isFinite(s) && s >= MIN_DATA_STD) return;
    const level = Number.isFinite(mean[c]) ? ` (every pixel is ${Math.round(mean[c] * 255)} of 255)` : "";
    const shown = s < MIN_DATA_STD && s > 0 ? `${s.toExponential(1)} ≈ 0` : s;
    throw new DataError(
      `${origin}: channel ${c} of the training images has std ${shown}${level}: ` +
        "the pixels are all equal, so normalised inputs would be 0/0 (NaN) or carry nothing to learn",
      "check the dataset (blank or unreadable images?) and shard it again from the real images",
    );
  });
}

/**
 * The first tensor holding NaN or ±Inf, or undefined. Checking is one pass over the floats: cheap next
 * to reading them from the store.
 */
export function firstNonFinite(tensors: Iterable<NamedData>): { name: string; bad: number; total: number } | undefined {
  for (const t of tensors) {
    const d = t.data;
    let bad = 0;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) bad += 1;
    if (bad > 0) return { name: t.name, bad, total: d.length };
  }
  return undefined;
}

/** Refuses weights that hold NaN or Inf: they cannot be trained on (every loss NaN) or exported. */
export function refuseNonFiniteWeights(tensors: Iterable<NamedData>, uri: string, hint: string): void {
  const found = firstNonFinite(tensors);
  if (!found) return;
  throw new CorruptDataError(
    uri,
    `tensor ${found.name} holds ${found.bad} NaN/Inf value(s) of ${found.total}: the weights are broken`,
    hint,
  );
}
