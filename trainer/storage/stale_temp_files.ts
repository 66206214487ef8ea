// Temp files a killed writer left in a local run (".<name>.tmp-<pid>-<12 hex>"), removed on the next start.
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { LocalObjectStore } from "./local_store.js";
import type { ObjectStore } from "./object_store.js";

/** The names LocalObjectStore gives its temp files, with the writer's pid. */
const TEMP_FILE = /^\..+\.tmp-(\d+)-[0-9a-f]{12}$/;

/**
 * Deletes the temp files of writers that are no longer running, in the run folder's own files and under
 * `folders` (never the whole tree: `--out .` may be a user's project). A temp file of a live process
 * (this one, or another on this machine) is left alone. S3 writes leave no temp objects: nothing to do.
 * Returns the paths removed.
 */
export async function removeStaleTempFiles(store: ObjectStore, folders: readonly string[]): Promise<string[]> {
  if (!(store instanceof LocalObjectStore)) return [];
  const root = store.baseUri;
  const removed: string[] = [];
  const visit = async (dir: string, recurse: boolean): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return; // missing or unreadable: nothing of ours there
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (recurse) await visit(full, true);
        continue;
      }
      const m = entry.isFile() ? TEMP_FILE.exec(entry.name) : null;
      if (!m || processAlive(Number(m[1]))) continue;
      await fs.rm(full, { force: true });
      removed.push(full);
    }
  };
  await visit(root, false);
  for (const folder of folders) await visit(path.join(root, folder), true);
  return removed;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
