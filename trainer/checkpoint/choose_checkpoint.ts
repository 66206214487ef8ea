// Which checkpoint of a run a user means: the one latest.json points to, the best by a probe metric, or a step.
import {
  listCheckpoints,
  readLatestPointer,
  folderUri,
  type CheckpointListing,
  type CheckpointStateDocument,
} from "./checkpoint_store.js";
import { LATEST_KEY, PROBE_HISTORY_KEY, checkpointPrefix } from "../run/run_layout.js";
import { PROBE_METRICS, rankByScore, readProbeScores, type ProbeMetric } from "./rotation.js";
import { ConfigError, CorruptDataError, NotFoundError } from "../errors.js";
import type { ObjectStore } from "../storage/object_store.js";

/** "latest" (latest.json), "best" (highest probe score), or a step number. */
export type CheckpointChoice = "latest" | "best" | number;

export interface ChosenCheckpoint {
  step: number;
  /** "checkpoints/00000120/" */
  prefix: string;
  /** The checkpoint's state.json, validated (its files, their checksums, the trainer's state). */
  document: CheckpointStateDocument;
  /** Why this one, for messages: "latest.json points here", "best linearTop1 (0.81)", "step 120 as asked". */
  reason: string;
  /** The probe score it was chosen by, for "best". */
  score?: number;
}

/**
 * Finds the checkpoint `which` names among the run's complete checkpoints. Never falls back to
 * another one: a missing or damaged choice is an error that lists the complete steps there are.
 */
export async function chooseCheckpoint(
  store: ObjectStore,
  which: CheckpointChoice,
  metric: ProbeMetric = "linearTop1",
): Promise<ChosenCheckpoint> {
  if (!(PROBE_METRICS as readonly string[]).includes(metric)) {
    throw new ConfigError(`unknown probe metric ${JSON.stringify(metric)}`, `use one of ${PROBE_METRICS.join(", ")}`);
  }
  const listing = await listCheckpoints(store);
  const complete = listing.filter((c) => c.complete && !c.deleting);
  const available = describeAvailable(complete);

  if (which === "latest") {
    const pointer = await readLatestPointer(store);
    if (pointer === undefined) {
      throw new NotFoundError(
        store.uriOf(LATEST_KEY),
        `the run has no latest.json yet (no checkpoint finished, or this is not a run folder); ${available}`,
      );
    }
    return { ...usable(store, listing, pointer.step, available), reason: "latest.json points here" };
  }

  if (which === "best") {
    const scores = await readProbeScores(store, metric);
    if (scores.size === 0) {
      throw new NotFoundError(
        store.uriOf(PROBE_HISTORY_KEY),
        `no probe results with ${metric} in this run, so there is no "best" checkpoint: run \`ijepa probe\` on it first, or ask for "latest" or a step; ${available}`,
      );
    }
    // The same ranking as rotation's keepBest.
    const top = rankByScore(
      complete.map((c) => c.step),
      scores,
    )[0];
    const best = top && complete.find((c) => c.step === top.step);
    if (best === undefined) {
      throw new NotFoundError(
        store.uriOf(PROBE_HISTORY_KEY),
        `probe results exist for steps ${[...scores.keys()].sort((a, b) => a - b).join(", ")}, but none of those checkpoints is still there; ${available}`,
      );
    }
    const score = scores.get(best.step)!;
    return { step: best.step, prefix: best.prefix, document: best.state!, reason: `best ${metric} (${score})`, score };
  }

  if (!Number.isInteger(which) || which < 0) {
    throw new ConfigError(
      `checkpoint ${JSON.stringify(which)} is not "latest", "best" or a step number`,
      `give a step such as 120; ${available}`,
    );
  }
  return { ...usable(store, listing, which, available), reason: `step ${which} as asked` };
}

/** "complete checkpoints: 40, 80, 120" (or that there are none), for hints. */
function describeAvailable(complete: CheckpointListing[]): string {
  return complete.length > 0
    ? `complete checkpoints: ${complete.map((c) => c.step).join(", ")}`
    : "the run has no complete checkpoint";
}

function usable(
  store: ObjectStore,
  listing: CheckpointListing[],
  step: number,
  available: string,
): Omit<ChosenCheckpoint, "reason"> {
  const entry = listing.find((c) => c.step === step);
  if (entry === undefined) {
    throw new NotFoundError(
      folderUri(store, checkpointPrefix(step)),
      `there is no checkpoint of step ${step}; ${available}`,
    );
  }
  if (!entry.complete || entry.deleting || entry.state === undefined) {
    throw new CorruptDataError(
      folderUri(store, entry.prefix),
      `checkpoint ${step} is not usable: ${entry.reason ?? "incomplete"}`,
      `pick another step; ${available}`,
    );
  }
  return { step, prefix: entry.prefix, document: entry.state };
}
