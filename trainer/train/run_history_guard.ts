// What `ijepa train` refuses to overwrite: a folder it did not make, checkpoints later than the step it resumes from.
import { listCheckpoints } from "../checkpoint/checkpoint_store.js";
import { WouldOverwriteError } from "../errors.js";
import { CHECKPOINTS_PREFIX, CONFIG_KEY, LOCKS_PREFIX, METRICS_KEY, REPORT_PREFIX } from "../run/run_layout.js";
import type { ObjectStore } from "../storage/object_store.js";

export { WouldOverwriteError };

/**
 * A new run writes config.yaml, metrics.jsonl, report/ and checkpoints/. In a folder that already holds
 * any of them but was never a run (no lock was ever taken there: a user's project, `--out .`), they are
 * someone else's files: refuse unless `force`.
 */
export async function refuseForeignRunFolder(store: ObjectStore, force: boolean): Promise<void> {
  if (force) return;
  for await (const _ of store.list(LOCKS_PREFIX)) return; // a run was started here before: the folder is a run
  const found: string[] = [];
  for (const key of [CONFIG_KEY, METRICS_KEY]) if (await store.head(key)) found.push(key);
  for (const prefix of [CHECKPOINTS_PREFIX, REPORT_PREFIX]) {
    for await (const info of store.list(prefix)) {
      found.push(info.key);
      break;
    }
  }
  if (found.length === 0) return;
  throw new WouldOverwriteError(
    `--out ${store.baseUri} is not a run but holds ${found.join(", ")}, which a new run would overwrite`,
    "choose another --out (a new folder is created), or pass --force if those files may be replaced",
  );
}

/**
 * Resuming from `step` when later checkpoints exist rewrites the run's history: they and the metrics after
 * `step` are replaced as training passes them again. Refused unless `force`; returns the later steps.
 */
export async function refuseRewritingHistory(
  store: ObjectStore,
  step: number,
  latestStep: number | undefined,
  force: boolean,
): Promise<number[]> {
  const later = (await listCheckpoints(store)).filter((c) => c.complete && c.step > step).map((c) => c.step);
  if (latestStep !== undefined && latestStep > step && !later.includes(latestStep)) later.push(latestStep);
  later.sort((a, b) => a - b);
  if (later.length === 0 || force) return later;
  throw new WouldOverwriteError(
    `--resume-from ${step} in ${store.baseUri}, whose latest checkpoint is step ${later.at(-1)}, ` +
      "would rewrite its history: " +
      `checkpoint(s) ${later.join(", ")} and the metrics after step ${step} would be replaced`,
    "continue from the latest with --resume; or keep a copy first " +
      `(ijepa pull --run ${store.baseUri} --which ${later.at(-1)} --to <dir>) ` +
      `and pass --force to train from step ${step} anyway`,
  );
}
