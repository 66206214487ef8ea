// Exponential moving average for noisy per-step curves, bias-corrected so the line starts on the data.

/**
 * EMA of `values` with weight `decay` on the past (TensorBoard's "smoothing"). Non-finite values are
 * skipped (their output is NaN, so a chart shows a gap) instead of poisoning every later point.
 * Bias correction divides by 1 - decay^k so early points are not pulled towards 0.
 */
export function emaSmooth(values: readonly number[], decay: number): number[] {
  if (!(decay >= 0 && decay < 1)) throw new RangeError(`EMA decay must be in [0, 1), got ${decay}`);
  const out: number[] = [];
  let average = 0;
  let weight = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(NaN);
      continue;
    }
    average = decay * average + (1 - decay) * v;
    weight = decay * weight + (1 - decay);
    out.push(average / weight);
  }
  return out;
}

/**
 * A decay that averages over about 2% of the curve (at least one point): enough to show the trend
 * through minibatch noise, little enough that the line does not lag visibly behind a steep early drop.
 */
export function emaDecayFor(pointCount: number): number {
  const window = Math.max(1, pointCount / 50);
  return 1 - 1 / window;
}
