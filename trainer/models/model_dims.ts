// The official ViT presets (facebookresearch/ijepa vision_transformer.py) and the dims a config resolves to.

export interface VitPreset {
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
}

export const VIT_PRESETS: Record<string, VitPreset> = {
  vit_tiny: { embedDim: 192, depth: 12, numHeads: 3, mlpRatio: 4 },
  vit_small: { embedDim: 384, depth: 12, numHeads: 6, mlpRatio: 4 },
  vit_base: { embedDim: 768, depth: 12, numHeads: 12, mlpRatio: 4 },
  vit_large: { embedDim: 1024, depth: 24, numHeads: 16, mlpRatio: 4 },
  vit_huge: { embedDim: 1280, depth: 32, numHeads: 16, mlpRatio: 4 },
  vit_giant: { embedDim: 1408, depth: 40, numHeads: 16, mlpRatio: 48 / 11 },
};

/** Everything needed to build the encoder and predictor. */
export interface ModelDims {
  imageSize: number;
  patchSize: number;
  inChannels: number;
  gridSize: number;
  numPatches: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpHidden: number;
  predEmbedDim: number;
  predDepth: number;
  predNumHeads: number;
  predMlpHidden: number;
  initRescale: boolean;
}

/**
 * The config keys the model's shape comes from, declared here so that models/ sits below config/
 * (a TrainConfig is one of these; config/ checks the keys, this file resolves them).
 */
export interface ModelConfigKeys {
  meta: {
    model_name: string;
    embed_dim?: number;
    depth?: number;
    num_heads?: number;
    mlp_ratio?: number;
    pred_depth: number;
    pred_emb_dim: number;
    pred_num_heads?: number;
    init_rescale: boolean;
  };
  data: { crop_size: number };
  mask: { patch_size: number };
}

/** Resolves preset + overrides; throws an Error naming the offending keys when dims do not fit together. */
export function resolveModelDims(config: ModelConfigKeys, inChannels = 1): ModelDims {
  const preset = VIT_PRESETS[config.meta.model_name];
  if (preset === undefined)
    throw new Error(`meta.model_name ${config.meta.model_name} is not one of ${Object.keys(VIT_PRESETS).join(", ")}`);
  const embedDim = config.meta.embed_dim ?? preset.embedDim;
  const depth = config.meta.depth ?? preset.depth;
  const numHeads = config.meta.num_heads ?? preset.numHeads;
  const mlpRatio = config.meta.mlp_ratio ?? preset.mlpRatio;
  const predEmbedDim = config.meta.pred_emb_dim;
  const predNumHeads = config.meta.pred_num_heads ?? numHeads;
  if (embedDim % numHeads !== 0) {
    throw new Error(`meta.embed_dim ${embedDim} is not divisible by meta.num_heads ${numHeads}`);
  }
  if (predEmbedDim % predNumHeads !== 0) {
    throw new Error(
      `meta.pred_emb_dim ${predEmbedDim} is not divisible by the predictor's heads ${predNumHeads} (meta.pred_num_heads, default: the encoder's)`,
    );
  }
  // The 2-D sin-cos embedding splits the width in two halves, each half into sin and cos.
  if (embedDim % 4 !== 0)
    throw new Error(`meta.embed_dim ${embedDim} must be a multiple of 4 (2-D sin-cos position embedding)`);
  if (predEmbedDim % 4 !== 0)
    throw new Error(`meta.pred_emb_dim ${predEmbedDim} must be a multiple of 4 (2-D sin-cos position embedding)`);
  const gridSize = Math.floor(config.data.crop_size / config.mask.patch_size);
  return {
    imageSize: config.data.crop_size,
    patchSize: config.mask.patch_size,
    inChannels,
    gridSize,
    numPatches: gridSize * gridSize,
    embedDim,
    depth,
    numHeads,
    // PyTorch: mlp_hidden_dim = int(dim * mlp_ratio)
    mlpHidden: Math.floor(embedDim * mlpRatio),
    predEmbedDim,
    predDepth: config.meta.pred_depth,
    predNumHeads,
    predMlpHidden: Math.floor(predEmbedDim * 4),
    initRescale: config.meta.init_rescale,
  };
}
