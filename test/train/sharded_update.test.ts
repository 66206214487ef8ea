// Splitting AdamW + EMA into replicas' shares: contiguous, balanced shares; the SIMD kernel gives the tfjs ops' bits.
import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../trainer/backend.js";
import { adamWStepConstants } from "../../trainer/optim/adamw_constants.js";
import {
  SharedUpdateKernel,
  type UpdateSegment,
  createSharedMemory,
  shareBounds,
  sharedBuffers,
  sharedUpdateLayout,
} from "../../trainer/train/sharded_update.js";
import { Rng } from "../../trainer/utils/rng.js";

/** Segments of these sizes laid out back to back; the first `withTarget` have an EMA copy after the trainable part. */
function layout(sizes: number[], withTarget: number): { segments: UpdateSegment[]; total: number } {
  let offset = 0;
  const segments = sizes.map((size, i) => {
    const s = { offset, size, decay: i % 2 === 0, target: -1 };
    offset += size;
    return s;
  });
  for (const s of segments.slice(0, withTarget)) {
    s.target = offset;
    offset += s.size;
  }
  return { segments, total: offset };
}

describe("shareBounds", () => {
  const sizes = [4608, 48, 48, 110592, 576, 36864, 192, 192, 73728, 768, 73728, 192, 9216, 96, 18432];
  const { segments } = layout(sizes, 11);
  const cost = (s: UpdateSegment) => s.size * (s.target >= 0 ? 1.25 : 1);

  it.each([1, 2, 3, 4])("cuts %i contiguous shares covering every parameter once, each near its part", (parts) => {
    // The first share weighs half of each other one (the main thread's, as the engine splits).
    const weights = [0.5, ...Array<number>(parts - 1).fill(1)];
    const bounds = shareBounds(segments, weights);
    expect(bounds).toHaveLength(parts + 1);
    expect(bounds[0]).toBe(0);
    expect(bounds[parts]).toBe(segments.length);
    for (let k = 1; k <= parts; k++) expect(bounds[k]).toBeGreaterThanOrEqual(bounds[k - 1]);
    // Each cut lies within half the largest parameter's cost of its ideal place.
    const total = segments.reduce((a, s) => a + cost(s), 0);
    const largest = Math.max(...segments.map(cost));
    const sumWeights = weights.reduce((a, w) => a + w, 0);
    for (let k = 1; k < parts; k++) {
      const before = segments.slice(0, bounds[k]).reduce((a, s) => a + cost(s), 0);
      const ideal = (total * (k - 0.5)) / sumWeights; // weights before cut k: 0.5 + (k − 1)
      expect(Math.abs(before - ideal)).toBeLessThanOrEqual(largest / 2);
    }
  });

  it("gives a share of weight ½ half the parameters of each share of weight 1", () => {
    const even = layout(Array<number>(60).fill(1000), 0).segments;
    expect(shareBounds(even, [0.5, 1, 1])).toEqual([0, 12, 36, 60]);
    expect(shareBounds(even, [1, 1])).toEqual([0, 30, 60]);
  });

  it("gives empty shares rather than fail when there are more replicas than parameters", () => {
    const bounds = shareBounds(segments.slice(0, 2), [1, 1, 1, 1]);
    expect(bounds).toHaveLength(5);
    expect([bounds[0], bounds[4]]).toEqual([0, 2]);
    for (let k = 1; k <= 4; k++) expect(bounds[k]).toBeGreaterThanOrEqual(bounds[k - 1]);
  });
});

/** AdamW.apply's tfjs ops for one parameter, after averaging the replicas' gradients as the engine once did. */
function tfjsStep(p: tf.Variable, m: tf.Variable, v: tf.Variable, grads: Float32Array[], decay: boolean, t: number) {
  const [beta1, beta2, eps, lr, wd] = [0.9, 0.999, 1e-8, 3e-3 * t, t === 2 ? 0 : 0.05];
  tf.tidy(() => {
    let g: tf.Tensor = tf.tensor(grads[0]);
    if (grads.length > 1) {
      for (const other of grads.slice(1)) g = tf.add(g, tf.tensor(other));
      g = tf.div(g, grads.length);
    }
    let q: tf.Tensor = p;
    if (decay && wd !== 0) q = tf.mul(q, 1 - lr * wd);
    const mNew = tf.add(m, tf.mul(tf.sub(g, m), 1 - beta1));
    const vNew = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
    const denom = tf.add(tf.div(tf.sqrt(vNew), Math.sqrt(1 - beta2 ** t)), eps);
    p.assign(tf.sub(q, tf.mul(tf.div(mNew, denom), lr / (1 - beta1 ** t))));
    m.assign(mNew);
    v.assign(vNew);
  });
}

