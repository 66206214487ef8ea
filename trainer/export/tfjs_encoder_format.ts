// The tfjs export: model.json (weightsManifest + our own modelTopology describing the ViT) and one weights shard, via tf.io.encodeWeights.
import * as tf from "@tensorflow/tfjs-core";
import { z } from "zod";
import { CorruptDataError, describeZodIssues } from "../errors.js";
import { checkKey } from "../storage/object_store.js";
import { EXPORT_FORMAT, type ExportedEncoderConfig, parseEncoderConfig } from "./encoder_config.js";
import { TFJS_WEIGHTS_FILE } from "./export_files.js";

/** Named float32 weights; `shape` is the layout the data is in. */
export interface NamedWeights {
  name: string;
  shape: number[];
  data: Float32Array;
}

const manifestEntrySchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.literal("float32"),
});

const modelJsonSchema = z.object({
  format: z.literal(EXPORT_FORMAT),
  generatedBy: z.string(),
  convertedBy: z.null(),
  modelTopology: z.unknown(),
  weightsManifest: z
    .array(z.object({ paths: z.array(z.string().min(1)).min(1), weights: z.array(manifestEntrySchema) }))
    .min(1),
});

export type TfjsModelJson = Omit<z.infer<typeof modelJsonSchema>, "modelTopology"> & {
  modelTopology: ExportedEncoderConfig;
};

/** Encodes the weights (in the order given) into one shard and builds model.json around `topology`. */
export async function encodeTfjsEncoder(
  topology: ExportedEncoderConfig,
  weights: readonly NamedWeights[],
): Promise<{ modelJson: TfjsModelJson; shard: Uint8Array }> {
  // encodeWeights reads tensors: made here, freed below whatever happens.
  const tensors = weights.map((w) => ({ name: w.name, tensor: tf.tensor(w.data, w.shape, "float32") }));
  try {
    const { data, specs } = await tf.io.encodeWeights(tensors);
    return {
      modelJson: {
        format: EXPORT_FORMAT,
        generatedBy: `ijepa-aws export (TensorFlow.js ${tf.version_core})`,
        convertedBy: null,
        modelTopology: topology,
        weightsManifest: [
          {
            paths: [TFJS_WEIGHTS_FILE],
            weights: specs.map((s) => ({ name: s.name, shape: [...s.shape], dtype: "float32" as const })),
          },
        ],
      },
      shard: new Uint8Array(data),
    };
  } finally {
    for (const t of tensors) t.tensor.dispose();
  }
}

/** Validates model.json; returns the encoder description and the weight groups to read. */
export function parseTfjsModelJson(
  document: unknown,
  uri: string,
): { topology: ExportedEncoderConfig; groups: z.infer<typeof modelJsonSchema>["weightsManifest"] } {
  const parsed = modelJsonSchema.safeParse(document);
  if (!parsed.success) {
    const issues = describeZodIssues(parsed.error, "document");
    throw new CorruptDataError(
      uri,
      `not a tfjs export of an I-JEPA encoder (${issues})`,
      "export the encoder again with `ijepa export --format tfjs`",
    );
  }
  for (const group of parsed.data.weightsManifest) {
    for (const path of group.paths) {
      try {
        checkKey(path);
      } catch {
        throw new CorruptDataError(
          uri,
          `weights path ${JSON.stringify(path)} leaves the export folder`,
          "weights files must sit beside model.json",
        );
      }
    }
  }
  const topology = parseEncoderConfig(parsed.data.modelTopology, `${uri} modelTopology`);
  if (topology.weight_layout !== "tfjs") {
    throw new CorruptDataError(
      uri,
      `modelTopology.weight_layout is "${topology.weight_layout}", a tfjs export holds "tfjs"`,
      "export the encoder again with `ijepa export --format tfjs`",
    );
  }
  return { topology, groups: parsed.data.weightsManifest };
}

/** Decodes one weight group (its shards concatenated in order) with tf.io.decodeWeights. */
export function decodeTfjsWeights(
  bytes: Uint8Array,
  entries: readonly z.infer<typeof manifestEntrySchema>[],
  uri: string,
): NamedWeights[] {
  const expectedBytes = entries.reduce((n, e) => n + 4 * e.shape.reduce((a, b) => a * b, 1), 0);
  if (bytes.byteLength !== expectedBytes) {
    throw new CorruptDataError(
      uri,
      `the weights manifest needs ${expectedBytes} bytes of float32 weights, the shards hold ${bytes.byteLength}`,
      "export the encoder again (a shard is truncated or from another export)",
    );
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const decoded = tf.io.decodeWeights(
    buffer,
    entries.map((e) => ({ ...e })),
  );
  try {
    return entries.map((e) => ({
      name: e.name,
      shape: [...e.shape],
      data: (decoded[e.name].dataSync() as Float32Array).slice(),
    }));
  } finally {
    for (const t of Object.values(decoded)) t.dispose();
  }
}
