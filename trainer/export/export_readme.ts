// The README.md written into an export folder: what the files are, and the exact PyTorch / TensorFlow.js code that loads them.
import * as path from "node:path";
import { parseLocation } from "../storage/open_store.js";
import type { ExportedEncoderConfig } from "./encoder_config.js";
import { SAFETENSORS_WEIGHTS_FILE } from "./export_files.js";

const OFFICIAL_REPO = "https://github.com/facebookresearch/ijepa";

/**
 * The official constructor call. The vit_* presets fix embed_dim, depth, num_heads and mlp_ratio
 * (passing them again is a TypeError), so they get only img_size, patch_size and in_chans; other
 * dims need VisionTransformer itself, with the qkv_bias and LayerNorm eps the presets use.
 */
export function pytorchConstructor(config: ExportedEncoderConfig): string {
  const common = `img_size=[${config.img_size}], patch_size=${config.patch_size}, in_chans=${config.in_chans}`;
  if (config.official_preset) return `vit.__dict__[${JSON.stringify(config.model_name)}](${common})`;
  return (
    `vit.VisionTransformer(${common}, embed_dim=${config.embed_dim}, depth=${config.depth}, num_heads=${config.num_heads}, ` +
    `mlp_ratio=${pythonNumber(config.mlp_ratio)}, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=${pythonNumber(config.layer_norm_eps)}))`
  );
}

/** README.md of a safetensors export folder. */
export function safetensorsReadme(config: ExportedEncoderConfig, folder: string): string {
  const n = config.normalization;
  const meanStd = n
    ? [
        `mean = torch.tensor(${JSON.stringify(n.mean)}).view(1, -1, 1, 1)`,
        `std = torch.tensor(${JSON.stringify(n.std)}).view(1, -1, 1, 1)`,
      ]
    : [
        `mean = ...  # unknown at export: the training data's per-channel mean (pixels in [0, 1])`,
        `std = ...   # and its per-channel std`,
      ];
  return [
    ...heading(config),
    "| file | holds |",
    "|---|---|",
    "| `encoder.safetensors` | the weights, with the names, shapes and order of the official `VisionTransformer` state dict (`src/models/vision_transformer.py`) |",
    "| `config.json` | constructor arguments in the official names, input normalisation, and where the weights came from |",
    "",
    "## PyTorch",
    "",
    "```python",
    `# from a checkout of ${OFFICIAL_REPO}, with torch and safetensors installed`,
    ...(config.official_preset ? [] : ["from functools import partial", ""]),
    "import torch",
    ...(config.official_preset ? [] : ["import torch.nn as nn"]),
    "from safetensors.torch import load_file",
    "import src.models.vision_transformer as vit",
    "",
    `encoder = ${pytorchConstructor(config)}`,
    `encoder.load_state_dict(load_file(${JSON.stringify(localWeightsPath(folder))}))`,
    "encoder.eval()",
    "",
    `# images: float [B, ${config.in_chans}, ${config.img_size}, ${config.img_size}], pixels scaled to [0, 1]`,
    ...meanStd,
    "with torch.no_grad():",
    `    tokens = encoder((images - mean) / std)  # [B, ${config.num_patches}, ${config.embed_dim}], after the final LayerNorm`,
    `    features = tokens.mean(dim=1)            # [B, ${config.embed_dim}]: the pooled features the linear probe uses`,
    "```",
    "",
    ...(config.official_preset
      ? [
          `\`${config.model_name}\` fixes embed_dim=${config.embed_dim}, depth=${config.depth}, num_heads=${config.num_heads} and mlp_ratio=${pythonNumber(config.mlp_ratio)}, which are this encoder's dims.`,
          "",
        ]
      : [
          `These dims are not the \`${config.model_name}\` preset's (which fixes embed_dim, depth, num_heads and mlp_ratio), so the encoder is built with \`VisionTransformer\` directly.`,
          "",
        ]),
    ...normalizationNote(config),
    ...tfjsSection(folder),
  ].join("\n");
}

