import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataError } from "../../trainer/errors.js";
import {
  SoftmaxCrossEntropyObjective,
  classifierScores,
  fitLogisticRegression,
} from "../../trainer/eval/logistic_regression.js";
import { topKAccuracy } from "../../trainer/eval/topk_accuracy.js";
import { Rng } from "../../trainer/utils/rng.js";
import { gaussianBlobs } from "./synthetic_features.js";

beforeAll(async () => {
  await tf.setBackend("wasm");
  await tf.ready();
});

/** Mean softmax cross-entropy + (λ/2)‖W‖² (W row-major [classes, dim]), straight from the definition, in float64. */
function referenceLoss(
  features: Float32Array,
  labels: Int32Array,
  dim: number,
  classes: number,
  params: Float64Array,
  weightDecay: number,
): number {
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const logits = Array.from({ length: classes }, (_, c) => {
      let z = params[dim * classes + c];
      for (let j = 0; j < dim; j++) z += features[i * dim + j] * params[c * dim + j];
      return z;
    });
    const logSumExp = Math.log(logits.reduce((s, z) => s + Math.exp(z), 0));
    total += logSumExp - logits[labels[i]];
  }
  let squared = 0;
  for (let j = 0; j < dim * classes; j++) squared += params[j] ** 2;
  return total / labels.length + 0.5 * weightDecay * squared;
}

describe("SoftmaxCrossEntropyObjective", () => {
  const data = gaussianBlobs({ numClasses: 3, dim: 5, perClass: 20, separation: 1, seed: 11, split: "train" });
  const rng = Rng.fromSeed(4, "params");
  const params = Float64Array.from({ length: 5 * 3 + 3 }, () => rng.normal() * 0.5);
  let objective: SoftmaxCrossEntropyObjective;
  beforeAll(() => {
    objective = new SoftmaxCrossEntropyObjective(data, 5, 3);
  });
  afterAll(() => objective.dispose());

  it("computes the regularised mean cross-entropy", () => {
    const loss = objective.evaluate(params, 0.3, new Float64Array(params.length));
    expect(loss).toBeCloseTo(referenceLoss(data.features, data.labels, 5, 3, params, 0.3), 5);
  });

  it("returns the gradient of that loss (central differences agree)", () => {
    const gradient = new Float64Array(params.length);
    objective.evaluate(params, 0.3, gradient);
    const h = 1e-3;
    for (let p = 0; p < params.length; p++) {
      const plus = Float64Array.from(params);
      const minus = Float64Array.from(params);
      plus[p] += h;
      minus[p] -= h;
      const numeric =
        (referenceLoss(data.features, data.labels, 5, 3, plus, 0.3) -
          referenceLoss(data.features, data.labels, 5, 3, minus, 0.3)) /
        (2 * h);
      expect(Math.abs(gradient[p] - numeric)).toBeLessThan(1e-5);
    }
  });

  it("decays the weights but not the bias", () => {
    const without = new Float64Array(params.length);
    const withDecay = new Float64Array(params.length);
    objective.evaluate(params, 0, without);
    objective.evaluate(params, 2, withDecay);
    const weightCount = 5 * 3;
    for (let p = 0; p < weightCount; p++) expect(withDecay[p] - without[p]).toBeCloseTo(2 * params[p], 5);
    for (let p = weightCount; p < params.length; p++) expect(withDecay[p]).toBe(without[p]);
  });
});

