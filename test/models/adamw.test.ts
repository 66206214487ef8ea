import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { ParamTable, type ParamSpec } from "../../trainer/models/param_table.js";
import { AdamW } from "../../trainer/optim/adamw.js";

beforeAll(async () => {
  await initBackend("wasm");
});

const specs: ParamSpec[] = [
  {
    name: "fc.weight",
    shape: [2, 3],
    layout: "linear",
    init: { kind: "fixed", values: new Float32Array([0.5, -1, 2, 0.25, 1.5, -0.75]) },
    trainable: true,
  },
  {
    name: "fc.bias",
    shape: [3],
    layout: "vector",
    init: { kind: "fixed", values: new Float32Array([0.1, 0.2, 0.3]) },
    trainable: true,
  },
  {
    name: "mask_token",
    shape: [3],
    layout: "token",
    init: { kind: "fixed", values: new Float32Array([1, 2, 3]) },
    trainable: true,
  },
  {
    name: "pos_embed",
    shape: [1, 3],
    layout: "pos",
    init: { kind: "fixed", values: new Float32Array([9, 9, 9]) },
    trainable: false,
  },
];

/** torch.optim.AdamW's update in float64, for comparison. */
function referenceAdamW(p: number[], grads: number[][], lrs: number[], wds: number[], decay: boolean) {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  grads.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      if (decay) p[i] *= 1 - lrs[k] * wds[k];
      m[i] = m[i] + (g[i] - m[i]) * (1 - b1);
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** t) + eps;
      p[i] -= (lrs[k] / (1 - b1 ** t)) * (m[i] / denom);
    }
  });
  return p;
}

describe("AdamW", () => {
  it("follows the official parameter groups: no decay for biases and 1-D parameters; mask_token [1,1,D] is decayed", () => {
    const table = new ParamTable(specs, (s) => (s.init as { values: Float32Array }).values, "t");
    const opt = new AdamW([{ prefix: "predictor.", table }], { betas: [0.9, 0.999], eps: 1e-8 });
    expect(opt.groups()).toEqual({
      decay: ["predictor.fc.weight", "predictor.mask_token"],
      noDecay: ["predictor.fc.bias"],
    });
    expect(opt.variables().length).toBe(3);
    opt.dispose();
    table.dispose();
  });

  it("matches PyTorch's AdamW update over several steps with changing lr and weight decay", () => {
    const table = new ParamTable(specs, (s) => (s.init as { values: Float32Array }).values, "t");
    const opt = new AdamW([{ prefix: "", table }], { betas: [0.9, 0.999], eps: 1e-8 });
    const w = table.get("fc.weight");
    const b = table.get("fc.bias");
    const gradsW = [
      [0.1, -0.2, 0.3, 0.4, -0.5, 0.6],
      [-0.3, 0.1, 0.2, -0.1, 0.0, 0.5],
      [0.05, 0.05, -0.4, 0.2, 0.3, -0.2],
    ];
    const gradsB = [
      [1, -1, 0.5],
      [0.2, 0.2, 0.2],
      [-0.5, 0.1, 0],
    ];
    const lrs = [1e-2, 5e-3, 2e-3];
    const wds = [0.04, 0.1, 0.4];
    for (let k = 0; k < 3; k++) {
      // Gradients arrive in the internal [in, out] layout, the same as the parameter.
      const grads = {
        [w.name]: tf.tensor(gradsW[k], [2, 3]),
        [b.name]: tf.tensor(gradsB[k], [3]),
        [table.get("mask_token").name]: tf.zeros([3]),
      };
      opt.apply(grads, lrs[k], wds[k]);
      for (const g of Object.values(grads)) g.dispose();
    }
    const expectedW = referenceAdamW([0.5, -1, 2, 0.25, 1.5, -0.75], gradsW, lrs, wds, true);
    const expectedB = referenceAdamW([0.1, 0.2, 0.3], gradsB, lrs, wds, false);
    for (const [i, x] of Array.from(w.dataSync()).entries()) expect(x).toBeCloseTo(expectedW[i], 6);
    for (const [i, x] of Array.from(b.dataSync()).entries()) expect(x).toBeCloseTo(expectedB[i], 6);
    expect(opt.stepCount).toBe(3);
    opt.dispose();
    table.dispose();
  });

  it("exports its moments in PyTorch layout and restores them exactly", () => {
    const table = new ParamTable(specs, (s) => (s.init as { values: Float32Array }).values, "t");
    const opt = new AdamW([{ prefix: "enc.", table }], { betas: [0.9, 0.999], eps: 1e-8 });
    const grads = Object.fromEntries(
      opt.variables().map((v) => [v.name, tf.randomNormal(v.shape, 0, 1, "float32", 3)]),
    );
    opt.apply(grads, 1e-3, 0.05);
    const state = opt.exportState();
    expect(state.map((s) => s.name)).toContain("enc.fc.weight.exp_avg_sq");
    expect(state.find((s) => s.name === "enc.fc.weight.exp_avg")!.shape).toEqual([3, 2]);
    const other = new AdamW([{ prefix: "enc.", table }], { betas: [0.9, 0.999], eps: 1e-8 });
    other.importState(new Map(state.map((s) => [s.name, s])), 1);
    for (const [i, s] of other.exportState().entries()) expect(Array.from(s.data)).toEqual(Array.from(state[i].data));
    expect(() => other.importState(new Map(), 1)).toThrow(/missing tensor enc\.fc\.weight\.exp_avg/);
    for (const g of Object.values(grads)) g.dispose();
    opt.dispose();
    other.dispose();
    table.dispose();
  });
});
