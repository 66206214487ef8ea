// What `ijepa export` may write over: its own earlier export of the same format, or anything with --force.
import { getJson, type ObjectStore } from "../storage/object_store.js";
import { WouldOverwriteError } from "../errors.js";
import { EXPORT_FORMAT } from "./encoder_config.js";
import {
  type ExportFormat,
  MARKER_FILE,
  README_FILE,
  SAFETENSORS_WEIGHTS_FILE,
  TFJS_WEIGHTS_FILE,
} from "./export_files.js";

const WEIGHTS_FILE: Record<ExportFormat, string> = { safetensors: SAFETENSORS_WEIGHTS_FILE, tfjs: TFJS_WEIGHTS_FILE };

/**
 * Refuses to replace files of the names an export writes (weights, README.md, config.json / model.json)
 * unless the folder holds an earlier export of this format (its marker is one of ours) or `force` is set:
 * a folder with a user's README.md is not ours to rewrite. Other files in the folder are never touched.
 */
export async function refuseForeignExportFiles(
  target: ObjectStore,
  format: ExportFormat,
  force: boolean,
): Promise<void> {
  if (force) return;
  const marker = MARKER_FILE[format];
  if (await isOurMarker(target, marker)) return;
  const present: string[] = [];
  for (const key of [WEIGHTS_FILE[format], README_FILE, marker]) if (await target.head(key)) present.push(key);
  if (present.length === 0) return;
  throw new WouldOverwriteError(
    `--to ${target.baseUri} holds ${present.join(", ")}, not written by an ijepa ${format} export; ` +
      `exporting there would overwrite ${present.length > 1 ? "them" : "it"}`,
    "export into an empty or new folder, or pass --force if those files may be replaced",
  );
}

async function isOurMarker(target: ObjectStore, key: string): Promise<boolean> {
  if (!(await target.head(key))) return false;
  const document = await getJson<{ format?: unknown }>(target, key).catch(() => undefined);
  return document?.format === EXPORT_FORMAT;
}
