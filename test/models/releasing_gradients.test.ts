import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { IJepa, stepIndices } from "../../trainer/models/ijepa.js";
import { regressionLoss } from "../../trainer/models/layers.js";
import type { ModelDims } from "../../trainer/models/model_dims.js";
import { variableGradsReleasing } from "../../trainer/models/releasing_gradients.js";
import { patchify } from "../../trainer/models/vision_transformer.js";
import { Rng } from "../../trainer/utils/rng.js";
import { smallMaskSampler } from "../support/small_mask_sampler.js";

beforeAll(async () => {
  await initBackend("wasm");
});

const dims: ModelDims = {
  imageSize: 16,
  patchSize: 4,
  inChannels: 1,
  gridSize: 4,
  numPatches: 16,
  embedDim: 32,
  depth: 3,
  numHeads: 2,
  mlpHidden: 128,
  predEmbedDim: 16,
  predDepth: 2,
  predNumHeads: 2,
  predMlpHidden: 64,
  initRescale: true,
};

/** One I-JEPA loss on a fixed batch, as a function of the trainable variables. */
function setup() {
  const sampler = smallMaskSampler();
  const B = 32;
  const rng = Rng.fromSeed(3);
  const images = Float32Array.from({ length: B * 16 * 16 }, () => rng.normal());
  const model = IJepa.initialise(dims, 11);
  const idx = stepIndices(sampler.sample(B, 0, 0), 16);
  const patches = tf.tensor2d(patchify(images, B, 16, 1, 4), [B * 16, 16]);
  const t = {
    ctxRows: tf.tensor1d(idx.ctxRows, "int32"),
    ctxPatches: tf.tensor1d(idx.ctxPatches, "int32"),
    targetPatches: tf.tensor1d(idx.targetPatches, "int32"),
  };
  const targets = model.targets(patches, idx, tf.tensor1d(idx.targetRows, "int32"));
  const loss = () => regressionLoss(model.predict(patches, idx, t), targets, "smooth_l1");
  return { model, vars: model.trainableVariables(), loss };
}

describe("variableGradsReleasing", () => {
  it("gives tf.variableGrads' loss and gradients bit for bit", () => {
    const { model, vars, loss } = setup();
    const theirs = tf.variableGrads(loss, vars);
    const ours = variableGradsReleasing(loss, vars);
    expect(ours.value.dataSync()[0]).toBe(theirs.value.dataSync()[0]);
    expect(Object.keys(ours.grads).sort()).toEqual(Object.keys(theirs.grads).sort());
    for (const [name, g] of Object.entries(theirs.grads))
      expect(Buffer.from(ours.grads[name].dataSync().buffer).equals(Buffer.from(g.dataSync().buffer)), name).toBe(true);
    model.dispose();
  });

  it("holds fewer tensor bytes at its peak than tf.variableGrads, and leaves nothing behind", async () => {
    const { model, vars, loss } = setup();
    const peakOf = async (grads: typeof variableGradsReleasing) => {
      const before = tf.memory().numTensors;
      const info = await tf.profile(() => {
        const r = grads(loss, vars);
        tf.dispose([r.value, ...Object.values(r.grads)]);
      });
      expect(tf.memory().numTensors).toBe(before);
      return info.peakBytes;
    };
    const theirs = await peakOf(tf.variableGrads);
    const ours = await peakOf(variableGradsReleasing);
    expect(ours).toBeLessThan(0.9 * theirs);
    model.dispose();
  });

  it("frees what the forward saved when the loss throws, and works again afterwards", () => {
    const v = tf.variable(tf.ones([4]), true, "w");
    const before = tf.memory().numTensors;
    expect(() =>
      variableGradsReleasing(() => {
        tf.sum(tf.square(tf.mul(v, 2)));
        throw new Error("loss failed");
      }, [v]),
    ).toThrow(/loss failed/);
    expect(tf.memory().numTensors).toBe(before);
    const { value, grads } = variableGradsReleasing(() => tf.sum(tf.square(v)), [v]);
    expect(Array.from(grads.w.dataSync())).toEqual([2, 2, 2, 2]);
    tf.dispose([value, grads.w, v]);
  });

  it("refuses a loss that does not depend on the variables", () => {
    const v = tf.variable(tf.ones([2]), true, "unused");
    expect(() => variableGradsReleasing(() => tf.scalar(1), [v])).toThrow(/does not depend/);
    v.dispose();
  });
});
