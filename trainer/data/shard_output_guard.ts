// What `ijepa shard` may write into: never the source folder, never a folder holding files it did not write.
import { realpathSync } from "node:fs";
import path from "node:path";
import { ConfigError } from "../errors.js";
import type { ObjectStore } from "../storage/object_store.js";
import { MANIFEST_KEY } from "./manifest.js";
import { PARTS_PREFIX } from "../run/dataset_layout.js";

/** The sharder's scratch space in the output (the parts of a running job, the Distributed Map's plan). */
export const SHARD_WORK_PREFIX = PARTS_PREFIX;

/** Exactly the shard file names the sharder writes: shards/train-00003.images.npy, … */
const SHARD_FILE = /^shards\/(?:train|test)-\d{5}\.(?:images|labels)\.npy$/;
/** Exactly the work file names the sharder writes: .ijepa-shard-work/00003.json and plan.json. */
const WORK_FILE = /^\.ijepa-shard-work\/(?:\d{5}|plan)\.json$/;

/** True for a key the sharder itself writes into an output (so it may replace or remove it). */
export function isShardOutputKey(key: string): boolean {
  return key === MANIFEST_KEY || SHARD_FILE.test(key) || WORK_FILE.test(key);
}

/** True for a work file or shard file the sharder may delete when a manifest does not name it. */
export function isShardWorkOrShardKey(key: string): boolean {
  return SHARD_FILE.test(key) || WORK_FILE.test(key);
}

/**
 * Refuses a source and output that are the same folder or prefix, or where one lies inside the other:
 * the shards would land among (and later be read as) the source's files.
 */
export function refuseOverlappingSourceAndOutput(source: ObjectStore, output: ObjectStore): void {
  const a = comparable(source.baseUri);
  const b = comparable(output.baseUri);
  const inside = (inner: string, outer: string) =>
    inner === outer || inner.startsWith(outer.endsWith("/") ? outer : `${outer}/`);
  if (!inside(a, b) && !inside(b, a)) return;
  const what =
    a === b
      ? "are the same folder"
      : inside(b, a)
        ? "overlap: --out lies inside --source"
        : "overlap: --source lies inside --out";
  throw new ConfigError(
    `--source ${source.baseUri} and --out ${output.baseUri} ${what}; sharding writes shards/ and ` +
      "manifest.json there and would mix them with the source files",
    `choose an --out outside the source folder, e.g. ${suggestion(source.baseUri)}`,
  );
}

/**
 * Refuses an output that holds anything the sharder did not write (a user's files, another tool's output):
 * the sharder replaces and cleans up its own files there, and must never touch anything else.
 */
export async function refuseForeignFiles(output: ObjectStore): Promise<void> {
  const foreign: string[] = [];
  let count = 0;
  for await (const info of output.list("")) {
    if (isShardOutputKey(info.key)) continue;
    count += 1;
    if (foreign.length < 3) foreign.push(info.key);
    if (count > 1000) break;
  }
  if (count === 0) return;
  const more = count > foreign.length ? `, … ${count > 1000 ? "over 1000" : count} in all` : "";
  throw new ConfigError(
    `--out ${output.baseUri} holds files ijepa shard did not write (${foreign.join(", ")}${more}); ` +
      "it shards only into an empty folder or one of its own datasets",
    "choose an empty or new --out folder (it is created); nothing was written",
  );
}

/** Local paths resolved through symbolic links (so a link to the source counts as the source); URIs as given. */
function comparable(uri: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) return uri.replace(/\/+$/, "");
  let resolved = path.resolve(uri);
  // The deepest existing ancestor decides where a not-yet-created folder will be.
  const rest: string[] = [];
  for (;;) {
    try {
      resolved = realpathSync(resolved);
      break;
    } catch {
      const parent = path.dirname(resolved);
      if (parent === resolved) break;
      rest.unshift(path.basename(resolved));
      resolved = parent;
    }
  }
  return path.join(resolved, ...rest).replace(/\/+$/, "") || "/";
}

function suggestion(sourceUri: string): string {
  return `${sourceUri.replace(/\/+$/, "")}-shards`;
}