describe("fitLogisticRegression", () => {
  it("separates well-separated blobs on the rows it was fitted to", () => {
    const data = gaussianBlobs({ numClasses: 5, dim: 16, perClass: 40, separation: 1.5, seed: 2, split: "train" });
    const objective = new SoftmaxCrossEntropyObjective(data, 16, 5);
    try {
      const fit = fitLogisticRegression(objective, { weightDecay: 1e-3, maxIterations: 200 });
      expect(topKAccuracy(classifierScores(fit.classifier, data.features), data.labels, 5, 1)).toBe(1);
      expect(["gradient-tolerance", "loss-tolerance"]).toContain(fit.stopReason);
    } finally {
      objective.dispose();
    }
  });

  it("needs almost no iterations when warm-started at its own solution", () => {
    const data = gaussianBlobs({ numClasses: 3, dim: 8, perClass: 30, separation: 0.5, seed: 9, split: "train" });
    const objective = new SoftmaxCrossEntropyObjective(data, 8, 3);
    try {
      const cold = fitLogisticRegression(objective, { weightDecay: 1e-2, maxIterations: 300 });
      const warm = fitLogisticRegression(objective, {
        weightDecay: 1e-2,
        maxIterations: 300,
        initial: cold.classifier,
      });
      expect(cold.iterations).toBeGreaterThan(5);
      expect(warm.iterations).toBeLessThanOrEqual(2);
      expect(warm.loss).toBeLessThanOrEqual(cold.loss + 1e-9);
    } finally {
      objective.dispose();
    }
  });

  it("shrinks the weights as weight decay grows", () => {
    const data = gaussianBlobs({ numClasses: 3, dim: 8, perClass: 30, separation: 0.5, seed: 9, split: "train" });
    const objective = new SoftmaxCrossEntropyObjective(data, 8, 3);
    const norm = (w: Float64Array): number => Math.sqrt(w.reduce((s, v) => s + v * v, 0));
    try {
      const weak = fitLogisticRegression(objective, { weightDecay: 1e-3, maxIterations: 300 });
      const strong = fitLogisticRegression(objective, { weightDecay: 1, maxIterations: 300 });
      expect(norm(strong.classifier.weights)).toBeLessThan(0.5 * norm(weak.classifier.weights));
    } finally {
      objective.dispose();
    }
  });

  it("leaves no tensors behind", () => {
    const before = tf.memory().numTensors;
    const data = gaussianBlobs({ numClasses: 3, dim: 4, perClass: 10, separation: 1, seed: 1, split: "train" });
    const objective = new SoftmaxCrossEntropyObjective(data, 4, 3);
    const fit = fitLogisticRegression(objective, { weightDecay: 1e-2, maxIterations: 20 });
    objective.dispose();
    classifierScores(fit.classifier, data.features);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("rejects a negative weight decay and a warm start of the wrong shape", () => {
    const data = gaussianBlobs({ numClasses: 3, dim: 4, perClass: 5, separation: 1, seed: 1, split: "train" });
    const objective = new SoftmaxCrossEntropyObjective(data, 4, 3);
    try {
      expect(() => fitLogisticRegression(objective, { weightDecay: -1, maxIterations: 5 })).toThrow(DataError);
      const wrong = { dim: 5, numClasses: 3, weights: new Float64Array(15), bias: new Float64Array(3) };
      expect(() => fitLogisticRegression(objective, { weightDecay: 0, maxIterations: 5, initial: wrong })).toThrow(
        /warm start/,
      );
    } finally {
      objective.dispose();
    }
  });
});

describe("classifierScores", () => {
  it("computes x·W + b row by row, across chunk boundaries", () => {
    const rows = 9000;
    const features = Float32Array.from({ length: rows * 2 }, (_, i) => (i % 7) - 3);
    // Class 0 scores 1·x₀ + 0.5, class 1 scores 3·x₀ + 2·x₁ − 1 (W is [classes, dim]).
    const classifier = {
      dim: 2,
      numClasses: 2,
      weights: Float64Array.from([1, 0, 3, 2]),
      bias: Float64Array.from([0.5, -1]),
    };
    const scores = classifierScores(classifier, features);
    for (const i of [0, 1, 8191, 8192, 8999]) {
      expect(scores[i * 2]).toBeCloseTo(features[i * 2] + 0.5, 5);
      expect(scores[i * 2 + 1]).toBeCloseTo(3 * features[i * 2] + 2 * features[i * 2 + 1] - 1, 5);
    }
  });
});
