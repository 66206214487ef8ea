import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { IJepa, stepIndices } from "../../trainer/models/ijepa.js";
import type { ModelDims } from "../../trainer/models/model_dims.js";
import { sincosPosEmbed2d } from "../../trainer/models/pos_embed.js";
import { targetReadRows } from "../../trainer/models/target_read_rows.js";
import { VisionTransformer, VisionTransformerPredictor, patchify } from "../../trainer/models/vision_transformer.js";
import { AdamW } from "../../trainer/optim/adamw.js";
import { Rng } from "../../trainer/utils/rng.js";
import { smallMaskSampler } from "../support/small_mask_sampler.js";

beforeAll(async () => {
  await initBackend("wasm");
});

const dims: ModelDims = {
  imageSize: 16,
  patchSize: 4,
  inChannels: 2,
  gridSize: 4,
  numPatches: 16,
  embedDim: 16,
  depth: 2,
  numHeads: 2,
  mlpHidden: 64,
  predEmbedDim: 8,
  predDepth: 2,
  predNumHeads: 2,
  predMlpHidden: 32,
  initRescale: true,
};

describe("2-D sin-cos position embedding", () => {
  it("matches the official formula: columns in the first half, rows in the second, [sin, cos] each", () => {
    const dim = 8;
    const pe = sincosPosEmbed2d(dim, 3, 3);
    const omega = [1, 1 / 100]; // 1/10000^(i/(dim/4)) for i = 0, 1
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) {
        const row = Array.from(pe.subarray((r * 3 + c) * dim, (r * 3 + c + 1) * dim));
        const expected = [
          Math.sin(c * omega[0]),
          Math.sin(c * omega[1]),
          Math.cos(c * omega[0]),
          Math.cos(c * omega[1]),
          Math.sin(r * omega[0]),
          Math.sin(r * omega[1]),
          Math.cos(r * omega[0]),
          Math.cos(r * omega[1]),
        ];
        for (const [i, v] of row.entries()) expect(v).toBeCloseTo(expected[i], 6);
      }
    }
  });
});

