// Opens a trained checkpoint by URI (a run, or one of its checkpoint folders) and rebuilds its encoders.
import { ConfigError } from "../errors.js";
import { resolveModelDims, type ModelDims } from "../models/model_dims.js";
import { VisionTransformer } from "../models/vision_transformer.js";
import { openStore } from "../storage/open_store.js";
import type { ObjectStore } from "../storage/object_store.js";
import type { TrainState } from "../train/train_loop.js";
import { loadCheckpoint, type LoadedCheckpoint } from "./checkpoint_store.js";

export interface CheckpointLocation {
  /** The run's store (the folder holding checkpoints/). */
  run: ObjectStore;
  which: "latest" | number;
}

/**
 * `s3://b/runs/r1` or `/runs/r1` → the run's latest checkpoint; `…/r1/checkpoints/00000120` (with or
 * without a trailing slash, or …/state.json) → that step.
 */
export function locateCheckpoint(uri: string): CheckpointLocation {
  const trimmed = uri.replace(/\/(state\.json|model\.safetensors)$/, "").replace(/\/+$/, "");
  const m = /^(.*)\/checkpoints\/(\d{8})$/.exec(trimmed);
  if (m) return { run: openStore(m[1] || "/"), which: Number(m[2]) };
  if (/\/checkpoints$/.test(trimmed)) {
    throw new ConfigError(`${uri} is the checkpoints folder`, "pass the run folder (for the latest checkpoint) or one checkpoint folder like …/checkpoints/00000120");
  }
  return { run: openStore(trimmed), which: "latest" };
}

export interface TrainedCheckpoint {
  location: CheckpointLocation;
  checkpoint: LoadedCheckpoint<TrainState>;
  dims: ModelDims;
}

/** Loads (and verifies) a checkpoint and the model dims it was trained with. */
export async function openTrainedCheckpoint(uri: string): Promise<TrainedCheckpoint> {
  const location = locateCheckpoint(uri);
  const checkpoint = await loadCheckpoint<TrainState>(location.run, location.which);
  const patch = checkpoint.model.get("target_encoder.patch_embed.proj.weight");
  if (!patch) throw new ConfigError(`${uri}: the checkpoint has no target_encoder.patch_embed.proj.weight`, "point at a checkpoint written by `ijepa train`");
  const dims = resolveModelDims(checkpoint.state.config, patch.shape[1]);
  return { location, checkpoint, dims };
}

/** The checkpoint's target encoder (what I-JEPA evaluates), or its context encoder. */
export function encoderFromCheckpoint(trained: TrainedCheckpoint, which: "target_encoder" | "encoder" = "target_encoder"): VisionTransformer {
  const encoder = new VisionTransformer(trained.dims, (spec) => new Float32Array(spec.shape.reduce((a, b) => a * b, 1)), which);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of trained.checkpoint.model) tensors.set(name, { shape: t.shape, data: t.data as Float32Array });
  encoder.params.importState(tensors, `${which}.`, trained.checkpoint.prefix);
  return encoder;
}
