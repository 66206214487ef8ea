// What an exported encoder is: config.json (safetensors export) and model.json's modelTopology (tfjs export), with its zod schema.
import { z } from "zod";
import type { TrainConfig } from "../config/schema.js";
import { CorruptDataError, describeZodIssues } from "../errors.js";
import { type ModelDims, VIT_PRESETS } from "../models/model_dims.js";
import { LN_EPS } from "../models/vision_transformer.js";

export const EXPORT_FORMAT = "ijepa-vit-encoder";
export const EXPORT_FORMAT_VERSION = 1;

/**
 * How the weights are laid out:
 * - "pytorch": the official state dict's shapes (nn.Linear [out, in], Conv2d [D, C, p, p], pos_embed [1, N, D]);
 * - "tfjs": our in-memory layout, ready for tf.matMul(x, W) (Linear [in, out], patch_embed.proj.weight
 *   [C·p·p, D] with rows in (c, kh, kw) order, pos_embed [N, D]). Names are the official ones in both.
 */
export const WEIGHT_LAYOUTS = ["pytorch", "tfjs"] as const;
export type WeightLayout = (typeof WEIGHT_LAYOUTS)[number];

const normalizationSchema = z.object({
  /** Per-channel mean and std of pixels scaled to [0, 1]; inputs are (x/255 − mean) / std. */
  mean: z.array(z.number()).min(1),
  std: z.array(z.number().positive()).min(1),
  /** Where the values come from: the dataset manifest, the IDX training split, or "given". */
  source: z.string(),
});
export type Normalization = z.infer<typeof normalizationSchema>;

/** Keys in the official constructors' names (img_size, patch_size, in_chans, …), so a PyTorch user can pass them on. */
export const exportedEncoderConfigSchema = z
  .object({
    format: z.literal(EXPORT_FORMAT),
    format_version: z.literal(EXPORT_FORMAT_VERSION),
    weight_layout: z.enum(WEIGHT_LAYOUTS),
    model_name: z.string(),
    /** True when the dims are the official preset's, so `vit.<model_name>(img_size, patch_size, in_chans)` builds it. */
    official_preset: z.boolean(),
    img_size: z.number().int().positive(),
    patch_size: z.number().int().positive(),
    in_chans: z.number().int().positive(),
    embed_dim: z.number().int().positive(),
    depth: z.number().int().positive(),
    num_heads: z.number().int().positive(),
    mlp_ratio: z.number().positive(),
    qkv_bias: z.literal(true),
    layer_norm_eps: z.number().positive(),
    num_patches: z.number().int().positive(),
    /** What the features are: the final norm's output per patch (no CLS token); our probe averages them over patches. */
    output: z.string(),
    /** null when the training data's statistics could not be found (then say so in the README). */
    normalization: normalizationSchema.nullable(),
    step: z.number().int().nonnegative(),
    epoch: z.number().int().nonnegative(),
    /** URI of the checkpoint folder the weights were taken from. */
    source: z.string(),
    checkpoint_written_at: z.string(),
    config_name: z.string().optional(),
  })
  .superRefine((c, ctx) => {
    if (c.embed_dim % c.num_heads !== 0)
      ctx.addIssue({ code: "custom", path: ["num_heads"], message: `does not divide embed_dim ${c.embed_dim}` });
    const grid = Math.floor(c.img_size / c.patch_size);
    if (c.num_patches !== grid * grid)
      ctx.addIssue({
        code: "custom",
        path: ["num_patches"],
        message: `should be (img_size // patch_size)² = ${grid * grid}`,
      });
    if (c.normalization && (c.normalization.mean.length !== c.in_chans || c.normalization.std.length !== c.in_chans)) {
      ctx.addIssue({
        code: "custom",
        path: ["normalization"],
        message: `needs ${c.in_chans} mean and std values (one per channel)`,
      });
    }
  });

export type ExportedEncoderConfig = z.infer<typeof exportedEncoderConfigSchema>;

/** What the export records about where its weights came from. */
export interface ExportProvenance {
  step: number;
  epoch: number;
  source: string;
  checkpointWrittenAt: string;
  configName?: string;
}

/** The exported description of the encoder a training config and its dims build. */
export function describeEncoder(
  config: TrainConfig,
  dims: ModelDims,
  layout: WeightLayout,
  normalization: Normalization | null,
  provenance: ExportProvenance,
): ExportedEncoderConfig {
  const preset = VIT_PRESETS[config.meta.model_name];
  // resolveModelDims keeps only the hidden width; the ratio is what the official constructors take.
  const mlpRatio = config.meta.mlp_ratio ?? preset.mlpRatio;
  const officialPreset =
    preset !== undefined &&
    dims.embedDim === preset.embedDim &&
    dims.depth === preset.depth &&
    dims.numHeads === preset.numHeads &&
    mlpRatio === preset.mlpRatio;
  return {
    format: EXPORT_FORMAT,
    format_version: EXPORT_FORMAT_VERSION,
    weight_layout: layout,
    model_name: config.meta.model_name,
    official_preset: officialPreset,
    img_size: dims.imageSize,
    patch_size: dims.patchSize,
    in_chans: dims.inChannels,
    embed_dim: dims.embedDim,
    depth: dims.depth,
    num_heads: dims.numHeads,
    mlp_ratio: mlpRatio,
    qkv_bias: true,
    layer_norm_eps: LN_EPS,
    num_patches: dims.numPatches,
    output: `[batch, ${dims.numPatches} patches, ${dims.embedDim}] after the final LayerNorm, no CLS token; mean over patches gives the pooled features the linear probe uses`,
    normalization,
    step: provenance.step,
    epoch: provenance.epoch,
    source: provenance.source,
    checkpoint_written_at: provenance.checkpointWrittenAt,
    ...(provenance.configName !== undefined ? { config_name: provenance.configName } : {}),
  };
}

/** Validates a config.json / modelTopology document; CorruptDataError naming `uri` when it does not fit. */
export function parseEncoderConfig(document: unknown, uri: string): ExportedEncoderConfig {
  const parsed = exportedEncoderConfigSchema.safeParse(document);
  if (parsed.success) return parsed.data;
  const issues = describeZodIssues(parsed.error, "document");
  throw new CorruptDataError(
    uri,
    `not an exported I-JEPA encoder description (${issues})`,
    "export the encoder again with `ijepa export`",
  );
}

/**
 * The encoder dims an export describes. An export holds no predictor, so the predictor's dims are 0:
 * VisionTransformer never reads them.
 */
export function encoderDims(config: ExportedEncoderConfig): ModelDims {
  const gridSize = Math.floor(config.img_size / config.patch_size);
  return {
    imageSize: config.img_size,
    patchSize: config.patch_size,
    inChannels: config.in_chans,
    gridSize,
    numPatches: gridSize * gridSize,
    embedDim: config.embed_dim,
    depth: config.depth,
    numHeads: config.num_heads,
    // PyTorch: mlp_hidden_dim = int(dim * mlp_ratio)
    mlpHidden: Math.floor(config.embed_dim * config.mlp_ratio),
    predEmbedDim: 0,
    predDepth: 0,
    predNumHeads: 0,
    predMlpHidden: 0,
    initRescale: false,
  };
}
