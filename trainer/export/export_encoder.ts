// `ijepa export`: writes a checkpoint's target encoder as safetensors for PyTorch (+ config.json) or in the TensorFlow.js weights format.
import { requireFolderLocation } from "../storage/folder_location.js";
import { refuseForeignExportFiles } from "./export_target_guard.js";
import { refuseNonFiniteWeights } from "../utils/nan_diagnosis.js";
import type { NamedTensor } from "../checkpoint/safetensors.js";
import { encodeSafetensors } from "../checkpoint/safetensors.js";
import { ConfigError } from "../errors.js";
import { fromOfficialLayout } from "../models/param_table.js";
import { VisionTransformer } from "../models/vision_transformer.js";
import type { ObjectStore } from "../storage/object_store.js";
import { openStore as openStoreAt } from "../storage/open_store.js";
import { type ExportedEncoderConfig, type Normalization, describeEncoder } from "./encoder_config.js";
import {
  EXPORT_FORMATS,
  type ExportFormat,
  MARKER_FILE,
  README_FILE,
  SAFETENSORS_CONFIG_FILE,
  SAFETENSORS_WEIGHTS_FILE,
  TFJS_MODEL_FILE,
  TFJS_WEIGHTS_FILE,
} from "./export_files.js";
import { safetensorsReadme, tfjsReadme } from "./export_readme.js";
import { type CheckpointEncoder, readTargetEncoder } from "../checkpoint/target_encoder.js";
import { encodeTfjsEncoder } from "./tfjs_encoder_format.js";
import { lookUpTrainingNormalization } from "./training_normalization.js";

export interface ExportOptions {
  /** A run (its latest.json is used) or one checkpoint folder (…/checkpoints/00000120/), local or s3://. */
  checkpoint: string;
  format: ExportFormat;
  /** The export folder (or s3:// prefix); made if missing. */
  to: string;
  /** Input mean/std per channel, when the training data cannot be reached to read them from. */
  normalization?: { mean: number[]; std: number[] };
  /** Overwrite a README.md (or weights, config) that an earlier export of this format did not write. */
  force?: boolean;
}

export interface ExportedFile {
  key: string;
  uri: string;
  sizeBytes: number;
}

export interface ExportResult {
  format: ExportFormat;
  /** Base URI of the export folder. */
  to: string;
  /** In the order written: weights, README.md, then config.json / model.json. */
  files: ExportedFile[];
  config: ExportedEncoderConfig;
  /** Why config.normalization is null, when it is. */
  normalizationMissing?: string;
}

/**
 * Exports the TARGET encoder of a checkpoint (the EMA encoder I-JEPA evaluates). The weights go
 * first and the file that marks the folder as an export (config.json or model.json) last, each
 * written atomically, so a folder that looks like an export always is one. Exporting the same
 * checkpoint again writes the same bytes.
 */
export async function exportEncoder(
  options: ExportOptions,
  deps: { openStore?: (uri: string) => ObjectStore } = {},
): Promise<ExportResult> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(options.format)) {
    throw new ConfigError(
      `unknown export format ${JSON.stringify(options.format)}`,
      `use one of ${EXPORT_FORMATS.join(", ")}`,
    );
  }
  const open = deps.openStore ?? openStoreAt;
  requireFolderLocation(options.to, "--to");
  const target = open(options.to);
  for (const other of EXPORT_FORMATS.filter((f) => f !== options.format)) {
    if (await target.head(MARKER_FILE[other])) {
      throw new ConfigError(
        `${target.baseUri} already holds a ${other} export (${MARKER_FILE[other]})`,
        "export each format into its own folder, so a loader never mistakes one for the other",
      );
    }
  }

  await refuseForeignExportFiles(target, options.format, Boolean(options.force));
  const encoder = await readTargetEncoder(options.checkpoint, deps);
  const earlier = "export an earlier checkpoint (with finite weights): --checkpoint <run>/checkpoints/<step>/";
  refuseNonFiniteWeights(encoder.tensors, encoder.folder, earlier);
  const { normalization, missing } = await chooseNormalization(encoder, options.normalization);
  const provenance = {
    step: encoder.step,
    epoch: encoder.epoch,
    source: encoder.folder,
    checkpointWrittenAt: encoder.writtenAt,
    configName: encoder.configName,
  };
  const files: ExportedFile[] = [];
  const write = async (key: string, bytes: Uint8Array | string, contentType: string): Promise<void> => {
    await target.put(key, bytes, { contentType });
    files.push({
      key,
      uri: target.uriOf(key),
      sizeBytes: typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.byteLength,
    });
  };

  // Re-exporting into a folder: take its marker away first, so it never shows the old config beside new weights.
  await target.delete(MARKER_FILE[options.format]);
  let config: ExportedEncoderConfig;
  if (options.format === "safetensors") {
    config = describeEncoder(encoder.config, encoder.dims, "pytorch", normalization, provenance);
    const tensors = encoder.tensors.map(
      (t) => ({ name: t.name, dtype: "F32", shape: t.shape, data: t.data }) as NamedTensor,
    );
    // "format": "pt" is what safetensors.torch.save_file records; loaders take it as a PyTorch state dict.
    await write(
      SAFETENSORS_WEIGHTS_FILE,
      encodeSafetensors(tensors, { format: "pt", source: encoder.folder, step: String(encoder.step) }),
      "application/octet-stream",
    );
    await write(README_FILE, safetensorsReadme(config, options.to), "text/markdown");
    await write(SAFETENSORS_CONFIG_FILE, JSON.stringify(config, null, 2) + "\n", "application/json");
  } else {
    config = describeEncoder(encoder.config, encoder.dims, "tfjs", normalization, provenance);
    const specs = VisionTransformer.specs(encoder.dims);
    const weights = encoder.tensors.map((t, i) => ({
      name: t.name,
      shape: specs[i].shape,
      data: fromOfficialLayout(specs[i], t.data),
    }));
    const { modelJson, shard } = await encodeTfjsEncoder(config, weights);
    await write(TFJS_WEIGHTS_FILE, shard, "application/octet-stream");
    await write(README_FILE, tfjsReadme(config, options.to), "text/markdown");
    await write(TFJS_MODEL_FILE, JSON.stringify(modelJson, null, 2) + "\n", "application/json");
  }
  return {
    format: options.format,
    to: target.baseUri,
    files,
    config,
    ...(missing ? { normalizationMissing: missing } : {}),
  };
}

async function chooseNormalization(
  encoder: CheckpointEncoder,
  given: ExportOptions["normalization"],
): Promise<{ normalization: Normalization | null; missing?: string }> {
  const channels = encoder.dims.inChannels;
  if (given !== undefined) {
    if (
      given.mean.length !== channels ||
      given.std.length !== channels ||
      given.std.some((s) => !(s > 0)) ||
      given.mean.some((m) => !Number.isFinite(m))
    ) {
      throw new ConfigError(
        `normalization mean ${JSON.stringify(given.mean)} / std ${JSON.stringify(given.std)} does not fit an encoder of ${channels} channel(s)`,
        `give ${channels} finite mean value(s) and ${channels} positive std value(s)`,
      );
    }
    return { normalization: { mean: [...given.mean], std: [...given.std], source: "given" } };
  }
  if (encoder.normalization && encoder.normalization.mean.length === channels) {
    return {
      normalization: { ...encoder.normalization, source: `checkpoint state (${encoder.data ?? "training data"})` },
    };
  }
  const found = await lookUpTrainingNormalization(encoder.data, encoder.seed, channels);
  return found.normalization ? { normalization: found.normalization } : { normalization: null, missing: found.why };
}
