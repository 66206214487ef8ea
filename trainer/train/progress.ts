// Training progress as the core reports it: an injected reporter, by default plain lines (logs, CloudWatch, CI).
import type { StepRecord } from "../run/metrics_record.js";

/** What a reporter is told when training starts. */
export interface ProgressPlan {
  /** The step training stops at. */
  total: number;
  /** The step training starts from (0, or the resumed checkpoint's). */
  start: number;
  itersPerEpoch: number;
  /** logging.log_every: how often a plain line is written. */
  logEvery: number;
  /** Where lines go (TrainOptions.log). */
  log: (line: string) => void;
}

export interface TrainProgressReporter {
  step(record: StepRecord): void;
  /** A message that must not be drawn over (a terminal bar redraws around it). */
  note(line: string): void;
  stop(): void;
}

/** Makes the reporter for one training process; the CLI passes one that draws a bar on a terminal. */
export type TrainProgressFactory = (plan: ProgressPlan) => TrainProgressReporter;

/** Plain lines: the first step, every log_every-th step and the last, with loss, schedules, speed and ETA. */
export class TrainProgressLog implements TrainProgressReporter {
  private readonly startedAt = Date.now();
  private lossEma: number | undefined;

  constructor(private readonly o: ProgressPlan) {}

  step(r: StepRecord): void {
    this.lossEma = smoothLoss(this.lossEma, r.loss);
    const done = r.step + 1;
    if (done % this.o.logEvery === 0 || done === this.o.total || done === this.o.start + 1) {
      const eta = formatEta(this.startedAt, this.o.start, done, this.o.total);
      this.o.log(
        `step ${done}/${this.o.total} epoch ${r.epoch + 1} ` +
          `(${(r.step % this.o.itersPerEpoch) + 1}/${this.o.itersPerEpoch}) ` +
          `loss ${r.loss.toFixed(5)} (avg ${this.lossEma.toFixed(5)}) lr ${r.lr.toExponential(3)} ` +
          `wd ${r.wd.toFixed(4)} m ${r.momentum.toFixed(5)} ` +
          `ctx ${r.contextPatches} tgt ${r.targetPatches} ${r.imgPerSec.toFixed(1)} img/s ETA ${eta}`,
      );
    }
  }

  note(line: string): void {
    this.o.log(line);
  }

  stop(): void {}
}

/** The default reporter: plain lines. */
export const plainTrainProgress: TrainProgressFactory = (plan) => new TrainProgressLog(plan);

/** The loss shown beside the step's own: an exponential moving average (0.9). */
export function smoothLoss(ema: number | undefined, loss: number): number {
  return ema === undefined ? loss : 0.9 * ema + 0.1 * loss;
}

/** "3m07s", "1h05m", or "?" before the rate is known. */
export function formatEta(startedAt: number, start: number, done: number, total: number): string {
  const elapsed = (Date.now() - startedAt) / 1000;
  const rate = (done - start) / Math.max(elapsed, 1e-9);
  const left = (total - done) / Math.max(rate, 1e-9);
  if (!Number.isFinite(left)) return "?";
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = Math.floor(left % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s).padStart(2, "0")}s`;
}
