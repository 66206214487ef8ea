// The lines of a run's metrics.jsonl and probe/history.jsonl: one JSON object per line, `type` first.

/** Written once when a process starts (or resumes) training. */
export interface StartRecord {
  type: "start";
  time: string;
  step: number;
  backend: string;
  threads: number;
  replicas: number;
  resumed: boolean;
  configName: string;
}

/** Written after every step (`logging.log_every` sets how often one is also printed). */
export interface StepRecord {
  type: "step";
  time: string;
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  wd: number;
  momentum: number;
  imgPerSec: number;
  msPerStep: number;
  /** Mask sizes of this batch (patches per context block / per target block). */
  contextPatches: number;
  targetPatches: number;
}

/** Written at the end of each epoch. */
export interface EpochRecord {
  type: "epoch";
  time: string;
  step: number;
  epoch: number;
  meanLoss: number;
  /** Mean over feature dimensions of the per-dimension std of average-pooled target-encoder features. */
  targetStd: number;
  /** RankMe (Garrido et al. 2023): exp(entropy of normalised singular values) of the pooled features. */
  effectiveRank: number;
  /** True when targetStd fell below logging.collapse_std_threshold: representations are collapsing. */
  collapseWarning: boolean;
}

export type MetricsRecord = StartRecord | StepRecord | EpochRecord;

/** One linear-probe evaluation (probe/<step>.json holds the full result; history.jsonl one line per probe). */
export interface ProbeHistoryRecord {
  step: number;
  time: string;
  dataset: string;
  linearTop1: number;
  linearTop5?: number;
  knnTop1: number;
  baselines?: {
    raw?: { linearTop1: number; knnTop1: number };
    random?: { linearTop1: number; knnTop1: number };
  };
}

/** One line of probe/history.jsonl, or undefined when it is not JSON or has no whole-number step. */
export function parseProbeHistoryLine(line: string): ProbeHistoryRecord | undefined {
  try {
    const record = JSON.parse(line) as unknown;
    if (typeof record !== "object" || record === null) return undefined;
    const step = (record as { step?: unknown }).step;
    return Number.isInteger(step) && (step as number) >= 0 ? (record as ProbeHistoryRecord) : undefined;
  } catch {
    return undefined;
  }
}
