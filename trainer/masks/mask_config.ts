// The mask sampler's options as the config's data.* and mask.* keys give them.
import type { TrainConfig } from "../config/schema.js";
import type { MultiBlockMaskOptions } from "./multiblock.js";

export function maskOptionsFromConfig(config: TrainConfig): MultiBlockMaskOptions {
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
