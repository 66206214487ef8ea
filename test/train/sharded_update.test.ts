// Splitting AdamW + EMA into replicas' shares: contiguous, balanced shares; the SIMD kernel gives the JS update's bits.
import { describe, expect, it } from "vitest";
import { adamWStepConstants, adamWUpdate, emaUpdate } from "../../trainer/optim/fused_update.js";
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

  it.each([1, 2, 3, 4])("cuts %i contiguous shares covering every parameter once, each near an equal part", (parts) => {
    const bounds = shareBounds(segments, parts);
    expect(bounds).toHaveLength(parts + 1);
    expect(bounds[0]).toBe(0);
    expect(bounds[parts]).toBe(segments.length);
    for (let k = 1; k <= parts; k++) expect(bounds[k]).toBeGreaterThanOrEqual(bounds[k - 1]);
    // Each cut lies within half the largest parameter's cost of its ideal place.
    const total = segments.reduce((a, s) => a + cost(s), 0);
    const largest = Math.max(...segments.map(cost));
    for (let k = 1; k < parts; k++) {
      const before = segments.slice(0, bounds[k]).reduce((a, s) => a + cost(s), 0);
      expect(Math.abs(before - (total * k) / parts)).toBeLessThanOrEqual(largest / 2);
    }
  });

  it("gives empty shares rather than fail when there are more replicas than parameters", () => {
    const bounds = shareBounds(segments.slice(0, 2), 4);
    expect(bounds).toHaveLength(5);
    expect([bounds[0], bounds[4]]).toEqual([0, 2]);
    for (let k = 1; k <= 4; k++) expect(bounds[k]).toBeGreaterThanOrEqual(bounds[k - 1]);
  });
});

describe("SharedUpdateKernel", () => {
  it.each([1, 2, 3])(
    "gives, share by share in shared memory, the bits of the fused JS update (%i replica gradient(s))",
    (replicas) => {
      const rng = Rng.fromSeed(4 + replicas);
      // Sizes with every remainder mod 4, and a first offset that is not 16-byte aligned.
      const { segments, total } = layout([37, 5, 64, 130, 9, 71, 2, 3], 5);
      const trainable = segments.reduce((a, s) => a + s.size, 0);
      const random = (n: number, scale: number) => Float32Array.from({ length: n }, () => rng.normal() * scale);
      const start = {
        weights: random(total, 0.1),
        expAvg: random(trainable, 1e-3),
        expAvgSq: Float32Array.from(random(trainable, 1e-3), (x) => x * x),
        grads: Array.from({ length: replicas }, () => random(trainable, 1e-2)),
      };
      const memoryLayout = sharedUpdateLayout(total, trainable, replicas);
      const memory = createSharedMemory(memoryLayout);
      const shared = sharedBuffers(memory, memoryLayout, total, trainable);
      shared.weights.set(start.weights);
      shared.expAvg.set(start.expAvg);
      shared.expAvgSq.set(start.expAvgSq);
      start.grads.forEach((g, r) => shared.grads[r].set(g));
      const bounds = shareBounds(segments, 3);
      for (const [t, wd] of [
        [1, 0.05],
        [2, 0],
      ]) {
        const c = adamWStepConstants([0.9, 0.999], 1e-8, t, 3e-3, wd);
        // The reference: one pass of the JS update over every parameter.
        for (const s of segments) {
          const range = [s.offset, s.offset + s.size] as const;
          const p = start.weights.subarray(...range);
          const g = start.grads.map((x) => x.subarray(...range));
          adamWUpdate(p, start.expAvg.subarray(...range), start.expAvgSq.subarray(...range), g, s.decay, c);
          if (s.target >= 0) emaUpdate(start.weights.subarray(s.target, s.target + s.size), p, 0.99);
        }
        // Three kernels on the same memory (one per replica), each its share, the last share first.
        start.grads.forEach((g, r) => shared.grads[r].set(g)); // replica 0's buffer took the mean
        for (let r = 2; r >= 0; r--)
          new SharedUpdateKernel(memory, memoryLayout).applyShare(segments, bounds[r], bounds[r + 1], c, 0.99);
      }
      const bits = (a: Float32Array) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
      expect(bits(shared.weights)).toEqual(bits(start.weights));
      expect(bits(shared.expAvg)).toEqual(bits(start.expAvg));
      expect(bits(shared.expAvgSq)).toEqual(bits(start.expAvgSq));
      // The EMA copies did move.
      expect(shared.weights[trainable]).not.toBe(0);
    },
  );
});
