// The mask sampler's options as the config's data.* and mask.* keys give them.
import type { ValueRange } from "./block_size.js";
import type { CornerSampling, MultiBlockMaskOptions } from "./multiblock.js";

/**
 * The config keys the sampler reads, declared here so that masks/ sits below config/ (a TrainConfig
 * is one of these; config/ checks the keys, this file only maps them).
 */
export interface MaskConfigKeys {
  data: { crop_size: number };
  mask: {
    patch_size: number;
    enc_mask_scale: ValueRange;
    pred_mask_scale: ValueRange;
    aspect_ratio: ValueRange;
    num_enc_masks: number;
    num_pred_masks: number;
    min_keep: number;
    allow_overlap: boolean;
    corner_sampling?: CornerSampling;
  };
}

export function maskOptionsFromConfig(config: MaskConfigKeys): MultiBlockMaskOptions {
  return {
    inputSize: config.data.crop_size,
    patchSize: config.mask.patch_size,
    encMaskScale: config.mask.enc_mask_scale,
    predMaskScale: config.mask.pred_mask_scale,
    aspectRatio: config.mask.aspect_ratio,
    nenc: config.mask.num_enc_masks,
    npred: config.mask.num_pred_masks,
    minKeep: config.mask.min_keep,
    allowOverlap: config.mask.allow_overlap,
    cornerSampling: config.mask.corner_sampling,
  };
}
