import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { IJepa, stepIndices } from "../../trainer/models/ijepa.js";
import type { ModelDims } from "../../trainer/models/model_dims.js";
import { patchify } from "../../trainer/models/vision_transformer.js";
import { AdamW } from "../../trainer/optim/adamw.js";
import {
  DataParallelEngine,
  type GradientEngine,
  InProcessEngine,
  type StepBatch,
  splitBatch,
} from "../../trainer/train/gradient_engine.js";
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
const sampler = smallMaskSampler(2);
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

/** A fresh model (seed 3) with its optimiser. */
function modelAndOptimizer() {
  const model = IJepa.initialise(dims, 3);
  const optimizer = new AdamW(
    [
      { prefix: "encoder.", table: model.encoder.params },
      { prefix: "predictor.", table: model.predictor.params },
    ],
    { betas: [0.9, 0.999], eps: 1e-8 },
  );
  return { model, optimizer };
}

/** Every weight (encoder, predictor, target encoder) and moment, by name. */
function snapshot(model: IJepa, optimizer: AdamW): Map<string, Float32Array> {
  return new Map([...model.exportState(), ...optimizer.exportState()].map((t) => [t.name, Float32Array.from(t.data)]));
}

/** Three steps with a large learning rate, so that a replica computing with stale weights would show. */
async function threeSteps(engine: GradientEngine, batches: StepBatch[], spare?: () => void): Promise<number[]> {
  const losses: number[] = [];
  for (const [k, b] of batches.entries())
    losses.push(await engine.step(b, { lr: 0.05, weightDecay: 0.04 * (k + 1), momentum: 0.9 }, spare));
  return losses;
}

describe("DataParallelEngine", () => {
  const batches = [batch(), batch(), batch()];

  it("two replicas take the steps of one process: same losses, weights, target encoder and moments", async () => {
    const one = modelAndOptimizer();
    const single = await threeSteps(new InProcessEngine(one.model, one.optimizer, "smooth_l1"), batches);
    const two = modelAndOptimizer();
    const dp = await DataParallelEngine.start(2, two.model, two.optimizer, "smooth_l1", "wasm");
    let split: number[];
    let spareRuns = 0;
    try {
      split = await threeSteps(dp, batches, () => spareRuns++);
    } finally {
      await dp.close();
    }
    // The replicas' gradients differ from one process's in the last bits only (sums in another order).
    for (const [k, loss] of split.entries()) expect(loss).toBeCloseTo(single[k], 4);
    expect(split[2]).not.toBeCloseTo(split[0], 2); // the steps did move the weights
    const want = snapshot(one.model, one.optimizer);
    const got = snapshot(two.model, two.optimizer);
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [name, w] of want) {
      const g = got.get(name)!;
      const scale = w.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      const diff = w.reduce((m, x, i) => Math.max(m, Math.abs(x - g[i])), 0);
      expect(diff, name).toBeLessThanOrEqual(2e-3 * scale + 1e-7);
    }
    expect(two.optimizer.stepCount).toBe(3);
    expect(spareRuns).toBe(3); // the caller's spare work ran once per step
    one.model.dispose();
    two.model.dispose();
  });

  it("is deterministic: the same replica count and batches give bit-identical weights and moments", async () => {
    const runs: Array<Map<string, Float32Array>> = [];
    for (let k = 0; k < 2; k++) {
      const { model, optimizer } = modelAndOptimizer();
      const dp = await DataParallelEngine.start(3, model, optimizer, "smooth_l1", "wasm");
      try {
        await threeSteps(dp, batches);
      } finally {
        await dp.close();
      }
      runs.push(snapshot(model, optimizer));
      model.dispose();
    }
    for (const [name, w] of runs[0]) expect(Array.from(runs[1].get(name)!), name).toEqual(Array.from(w));
  });

  it("leaves the weights alone when the loss is not finite", async () => {
    const { model, optimizer } = modelAndOptimizer();
    const before = snapshot(model, optimizer);
    const dp = await DataParallelEngine.start(2, model, optimizer, "smooth_l1", "wasm");
    try {
      const bad = batches[0];
      const patches = bad.patches.slice();
      patches[0] = Number.NaN;
      let spareRuns = 0;
      const loss = await dp.step(
        { ...bad, patches },
        { lr: 0.05, weightDecay: 0.04, momentum: 0.9 },
        () => spareRuns++,
      );
      expect(spareRuns).toBe(0); // no update, so no wait to fill: the caller makes the next input itself
      expect(loss).toBeNaN();
    } finally {
      await dp.close();
    }
    expect(optimizer.stepCount).toBe(0);
    for (const [name, w] of before)
      expect(Array.from(snapshot(model, optimizer).get(name)!), name).toEqual(Array.from(w));
    model.dispose();
  });
});
