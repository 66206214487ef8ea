// The final figures of a run as label/value rows: where it got to, how healthy it looks, what the probe says.
import { extent, formatValue } from "./format_value.js";
import type { RunHistory } from "./run_history.js";
import { emaDecayFor, emaSmooth } from "./smoothing.js";

export interface SummaryRow {
  label: string;
  value: string;
  /** True for a figure that needs a person's attention (collapse, non-finite loss, accuracy below a baseline). */
  alarm?: boolean;
}

const THROUGHPUT_WINDOW = 50;

/** Rows for the report's table. Every figure comes from `history`; rows with nothing to say are left out. */
export function summariseRun(history: RunHistory, collapseStdThreshold?: number): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const lastStart = history.starts[history.starts.length - 1];
  if (lastStart) {
    if (lastStart.configName) rows.push({ label: "config", value: lastStart.configName });
    rows.push({
      label: "backend",
      value: `${lastStart.backend}, ${plural(lastStart.threads, "thread")}, ${plural(lastStart.replicas, "replica")}`,
    });
  }
  const steps = history.steps;
  const last = steps[steps.length - 1];
  if (last)
    rows.push({
      label: "last logged step",
      value: Number.isFinite(last.epoch) ? `${last.step} (epoch ${last.epoch})` : String(last.step),
    });
  rows.push({ label: "epochs finished", value: String(history.epochs.length) });
  const resumes = history.starts.filter((s) => s.resumed);
  rows.push({
    label: "resumes",
    value: resumes.length ? `${resumes.length} (from step ${resumes.map((s) => s.step).join(", ")})` : "none",
  });
  const span = wallTime(history);
  if (span) rows.push({ label: "wall time, first start to last record", value: span });

  if (last) {
    rows.push({ label: "loss, last logged step", value: formatValue(last.loss), alarm: !Number.isFinite(last.loss) });
    const smoothed = emaSmooth(
      steps.map((s) => s.loss),
      emaDecayFor(steps.length),
    );
    const lastSmoothed = [...smoothed].reverse().find((v) => Number.isFinite(v));
    if (lastSmoothed !== undefined) rows.push({ label: "loss, smoothed (EMA)", value: formatValue(lastSmoothed) });
  }
  const finiteEpochs = history.epochs.filter((e) => Number.isFinite(e.meanLoss));
  if (finiteEpochs.length) {
    const best = finiteEpochs.reduce((a, b) => (b.meanLoss < a.meanLoss ? b : a));
    rows.push({ label: "lowest epoch mean loss", value: `${formatValue(best.meanLoss)} (epoch ${best.epoch})` });
  }
  const nonFinite = steps.filter((s) => !Number.isFinite(s.loss));
  rows.push({
    label: "non-finite losses",
    value: nonFinite.length ? `${nonFinite.length} (first at step ${nonFinite[0].step})` : "none",
    alarm: nonFinite.length > 0,
  });
  if (last) {
    rows.push({
      label: "learning rate / weight decay / momentum",
      value: [last.lr, last.wd, last.momentum].map((v) => formatValue(v)).join(" / "),
    });
    const recent = steps.slice(-THROUGHPUT_WINDOW);
    const imgPerSec = median(recent.map((s) => s.imgPerSec));
    const msPerStep = median(recent.map((s) => s.msPerStep));
    if (imgPerSec !== undefined || msPerStep !== undefined) {
      const parts = [
        imgPerSec !== undefined ? `${formatValue(imgPerSec)} img/s` : "",
        msPerStep !== undefined ? `${formatValue(msPerStep)} ms/step` : "",
      ];
      rows.push({
        label: `throughput (median of last ${recent.length} logged steps)`,
        value: parts.filter(Boolean).join(", "),
      });
    }
  }

  const lastEpoch = history.epochs[history.epochs.length - 1];
  if (lastEpoch) {
    const below = collapseStdThreshold !== undefined && lastEpoch.targetStd < collapseStdThreshold;
    rows.push({
      label: `target feature std, epoch ${lastEpoch.epoch}`,
      value:
        formatValue(lastEpoch.targetStd) +
        (collapseStdThreshold !== undefined ? ` (threshold ${formatValue(collapseStdThreshold)})` : ""),
      alarm: below || !Number.isFinite(lastEpoch.targetStd),
    });
    rows.push({ label: `effective rank, epoch ${lastEpoch.epoch}`, value: formatValue(lastEpoch.effectiveRank) });
  }
  const warned = history.epochs.filter((e) => e.collapseWarning);
  if (history.epochs.length) {
    rows.push({
      label: "collapse warnings",
      value: warned.length ? `epoch ${warned.map((e) => e.epoch).join(", ")}` : "none",
      alarm: warned.length > 0,
    });
  }

  const probe = history.probes[history.probes.length - 1];
  if (probe) {
    const rawLinear = [...history.probes].reverse().find((p) => p.baselines?.raw)?.baselines?.raw?.linearTop1;
    rows.push({
      label: `linear probe top-1, step ${probe.step}`,
      value:
        formatValue(probe.linearTop1, "percent") +
        (probe.linearTop5 !== undefined ? ` (top-5 ${formatValue(probe.linearTop5, "percent")})` : ""),
      alarm: rawLinear !== undefined && probe.linearTop1 < rawLinear,
    });
    rows.push({ label: `kNN top-1, step ${probe.step}`, value: formatValue(probe.knnTop1, "percent") });
    const finite = history.probes.filter((p) => Number.isFinite(p.linearTop1));
    if (finite.length > 1) {
      const best = finite.reduce((a, b) => (b.linearTop1 > a.linearTop1 ? b : a));
      rows.push({
        label: "best linear probe top-1",
        value: `${formatValue(best.linearTop1, "percent")} (step ${best.step})`,
      });
    }
    const baselines = [...history.probes].reverse().find((p) => p.baselines?.raw || p.baselines?.random)?.baselines;
    if (baselines?.raw) {
      rows.push({
        label: "raw-pixel baseline (linear / kNN)",
        value: `${formatValue(baselines.raw.linearTop1, "percent")} / ${formatValue(baselines.raw.knnTop1, "percent")}`,
      });
    }
    if (baselines?.random) {
      rows.push({
        label: "random-init baseline (linear / kNN)",
        value: `${formatValue(baselines.random.linearTop1, "percent")} / ${formatValue(baselines.random.knnTop1, "percent")}`,
      });
    }
  }
  if (history.problems.length)
    rows.push({ label: "unreadable lines skipped", value: String(history.problems.length), alarm: true });
  return rows;
}

function median(values: number[]): number | undefined {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return undefined;
  const mid = finite.length >> 1;
  return finite.length % 2 ? finite[mid] : (finite[mid - 1] + finite[mid]) / 2;
}

function plural(count: number, noun: string): string {
  return Number.isFinite(count) ? `${count} ${noun}${count === 1 ? "" : "s"}` : `? ${noun}s`;
}

/** "3 h 05 min" from the first start record to the last timestamp anywhere in the metrics. */
function wallTime(history: RunHistory): string | undefined {
  const times = [...history.starts, ...history.steps, ...history.epochs]
    .map((r) => Date.parse(r.time))
    .filter((t) => Number.isFinite(t));
  if (times.length < 2) return undefined;
  const [first, last] = extent(times);
  const seconds = Math.round((last - first) / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m > 0) return `${m} min ${String(s).padStart(2, "0")} s`;
  return `${s} s`;
}
