import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { MultiBlockMaskSampler } from "../../trainer/masks/multiblock.js";
import { IJepa, stepIndices } from "../../trainer/models/ijepa.js";
import type { ModelDims } from "../../trainer/models/model_dims.js";
import { patchify } from "../../trainer/models/vision_transformer.js";
import { DataParallelEngine, InProcessEngine, splitBatch } from "../../trainer/train/gradient_engine.js";
import { Rng } from "../../trainer/utils/rng.js";

beforeAll(async () => {
  await initBackend("wasm");
});

const dims: ModelDims = {
  imageSize: 16,
  patchSize: 4,
  inChannels: 1,
  gridSize: 4,
  numPatches: 16,
  embedDim: 16,
  depth: 1,
  numHeads: 2,
  mlpHidden: 32,
  predEmbedDim: 8,
  predDepth: 1,
  predNumHeads: 2,
  predMlpHidden: 32,
  initRescale: true,
};
const sampler = new MultiBlockMaskSampler({
  inputSize: 16,
  patchSize: 4,
  encMaskScale: [0.85, 1],
  predMaskScale: [0.2, 0.3],
  aspectRatio: [0.75, 1.5],
  nenc: 2,
  npred: 3,
  minKeep: 1,
  allowOverlap: false,
  cornerSampling: "uniform",
});
const B = 6;
const rng = Rng.fromSeed(5);
const batch = () => ({
  patches: patchify(
    Float32Array.from({ length: B * 256 }, () => rng.normal()),
    B,
    16,
    1,
    4,
  ),
  patchWidth: 16,
  indices: stepIndices(sampler.sample(B, 1, 2), 16),
});

describe("splitBatch", () => {
  it("gives each replica its own images with mask rows re-based to its slice, in the same (mask, image, token) order", () => {
    const full = batch();
    const parts = splitBatch(full, 3);
    expect(parts.map((p) => p.indices.batch)).toEqual([2, 2, 2]);
    const N = 16;
    // Re-assemble the full index arrays from the parts.
    const chunks = full.indices.numCtxMasks;
    const Kc = full.indices.ctxLen;
    for (let c = 0; c < chunks; c++) {
      for (let p = 0; p < 3; p++) {
        const got = parts[p].indices.ctxRows.subarray(c * 2 * Kc, (c + 1) * 2 * Kc);
        const want = full.indices.ctxRows.subarray((c * B + p * 2) * Kc, (c * B + p * 2 + 2) * Kc);
        expect(Array.from(got)).toEqual(Array.from(want, (r) => r - p * 2 * N));
      }
    }
    expect(parts[1].patches.length).toBe(2 * N * 16);
    expect(() => splitBatch(full, 4)).toThrow(/does not split evenly/);
  });
});

describe("DataParallelEngine", () => {
  it("two replicas compute the full-batch loss and gradients of one process (to float rounding)", async () => {
    const model = IJepa.initialise(dims, 3);
    const vars = model.trainableVariables();
    const b = batch();
    const single = await new InProcessEngine(model, vars, "smooth_l1").compute(b);
    const dp = await DataParallelEngine.start(2, model, vars, "smooth_l1", "wasm");
    try {
      const split = await dp.compute(b);
      expect(split.loss).toBeCloseTo(single.loss, 5);
      for (const v of vars) {
        const diff = tf.max(tf.abs(tf.sub(single.grads[v.name], split.grads[v.name]))).dataSync()[0];
        const scale = tf.max(tf.abs(single.grads[v.name])).dataSync()[0];
        expect(diff).toBeLessThanOrEqual(1e-4 * scale + 1e-9);
      }
    } finally {
      await dp.close();
      model.dispose();
    }
  });
});
