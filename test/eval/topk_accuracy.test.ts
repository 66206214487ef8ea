import { describe, expect, it } from "vitest";
import { classificationAccuracy, topKAccuracy } from "../../trainer/eval/topk_accuracy.js";

describe("topKAccuracy", () => {
  it("counts a row when its label has the highest score", () => {
    const scores = Float32Array.from([0.1, 0.9, 0.8, 0.2, 0.3, 0.7]);
    expect(topKAccuracy(scores, Int32Array.from([1, 0, 0]), 2, 1)).toBeCloseTo(2 / 3, 12);
  });

  it("breaks ties in favour of the lower class index", () => {
    const scores = Float32Array.from([0.5, 0.5, 0.5, 0.5]);
    expect(topKAccuracy(scores, Int32Array.from([0, 1]), 2, 1)).toBe(0.5);
  });

  it("counts the label among the best k", () => {
    // Label 3 is ranked third.
    const scores = Float32Array.from([0.9, 0.8, 0.1, 0.5, 0.0, 0.0, 0.0]);
    const labels = Int32Array.from([3]);
    expect(topKAccuracy(scores, labels, 7, 2)).toBe(0);
    expect(topKAccuracy(scores, labels, 7, 3)).toBe(1);
  });

  it("never counts a NaN score as correct", () => {
    expect(topKAccuracy(Float32Array.from([Number.NaN, 0]), Int32Array.from([0]), 2, 1)).toBe(0);
  });

  it("reports top-5 only when there are more than 5 classes", () => {
    expect(classificationAccuracy(new Float32Array(5), Int32Array.from([4]), 5)).toEqual({ top1: 0 });
    const sixClasses = classificationAccuracy(Float32Array.from([6, 5, 4, 3, 2, 1]), Int32Array.from([4]), 6);
    expect(sixClasses).toEqual({ top1: 0, top5: 1 });
  });
});
