// The float32 scalars of one AdamW step, for kernels that apply it outside tfjs (the replicas' shared update).
//
// tfjs turned each JS number of the update (1 − lr·wd, 1 − β1, …) into a float32 scalar tensor: rounding them the same
// way here lets a kernel that runs the same float32 operations in the same order give the same bits.

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
