// Reads the target encoder (the one I-JEPA evaluates) out of a checkpoint: checksum-verified, shapes checked against the model its config builds.
import { folderUri, readVerifiedFile } from "./checkpoint_store.js";
import { parseEncoderState } from "../run/checkpoint_state.js";
import { MODEL_FILE, STATE_FILE } from "../run/run_layout.js";
import { decodeSafetensors } from "./safetensors.js";
import type { TrainConfig } from "../config/schema.js";
import { CorruptDataError, IjepaError } from "../errors.js";
import { type ModelDims, resolveModelDims } from "../models/model_dims.js";
import { officialShape, type StateTensor } from "../models/param_table.js";
import { VisionTransformer } from "../models/vision_transformer.js";
import type { ObjectStore } from "../storage/object_store.js";
import { openStore as openStoreAt } from "../storage/open_store.js";
import { parseCheckpointLocation } from "./checkpoint_location.js";
import { chooseCheckpoint } from "./choose_checkpoint.js";

/** State-dict prefix of the EMA target encoder in model.safetensors. */
export const TARGET_ENCODER_PREFIX = "target_encoder.";

export interface CheckpointEncoder {
  dims: ModelDims;
  config: TrainConfig;
  /** The target encoder's weights with bare official names, PyTorch layout, state_dict order. */
  tensors: StateTensor[];
  step: number;
  epoch: number;
  writtenAt: string;
  /** URI of the checkpoint folder. */
  folder: string;
  /** The run's store (the folder holding checkpoints/). */
  run: ObjectStore;
  /** From the trainer's state: the config's name, the training data, the seed. */
  configName?: string;
  data?: string;
  seed: number;
  /** Per-channel mean/std the inputs were normalised with in training (checkpoints written since it was recorded). */
  normalization?: { mean: number[]; std: number[] };
}

/**
 * `checkpoint` is a run (its latest.json is used) or one checkpoint folder, local or s3://. Reads
 * state.json and model.safetensors only (the optimizer file is not needed), checking the model file's
 * size and SHA-256 against state.json.
 */
export async function readTargetEncoder(
  checkpoint: string,
  deps: { openStore?: (uri: string) => ObjectStore } = {},
): Promise<CheckpointEncoder> {
  const location = parseCheckpointLocation(checkpoint);
  const store = (deps.openStore ?? openStoreAt)(location.runUri);
  const chosen = await chooseCheckpoint(store, location.step);
  const folder = folderUri(store, chosen.prefix);
  const modelKey = chosen.prefix + MODEL_FILE;
  const bytes = await readVerifiedFile(
    store,
    chosen.prefix,
    chosen.step,
    MODEL_FILE,
    chosen.document.files[MODEL_FILE],
  );
  const tensors = decodeSafetensors(bytes, store.uriOf(modelKey)).tensors;

  const stateUri = store.uriOf(chosen.prefix + STATE_FILE);
  const state = parseEncoderState(chosen.document.state, stateUri);
  const config = state.config;
  const patchWeight = tensors.get(`${TARGET_ENCODER_PREFIX}patch_embed.proj.weight`);
  if (patchWeight === undefined || patchWeight.shape.length !== 4) {
    throw new CorruptDataError(
      store.uriOf(modelKey),
      `no 4-D ${TARGET_ENCODER_PREFIX}patch_embed.proj.weight: not an I-JEPA model file`,
      "export a checkpoint written by `ijepa train`",
    );
  }
  let dims: ModelDims;
  try {
    dims = resolveModelDims(config, patchWeight.shape[1]);
  } catch (err) {
    if (err instanceof IjepaError) throw err;
    throw new CorruptDataError(
      stateUri,
      `state.config does not describe a model: ${(err as Error).message}`,
      "export a checkpoint written by `ijepa train`",
    );
  }

  const encoderTensors: StateTensor[] = [];
  const specs = VisionTransformer.specs(dims);
  for (const spec of specs) {
    const name = TARGET_ENCODER_PREFIX + spec.name;
    const tensor = tensors.get(name);
    const want = officialShape(spec);
    if (tensor === undefined)
      throw new CorruptDataError(
        store.uriOf(modelKey),
        `tensor ${name} is missing`,
        "export a checkpoint written by `ijepa train`",
      );
    if (tensor.dtype !== "F32" || tensor.shape.length !== want.length || tensor.shape.some((d, i) => d !== want[i])) {
      throw new CorruptDataError(
        store.uriOf(modelKey),
        `tensor ${name} is ${tensor.dtype} [${tensor.shape.join(", ")}], but state.config builds F32 [${want.join(", ")}]`,
        "the model file and state.json disagree: export another checkpoint",
      );
    }
    encoderTensors.push({ name: spec.name, shape: want, data: tensor.data as Float32Array });
  }
  const known = new Set(specs.map((s) => TARGET_ENCODER_PREFIX + s.name));
  const extra = [...tensors.keys()].filter((n) => n.startsWith(TARGET_ENCODER_PREFIX) && !known.has(n));
  if (extra.length > 0) {
    throw new CorruptDataError(
      store.uriOf(modelKey),
      `tensors ${extra.join(", ")} belong to no layer of the encoder state.config builds`,
      "the model file and state.json disagree: export another checkpoint",
    );
  }

  return {
    dims,
    config,
    tensors: encoderTensors,
    step: chosen.step,
    epoch: chosen.document.epoch,
    writtenAt: chosen.document.writtenAt,
    folder,
    run: store,
    configName: state.configName,
    data: state.data,
    seed: state.seed ?? config.meta.seed,
    normalization: state.normalization,
  };
}

/** Builds the encoder the checkpoint's target weights describe (weights converted from PyTorch layout). */
export function buildTargetEncoder(encoder: CheckpointEncoder, scope = "target_encoder"): VisionTransformer {
  const byName = new Map(encoder.tensors.map((t) => [t.name, t]));
  const vit = new VisionTransformer(
    encoder.dims,
    (spec) => new Float32Array(spec.shape.reduce((a, b) => a * b, 1)),
    scope,
  );
  vit.params.importState(byName, "", encoder.folder);
  return vit;
}
