// Splitting AdamW + EMA into replicas' shares: contiguous, balanced shares whose updates give the one-pass bits.
import { describe, expect, it } from "vitest";
import { adamWStepConstants } from "../../trainer/optim/fused_update.js";
import { type UpdateSegment, applyShare, shareBounds } from "../../trainer/train/sharded_update.js";
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

describe("applyShare", () => {
  it("updating share by share gives the bits of one pass over every parameter", () => {
    const rng = Rng.fromSeed(4);
    const { segments, total } = layout([37, 5, 64, 130, 9, 71], 4);
    const trainable = segments.reduce((a, s) => a + s.size, 0);
    const random = (n: number, scale: number) => Float32Array.from({ length: n }, () => rng.normal() * scale);
    const start = {
      weights: random(total, 0.1),
      expAvg: random(trainable, 1e-3),
      expAvgSq: Float32Array.from(random(trainable, 1e-3), (x) => x * x),
      grads: [random(trainable, 1e-2), random(trainable, 1e-2), random(trainable, 1e-2)],
    };
    const copy = () => ({
      weights: start.weights.slice(),
      expAvg: start.expAvg.slice(),
      expAvgSq: start.expAvgSq.slice(),
      grads: start.grads,
    });
    const c = adamWStepConstants([0.9, 0.999], 1e-8, 7, 3e-3, 0.05);
    const whole = copy();
    applyShare(whole, segments, 0, segments.length, c, 0.99);
    const shared = copy();
    const bounds = shareBounds(segments, 3);
    for (let r = 2; r >= 0; r--) applyShare(shared, segments, bounds[r], bounds[r + 1], c, 0.99);
    expect(Array.from(shared.weights)).toEqual(Array.from(whole.weights));
    expect(Array.from(shared.expAvg)).toEqual(Array.from(whole.expAvg));
    expect(Array.from(shared.expAvgSq)).toEqual(Array.from(whole.expAvgSq));
    // The EMA copies moved (towards the updated weights), and the parameters without one kept their target slots.
    expect(Array.from(whole.weights.subarray(trainable))).not.toEqual(Array.from(start.weights.subarray(trainable)));
  });
});
