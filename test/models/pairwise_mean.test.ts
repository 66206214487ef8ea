// pairwiseMean: a float32 mean whose error stays at a few ε however many elements it reduces, with tf.mean's gradient.
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { PAIRWISE_MEAN_BLOCK, pairwiseMean } from "../../trainer/models/pairwise_mean.js";
import { Rng } from "../../trainer/utils/rng.js";

beforeAll(async () => {
  await initBackend("wasm");
});

/** Positive values like a per-element regression loss, and their mean in float64. */
function lossLike(count: number, seed: number): { values: Float32Array; mean: number } {
  const rng = Rng.fromSeed(seed, "pairwise-mean-test");
  const values = new Float32Array(count);
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const z = rng.normal();
    values[i] = 0.5 * z * z;
    sum += values[i];
  }
  return { values, mean: sum / count };
}

function relativeError(tensor: tf.Scalar, reference: number): number {
  const value = tensor.dataSync()[0];
  tensor.dispose();
  return Math.abs(value - reference) / Math.abs(reference);
}

describe("pairwiseMean", () => {
  it("stays within 1e-6 of a float64 mean over 8M elements, where a sequential float32 sum drifts", () => {
    const { values, mean } = lossLike(1 << 23, 1);
    const x = tf.tensor(values, [64, 4, 32, 1024]);
    const ours = relativeError(pairwiseMean(x), mean);
    const sequential = relativeError(tf.mean(x) as tf.Scalar, mean);
    x.dispose();
    expect(ours).toBeLessThan(1e-6);
    // The backend's own mean is the sequential sum this replaces: it must be measurably worse here,
    // or this test could not tell the two apart.
    expect(sequential).toBeGreaterThan(10 * Math.max(ours, 1e-7));
  });

  it("keeps the same error bound from a handful of elements to millions, whole blocks or not", () => {
    for (const count of [1, 7, PAIRWISE_MEAN_BLOCK, PAIRWISE_MEAN_BLOCK + 1, 100_003, 3_000_001]) {
      const { values, mean } = lossLike(count, count);
      const x = tf.tensor1d(values);
      expect(relativeError(pairwiseMean(x), mean)).toBeLessThan(1e-6);
      x.dispose();
    }
  });

  it("has tf.mean's gradient exactly, and leaves no tensors behind", () => {
    const { values } = lossLike(5 * 7 * 3, 2);
    const x = tf.tensor(values, [5, 7, 3]);
    const before = tf.memory().numTensors;
    const ours = tf.grad((t: tf.Tensor) => pairwiseMean(tf.mul(t, t)))(x);
    const theirs = tf.grad((t: tf.Tensor) => tf.mean(tf.mul(t, t)))(x);
    expect(Array.from(ours.dataSync())).toEqual(Array.from(theirs.dataSync()));
    ours.dispose();
    theirs.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
