// A run's metrics and probe history as clean, ordered series: resumes folded in, repeats resolved, bad lines set aside.
import { NotFoundError } from "../errors.js";
import { METRICS_KEY, PROBE_HISTORY_KEY } from "../run/run_layout.js";
import type { ObjectStore } from "../storage/object_store.js";
import type { EpochRecord, MetricsRecord, StartRecord, StepRecord } from "../run/metrics_record.js";
import type { ProbeHistoryRecord } from "../run/probe_record.js";

/** What a report draws from: one record per step / epoch / probe, ascending, from the timeline that survived. */
export interface RunHistory {
  /** Every start record, in file order (the first is the fresh start, later ones are resumes). */
  starts: StartRecord[];
  steps: StepRecord[];
  epochs: EpochRecord[];
  probes: ProbeHistoryRecord[];
  /** Lines that could not be used, each naming its file and line number. */
  problems: string[];
}

const MAX_PROBLEMS_LISTED = 20;

/**
 * Parses metrics.jsonl text. Tolerates what a crashed or foreign writer leaves behind: a truncated
 * last line, bare NaN/Infinity tokens, null for a number (what JSON.stringify makes of NaN). Lines
 * that still cannot be read are skipped and described in `problems`.
 */
export function parseMetricsJsonl(
  text: string,
  source = METRICS_KEY,
): { records: MetricsRecord[]; problems: string[] } {
  const records: MetricsRecord[] = [];
  const problems: string[] = [];
  forEachJsonLine(text, source, problems, (value, where) => {
    const record = toMetricsRecord(value);
    if (record) records.push(record);
    else problems.push(`${where}: not a start, step or epoch record with a whole-number step`);
  });
  return { records, problems };
}

/** Parses probe/history.jsonl text, with the same tolerance as parseMetricsJsonl. */
export function parseProbeHistoryJsonl(
  text: string,
  source = PROBE_HISTORY_KEY,
): { records: ProbeHistoryRecord[]; problems: string[] } {
  const records: ProbeHistoryRecord[] = [];
  const problems: string[] = [];
  forEachJsonLine(text, source, problems, (value, where) => {
    const record = toProbeRecord(value);
    if (record) records.push(record);
    else problems.push(`${where}: not a probe record with a whole-number step`);
  });
  return { records, problems };
}

/**
 * Folds records in file order into one timeline. A start record at step S means training (re)began
 * from a checkpoint at S, so anything logged after S by an earlier process was on a path that no
 * longer exists and is dropped; for a step or epoch logged twice, the later line wins.
 */
export function assembleRunHistory(
  metrics: readonly MetricsRecord[],
  probes: readonly ProbeHistoryRecord[],
  problems: string[] = [],
): RunHistory {
  const starts: StartRecord[] = [];
  const steps = new Map<number, StepRecord>();
  const epochs = new Map<number, EpochRecord>();
  for (const record of metrics) {
    if (record.type === "start") {
      starts.push(record);
      for (const [step] of steps) if (step > record.step) steps.delete(step);
      for (const [epoch, e] of epochs) if (e.step > record.step) epochs.delete(epoch);
    } else if (record.type === "step") {
      steps.set(record.step, record);
    } else {
      epochs.set(record.epoch, record);
    }
  }
  const byStep = new Map<number, ProbeHistoryRecord>();
  for (const probe of probes) byStep.set(probe.step, probe);
  return {
    starts,
    steps: [...steps.values()].sort((a, b) => a.step - b.step),
    epochs: [...epochs.values()].sort((a, b) => a.epoch - b.epoch),
    probes: [...byStep.values()].sort((a, b) => a.step - b.step),
    problems: summariseProblems(problems),
  };
}

