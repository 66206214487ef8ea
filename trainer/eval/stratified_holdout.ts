// A seeded, stratified split of the train rows into a fitting part and a held-out part (for choosing hyper-parameters).
import { ConfigError, DataError } from "../errors.js";
import { Rng } from "../utils/rng.js";

export interface HoldoutSplit {
  /** Row indices to fit on, ascending. */
  fitRows: Int32Array;
  /** Row indices to score on, ascending. */
  heldOutRows: Int32Array;
}

/**
 * Holds out round(fraction × count) rows of every class (chosen by a seeded shuffle within the
 * class, so every class keeps its share and the same seed gives the same split), always leaving at
 * least one row of each class to fit on.
 */
export function stratifiedHoldout(
  labels: Int32Array,
  numClasses: number,
  fraction: number,
  seed: number,
): HoldoutSplit {
  if (!(fraction > 0 && fraction < 1))
    throw new ConfigError(`held-out fraction ${fraction} must lie strictly between 0 and 1`, "use e.g. 0.2");
  const rowsOfClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) rowsOfClass[labels[i]].push(i);
  const rng = Rng.fromSeed(seed, "eval/stratified-holdout");
  const heldOut = new Uint8Array(labels.length);
  let heldOutCount = 0;
  for (const rows of rowsOfClass) {
    const take = Math.min(Math.round(fraction * rows.length), rows.length - 1);
    if (take <= 0) continue;
    rng.shuffle(rows);
    for (let j = 0; j < take; j++) heldOut[rows[j]] = 1;
    heldOutCount += take;
  }
  if (heldOutCount === 0) {
    throw new DataError(
      `cannot hold out ${fraction * 100}% of ${labels.length} train rows: no class has enough rows`,
      "give the probe more labelled train examples, or pass a single weight decay (weightDecays: [λ]) so no sweep is needed",
    );
  }
  const fitRows = new Int32Array(labels.length - heldOutCount);
  const heldOutRows = new Int32Array(heldOutCount);
  let f = 0;
  let h = 0;
  for (let i = 0; i < labels.length; i++) {
    if (heldOut[i]) heldOutRows[h++] = i;
    else fitRows[f++] = i;
  }
  return { fitRows, heldOutRows };
}

/** The given rows of a row-major [n, dim] matrix and their labels, copied in that order. */
export function selectRows(
  features: Float32Array,
  labels: Int32Array,
  dim: number,
  rows: Int32Array,
): { features: Float32Array; labels: Int32Array } {
  const out = new Float32Array(rows.length * dim);
  const outLabels = new Int32Array(rows.length);
  for (let j = 0; j < rows.length; j++) {
    const r = rows[j];
    out.set(features.subarray(r * dim, (r + 1) * dim), j * dim);
    outLabels[j] = labels[r];
  }
  return { features: out, labels: outLabels };
}
