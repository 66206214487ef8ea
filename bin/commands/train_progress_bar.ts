// `ijepa train`'s live progress bar on a terminal (cli-progress); off a terminal, the core's plain lines.
import cliProgress from "cli-progress";
import type { StepRecord } from "../../trainer/run/metrics_record.js";
import {
  type ProgressPlan,
  type TrainProgressFactory,
  type TrainProgressReporter,
  TrainProgressLog,
  smoothLoss,
} from "../../trainer/train/progress.js";

/** A bar when `bar` says so, else when stdout is a TTY; plain lines otherwise. */
export function terminalTrainProgress(bar?: boolean): TrainProgressFactory {
  return (plan) => ((bar ?? Boolean(process.stdout.isTTY)) ? new TrainProgressBar(plan) : new TrainProgressLog(plan));
}

export class TrainProgressBar implements TrainProgressReporter {
  private readonly bar: cliProgress.SingleBar;
  private lossEma: number | undefined;
  private done: number;
  private payload: Record<string, string> = { epoch: "-", loss: "-", lr: "-", ips: "-" };

  constructor(private readonly o: ProgressPlan) {
    this.done = o.start;
    this.bar = new cliProgress.SingleBar(
      {
        format:
          "train [{bar}] {value}/{total} steps | epoch {epoch} | loss {loss} | lr {lr} | {ips} img/s | " +
          "ETA {eta_formatted}",
        hideCursor: true,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(o.total, o.start, this.payload);
  }

  step(r: StepRecord): void {
    this.lossEma = smoothLoss(this.lossEma, r.loss);
    this.done = r.step + 1;
    this.payload = {
      epoch: `${r.epoch + 1}`,
      loss: this.lossEma.toFixed(5),
      lr: r.lr.toExponential(2),
      ips: r.imgPerSec.toFixed(1),
    };
    this.bar.update(this.done, this.payload);
  }

  /** Stops the bar, writes the line, and starts the bar again below it. */
  note(line: string): void {
    this.bar.stop();
    this.o.log(line);
    this.bar.start(this.o.total, this.done, this.payload);
  }

  stop(): void {
    this.bar.stop();
  }
}
