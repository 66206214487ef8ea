// Which of a run's folders a starting trainer sweeps for the temp files of writers that were killed.
import type { ObjectStore } from "../storage/object_store.js";
import { removeStaleTempFiles } from "../storage/stale_temp_files.js";
import { CHECKPOINTS_PREFIX, REPORT_PREFIX } from "./run_layout.js";

/** Removes the dead writers' temps in the run's own files, checkpoints/ and report/ (never the whole tree). */
export function removeStaleRunTempFiles(store: ObjectStore): Promise<string[]> {
  return removeStaleTempFiles(store, [CHECKPOINTS_PREFIX, REPORT_PREFIX]);
}
