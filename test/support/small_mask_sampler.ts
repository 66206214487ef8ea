// The masks the small model tests draw: 16×16 images in 4×4 patches (a 4×4 grid), three target blocks, official
// scales, uniform corners; `nenc` context blocks.
import { MultiBlockMaskSampler } from "../../trainer/masks/multiblock.js";

export function smallMaskSampler(nenc = 1): MultiBlockMaskSampler {
  return new MultiBlockMaskSampler({
    inputSize: 16,
    patchSize: 4,
    encMaskScale: [0.85, 1],
    predMaskScale: [0.2, 0.3],
    aspectRatio: [0.75, 1.5],
    nenc,
    npred: 3,
    minKeep: 1,
    allowOverlap: false,
    cornerSampling: "uniform",
  });
}