describe("state dict", () => {
  it("uses the official names, order and PyTorch layouts", () => {
    const model = IJepa.initialise(dims, 1);
    const state = model.exportState();
    const byName = new Map(state.map((t) => [t.name, t.shape]));
    expect(state[0].name).toBe("encoder.pos_embed");
    expect(byName.get("encoder.pos_embed")).toEqual([1, 16, 16]);
    expect(byName.get("encoder.patch_embed.proj.weight")).toEqual([16, 2, 4, 4]);
    expect(byName.get("encoder.blocks.0.attn.qkv.weight")).toEqual([48, 16]);
    expect(byName.get("encoder.blocks.1.mlp.fc1.weight")).toEqual([64, 16]);
    expect(byName.get("encoder.blocks.1.mlp.fc2.weight")).toEqual([16, 64]);
    expect(byName.get("encoder.norm.bias")).toEqual([16]);
    expect(byName.get("predictor.mask_token")).toEqual([1, 1, 8]);
    expect(byName.get("predictor.predictor_embed.weight")).toEqual([8, 16]);
    expect(byName.get("predictor.predictor_blocks.1.attn.proj.weight")).toEqual([8, 8]);
    expect(byName.get("predictor.predictor_proj.weight")).toEqual([16, 8]);
    expect(byName.get("target_encoder.blocks.1.norm2.weight")).toEqual([16]);
    const blockNames = state
      .filter((t) => t.name.startsWith("encoder.blocks.0."))
      .map((t) => t.name.slice("encoder.blocks.0.".length));
    expect(blockNames).toEqual([
      "norm1.weight",
      "norm1.bias",
      "attn.qkv.weight",
      "attn.qkv.bias",
      "attn.proj.weight",
      "attn.proj.bias",
      "norm2.weight",
      "norm2.bias",
      "mlp.fc1.weight",
      "mlp.fc1.bias",
      "mlp.fc2.weight",
      "mlp.fc2.bias",
    ]);
    model.dispose();
  });

  it("round-trips through export and import exactly", () => {
    const a = IJepa.initialise(dims, 1);
    const b = IJepa.initialise(dims, 2);
    b.importState(new Map(a.exportState().map((t) => [t.name, t])), "test");
    const sa = a.exportState();
    const sb = b.exportState();
    for (const [i, t] of sa.entries())
      expect(Buffer.from(sb[i].data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
    a.dispose();
    b.dispose();
  });

  it("refuses a tensor of the wrong shape, naming it", () => {
    const a = IJepa.initialise(dims, 1);
    const tensors = new Map(a.exportState().map((t) => [t.name, t]));
    tensors.set("encoder.norm.weight", { name: "encoder.norm.weight", shape: [17], data: new Float32Array(17) });
    expect(() => a.importState(tensors, "ckpt")).toThrow(/encoder\.norm\.weight has shape \[17\]/);
    a.dispose();
  });
});

describe("initialisation", () => {
  it("draws trunc-normal(0.02) weights, zero biases, LayerNorm (1, 0), and rescales attn.proj/mlp.fc2 by 1/sqrt(2·layer_id)", () => {
    const big: ModelDims = { ...dims, embedDim: 64, mlpHidden: 256, numHeads: 4, depth: 3 };
    const enc = VisionTransformer.initialise(big, 3);
    const std = (name: string) => {
      const v = enc.params.get(name).dataSync();
      let s = 0;
      for (const x of v) s += x * x;
      return Math.sqrt(s / v.length);
    };
    expect(std("blocks.0.attn.qkv.weight")).toBeCloseTo(0.02, 2);
    expect(std("blocks.2.mlp.fc1.weight")).toBeCloseTo(0.02, 2);
    expect(std("blocks.0.attn.proj.weight") / 0.02).toBeCloseTo(1 / Math.sqrt(2), 1);
    expect(std("blocks.2.mlp.fc2.weight") / 0.02).toBeCloseTo(1 / Math.sqrt(6), 1);
    expect(Array.from(enc.params.get("blocks.1.attn.qkv.bias").dataSync()).every((x) => x === 0)).toBe(true);
    expect(Array.from(enc.params.get("blocks.1.norm1.weight").dataSync()).every((x) => x === 1)).toBe(true);
    expect(Array.from(enc.params.get("pos_embed").dataSync())).toEqual(Array.from(sincosPosEmbed2d(64, 4)));
    enc.params.dispose();
  });

  it("starts the target encoder as an exact copy of the context encoder", () => {
    const m = IJepa.initialise(dims, 4);
    const ctx = m.encoder.params.exportState();
    const tgt = m.targetEncoder.params.exportState();
    for (const [i, t] of ctx.entries()) expect(Array.from(tgt[i].data)).toEqual(Array.from(t.data));
    m.dispose();
  });
});

describe("patch embedding", () => {
  it("equals a stride-p convolution with the exported [D, C, p, p] kernel", () => {
    const enc = VisionTransformer.initialise(dims, 5);
    const rng = Rng.fromSeed(1);
    const B = 2;
    const images = Float32Array.from({ length: B * 16 * 16 * 2 }, () => rng.normal());
    const patches = tf.tensor2d(patchify(images, B, 16, 2, 4), [B * 16, 32]);
    const tokens = tf.sub(enc.embed(patches, B), tf.tile(enc.params.get("pos_embed"), [B, 1]));
    const state = new Map(enc.params.exportState().map((t) => [t.name, t]));
    const w = state.get("patch_embed.proj.weight")!; // [D, C, kh, kw] → tfjs conv filter [kh, kw, C, D]
    const filter = tf.transpose(
      tf.tensor4d(w.data, w.shape as [number, number, number, number]),
      [2, 3, 1, 0],
    ) as tf.Tensor4D;
    const conv = tf.add(
      tf.conv2d(tf.tensor4d(images, [B, 16, 16, 2]), filter, 4, "valid"),
      enc.params.get("patch_embed.proj.bias"),
    );
    const expected = tf.reshape(conv, [B * 16, 16]);
    const diff = tf.max(tf.abs(tf.sub(tokens, expected))).dataSync()[0];
    expect(diff).toBeLessThan(1e-5);
    enc.params.dispose();
  });
});

describe("I-JEPA step", () => {
  const sampler = smallMaskSampler();
  const B = 4;
  const rng = Rng.fromSeed(9);
  const images = Float32Array.from({ length: B * 16 * 16 * 2 }, () => rng.normal());
  const patchesArr = patchify(images, B, 16, 2, 4);

  it("predicts one row per target token, in the target encoder's width", () => {
    const model = IJepa.initialise(dims, 6);
    const idx = stepIndices(sampler.sample(B, 0, 0), 16);
    const patches = tf.tensor2d(patchesArr, [B * 16, 32]);
    const t = {
      ctxRows: tf.tensor1d(idx.ctxRows, "int32"),
      ctxPatches: tf.tensor1d(idx.ctxPatches, "int32"),
      targetPatches: tf.tensor1d(idx.targetPatches, "int32"),
    };
    const pred = model.predict(patches, idx, t);
    expect(pred.shape).toEqual([3 * B * idx.targetLen, 16]);
    const targets = model.targets(patches, idx, tf.tensor1d(idx.targetRows, "int32"));
    expect(targets.shape).toEqual(pred.shape);
    // LayerNorm without affine: every target row has mean 0 and variance 1.
    const { mean, variance } = tf.moments(targets, -1);
    expect(tf.max(tf.abs(mean)).dataSync()[0]).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(tf.sub(variance, 1))).dataSync()[0]).toBeLessThan(1e-3);
    model.dispose();
  });

  it("gives gradients to the context encoder and predictor only, never the target encoder or the fixed position embeddings", () => {
    const model = IJepa.initialise(dims, 7);
    const vars = model.trainableVariables();
    const names = new Set(vars.map((v) => v.name));
    expect([...names].some((n) => n.includes("target_encoder"))).toBe(false);
    expect([...names].some((n) => n.endsWith("pos_embed"))).toBe(false);
    const idx = stepIndices(sampler.sample(B, 0, 1), 16);
    const patches = tf.tensor2d(patchesArr, [B * 16, 32]);
    const before = model.targetEncoder.params.exportState();
    const { loss, grads } = model.lossAndGrads(patches, idx, "smooth_l1", vars);
    expect(Number.isFinite(loss)).toBe(true);
    expect(Object.keys(grads).sort()).toEqual([...names].sort());
    // Every trainable tensor receives a non-zero gradient (mask_token, predictor_embed … all of them).
    for (const v of vars) expect(tf.max(tf.abs(grads[v.name])).dataSync()[0]).toBeGreaterThan(0);
    for (const g of Object.values(grads)) g.dispose();
    const after = model.targetEncoder.params.exportState();
    for (const [i, t] of before.entries()) expect(Array.from(after[i].data)).toEqual(Array.from(t.data));
    model.dispose();
  });

  it("computes the last blocks only at the rows the loss reads, with the full computation's loss and gradients", () => {
    const model = IJepa.initialise(dims, 10);
    const vars = model.trainableVariables();
    const patches = tf.tensor2d(patchesArr, [B * 16, 32]);
    for (const s of [2, 3, 4]) {
      const idx = stepIndices(sampler.sample(B, 0, s), 16);
      // The batches tried leave rows unread, so the default path really computes fewer rows.
      expect(targetReadRows(idx.targetRows, B, 16).perImage).toBeLessThan(16);
      const run = (full: boolean) => {
        model.fullLastBlock = full;
        const targets = model.targets(patches, idx, tf.tensor1d(idx.targetRows, "int32"));
        return { targets, ...model.lossAndGrads(patches, idx, "smooth_l1", vars) };
      };
      const reference = run(true);
      const skipping = run(false);
      const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
      const maxAbs = (a: tf.Tensor) => tf.max(tf.abs(a)).dataSync()[0];
      expect(maxAbsDiff(skipping.targets, reference.targets)).toBeLessThanOrEqual(1e-5 * maxAbs(reference.targets));
      expect(Math.abs(skipping.loss - reference.loss)).toBeLessThanOrEqual(1e-6 * reference.loss);
      for (const v of vars) {
        const g = reference.grads[v.name];
        expect(maxAbsDiff(skipping.grads[v.name], g), v.name).toBeLessThanOrEqual(1e-5 * maxAbs(g) + 1e-9);
      }
      for (const r of [reference, skipping]) tf.dispose([r.targets, ...Object.values(r.grads)]);
    }
    model.dispose();
  });

  it("EMA: target ← m·target + (1 − m)·context", () => {
    const model = IJepa.initialise(dims, 8);
    tf.tidy(() => {
      for (const s of model.encoder.params.specs)
        if (s.trainable) model.encoder.params.get(s.name).assign(tf.add(model.encoder.params.get(s.name), 1));
    });
    const tgtBefore = model.targetEncoder.params.get("blocks.0.mlp.fc1.weight").dataSync().slice();
    const ctx = model.encoder.params.get("blocks.0.mlp.fc1.weight").dataSync().slice();
    model.updateTarget(0.9);
    const tgtAfter = model.targetEncoder.params.get("blocks.0.mlp.fc1.weight").dataSync();
    for (let i = 0; i < 10; i++) expect(tgtAfter[i]).toBeCloseTo(0.9 * tgtBefore[i] + 0.1 * ctx[i], 6);
    model.dispose();
  });

  it("leaks no tensors across training steps", () => {
    const model = IJepa.initialise(dims, 9);
    const vars = model.trainableVariables();
    const opt = new AdamW(
      [
        { prefix: "encoder.", table: model.encoder.params },
        { prefix: "predictor.", table: model.predictor.params },
      ],
      { betas: [0.9, 0.999], eps: 1e-8 },
    );
    const patches = tf.tensor2d(patchesArr, [B * 16, 32]);
    const counts: number[] = [];
    for (let s = 0; s < 4; s++) {
      const { grads } = model.lossAndGrads(patches, stepIndices(sampler.sample(B, 0, s), 16), "smooth_l1", vars);
      opt.apply(grads, 1e-3, 0.04);
      for (const g of Object.values(grads)) g.dispose();
      model.updateTarget(0.99);
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    opt.dispose();
    model.dispose();
  });
});

describe("predictor", () => {
  it("treats each (context, target-mask) sequence independently", () => {
    const pred = VisionTransformerPredictor.initialise(dims, 1);
    const rng = Rng.fromSeed(2);
    const ctx = tf.tensor2d(
      Float32Array.from({ length: 2 * 5 * 16 }, () => rng.normal()),
      [10, 16],
    );
    const ctxPatches = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "int32");
    // Two target masks of 2 tokens for 2 context sequences: order (mask, sequence, token).
    const targets = tf.tensor1d([10, 11, 12, 13, 14, 15, 3, 7], "int32");
    const out = pred.forward(ctx, ctxPatches, targets, 2, 5, 2, 2).arraySync();
    // Swap the two target masks: the outputs swap with them.
    const swapped = tf.tensor1d([14, 15, 3, 7, 10, 11, 12, 13], "int32");
    const out2 = pred.forward(ctx, ctxPatches, swapped, 2, 5, 2, 2).arraySync();
    for (let r = 0; r < 4; r++) for (const [j, v] of out[r].entries()) expect(out2[r + 4][j]).toBeCloseTo(v, 5);
    pred.params.dispose();
  });
});
