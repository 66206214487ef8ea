import { describe, expect, it } from "vitest";
import { collapseMetrics, rankMe, symmetricEigenvalues } from "../../trainer/train/collapse_metrics.js";
import { Rng } from "../../trainer/utils/rng.js";

describe("collapse metrics", () => {
  it("finds the eigenvalues of a symmetric matrix", () => {
    expect(symmetricEigenvalues(Float64Array.from([2, 1, 1, 2]), 2).sort()).toEqual([
      expect.closeTo(1, 10),
      expect.closeTo(3, 10),
    ]);
  });

  it("a collapsed representation (every sample the same) has zero spread and effective rank 1", () => {
    const d = 8;
    const f = new Float32Array(20 * d).map((_, i) => (i % d) * 0.1);
    const m = collapseMetrics(f, 20, d);
    expect(m.targetStd).toBe(0);
    expect(m.effectiveRank).toBeCloseTo(1, 3);
  });

  it("a large shared mean does not hide the spread: the effective rank is that of the centred features", () => {
    const rng = Rng.fromSeed(2);
    const n = 300;
    const d = 12;
    const shifted = Float32Array.from({ length: n * d }, () => 10 + 0.05 * rng.normal());
    expect(rankMe(shifted, n, d)).toBeLessThan(1.5); // the uncentred RankMe sees only the mean
    expect(collapseMetrics(shifted, n, d).effectiveRank).toBeGreaterThan(10);
  });

  it("with fewer samples than dimensions, gives the same rank as the full-size computation", () => {
    const rng = Rng.fromSeed(3);
    const n = 6;
    const d = 20;
    const f = Float32Array.from({ length: n * d }, () => rng.normal());
    // Reference: pad with zero rows to n = d, which leaves ZᵀZ (and so RankMe) unchanged.
    const padded = new Float32Array(d * d);
    padded.set(f);
    // (Equal up to the eps RankMe adds to each of the extra zero singular values.)
    expect(rankMe(f, n, d)).toBeCloseTo(rankMe(padded, d, d), 3);
    expect(rankMe(f, n, d)).toBeLessThanOrEqual(n);
  });

  it("isotropic features have a rank close to their width; rank-2 features close to 2", () => {
    const rng = Rng.fromSeed(1);
    const n = 400;
    const d = 16;
    const iso = Float32Array.from({ length: n * d }, () => rng.normal());
    expect(rankMe(iso, n, d)).toBeGreaterThan(14);
    const low = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const a = rng.normal();
      const b = rng.normal();
      for (let j = 0; j < d; j++) low[i * d + j] = j < d / 2 ? a : b;
    }
    expect(rankMe(low, n, d)).toBeGreaterThan(1.5);
    expect(rankMe(low, n, d)).toBeLessThan(2.01);
    expect(collapseMetrics(iso, n, d).targetStd).toBeCloseTo(1, 1);
  });
});
