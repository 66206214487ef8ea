// Where a run's files live in its store (S3 prefix or local folder); every key here is relative to the run.

export const METRICS_KEY = "metrics.jsonl";
export const CONFIG_KEY = "config.yaml";
export const INPUT_KEY = "input.json";
export const CHECKPOINTS_PREFIX = "checkpoints/";
/** Pointer to the newest complete checkpoint; replaced only after that checkpoint's files are all written. */
export const LATEST_KEY = "checkpoints/latest.json";
export const MODEL_FILE = "model.safetensors";
export const OPTIMIZER_FILE = "optimizer.safetensors";
/** Written last inside a checkpoint folder: a folder without a valid state.json is incomplete. */
export const STATE_FILE = "state.json";
/**
 * Put into a checkpoint folder before rotation deletes anything in it, removed last. Without it a
 * folder that lost its state.json half-way through a delete would look like one being written, and
 * would be kept (as possibly in progress) forever.
 */
export const DELETING_MARKER_FILE = "deleting.json";
export const PROBE_PREFIX = "probe/";
export const PROBE_HISTORY_KEY = "probe/history.jsonl";
/** Baseline scores (raw pixels, random init), cached: training never changes them. */
export const PROBE_BASELINES_PREFIX = "probe/baselines/";
export const REPORT_PREFIX = "report/";
/** The page that shows the run; written after every picture it shows. */
export const REPORT_HTML_KEY = "report/report.html";
/** The first batch's crops with their context and target blocks, drawn by the trainer at step 0. */
export const MASKS_FIGURE_KEY = "report/masks.png";
/** Run locks, one object per generation (see run_lock.ts): `locks/00000001.json`, `locks/00000002.json`, … */
export const LOCKS_PREFIX = "locks/";
/** The event history of each workflow execution on this run. */
export const EXECUTIONS_PREFIX = "executions/";
/** What the workflow told its users (SNS on AWS), one JSON document per line. */
export const NOTIFICATIONS_KEY = "notifications.jsonl";

/** "locks/00000003.json" */
export function lockKey(generation: number): string {
  if (!Number.isInteger(generation) || generation < 1 || generation > 99_999_999) {
    throw new Error(`invalid lock generation ${generation}`);
  }
  return `${LOCKS_PREFIX}${String(generation).padStart(8, "0")}.json`;
}

/** Parses the generation out of "locks/00000003.json", else undefined. */
export function generationOfLockKey(key: string): number | undefined {
  const m = /^locks\/(\d{8})\.json$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** "executions/<name>.json"; names are Step Functions execution names (letters, digits, '-', '_'). */
export function executionKey(name: string): string {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new Error(`invalid execution name ${JSON.stringify(name)}`);
  return `${EXECUTIONS_PREFIX}${name}.json`;
}

/** Steps are zero-padded to 8 digits so that key order is step order. */
export function stepName(step: number): string {
  if (!Number.isInteger(step) || step < 0 || step > 99_999_999) throw new Error(`invalid step ${step}`);
  return String(step).padStart(8, "0");
}

/** "checkpoints/00000120/" */
export function checkpointPrefix(step: number): string {
  return `${CHECKPOINTS_PREFIX}${stepName(step)}/`;
}

/** "probe/00000120.json" */
export function probeKey(step: number): string {
  return `${PROBE_PREFIX}${stepName(step)}.json`;
}

/** Parses the step out of "probe/00000120.json" (not history.jsonl, not baselines/), else undefined. */
export function stepOfProbeKey(key: string): number | undefined {
  const m = /^probe\/(\d{8})\.json$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** "probe/baselines/raw-0123456789abcdef.json": a baseline's scores under a digest of what was probed and how. */
export function probeBaselineKey(baseline: string, digest: string): string {
  if (!/^[a-z]+$/.test(baseline) || !/^[0-9a-f]{1,64}$/.test(digest)) {
    throw new Error(`invalid probe baseline key parts ${JSON.stringify([baseline, digest])}`);
  }
  return `${PROBE_BASELINES_PREFIX}${baseline}-${digest}.json`;
}

/** "report/loss.png": a file of the report, by its name in the report folder. */
export function reportKey(file: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(file) || /^\.+$/.test(file))
    throw new Error(`invalid report file name ${JSON.stringify(file)}`);
  return `${REPORT_PREFIX}${file}`;
}

/** "probe/00000120.embedding.json": 2-D PCA of test embeddings, trained and at random init (report/embedding.png). */
export function probeEmbeddingKey(step: number): string {
  return `${PROBE_PREFIX}${stepName(step)}.embedding.json`;
}

/** A baseline's cached embedding projection, beside its cached scores: "probe/baselines/random-….embedding.json". */
export function baselineEmbeddingKey(baselineKey: string): string {
  if (!/^probe\/baselines\/[^/]+\.json$/.test(baselineKey)) throw new Error(`not a baseline cache key: ${baselineKey}`);
  return baselineKey.replace(/\.json$/, ".embedding.json");
}

/** Parses the step out of a key under checkpoints/ ("checkpoints/00000120/state.json" → 120), else undefined. */
export function stepOfCheckpointKey(key: string): number | undefined {
  const m = /^checkpoints\/(\d{8})\//.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** The document at checkpoints/latest.json (its schema: latest_pointer.ts). */
export type { LatestPointer } from "./latest_pointer.js";
