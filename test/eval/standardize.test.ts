import { describe, expect, it } from "vitest";
import { DataError } from "../../trainer/errors.js";
import { FeatureStandardizer, STD_FLOOR } from "../../trainer/eval/standardize.js";

describe("FeatureStandardizer", () => {
  // Two columns: the first varies (mean 2, population std 1), the second is constant 5.
  const train = Float32Array.from([1, 5, 3, 5, 1, 5, 3, 5]);

  it("estimates the population mean and std of each train column", () => {
    const standardizer = FeatureStandardizer.fit(train, 2);
    expect(Array.from(standardizer.mean)).toEqual([2, 5]);
    expect(standardizer.std[0]).toBeCloseTo(1, 12);
  });

  it("gives the train features mean 0 and std 1 in every varying column", () => {
    const out = FeatureStandardizer.fit(train, 2).apply(train);
    expect(Array.from(out.filter((_, i) => i % 2 === 0))).toEqual([-1, 1, -1, 1]);
  });

  it("maps a constant train column to 0 instead of NaN, by flooring its std", () => {
    const standardizer = FeatureStandardizer.fit(train, 2);
    expect(standardizer.std[1]).toBe(STD_FLOOR);
    const out = standardizer.apply(train);
    expect(Array.from(out.filter((_, i) => i % 2 === 1))).toEqual([0, 0, 0, 0]);
  });

  it("applies the train statistics to test features, however the test features are distributed", () => {
    const standardizer = FeatureStandardizer.fit(train, 2);
    // A shifted, scaled test split: standardising it with its own statistics would give ±1 again.
    const test = Float32Array.from([10, 5, 14, 5]);
    const out = standardizer.apply(test);
    expect(out[0]).toBeCloseTo(8, 5);
    expect(out[2]).toBeCloseTo(12, 5);
  });

  it("does not change when it is applied to other data", () => {
    const standardizer = FeatureStandardizer.fit(train, 2);
    standardizer.apply(Float32Array.from([1000, -1000, 2000, 7]));
    expect(Array.from(standardizer.mean)).toEqual([2, 5]);
    expect(standardizer.std[0]).toBeCloseTo(1, 12);
  });

  it("keeps precision when the mean is far larger than the spread", () => {
    const offset = Float32Array.from({ length: 1000 }, (_, i) => 1e4 + (i % 2 === 0 ? -0.5 : 0.5));
    expect(FeatureStandardizer.fit(offset, 1).std[0]).toBeCloseTo(0.5, 6);
  });

  it("rejects a matrix that is not a whole number of rows", () => {
    expect(() => FeatureStandardizer.fit(Float32Array.from([1, 2, 3]), 2)).toThrow(DataError);
    expect(() => FeatureStandardizer.fit(new Float32Array(4), 2).apply(new Float32Array(3), "test features")).toThrow(
      /test features/,
    );
  });
});
