// What `ijepa pull` may write into: an empty folder, its own earlier pull of the same run, or anything with --force.
import { z } from "zod";
import { getJson, type ObjectStore } from "../storage/object_store.js";
import { WouldOverwriteError } from "../errors.js";
import { LATEST_KEY } from "../run/run_layout.js";

/** Written into the target by every pull: which run it holds a copy of, so a later pull knows the folder is its own. */
export const PULL_MARKER_KEY = "pulled-from.json";

const markerSchema = z.object({ run: z.string() });

/**
 * Refuses a target that holds files and is not an earlier pull of the same run (another run, a user's
 * files) unless `force`: pulling copies config.yaml, metrics.jsonl, probe/, report/ and a checkpoint
 * over whatever has those names.
 */
export async function refuseForeignPullTarget(target: ObjectStore, runUri: string, force: boolean): Promise<void> {
  if (force) return;
  const marker = await readMarker(target);
  if (marker?.run === runUri) return;
  const found: string[] = [];
  let count = 0;
  for await (const info of target.list("")) {
    count += 1;
    if (found.length < 3) found.push(info.key);
  }
  if (count === 0) return;
  const what = marker
    ? `a pull of another run (${marker.run})`
    : (await target.head(LATEST_KEY))
      ? "another run"
      : "files";
  throw new WouldOverwriteError(
    `--to ${target.baseUri} already holds ${what}: ${found.join(", ")}` +
      `${count > found.length ? `, … ${count} files in all` : ""}; pulling ${runUri} there would overwrite them`,
    "pull into an empty or new folder, or pass --force if those files may be replaced",
  );
}

/** Records the run the target now holds a copy of (unchanged when it already says so). */
export async function markPullTarget(target: ObjectStore, runUri: string): Promise<void> {
  if ((await readMarker(target))?.run === runUri) return;
  await target.publish(PULL_MARKER_KEY, { run: runUri });
}

async function readMarker(target: ObjectStore): Promise<{ run: string } | undefined> {
  if (!(await target.head(PULL_MARKER_KEY))) return undefined;
  const parsed = markerSchema.safeParse(await getJson(target, PULL_MARKER_KEY).catch(() => undefined));
  return parsed.success ? parsed.data : undefined;
}
