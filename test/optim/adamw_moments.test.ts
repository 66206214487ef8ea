// AdamW's moments moved out of tfjs into flat buffers (for replicas that update them in place): same state, same I/O.
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { type ParamSpec, ParamTable } from "../../trainer/models/param_table.js";
import { AdamW } from "../../trainer/optim/adamw.js";

beforeAll(async () => {
  await initBackend("wasm");
});

const fixed = (n: number) => ({ kind: "fixed" as const, values: new Float32Array(n) });
const specs: ParamSpec[] = [
  { name: "fc.weight", shape: [2, 3], layout: "linear", init: fixed(6), trainable: true },
  { name: "fc.bias", shape: [3], layout: "vector", init: fixed(3), trainable: true },
  { name: "pos", shape: [1, 3], layout: "pos", init: fixed(3), trainable: false },
];

function stepped(): { opt: AdamW; table: ParamTable } {
  const table = new ParamTable(specs, (s) => (s.init as { values: Float32Array }).values, "t");
  const opt = new AdamW([{ prefix: "p.", table }], { betas: [0.9, 0.999], eps: 1e-8 });
  const grads = Object.fromEntries(
    opt.variables().map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 1, "float32", i)]),
  );
  opt.apply(grads, 1e-2, 0.05);
  tf.dispose(Object.values(grads));
  return { opt, table };
}

describe("AdamW.moveMoments", () => {
  it("lays the trainable parameters out back to back in its order, with their groups", () => {
    const { opt, table } = stepped();
    expect(opt.flatLayout().map(({ offset, size, decay }) => ({ offset, size, decay }))).toEqual([
      { offset: 0, size: 6, decay: true },
      { offset: 6, size: 3, decay: false },
    ]);
    expect(opt.flatLayout().map((p) => p.variable)).toEqual(opt.variables().map((v) => v.name));
    opt.dispose();
    table.dispose();
  });

  it("keeps the state it had, then exports and imports through the buffers, and refuses to apply updates itself", () => {
    const { opt, table } = stepped();
    const before = opt.exportState();
    const m = new Float32Array(9);
    const v = new Float32Array(9);
    opt.moveMoments(m, v);
    expect(opt.exportState()).toEqual(before);
    expect(m.some((x) => x !== 0) && v.some((x) => x !== 0)).toBe(true);
    // What the owner writes into the buffers is the state from then on, in PyTorch layout on export.
    m[1] = 42; // internal [in 2, out 3] row 0, column 1 → official [3, 2] row 1, column 0
    expect(opt.exportState().find((t) => t.name === "p.fc.weight.exp_avg")!.data[2]).toBe(42);
    opt.importState(new Map(before.map((t) => [t.name, t])), 1);
    expect(opt.exportState()).toEqual(before);
    expect(m[1]).not.toBe(42);
    expect(() => opt.apply({}, 1e-2, 0)).toThrow(/moved out of tfjs/);
    expect(opt.beginStep(1e-2, 0).decayScale).toBeUndefined();
    expect(opt.stepCount).toBe(2);
    expect(() => opt.moveMoments(m, v)).toThrow(/moved already/);
    opt.dispose();
    table.dispose();
  });
});
