// Reads a checkpoint URI: a run (use its latest.json) or one checkpoint folder (…/checkpoints/00000120/), local or s3://.
import { CHECKPOINTS_PREFIX } from "../run/run_layout.js";
import { ConfigError } from "../errors.js";

export interface CheckpointLocation {
  /** The run the checkpoint belongs to, in the form it was given (path, file:// or s3://). */
  runUri: string;
  step: number | "latest";
}

const CHECKPOINTS_FOLDER = CHECKPOINTS_PREFIX.replace(/\/$/, "");

/**
 * `s3://b/runs/r1` → {runUri: "s3://b/runs/r1", step: "latest"};
 * `./runs/r1/checkpoints/00000120/` → {runUri: "./runs/r1", step: 120}.
 */
export function parseCheckpointLocation(uri: string): CheckpointLocation {
  const trimmed = uri.replace(/[/\\]+$/, "");
  const segments = trimmed.split(/[/\\]/);
  const last = segments.at(-1) ?? "";
  const parent = segments.at(-2);
  if (last === CHECKPOINTS_FOLDER || (parent === CHECKPOINTS_FOLDER && !/^\d{8}$/.test(last))) {
    throw new ConfigError(
      `${uri} is neither a run nor one checkpoint folder`,
      "give the run (e.g. s3://bucket/runs/r1, which uses its latest.json) or one checkpoint folder (e.g. s3://bucket/runs/r1/checkpoints/00000120/)",
    );
  }
  if (parent !== CHECKPOINTS_FOLDER) return { runUri: trimmed === "" ? uri : trimmed, step: "latest" };
  // Cut "checkpoints/<step>" off the end, keeping the rest exactly as written ("s3://b/", "/data/r1/", "").
  const cut = trimmed.slice(0, trimmed.length - (CHECKPOINTS_FOLDER.length + 1 + last.length));
  const runUri = cut.length > 1 ? cut.replace(/[/\\]$/, "") : cut;
  return { runUri: runUri === "" ? "." : runUri, step: Number(last) };
}
