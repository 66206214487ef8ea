// Turns the trainer's metrics records into CloudWatch EMF lines on stdout: step metrics averaged over an interval
// (not one line per step), epoch metrics at once, and a heartbeat each minute while the process lives.
import type { MetricsRecord } from "../run/metrics_record.js";
import { emfLine, METRIC, runIdOf } from "./emf.js";

export interface EmfReporterOptions {
  runId: string;
  write?: (line: string) => void;
  now?: () => number;
  /** Step metrics are averaged and written at most this often (default 30 s). */
  stepIntervalMs?: number;
  /** Heartbeat period (default 60 s); 0 = no timer (tests). */
  heartbeatMs?: number;
}

export class EmfReporter {
  private readonly write: (line: string) => void;
  private readonly now: () => number;
  private readonly stepIntervalMs: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private sums = { loss: 0, imagesPerSecond: 0, steps: 0, lr: Number.NaN };
  private lastStepLine: number;

  constructor(private readonly options: EmfReporterOptions) {
    this.write = options.write ?? ((line) => process.stdout.write(`${line}\n`));
    this.now = options.now ?? Date.now;
    this.stepIntervalMs = options.stepIntervalMs ?? 30_000;
    this.lastStepLine = this.now();
    const heartbeatMs = options.heartbeatMs ?? 60_000;
    this.heartbeat();
    // unref: the heartbeat never keeps a finished trainer alive.
    this.timer = heartbeatMs > 0 ? setInterval(() => this.heartbeat(), heartbeatMs).unref() : undefined;
  }

  /** Give this to train({ onRecord }). */
  readonly record = (record: MetricsRecord): void => {
    if (record.type === "step") {
      this.sums.loss += record.loss;
      this.sums.imagesPerSecond += record.imgPerSec;
      this.sums.steps += 1;
      this.sums.lr = record.lr;
      if (this.now() - this.lastStepLine >= this.stepIntervalMs) this.flushSteps();
    } else if (record.type === "epoch") {
      this.flushSteps();
      this.emit({ [METRIC.targetStd]: record.targetStd, [METRIC.effectiveRank]: record.effectiveRank });
    }
  };

  /** Writes what is pending and stops the heartbeat. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.flushSteps();
  }

  private flushSteps(): void {
    const { steps } = this.sums;
    if (steps === 0) return;
    this.emit({
      [METRIC.loss]: this.sums.loss / steps,
      [METRIC.imagesPerSecond]: this.sums.imagesPerSecond / steps,
      [METRIC.learningRate]: this.sums.lr,
    });
    this.sums = { loss: 0, imagesPerSecond: 0, steps: 0, lr: Number.NaN };
    this.lastStepLine = this.now();
  }

  private heartbeat(): void {
    this.emit({ [METRIC.heartbeat]: 1 });
  }

  private emit(values: Parameters<typeof emfLine>[1]): void {
    const line = emfLine(this.options.runId, values, this.now());
    if (line) this.write(line);
  }
}

/** A reporter when the job asks for EMF (IJEPA_EMF=1, set by the Batch job definition), else undefined. */
export function emfReporterFromEnv(env: NodeJS.ProcessEnv, outUri: string): EmfReporter | undefined {
  return env.IJEPA_EMF === "1" ? new EmfReporter({ runId: runIdOf(outUri) }) : undefined;
}
