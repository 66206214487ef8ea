// Checkpoint rotation: which checkpoints to keep (last K, best B by a probe metric, every N steps) and deleting the rest safely.
import { ConfigError, CorruptDataError, NotFoundError } from "../errors.js";
import type { ObjectStore } from "../storage/object_store.js";
import { getJson } from "../storage/object_store.js";
import { type ProbeHistoryRecord, parseProbeHistoryLine, probeReportScoresSchema } from "../run/probe_record.js";
import { DELETING_MARKER_FILE, listCheckpoints, readLatestPointer } from "./checkpoint_store.js";
import { PROBE_HISTORY_KEY, PROBE_PREFIX, STATE_FILE, checkpointPrefix, stepOfProbeKey } from "../run/run_layout.js";

/** Probe metrics a policy can rank by; higher is better for all of them. */
export const PROBE_METRICS = ["linearTop1", "linearTop5", "knnTop1"] as const satisfies ReadonlyArray<
  keyof ProbeHistoryRecord
>;
export type ProbeMetric = (typeof PROBE_METRICS)[number];

export interface RotationPolicy {
  /** Keep the K newest complete checkpoints. */
  keepLast: number;
  /**
   * Keep the B complete checkpoints with the highest probe score. The single best one is kept even
   * when B is 0: it is the one a user would export.
   */
  keepBest: number;
  /**
   * Keep every checkpoint whose step is a multiple of N (0: none). By step, not "every N-th
   * checkpoint": a checkpoint's position in the list changes as others are deleted, its step does
   * not, so this rule keeps the same checkpoints run after run (rotation stays idempotent).
   */
  keepEvery: number;
  /** Probe metric that ranks checkpoints for keepBest (default linearTop1). */
  metric?: ProbeMetric;
}

/** What rotation needs to know about one checkpoint folder. */
export interface RotationCandidate {
  step: number;
  /** state.json valid and every file present with its recorded size. */
  complete: boolean;
  /** A previous rotation began deleting it (its deletion marker is there). */
  deleting?: boolean;
}

export interface RotationHistory {
  checkpoints: readonly RotationCandidate[];
  /** Step latest.json points to; undefined when there is no latest.json yet. */
  latestStep?: number;
  /** Probe score per step, in the policy's metric. */
  scores: ReadonlyMap<number, number>;
}

export interface RotationPlan {
  /** Steps kept, ascending. */
  keep: number[];
  /** Steps to delete, ascending. */
  delete: number[];
  /** Why each kept step is kept (every kept step has at least one reason). */
  reasons: Map<number, string[]>;
}

export interface RotationResult {
  kept: Array<{ step: number; reasons: string[] }>;
  deleted: number[];
  dryRun: boolean;
}

/**
 * Decides which checkpoints to keep. Always kept, whatever the policy: the one latest.json points to,
 * the best-scoring complete one, every incomplete one (a writer may be mid-save), and every one newer
 * than latest.json (or all, while there is no latest.json: a writer may be about to publish it).
 * Folders a rotation had begun deleting are deleted, unless latest.json points at them. Idempotent:
 * planning again over what is kept deletes nothing, since each rule keeps the same steps from any
 * superset that contains them.
 */
export function planRotation(history: RotationHistory, policy: RotationPolicy): RotationPlan {
  checkPolicy(policy);
  const metric = policy.metric ?? "linearTop1";
  const reasons = new Map<number, string[]>();
  const keepFor = (step: number, reason: string): void => {
    if (!reasons.has(step)) reasons.set(step, []);
    reasons.get(step)!.push(reason);
  };

  const candidates = [...history.checkpoints].sort((a, b) => a.step - b.step);
  const complete = candidates.filter((c) => c.complete && !c.deleting);

  for (const c of candidates) {
    if (c.step === history.latestStep) keepFor(c.step, "latest.json points here");
    if (c.deleting) continue;
    if (!c.complete) keepFor(c.step, "incomplete: a save may be in progress");
    else if (history.latestStep === undefined) keepFor(c.step, "no latest.json yet: a save may be about to publish it");
    else if (c.step > history.latestStep) keepFor(c.step, "newer than latest.json: a save may be about to publish it");
  }

  for (const c of complete.slice(Math.max(0, complete.length - policy.keepLast)))
    keepFor(c.step, `one of the last ${policy.keepLast}`);

  const ranked = rankByScore(
    complete.map((c) => c.step),
    history.scores,
  );
  for (const [i, r] of ranked.slice(0, Math.max(1, policy.keepBest)).entries())
    keepFor(r.step, `best ${metric} #${i + 1} (${r.score})`);

  if (policy.keepEvery > 0) {
    for (const c of complete)
      if (c.step % policy.keepEvery === 0) keepFor(c.step, `step is a multiple of ${policy.keepEvery}`);
  }

  const steps = candidates.map((c) => c.step);
  return {
    keep: steps.filter((s) => reasons.has(s)),
    delete: steps.filter((s) => !reasons.has(s)),
    reasons,
  };
}