/** Reads metrics.jsonl (required) and probe/history.jsonl (absent until the first probe) from a run's store. */
export async function readRunHistory(store: ObjectStore): Promise<RunHistory> {
  let metricsText: string;
  try {
    metricsText = new TextDecoder().decode(await store.get(METRICS_KEY));
  } catch (err) {
    if (err instanceof NotFoundError) {
      throw new NotFoundError(
        store.uriOf(METRICS_KEY),
        "check the run URI, or start training: metrics.jsonl appears with the first logged step",
      );
    }
    throw err;
  }
  const metrics = parseMetricsJsonl(metricsText, store.uriOf(METRICS_KEY));
  let probes: { records: ProbeHistoryRecord[]; problems: string[] } = { records: [], problems: [] };
  try {
    probes = parseProbeHistoryJsonl(
      new TextDecoder().decode(await store.get(PROBE_HISTORY_KEY)),
      store.uriOf(PROBE_HISTORY_KEY),
    );
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  return assembleRunHistory(metrics.records, probes.records, [...metrics.problems, ...probes.problems]);
}

function forEachJsonLine(
  text: string,
  source: string,
  problems: string[],
  use: (value: unknown, where: string) => void,
): void {
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const where = `${source} line ${i + 1}`;
    const value = parseLenientJson(line);
    if (value === undefined) {
      const last = lines.slice(i + 1).every((l) => l.trim() === "");
      problems.push(`${where}: not JSON${last ? " (a truncated last write?)" : ""}`);
      return;
    }
    use(value, where);
  });
}

/** JSON.parse, retried with bare NaN / Infinity / -Infinity values quoted (some writers emit them). */
function parseLenientJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    const quoted = line.replace(/([:,[]\s*)(-?Infinity|NaN)(?=\s*[,}\]])/g, '$1"$2"');
    if (quoted === line) return undefined;
    try {
      return JSON.parse(quoted);
    } catch {
      return undefined;
    }
  }
}

/** A number field: null, "NaN" and missing read as NaN so one bad value never drops a whole record. */
function num(value: unknown): number {
  if (typeof value === "number") return value;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return NaN;
}

function wholeNumber(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function toMetricsRecord(value: unknown): MetricsRecord | undefined {
  if (!isObject(value)) return undefined;
  const step = wholeNumber(value.step);
  if (step === undefined) return undefined;
  const time = typeof value.time === "string" ? value.time : "";
  switch (value.type) {
    case "start":
      return {
        type: "start",
        time,
        step,
        backend: String(value.backend ?? "unknown"),
        threads: num(value.threads),
        replicas: num(value.replicas),
        resumed: value.resumed === true,
        configName: String(value.configName ?? ""),
      };
    case "step":
      return {
        type: "step",
        time,
        step,
        epoch: num(value.epoch),
        loss: num(value.loss),
        lr: num(value.lr),
        wd: num(value.wd),
        momentum: num(value.momentum),
        imgPerSec: num(value.imgPerSec),
        msPerStep: num(value.msPerStep),
        contextPatches: num(value.contextPatches),
        targetPatches: num(value.targetPatches),
      };
    case "epoch": {
      const epoch = wholeNumber(value.epoch);
      if (epoch === undefined) return undefined;
      return {
        type: "epoch",
        time,
        step,
        epoch,
        meanLoss: num(value.meanLoss),
        targetStd: num(value.targetStd),
        effectiveRank: num(value.effectiveRank),
        collapseWarning: value.collapseWarning === true,
      };
    }
    default:
      return undefined;
  }
}

function toProbeRecord(value: unknown): ProbeHistoryRecord | undefined {
  if (!isObject(value)) return undefined;
  const step = wholeNumber(value.step);
  if (step === undefined) return undefined;
  const record: ProbeHistoryRecord = {
    step,
    time: typeof value.time === "string" ? value.time : "",
    dataset: String(value.dataset ?? ""),
    linearTop1: num(value.linearTop1),
    knnTop1: num(value.knnTop1),
  };
  if (value.linearTop5 !== undefined) record.linearTop5 = num(value.linearTop5);
  if (isObject(value.baselines)) {
    const pair = (v: unknown): { linearTop1: number; knnTop1: number } | undefined =>
      isObject(v) ? { linearTop1: num(v.linearTop1), knnTop1: num(v.knnTop1) } : undefined;
    const raw = pair(value.baselines.raw);
    const random = pair(value.baselines.random);
    record.baselines = {};
    if (raw) record.baselines.raw = raw;
    if (random) record.baselines.random = random;
  }
  return record;
}

function summariseProblems(problems: string[]): string[] {
  if (problems.length <= MAX_PROBLEMS_LISTED) return problems;
  return [
    ...problems.slice(0, MAX_PROBLEMS_LISTED),
    `… and ${problems.length - MAX_PROBLEMS_LISTED} more unreadable lines`,
  ];
}