/** Float32 values as their bit patterns, so that equality is exact (and -0 ≠ 0). */
const bits = (a: Float32Array) => Array.from(new Uint32Array(Float32Array.from(a).buffer));

describe.each(["wasm", "cpu"])("SharedUpdateKernel against tfjs on %s", (backend) => {
  it.each([1, 2, 3])(
    "gives, share by share, the tfjs update's bits over 3 steps with %i replica(s)",
    async (replicas) => {
      await initBackend(backend);
      const rng = Rng.fromSeed(4 + replicas);
      // Sizes with every remainder mod 4 (so offsets that are not 16-byte aligned), decayed or not, EMA'd or not.
      const { segments, total } = layout([37, 5, 64, 130, 9, 71, 2, 3], 5);
      const trainable = segments.reduce((a, s) => a + s.size, 0);
      const random = (n: number, scale: number) => Float32Array.from({ length: n }, () => rng.normal() * scale);
      const weights = random(total, 0.1);
      const memoryLayout = sharedUpdateLayout(total, trainable, replicas);
      const memory = createSharedMemory(memoryLayout);
      const shared = sharedBuffers(memory, memoryLayout, total, trainable);
      shared.weights.set(weights);
      const vars = segments.map((s) => ({
        p: tf.variable(tf.tensor(weights.subarray(s.offset, s.offset + s.size))),
        m: tf.variable(tf.zeros([s.size])),
        v: tf.variable(tf.zeros([s.size])),
        target: s.target >= 0 ? tf.variable(tf.tensor(weights.subarray(s.target, s.target + s.size))) : undefined,
      }));
      const bounds = shareBounds(segments, [0.5, 1, 1]);
      for (let t = 1; t <= 3; t++) {
        const lr = 3e-3 * t;
        const wd = t === 2 ? 0 : 0.05; // a weight decay of 0 skips the multiply
        const momentum = 0.99 + t * 1e-3;
        // Gradients over many magnitudes.
        const grads = Array.from({ length: replicas }, () =>
          Float32Array.from({ length: trainable }, () => rng.normal() * 10 ** (rng.float() * 8 - 6)),
        );
        segments.forEach((s, i) => {
          const { p, m, v, target } = vars[i];
          tfjsStep(
            p,
            m,
            v,
            grads.map((g) => g.subarray(s.offset, s.offset + s.size)),
            s.decay,
            t,
          );
          if (target) tf.tidy(() => target.assign(tf.add(tf.mul(target, momentum), tf.mul(p, 1 - momentum))));
        });
        for (const [r, g] of grads.entries()) shared.grads[r].set(g);
        const c = adamWStepConstants([0.9, 0.999], 1e-8, t, lr, wd);
        // One kernel per replica on the same memory, each its share, the last share first.
        for (let r = 2; r >= 0; r--)
          new SharedUpdateKernel(memory, memoryLayout).applyShare(segments, bounds[r], bounds[r + 1], c, momentum);
      }
      segments.forEach((s, i) => {
        const { p, m, v, target } = vars[i];
        const at = (a: Float32Array, from: number) => bits(a.subarray(from, from + s.size));
        expect(at(shared.weights, s.offset)).toEqual(bits(p.dataSync() as Float32Array));
        expect(at(shared.expAvg, s.offset)).toEqual(bits(m.dataSync() as Float32Array));
        expect(at(shared.expAvgSq, s.offset)).toEqual(bits(v.dataSync() as Float32Array));
        if (target) expect(at(shared.weights, s.target)).toEqual(bits(target.dataSync() as Float32Array));
        tf.dispose([p, m, v, ...(target ? [target] : [])]);
      });
    },
  );
});
