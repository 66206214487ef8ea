// AdamW and the EMA as one pass over flat float32 arrays, rounding exactly where tfjs's op-by-op float32 sequence does.
//
// Every intermediate is rounded to float32 (Math.fround) after each operation that tfjs ran as its own kernel, so
// the bits equal those of the former tfjs update (test/optim/fused_update.test.ts compares them): +, −, ×, ÷ and
// sqrt computed in float64 and rounded once are correctly rounded float32 results (53 ≥ 2·24 + 2 bits). Being
// plain IEEE arithmetic, the result is also the same on every machine.

/** One step's AdamW scalars, as float32 (tfjs made each JS number a float32 scalar tensor). */
export interface AdamWStepConstants {
  /** 1 − lr·wd; undefined when the weight decay is 0 (the decay multiply is skipped, as before). */
  decayScale: number | undefined;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  /** sqrt(1 − β2ᵗ). */
  bias2Sqrt: number;
  eps: number;
  /** lr / (1 − β1ᵗ). */
  stepSize: number;
}

const f = Math.fround;

/** The float32 scalars of update number `t` (1-based). */
export function adamWStepConstants(
  betas: [number, number],
  eps: number,
  t: number,
  lr: number,
  weightDecay: number,
): AdamWStepConstants {
  const [beta1, beta2] = betas;
  return {
    decayScale: weightDecay !== 0 ? f(1 - lr * weightDecay) : undefined,
    oneMinusBeta1: f(1 - beta1),
    beta2: f(beta2),
    oneMinusBeta2: f(1 - beta2),
    bias2Sqrt: f(Math.sqrt(1 - beta2 ** t)),
    eps: f(eps),
    stepSize: f(lr / (1 - beta1 ** t)),
  };
}

/**
 * One AdamW update of a parameter in place: p, m, v and every gradient array have the same length. The gradient is
 * the mean of `grads` summed in their order and then divided by their count (with one array, that array as is).
 * `decay` says whether this parameter is in the weight-decayed group.
 */
export function adamWUpdate(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  grads: readonly Float32Array[],
  decay: boolean,
  c: AdamWStepConstants,
): void {
  let g: Float32Array;
  if (grads.length === 1) g = grads[0];
  else {
    // The mean first, into a scratch array: the loop below then has no branches (this is the hot path).
    g = scratch(p.length);
    const count = f(grads.length);
    const g0 = grads[0];
    const n = p.length;
    if (grads.length === 2) {
      const g1 = grads[1];
      for (let i = 0; i < n; i++) g[i] = f(g0[i] + g1[i]) / count;
    } else {
      g.set(g0);
      for (let r = 1; r < grads.length; r++) {
        const gr = grads[r];
        for (let i = 0; i < n; i++) g[i] += gr[i];
      }
      for (let i = 0; i < n; i++) g[i] /= count;
    }
  }
  if (decay && c.decayScale !== undefined) {
    const scale = c.decayScale;
    for (let i = 0; i < p.length; i++) p[i] *= scale;
  }
  moments(p, m, v, g, c);
}

let scratchBuffer = new Float32Array(0);

/** A reusable array of at least n floats (the replicas' mean of one parameter). */
function scratch(n: number): Float32Array {
  if (scratchBuffer.length < n) scratchBuffer = new Float32Array(n);
  return scratchBuffer.subarray(0, n);
}

/** m, v and p's step from the (averaged) gradient g; p already carries its weight decay. */
function moments(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, c: AdamWStepConstants): void {
  const { oneMinusBeta1, beta2, oneMinusBeta2, bias2Sqrt, eps, stepSize } = c;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mOld = m[i];
    const mi = f(mOld + f(f(gi - mOld) * oneMinusBeta1));
    const vi = f(f(v[i] * beta2) + f(f(gi * gi) * oneMinusBeta2));
    const denom = f(f(f(Math.sqrt(vi)) / bias2Sqrt) + eps);
    p[i] -= f(f(mi / denom) * stepSize);
    m[i] = mi;
    v[i] = vi;
  }
}

/** Target ← momentum · target + (1 − momentum) · source, in place, with float32 scalars and roundings. */
export function emaUpdate(target: Float32Array, source: Float32Array, momentum: number): void {
  const keep = f(momentum);
  const take = f(1 - momentum);
  const n = target.length;
  for (let i = 0; i < n; i++) target[i] = f(target[i] * keep) + f(source[i] * take);
}
