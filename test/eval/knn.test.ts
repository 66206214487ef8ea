import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { DataError } from "../../trainer/errors.js";
import { evaluateKnn, knnVotes, l2Normalized } from "../../trainer/eval/knn.js";
import { concentricRings, gaussianBlobs } from "./synthetic_features.js";

beforeAll(async () => {
  await tf.setBackend("wasm");
  await tf.ready();
});

describe("knnVotes", () => {
  it("adds exp(cosine / T) of each of the k nearest train rows to its class", () => {
    // Train rows at 0°, 60° and 180° in the plane; the query at 0° has cosines 1, 0.5, −1.
    const train = {
      features: Float32Array.from([2, 0, 0.5, Math.sqrt(3) / 2, -3, 0]),
      labels: Int32Array.from([0, 1, 1]),
    };
    const votes = knnVotes(train, Float32Array.from([5, 0]), 2, 3, { k: 2, temperature: 0.5 });
    expect(votes[0]).toBeCloseTo(Math.exp(1 / 0.5), 5);
    expect(votes[1]).toBeCloseTo(Math.exp(0.5 / 0.5), 5);
    expect(votes[2]).toBe(0);
  });

  it("breaks ties in similarity in favour of the lower train index", () => {
    // Rows 0 and 1 are the same vector with different labels: with k = 1 only row 0 votes.
    const train = { features: Float32Array.from([1, 1, 1, 1, -1, 0]), labels: Int32Array.from([2, 1, 0]) };
    const votes = knnVotes(train, Float32Array.from([1, 1]), 2, 3, { k: 1 });
    expect(votes[2]).toBeGreaterThan(0);
    expect(votes[1]).toBe(0);
  });

  it("gives the same votes whatever the chunk size", () => {
    const train = gaussianBlobs({ numClasses: 4, dim: 8, perClass: 30, separation: 1, seed: 3, split: "train" });
    const test = gaussianBlobs({ numClasses: 4, dim: 8, perClass: 10, separation: 1, seed: 3, split: "test" });
    const whole = knnVotes(train, test.features, 8, 4, { chunkRows: 1000 });
    const byRow = knnVotes(train, test.features, 8, 4, { chunkRows: 1 });
    const bySeven = knnVotes(train, test.features, 8, 4, { chunkRows: 7 });
    expect(Array.from(byRow)).toEqual(Array.from(whole));
    expect(Array.from(bySeven)).toEqual(Array.from(whole));
  });

  it("lets all train rows vote when k exceeds them", () => {
    const train = { features: Float32Array.from([1, 0, 0, 1]), labels: Int32Array.from([0, 1]) };
    const votes = knnVotes(train, Float32Array.from([1, 0]), 2, 2, { k: 20, temperature: 1 });
    expect(votes[0]).toBeCloseTo(Math.E, 5);
    expect(votes[1]).toBeCloseTo(1, 5);
  });

  it("leaves no tensors behind", () => {
    const before = tf.memory().numTensors;
    const train = gaussianBlobs({ numClasses: 3, dim: 4, perClass: 10, separation: 1, seed: 1, split: "train" });
    knnVotes(train, train.features, 4, 3, { chunkRows: 4 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("rejects a bad k or temperature with a DataError", () => {
    const train = { features: Float32Array.from([1, 0]), labels: Int32Array.from([0]) };
    expect(() => knnVotes(train, Float32Array.from([1, 0]), 2, 2, { k: 0 })).toThrow(DataError);
    expect(() => knnVotes(train, Float32Array.from([1, 0]), 2, 2, { temperature: 0 })).toThrow(DataError);
  });
});

describe("evaluateKnn", () => {
  it("classifies concentric rings almost perfectly, since neighbours share a ring", () => {
    const train = concentricRings({ numClasses: 4, perClass: 300, seed: 5, split: "train" });
    const test = concentricRings({ numClasses: 4, perClass: 100, seed: 5, split: "test" });
    const result = evaluateKnn(train, test, 3, 4);
    expect(result.top1).toBeGreaterThan(0.97);
    expect(result.top5).toBeUndefined();
    expect(result).toMatchObject({ k: 20, temperature: 0.07 });
  });

  it("measures scale-free similarity: scaling a query row does not change its votes", () => {
    const train = gaussianBlobs({ numClasses: 3, dim: 6, perClass: 20, separation: 1, seed: 2, split: "train" });
    const query = train.features.slice(0, 6);
    const scaled = query.map((v) => v * 37);
    const reference = knnVotes(train, query, 6, 3);
    const votes = knnVotes(train, scaled, 6, 3);
    // Equal up to float32 round-off in the normalisation.
    for (const [c, v] of votes.entries()) expect(Math.abs(v - reference[c])).toBeLessThanOrEqual(1e-6 * reference[c]);
    expect(reference.some((v) => v > 0)).toBe(true);
  });
});

describe("l2Normalized", () => {
  it("scales every row to unit length and leaves a zero row at zero", () => {
    const out = l2Normalized(Float32Array.from([3, 4, 0, 0]), 2);
    expect(Array.from(out)).toEqual([Math.fround(0.6), Math.fround(0.8), 0, 0]);
  });
});