/**
 * Applies a policy to the run in `store`: lists its checkpoints, reads latest.json and the probe
 * scores, plans, and (unless dryRun) deletes. Each deletion puts the deletion marker first, then
 * removes state.json (from here on no reader takes the folder for a checkpoint), then every other
 * object under the folder, then the marker. A rotation that stops part-way leaves a marked folder,
 * which the next rotation finishes deleting; an unmarked folder without state.json is a save in
 * progress and is left alone. latest.json is read again before each deletion, so a pointer that
 * moved onto a planned step in the meantime still protects it.
 */
export async function rotateCheckpoints(
  store: ObjectStore,
  policy: RotationPolicy & { dryRun?: boolean },
): Promise<RotationResult> {
  checkPolicy(policy);
  const metric = policy.metric ?? "linearTop1";
  const [listing, pointer, scores] = await Promise.all([
    listCheckpoints(store),
    readLatestPointer(store),
    readProbeScores(store, metric),
  ]);
  const plan = planRotation(
    {
      checkpoints: listing.map((c) => ({ step: c.step, complete: c.complete, deleting: c.deleting })),
      latestStep: pointer?.step,
      scores,
    },
    policy,
  );

  const deleted: number[] = [];
  const kept = plan.keep.map((step) => ({ step, reasons: plan.reasons.get(step)! }));
  for (const step of plan.delete) {
    if (!policy.dryRun) {
      if ((await readLatestPointer(store))?.step === step) {
        kept.push({ step, reasons: ["latest.json moved here during the rotation"] });
        continue;
      }
      await deleteCheckpointFolder(store, step);
    }
    deleted.push(step);
  }
  kept.sort((a, b) => a.step - b.step);
  return { kept, deleted, dryRun: policy.dryRun === true };
}

/** Removes every object of one checkpoint folder in the crash-safe order described at rotateCheckpoints. */
export async function deleteCheckpointFolder(store: ObjectStore, step: number): Promise<void> {
  const prefix = checkpointPrefix(step);
  await store.put(prefix + DELETING_MARKER_FILE, JSON.stringify({ step, startedAt: new Date().toISOString() }) + "\n", {
    contentType: "application/json",
  });
  await store.delete(prefix + STATE_FILE);
  const rest: string[] = [];
  for await (const info of store.list(prefix)) rest.push(info.key);
  for (const key of rest) if (key !== prefix + DELETING_MARKER_FILE) await store.delete(key);
  await store.delete(prefix + DELETING_MARKER_FILE);
}

/**
 * Probe score per step in `metric`, from probe/history.jsonl (the last line for a step wins) and, for
 * steps it lacks, probe/<step>.json's top-level field of that name. An unreadable line is an error,
 * not a skip: rotation must not guess which checkpoint is the best.
 */
export async function readProbeScores(store: ObjectStore, metric: ProbeMetric): Promise<Map<number, number>> {
  const scores = new Map<number, number>();
  let historyText: string | undefined;
  try {
    historyText = new TextDecoder().decode(await store.get(PROBE_HISTORY_KEY));
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  if (historyText !== undefined) {
    historyText.split("\n").forEach((line, index) => {
      if (line.trim() === "") return;
      const record = parseProbeHistoryLine(line);
      if (record === undefined) {
        throw new CorruptDataError(
          store.uriOf(PROBE_HISTORY_KEY),
          `line ${index + 1} is not a probe record with an integer "step"`,
          "fix or remove that line (rotation will not guess which checkpoint is best), then rotate again",
        );
      }
      const score = record[metric];
      if (typeof score === "number" && Number.isFinite(score)) scores.set(record.step, score);
    });
  }

  for await (const info of store.list(PROBE_PREFIX)) {
    const step = stepOfProbeKey(info.key);
    if (step === undefined || scores.has(step)) continue;
    // probe/<step>.json is a ProbeReport (trainer/run/probe_record.ts): the encoder's scores sit under `encoder`.
    const result = probeReportScoresSchema.safeParse(await getJson(store, info.key));
    const score = result.success ? result.data.encoder?.[metric] : undefined;
    if (typeof score === "number" && Number.isFinite(score)) scores.set(step, score);
  }
  return scores;
}

/** Steps that have a finite score, best first; ties go to the later step, so the order is fully determined. */
export function rankByScore(
  steps: readonly number[],
  scores: ReadonlyMap<number, number>,
): Array<{ step: number; score: number }> {
  return steps
    .filter((step) => Number.isFinite(scores.get(step)))
    .map((step) => ({ step, score: scores.get(step)! }))
    .sort((a, b) => b.score - a.score || b.step - a.step);
}

function checkPolicy(policy: RotationPolicy): void {
  for (const field of ["keepLast", "keepBest", "keepEvery"] as const) {
    const value = policy[field];
    if (!Number.isInteger(value) || value < 0) {
      throw new ConfigError(
        `rotation policy ${field} is ${JSON.stringify(value)}`,
        `set ${field} to a non-negative integer (0 turns the rule off)`,
      );
    }
  }
  if (policy.metric !== undefined && !(PROBE_METRICS as readonly string[]).includes(policy.metric)) {
    throw new ConfigError(
      `rotation policy metric is ${JSON.stringify(policy.metric)}`,
      `use one of ${PROBE_METRICS.join(", ")}`,
    );
  }
}
