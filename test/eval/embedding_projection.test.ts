import { describe, expect, it } from "vitest";
import {
  evenlySpacedIndices,
  jacobiEigen,
  principalAxes,
  projectEmbeddings,
} from "../../trainer/eval/embedding_projection.js";
import { DataError } from "../../trainer/errors.js";
import { Rng } from "../../trainer/utils/rng.js";

/** A rotation of R^dim (orthonormal rows) from Gram–Schmidt on seeded random vectors. */
function orthonormalBasis(dim: number, seed: number): Float64Array[] {
  const rng = Rng.fromSeed(seed, "basis");
  const basis: Float64Array[] = [];
  while (basis.length < dim) {
    const v = Float64Array.from({ length: dim }, () => rng.normal());
    for (const b of basis) {
      const d = v.reduce((s, x, i) => s + x * b[i], 0);
      for (let i = 0; i < dim; i++) v[i] -= d * b[i];
    }
    const norm = Math.hypot(...v);
    basis.push(v.map((x) => x / norm));
  }
  return basis;
}

/** n points whose spread along basis[k] has standard deviation sigmas[k] (exactly: coefficients are whitened). */
function pointsAlong(basis: Float64Array[], sigmas: number[], n: number, seed: number): Float64Array {
  const dim = basis[0].length;
  const rng = Rng.fromSeed(seed, "points");
  const coeffs = sigmas.map(() => Float64Array.from({ length: n }, () => rng.normal()));
  // Centre, whiten and decorrelate the coefficient columns, so the sample covariance is exactly diag(sigma²).
  for (let k = 0; k < coeffs.length; k++) {
    const c = coeffs[k];
    for (let p = 0; p < k; p++) {
      const d = c.reduce((s, x, i) => s + x * coeffs[p][i], 0) / n;
      for (let i = 0; i < n; i++) c[i] -= d * coeffs[p][i];
    }
    const mean = c.reduce((s, x) => s + x, 0) / n;
    for (let i = 0; i < n; i++) c[i] -= mean;
    const std = Math.sqrt(c.reduce((s, x) => s + x * x, 0) / n);
    for (let i = 0; i < n; i++) c[i] /= std;
  }
  const x = new Float64Array(n * dim);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < sigmas.length; k++)
      for (let j = 0; j < dim; j++) x[i * dim + j] += sigmas[k] * coeffs[k][i] * basis[k][j];
  return x;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i], 0);

describe("principalAxes", () => {
  it("finds the known axes of data spread along a rotated basis, with their variances", () => {
    const dim = 12;
    const basis = orthonormalBasis(dim, 3);
    const sigmas = [5, 3, 1, 0.8, 0.5, 0.3];
    const axes = principalAxes(pointsAlong(basis, sigmas, 500, 1), dim, { count: 3 });
    for (let k = 0; k < 3; k++) {
      expect(Math.abs(dot(axes.components[k], basis[k]))).toBeCloseTo(1, 9);
      expect(axes.variances[k]).toBeCloseTo(sigmas[k] ** 2, 8);
      expect(dot(axes.components[k], axes.components[k])).toBeCloseTo(1, 12);
    }
    expect(dot(axes.components[0], axes.components[1])).toBeCloseTo(0, 10);
    expect(axes.totalVariance).toBeCloseTo(
      sigmas.reduce((s, x) => s + x * x, 0),
      8,
    );
  });

  it("separates two axes whose variances differ by 1 %, among many others of nearly the same size", () => {
    const dim = 64;
    const basis = orthonormalBasis(dim, 5);
    const sigmas = [Math.sqrt(1.01), 1, ...Array.from({ length: 40 }, (_, i) => Math.sqrt(0.99 - i * 0.01))];
    const axes = principalAxes(pointsAlong(basis, sigmas, 1000, 2), dim);
    expect(Math.abs(dot(axes.components[0], basis[0]))).toBeCloseTo(1, 6);
    expect(Math.abs(dot(axes.components[1], basis[1]))).toBeCloseTo(1, 6);
  });

  it("gives each axis the sign that makes its largest entry positive", () => {
    const dim = 6;
    const basis = orthonormalBasis(dim, 9);
    const x = pointsAlong(basis, [4, 2], 200, 4);
    const flipped = x.map((v) => -v); // the same cloud mirrored: same axes up to sign
    for (const data of [x, flipped]) {
      const axes = principalAxes(data, dim);
      for (const c of axes.components) {
        const largest = Array.from(c).reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0);
        expect(largest).toBeGreaterThan(0);
      }
    }
    expect(principalAxes(flipped, dim).components[0]).toEqual(principalAxes(x, dim).components[0]);
  });

  it("refuses fewer than two rows", () => {
    expect(() => principalAxes(new Float64Array(5), 5)).toThrow(DataError);
  });
});

