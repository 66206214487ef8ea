import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError, DataError } from "../../trainer/errors.js";
import { type LinearProbeProgress, linearProbe } from "../../trainer/eval/linear_probe.js";
import { concentricRings, gaussianBlobs, type SyntheticSet } from "./synthetic_features.js";

beforeAll(async () => {
  await tf.setBackend("wasm");
  await tf.ready();
});

function probeInput(train: SyntheticSet, test: SyntheticSet) {
  return { train, test, numClasses: train.numClasses, dim: train.dim };
}

describe("linearProbe", () => {
  it("classifies linearly separable Gaussian blobs almost perfectly, both linearly and by kNN", () => {
    const blobs = { numClasses: 10, dim: 32, separation: 1.5, seed: 21 };
    const train = gaussianBlobs({ ...blobs, perClass: 100, split: "train" });
    const test = gaussianBlobs({ ...blobs, perClass: 50, split: "test" });
    const before = tf.memory().numTensors;
    const result = linearProbe(probeInput(train, test), { maxIterations: 100 });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.linear.top1).toBeGreaterThanOrEqual(0.99);
    expect(result.knn.top1).toBeGreaterThanOrEqual(0.99);
    expect(result.linear.top5).toBeGreaterThanOrEqual(result.linear.top1);
    expect(result.knn.top5).toBeGreaterThanOrEqual(result.knn.top1);
    expect(result.rows).toEqual({ sweepFit: 800, sweepHeldOut: 200, train: 1000, test: 500 });
  });

  it("scores concentric rings near chance linearly but almost perfectly by kNN", () => {
    const train = concentricRings({ numClasses: 4, perClass: 300, seed: 8, split: "train" });
    const test = concentricRings({ numClasses: 4, perClass: 100, seed: 8, split: "test" });
    const result = linearProbe(probeInput(train, test), { weightDecays: [1e-4, 1e-2], maxIterations: 50 });
    // Four balanced classes: chance is 0.25.
    expect(result.linear.top1).toBeLessThan(0.4);
    expect(result.knn.top1).toBeGreaterThan(0.97);
    expect(result.linear.top5).toBeUndefined();
  });

  it("reports the sweep in ascending weight decay and refits with the best held-out value", () => {
    const blobs = { numClasses: 4, dim: 20, separation: 0.35, seed: 5 };
    const train = gaussianBlobs({ ...blobs, perClass: 60, split: "train" });
    const test = gaussianBlobs({ ...blobs, perClass: 30, split: "test" });
    const weightDecays = [1e-1, 0, 1e-3, 1];
    const result = linearProbe(probeInput(train, test), { weightDecays, maxIterations: 100, sweepPatience: Infinity });
    const sweep = result.linear.sweep;
    expect(sweep.map((s) => s.weightDecay)).toEqual([0, 1e-3, 1e-1, 1]);
    const bestScore = Math.max(...sweep.map((s) => s.heldOutTop1));
    const winners = sweep.filter((s) => s.heldOutTop1 === bestScore);
    // Ties go to the larger (more regularised) value.
    expect(result.linear.weightDecay).toBe(winners[winners.length - 1].weightDecay);
  });

  it("stops walking down the grid once two values in a row score below the best, and picks the same λ", () => {
    // 20 noisy dimensions, 45 fit rows per class: weak regularisation overfits, and the held-out score falls.
    const blobs = { numClasses: 4, dim: 20, separation: 0.35, seed: 5 };
    const train = gaussianBlobs({ ...blobs, perClass: 60, split: "train" });
    const test = gaussianBlobs({ ...blobs, perClass: 30, split: "test" });
    const weightDecays = [0, 1e-4, 1e-3, 1e-2, 1e-1, 1];
    const full = linearProbe(probeInput(train, test), { weightDecays, sweepPatience: Infinity });
    const early = linearProbe(probeInput(train, test), { weightDecays });
    const fitted = early.linear.sweep.map((s) => s.weightDecay);
    expect(fitted.length).toBeLessThan(weightDecays.length);
    // What was fitted is the top of the grid, scored exactly as in the full sweep.
    expect(early.linear.sweep).toEqual(full.linear.sweep.slice(weightDecays.length - fitted.length));
    const best = early.linear.sweep.find((s) => s.weightDecay === early.linear.weightDecay);
    const below = early.linear.sweep.filter((s) => s.weightDecay < early.linear.weightDecay);
    expect(below).toHaveLength(2);
    expect(below.every((s) => s.heldOutTop1 < (best?.heldOutTop1 ?? 0))).toBe(true);
    expect(early.linear.weightDecay).toBe(full.linear.weightDecay);
    expect(early.linear.top1).toBe(full.linear.top1);
  });

  it("skips the sweep when given a single weight decay", () => {
    const blobs = { numClasses: 3, dim: 6, separation: 1, seed: 5 };
    const train = gaussianBlobs({ ...blobs, perClass: 20, split: "train" });
    const test = gaussianBlobs({ ...blobs, perClass: 10, split: "test" });
    const result = linearProbe(probeInput(train, test), { weightDecays: [1e-3], maxIterations: 50 });
    expect(result.linear.weightDecay).toBe(1e-3);
    expect(result.linear.sweep).toEqual([]);
    expect(result.rows.sweepHeldOut).toBe(0);
  });

  it("gives the same result for the same inputs and seed", () => {
    const blobs = { numClasses: 3, dim: 10, separation: 0.4, seed: 6 };
    const input = probeInput(
      gaussianBlobs({ ...blobs, perClass: 40, split: "train" }),
      gaussianBlobs({ ...blobs, perClass: 20, split: "test" }),
    );
    const options = { weightDecays: [0, 1e-2, 1], maxIterations: 60, seed: 3 };
    const a = linearProbe(input, options);
    const b = linearProbe(input, options);
    expect(b.linear).toEqual(a.linear);
    expect(b.knn).toEqual(a.knn);
  });

  it("standardises with train statistics only: a shifted test set is not re-centred", () => {
    const blobs = { numClasses: 4, dim: 16, separation: 1.5, seed: 13 };
    const train = gaussianBlobs({ ...blobs, perClass: 50, split: "train" });
    const test = gaussianBlobs({ ...blobs, perClass: 50, split: "test" });
    const options = { weightDecays: [1e-3], maxIterations: 100 };
    const plain = linearProbe(probeInput(train, test), options);
    // The same test rows moved far along one direction: only test-set statistics could undo that.
    const shifted = { ...test, features: test.features.map((v, i) => (i % 16 === 0 ? v + 1000 : v)) };
    const moved = linearProbe(probeInput(train, shifted), options);
    expect(plain.linear.top1).toBeGreaterThan(0.95);
    expect(moved.linear.top1).toBeLessThan(0.6);
  });

  it("reports progress for every sweep value, the refit and the kNN chunks", () => {
    const blobs = { numClasses: 3, dim: 6, separation: 1, seed: 5 };
    const train = gaussianBlobs({ ...blobs, perClass: 20, split: "train" });
    const test = gaussianBlobs({ ...blobs, perClass: 10, split: "test" });
    const events: LinearProbeProgress[] = [];
    linearProbe(probeInput(train, test), {
      weightDecays: [0, 1e-2],
      maxIterations: 20,
      knn: { chunkRows: 10 },
      onProgress: (e) => events.push(e),
    });
    expect(events.map((e) => e.stage)).toEqual(["sweep", "sweep", "refit", "knn", "knn", "knn"]);
  });

  it("rejects labels outside [0, numClasses) naming the split and the row", () => {
    const train = gaussianBlobs({ numClasses: 3, dim: 4, perClass: 10, separation: 1, seed: 1, split: "train" });
    const test = { ...train, labels: train.labels.map((l, i) => (i === 7 ? 3 : l)) };
    expect(() => linearProbe(probeInput(train, test))).toThrow(DataError);
    expect(() => linearProbe(probeInput(train, test))).toThrow(/test features: label 3 at row 7/);
  });

  it("rejects features whose length does not match labels × dim", () => {
    const train = gaussianBlobs({ numClasses: 3, dim: 4, perClass: 10, separation: 1, seed: 1, split: "train" });
    const short = { ...train, features: train.features.subarray(4) };
    expect(() => linearProbe(probeInput(short, train))).toThrow(
      /train features: 116 feature values for 30 labels of dimension 4/,
    );
  });

  it("rejects non-finite features, naming where they are", () => {
    const train = gaussianBlobs({ numClasses: 3, dim: 4, perClass: 10, separation: 1, seed: 1, split: "train" });
    const broken = { ...train, features: train.features.map((v, i) => (i === 9 ? Number.NaN : v)) };
    expect(() => linearProbe(probeInput(broken, train))).toThrow(/non-finite value NaN at row 2, column 1/);
  });

  it("rejects a negative weight decay in the grid", () => {
    const train = gaussianBlobs({ numClasses: 3, dim: 4, perClass: 10, separation: 1, seed: 1, split: "train" });
    expect(() => linearProbe(probeInput(train, train), { weightDecays: [0, -1] })).toThrow(DataError);
  });

  it("rejects an iteration cap below 1 and a held-out fraction outside (0, 1) as config errors", () => {
    const train = gaussianBlobs({ numClasses: 3, dim: 4, perClass: 10, separation: 1, seed: 1, split: "train" });
    expect(() => linearProbe(probeInput(train, train), { maxIterations: 0 })).toThrow(ConfigError);
    expect(() => linearProbe(probeInput(train, train), { heldOutFraction: 1 })).toThrow(ConfigError);
  });
});