/** README.md of a tfjs export folder. */
export function tfjsReadme(config: ExportedEncoderConfig, folder: string): string {
  return [
    ...heading(config),
    "| file | holds |",
    "|---|---|",
    '| `model.json` | `weightsManifest` (TensorFlow.js weights format) and `modelTopology`: the ViT\'s dims, input normalisation and provenance (`format: "ijepa-vit-encoder"`) |',
    "| `group1-shard1of1.bin` | the float32 weights, written by `tf.io.encodeWeights` |",
    "",
    "The weights keep the official names (`blocks.0.attn.qkv.weight`, …) in TensorFlow.js's own layout, ready for `tf.matMul(x, W)`:",
    "linear weights are `[in, out]` (PyTorch's transposed), `patch_embed.proj.weight` is `[in_chans·patch·patch, embed_dim]` with rows",
    "in (channel, row, column) order of each patch, and `pos_embed` is `[num_patches, embed_dim]`. For PyTorch, export with `--format safetensors`.",
    "",
    ...normalizationNote(config),
    ...tfjsSection(folder),
  ].join("\n");
}

function heading(config: ExportedEncoderConfig): string[] {
  return [
    `# I-JEPA target encoder: ${config.model_name}${config.official_preset ? "" : ` (${config.embed_dim} wide, ${config.depth} blocks, ${config.num_heads} heads)`}, step ${config.step}`,
    "",
    `Exported by \`ijepa export\` from ${config.source} (step ${config.step}, epoch ${config.epoch}). This is the EMA target encoder,`,
    `the one I-JEPA evaluates. Input: ${config.img_size}×${config.img_size} images with ${config.in_chans} channel(s), ${config.num_patches} patches of ${config.patch_size}×${config.patch_size} px.`,
    "",
  ];
}

function normalizationNote(config: ExportedEncoderConfig): string[] {
  const n = config.normalization;
  if (n)
    return [
      `Inputs are normalised per channel as (x/255 − mean) / std with mean ${JSON.stringify(n.mean)} and std ${JSON.stringify(n.std)} (from ${n.source}).`,
      "",
    ];
  return [
    "The training data's mean and std could not be found at export time: normalise inputs with the values the training data was normalised with.",
    "",
  ];
}

function tfjsSection(folder: string): string[] {
  return [
    "## TensorFlow.js (this repository)",
    "",
    "```ts",
    'import { initBackend } from "./trainer/backend.js";',
    'import { buildExportedEncoder, readExportedEncoder } from "./trainer/export/load_exported_encoder.js";',
    'import { pooledFeatures } from "./trainer/models/pooled_features.js";',
    "",
    "await initBackend();",
    `const exported = await readExportedEncoder(${JSON.stringify(folder)}); // or loadExportedEncoder(folder) for the encoder alone`,
    "const encoder = buildExportedEncoder(exported); // a VisionTransformer",
    "const { mean, std } = exported.config.normalization!;",
    "// images: uint8 NHWC; resized to the encoder's input size, scaled to [0, 1] and normalised",
    "const features = pooledFeatures(encoder, { images, count, height, width, channels }, mean, std); // [count, embed_dim]",
    "```",
    "",
  ];
}

/** Where PyTorch finds the weights: the local path, or (for an s3:// export, once downloaded) the file name. */
function localWeightsPath(folder: string): string {
  const location = parseLocation(folder);
  return location.kind === "file" ? path.join(location.path, SAFETENSORS_WEIGHTS_FILE) : SAFETENSORS_WEIGHTS_FILE;
}

/** 4 → "4", 4.363636… → "4.363636363636363", 1e-6 → "1e-06": as Python's repr writes them. */
function pythonNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  if (value !== 0 && Math.abs(value) < 1e-4) return value.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
  return String(value);
}
