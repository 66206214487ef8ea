// The raw-pixel baseline on real Fashion-MNIST: pins the probe against a published figure, not just synthetic data.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { DEBIAN_FASHION_MNIST_DIR } from "../../trainer/data/fashion_mnist.js";
import { loadIdxSplit } from "../../trainer/data/idx_reader.js";
import { type LabelledFeatures, linearProbe } from "../../trainer/eval/linear_probe.js";

/** Logistic regression on raw pixels, from the Fashion-MNIST benchmark table (zalandoresearch/fashion-mnist). */
const PUBLISHED_LOGISTIC_REGRESSION_TOP1 = 0.842;
const TRAIN_ROWS = 10_000;

/** Pixels / 255 of the first `rows` images as a row-major [rows, 784] matrix. */
function pixelFeatures(images: Uint8Array, labels: Int32Array, rows: number): LabelledFeatures {
  const features = new Float32Array(rows * 784);
  for (let i = 0; i < features.length; i++) features[i] = images[i] / 255;
  return { features, labels: labels.slice(0, rows) };
}

// Reads the Debian package's IDX files (apt-get install fashion-mnist); a missing file fails with a NotFoundError saying where it looked.
describe("linear probe on raw Fashion-MNIST pixels", () => {
  beforeAll(async () => {
    await tf.setBackend("wasm");
    await tf.ready();
  });

  it("lands within 1.5 points of the published logistic-regression top-1 with 10k train images", async () => {
    const [train, test] = await Promise.all([
      loadIdxSplit(DEBIAN_FASHION_MNIST_DIR, "train"),
      loadIdxSplit(DEBIAN_FASHION_MNIST_DIR, "test"),
    ]);
    const before = tf.memory().numTensors;
    // A shortened sweep and iteration cap keep this under a minute on two cores; the full default
    // grid picks the same λ (see the linear_probe report figures).
    const result = linearProbe(
      {
        train: pixelFeatures(train.images, train.labels, TRAIN_ROWS),
        test: pixelFeatures(test.images, test.labels, test.count),
        numClasses: 10,
        dim: 784,
      },
      { weightDecays: [1e-3, 1e-2, 1e-1], maxIterations: 60 },
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.abs(result.linear.top1 - PUBLISHED_LOGISTIC_REGRESSION_TOP1)).toBeLessThanOrEqual(0.015);
    expect(result.linear.top5).toBeGreaterThan(result.linear.top1);
    // On pixels both ends of this grid are measurably worse on the held-out fifth (~0.83 vs ~0.84).
    expect(result.linear.weightDecay).toBe(1e-2);
    // Cosine kNN on pixels with a sixth of the train set: a sanity band around the ~0.80 measured.
    expect(result.knn.top1).toBeGreaterThan(0.75);
    expect(result.knn.top1).toBeLessThan(0.86);
  });
});
