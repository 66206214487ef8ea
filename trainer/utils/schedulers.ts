// Learning-rate, weight-decay and EMA-momentum schedules as pure functions of the iteration, matching
// facebookresearch/ijepa utils/schedulers.py and train.py (so resuming needs only the step counter).

/** Linear warm-up from start_lr to lr, then cosine to final_lr (WarmupCosineSchedule). */
export class WarmupCosineSchedule {
  private readonly tMaxAfterWarmup: number;
  constructor(
    readonly warmupSteps: number,
    readonly startLr: number,
    readonly refLr: number,
    readonly tMax: number,
    readonly finalLr: number,
  ) {
    this.tMaxAfterWarmup = tMax - warmupSteps;
  }

  /** Value used by iteration `i` (0-based): the official step() increments its counter first, so it is at i + 1. */
  at(i: number): number {
    const step = i + 1;
    if (step < this.warmupSteps) {
      const progress = step / Math.max(1, this.warmupSteps);
      return this.startLr + progress * (this.refLr - this.startLr);
    }
    const progress = (step - this.warmupSteps) / Math.max(1, this.tMaxAfterWarmup);
    return Math.max(
      this.finalLr,
      this.finalLr + (this.refLr - this.finalLr) * 0.5 * (1 + Math.cos(Math.PI * progress)),
    );
  }
}

/** Cosine from weight_decay to final_weight_decay over T_max, clamped at the final value (CosineWDSchedule). */
export class CosineWDSchedule {
  constructor(
    readonly refWd: number,
    readonly tMax: number,
    readonly finalWd: number,
  ) {}

  at(i: number): number {
    const progress = (i + 1) / this.tMax;
    const wd = this.finalWd + (this.refWd - this.finalWd) * 0.5 * (1 + Math.cos(Math.PI * progress));
    return this.finalWd <= this.refWd ? Math.max(this.finalWd, wd) : Math.min(this.finalWd, wd);
  }
}

/** EMA momentum rising linearly from ema[0] to ema[1] over ipe·epochs·ipe_scale iterations (train.py's generator). */
export class LinearMomentumSchedule {
  constructor(
    readonly start: number,
    readonly end: number,
    readonly totalSteps: number,
  ) {}

  at(i: number): number {
    // The official generator yields int(total)+1 values and would raise StopIteration after them; we hold the end value.
    const clamped = Math.min(i, Math.floor(this.totalSteps));
    return this.start + (clamped * (this.end - this.start)) / this.totalSteps;
  }
}

export interface ScheduleSettings {
  itersPerEpoch: number;
  epochs: number;
  ipeScale: number;
  warmupEpochs: number;
  startLr: number;
  lr: number;
  finalLr: number;
  weightDecay: number;
  finalWeightDecay: number;
  ema: [number, number];
}

/** The three schedules of a run, built exactly as helper.init_opt and train.py build them. */
export function makeSchedules(s: ScheduleSettings) {
  const tMax = Math.trunc(s.ipeScale * s.epochs * s.itersPerEpoch);
  return {
    lr: new WarmupCosineSchedule(Math.trunc(s.warmupEpochs * s.itersPerEpoch), s.startLr, s.lr, tMax, s.finalLr),
    wd: new CosineWDSchedule(s.weightDecay, tMax, s.finalWeightDecay),
    momentum: new LinearMomentumSchedule(s.ema[0], s.ema[1], s.itersPerEpoch * s.epochs * s.ipeScale),
  };
}
