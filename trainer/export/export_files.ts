// The files of an export folder, by format (the layout a loader looks for).

/** safetensors export: the weights in the official state-dict names and layouts. */
export const SAFETENSORS_WEIGHTS_FILE = "encoder.safetensors";
/** safetensors export: the constructor arguments, normalisation and provenance; written after the weights. */
export const SAFETENSORS_CONFIG_FILE = "config.json";
/** tfjs export: weightsManifest + modelTopology; written after the shard. */
export const TFJS_MODEL_FILE = "model.json";
/** tfjs export: one shard whatever the size: Node reads it in one go, and a browser caches one file as well as many. */
export const TFJS_WEIGHTS_FILE = "group1-shard1of1.bin";
/** Both formats: how to load the files, in words and code. */
export const README_FILE = "README.md";

export const EXPORT_FORMATS = ["safetensors", "tfjs"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The file whose presence marks a folder as holding an export of `format` (written last). */
export const MARKER_FILE: Record<ExportFormat, string> = {
  safetensors: SAFETENSORS_CONFIG_FILE,
  tfjs: TFJS_MODEL_FILE,
};