describe("jacobiEigen", () => {
  it("diagonalises a symmetric matrix: A v = λ v for every pair", () => {
    const a = Float64Array.from([4, 1, 2, 1, 3, 0.5, 2, 0.5, 1]);
    const { values, vectors } = jacobiEigen(a, 3);
    for (let i = 0; i < 3; i++) {
      const v = [0, 1, 2].map((r) => vectors[r * 3 + i]);
      for (let r = 0; r < 3; r++) expect(dot(a.subarray(r * 3, r * 3 + 3), v)).toBeCloseTo(values[i] * v[r], 12);
    }
    expect(values.reduce((s, x) => s + x, 0)).toBeCloseTo(8, 12); // the trace
  });
});

describe("projectEmbeddings", () => {
  it("puts each point at its coordinates on the two main axes, labels alongside", () => {
    const dim = 8;
    const basis = orthonormalBasis(dim, 11);
    const n = 300;
    const x = pointsAlong(basis, [6, 2, 0.5], n, 7);
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    const p = projectEmbeddings(Float32Array.from(x), labels, dim, { standardize: false });
    expect(p.count).toBe(n);
    expect(p.labels).toEqual(labels);
    const sign0 = Math.sign(p.x[0] / dot(x.subarray(0, dim), basis[0]));
    const sign1 = Math.sign(p.y[0] / dot(x.subarray(0, dim), basis[1]));
    for (const i of [0, 17, 299]) {
      const row = x.subarray(i * dim, (i + 1) * dim);
      expect(p.x[i]).toBeCloseTo(sign0 * dot(row, basis[0]), 4);
      expect(p.y[i]).toBeCloseTo(sign1 * dot(row, basis[1]), 4);
    }
    expect(p.explainedVariance[0]).toBeCloseTo(36 / 40.25, 5);
    expect(p.explainedVariance[1]).toBeCloseTo(4 / 40.25, 5);
  });

  it("projects at most maxPoints rows, evenly spaced so every class of a class-sorted split stays", () => {
    const dim = 4;
    const n = 5000;
    const rng = Rng.fromSeed(1, "x");
    const features = Float32Array.from({ length: n * dim }, () => rng.normal());
    const labels = Array.from({ length: n }, (_, i) => Math.floor(i / 500)); // sorted by class, 10 classes
    const p = projectEmbeddings(features, labels, dim, { maxPoints: 2000 });
    expect(p.count).toBe(2000);
    expect(p.x).toHaveLength(2000);
    expect(new Set(p.labels).size).toBe(10);
    expect(p.labels.filter((l) => l === 9)).toHaveLength(200);
    expect(Array.from(evenlySpacedIndices(10, 4))).toEqual([0, 2, 5, 7]);
    expect(Array.from(evenlySpacedIndices(3, 4))).toEqual([0, 1, 2]);
  });

  it("standardises columns first, so one loud feature does not decide the picture alone", () => {
    const n = 400;
    const rng = Rng.fromSeed(2, "loud");
    const rows = Array.from({ length: n }, () => {
      const a = rng.normal();
      return [1000 * rng.normal(), a, a + 0.1 * rng.normal()];
    });
    const features = Float32Array.from(rows.flat());
    const labels = new Array(n).fill(0);
    // Raw: the loud column is the first axis. Standardised: the two correlated columns are.
    expect(projectEmbeddings(features, labels, 3, { standardize: false }).explainedVariance[0]).toBeGreaterThan(0.999);
    const std = projectEmbeddings(features, labels, 3);
    expect(std.explainedVariance[0]).toBeGreaterThan(0.6);
    expect(std.explainedVariance[0]).toBeLessThan(0.7);
  });

  it("refuses non-finite features, naming the row, instead of drawing NaN everywhere", () => {
    const features = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i));
    features[13] = Infinity;
    expect(() => projectEmbeddings(features, new Array(10).fill(0), 4)).toThrow(/row 3 hold a non-finite value/);
  });

  it("refuses labels that do not match the rows", () => {
    expect(() => projectEmbeddings(new Float32Array(12), [0, 1], 4)).toThrow(/3 rows but there are 2 labels/);
  });
});
