// Loads an exported encoder (tfjs model.json + shard, or encoder.safetensors + config.json) back into a VisionTransformer.
import { decodeSafetensors } from "../checkpoint/safetensors.js";
import { CorruptDataError, NotFoundError } from "../errors.js";
import { fromOfficialLayout, officialShape, type ParamSpec } from "../models/param_table.js";
import { VisionTransformer } from "../models/vision_transformer.js";
import { type ObjectStore, getJson } from "../storage/object_store.js";
import { openParent, openStore } from "../storage/open_store.js";
import { type ExportedEncoderConfig, encoderDims, parseEncoderConfig } from "./encoder_config.js";
import { SAFETENSORS_CONFIG_FILE, SAFETENSORS_WEIGHTS_FILE, TFJS_MODEL_FILE } from "./export_files.js";
import { decodeTfjsWeights, parseTfjsModelJson } from "./tfjs_encoder_format.js";

export interface ExportedEncoder {
  format: "tfjs" | "safetensors";
  config: ExportedEncoderConfig;
  /** Every encoder weight in our in-memory (tfjs) layout, by official name. */
  weights: Map<string, Float32Array>;
  /** The folder it was read from. */
  uri: string;
}

/** Reads and checks an export: the folder, or the URI of its model.json / config.json / encoder.safetensors. */
export async function readExportedEncoder(dirOrUri: string): Promise<ExportedEncoder> {
  const store = openExportFolder(dirOrUri);
  const folder = store.baseUri;
  if (await store.head(TFJS_MODEL_FILE)) return readTfjs(store, folder);
  if (await store.head(SAFETENSORS_CONFIG_FILE)) return readSafetensors(store, folder);
  throw new NotFoundError(
    `${folder} (${TFJS_MODEL_FILE}, or ${SAFETENSORS_CONFIG_FILE} with ${SAFETENSORS_WEIGHTS_FILE})`,
    "give the folder `ijepa export` wrote",
  );
}

/** Builds the VisionTransformer an export describes (its weights copied into fresh tfjs variables under `scope`). */
export function buildExportedEncoder(exported: ExportedEncoder, scope = "exported_encoder"): VisionTransformer {
  return new VisionTransformer(encoderDims(exported.config), (spec) => exported.weights.get(spec.name)!, scope);
}

/** readExportedEncoder + buildExportedEncoder: the export as a ready VisionTransformer (needs a tfjs backend: see initBackend). */
export async function loadExportedEncoder(dirOrUri: string): Promise<VisionTransformer> {
  return buildExportedEncoder(await readExportedEncoder(dirOrUri));
}

function openExportFolder(dirOrUri: string): ObjectStore {
  const file = new RegExp(
    `(^|[/\\\\])(${[TFJS_MODEL_FILE, SAFETENSORS_CONFIG_FILE, SAFETENSORS_WEIGHTS_FILE].map((f) => f.replace(".", "\\.")).join("|")})$`,
  );
  return file.test(dirOrUri) ? openParent(dirOrUri).store : openStore(dirOrUri);
}

async function readTfjs(store: ObjectStore, folder: string): Promise<ExportedEncoder> {
  const modelUri = store.uriOf(TFJS_MODEL_FILE);
  const { topology, groups } = parseTfjsModelJson(await getJson(store, TFJS_MODEL_FILE), modelUri);
  const specs = VisionTransformer.specs(encoderDims(topology));
  const weights = new Map<string, Float32Array>();
  for (const group of groups) {
    const shards = await Promise.all(group.paths.map((p) => store.get(p)));
    const bytes = shards.length === 1 ? shards[0] : Buffer.concat(shards);
    for (const w of decodeTfjsWeights(bytes, group.weights, store.uriOf(group.paths[0]))) {
      if (weights.has(w.name))
        throw new CorruptDataError(modelUri, `weight ${w.name} is listed twice`, "export the encoder again");
      const spec = specs.find((s) => s.name === w.name);
      if (spec === undefined) throw unknownWeight(modelUri, w.name);
      requireShape(modelUri, spec, w.shape, spec.shape, "tfjs");
      weights.set(w.name, w.data);
    }
  }
  requireAll(modelUri, specs, weights);
  return { format: "tfjs", config: topology, weights, uri: folder };
}

async function readSafetensors(store: ObjectStore, folder: string): Promise<ExportedEncoder> {
  const configUri = store.uriOf(SAFETENSORS_CONFIG_FILE);
  const config = parseEncoderConfig(await getJson(store, SAFETENSORS_CONFIG_FILE), configUri);
  if (config.weight_layout !== "pytorch") {
    throw new CorruptDataError(
      configUri,
      `weight_layout is "${config.weight_layout}", a safetensors export holds "pytorch"`,
      "export the encoder again with `ijepa export --format safetensors`",
    );
  }
  const weightsUri = store.uriOf(SAFETENSORS_WEIGHTS_FILE);
  const { tensors } = decodeSafetensors(await store.get(SAFETENSORS_WEIGHTS_FILE), weightsUri);
  const specs = VisionTransformer.specs(encoderDims(config));
  const weights = new Map<string, Float32Array>();
  for (const [name, tensor] of tensors) {
    const spec = specs.find((s) => s.name === name);
    if (spec === undefined) throw unknownWeight(weightsUri, name);
    if (tensor.dtype !== "F32")
      throw new CorruptDataError(
        weightsUri,
        `tensor ${name} is ${tensor.dtype}, expected F32`,
        "export the encoder again",
      );
    requireShape(weightsUri, spec, tensor.shape, officialShape(spec), "PyTorch");
    weights.set(name, fromOfficialLayout(spec, tensor.data));
  }
  requireAll(weightsUri, specs, weights);
  return { format: "safetensors", config, weights, uri: folder };
}

function requireShape(uri: string, spec: ParamSpec, shape: number[], want: number[], layout: string): void {
  if (shape.length !== want.length || shape.some((d, i) => d !== want[i])) {
    throw new CorruptDataError(
      uri,
      `weight ${spec.name} has shape [${shape.join(", ")}], the encoder described there needs [${want.join(", ")}] (${layout} layout)`,
      "export the encoder again",
    );
  }
}

function requireAll(uri: string, specs: ParamSpec[], weights: Map<string, Float32Array>): void {
  const missing = specs.filter((s) => !weights.has(s.name)).map((s) => s.name);
  if (missing.length > 0)
    throw new CorruptDataError(uri, `weights ${missing.join(", ")} are missing`, "export the encoder again");
}

function unknownWeight(uri: string, name: string): CorruptDataError {
  return new CorruptDataError(
    uri,
    `weight ${name} belongs to no layer of the encoder described there`,
    "export the encoder again",
  );
}
