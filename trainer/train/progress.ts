// Training progress: a live bar on a terminal, plain periodic lines in logs (CloudWatch, CI).
import cliProgress from "cli-progress";
import type { StepRecord } from "../run/metrics_record.js";

export interface ProgressOptions {
  total: number;
  start: number;
  itersPerEpoch: number;
  logEvery: number;
  /** Force the bar on/off; default: on when stdout is a TTY. */
  bar?: boolean;
  log: (line: string) => void;
}

export class TrainProgress {
  private readonly bar: cliProgress.SingleBar | undefined;
  private readonly startedAt = Date.now();
  private lossEma: number | undefined;
  private done: number;
  private payload: Record<string, string> = { epoch: "-", loss: "-", lr: "-", ips: "-" };

  constructor(private readonly o: ProgressOptions) {
    this.done = o.start;
    if (o.bar ?? Boolean(process.stdout.isTTY)) {
      this.bar = new cliProgress.SingleBar(
        {
          format: "train [{bar}] {value}/{total} steps | epoch {epoch} | loss {loss} | lr {lr} | {ips} img/s | ETA {eta_formatted}",
          hideCursor: true,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(o.total, o.start, this.payload);
    }
  }

  step(r: StepRecord): void {
    this.lossEma = this.lossEma === undefined ? r.loss : 0.9 * this.lossEma + 0.1 * r.loss;
    const done = r.step + 1;
    this.done = done;
    if (this.bar) {
      this.payload = { epoch: `${r.epoch + 1}`, loss: this.lossEma.toFixed(5), lr: r.lr.toExponential(2), ips: r.imgPerSec.toFixed(1) };
      this.bar.update(done, this.payload);
      return;
    }
    if (done % this.o.logEvery === 0 || done === this.o.total || done === this.o.start + 1) {
      const eta = this.eta(done);
      this.o.log(
        `step ${done}/${this.o.total} epoch ${r.epoch + 1} (${(r.step % this.o.itersPerEpoch) + 1}/${this.o.itersPerEpoch}) ` +
          `loss ${r.loss.toFixed(5)} (avg ${this.lossEma.toFixed(5)}) lr ${r.lr.toExponential(3)} wd ${r.wd.toFixed(4)} m ${r.momentum.toFixed(5)} ` +
          `ctx ${r.contextPatches} tgt ${r.targetPatches} ${r.imgPerSec.toFixed(1)} img/s ETA ${eta}`,
      );
    }
  }

  /** A message that must not be drawn over by the bar. */
  note(line: string): void {
    if (this.bar) {
      this.bar.stop();
      this.o.log(line);
      this.bar.start(this.o.total, this.done, this.payload);
    } else {
      this.o.log(line);
    }
  }

  stop(): void {
    this.bar?.stop();
  }

  private eta(done: number): string {
    const elapsed = (Date.now() - this.startedAt) / 1000;
    const rate = (done - this.o.start) / Math.max(elapsed, 1e-9);
    const left = (this.o.total - done) / Math.max(rate, 1e-9);
    if (!Number.isFinite(left)) return "?";
    const h = Math.floor(left / 3600);
    const m = Math.floor((left % 3600) / 60);
    const s = Math.floor(left % 60);
    return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s).padStart(2, "0")}s`;
  }
}
