// A run's metrics.jsonl: appended in memory, written whole to the store now and then (stores have no append).
import type { ObjectStore } from "../storage/object_store.js";
import { METRICS_KEY } from "../run/run_layout.js";
import { type MetricsRecord, metricsLineSchema } from "../run/metrics_record.js";

export class MetricsLog {
  private lines: string[] = [];
  private lastFlush = 0;
  private dirty = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly flushSeconds = 15,
    /** Sees each record as it is appended (e.g. the EMF reporter). */
    private readonly observe?: (record: MetricsRecord) => void,
  ) {}

  /**
   * Loads the existing log when resuming from `step`, dropping lines about later steps: those steps
   * will be run again, and the log must read as if the run had never stopped.
   */
  async loadForResume(step: number): Promise<void> {
    const head = await this.store.head(METRICS_KEY);
    if (!head) return;
    const text = new TextDecoder().decode(await this.store.get(METRICS_KEY));
    this.lines = text.split("\n").filter((line) => {
      if (!line.trim()) return false;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        return false; // a line torn by a crash mid-write of an older format: drop it
      }
      const rec = metricsLineSchema.safeParse(value);
      if (!rec.success) return false;
      return rec.data.type === "step" ? rec.data.step < step : rec.data.step <= step;
    });
  }

  append(record: MetricsRecord): void {
    this.lines.push(JSON.stringify(record));
    this.dirty = true;
    this.observe?.(record);
  }

  /** Writes the log if it changed and `force` is set or the flush interval has passed. */
  async flush(force = false): Promise<void> {
    const now = Date.now();
    if (!this.dirty || (!force && now - this.lastFlush < this.flushSeconds * 1000)) return;
    await this.store.put(METRICS_KEY, this.lines.join("\n") + "\n", { contentType: "application/x-ndjson" });
    this.lastFlush = now;
    this.dirty = false;
  }

  /** Losses of `epoch`'s step records, scanning back from the end (an epoch's lines are the last ones). */
  epochLosses(epoch: number): number[] {
    const losses: number[] = [];
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const rec = JSON.parse(this.lines[i]) as MetricsRecord;
      if (rec.type !== "step") continue;
      if (rec.epoch < epoch) break;
      if (rec.epoch === epoch) losses.push(rec.loss);
    }
    return losses.reverse();
  }

  records(): MetricsRecord[] {
    return this.lines.map((l) => JSON.parse(l) as MetricsRecord);
  }
}
