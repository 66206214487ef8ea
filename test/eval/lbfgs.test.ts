import { describe, expect, it } from "vitest";
import { type DifferentiableObjective, minimizeLbfgs } from "../../trainer/eval/lbfgs.js";
import { Rng } from "../../trainer/utils/rng.js";

/**
 * f(x) = ½ (x − x*)ᵀ A (x − x*) with A = MᵀM + I (SPD, condition number ~100), so the minimiser
 * is x* and the minimum 0 (written around x* so float64 round-off in f does not hide the last digits).
 */
function quadratic(n: number, seed: number): { objective: DifferentiableObjective; minimiser: Float64Array } {
  const rng = Rng.fromSeed(seed, "quadratic");
  const m = Array.from({ length: n * n }, () => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = i === j ? 1 : 0;
      for (let k = 0; k < n; k++) sum += m[k * n + i] * m[k * n + j];
      a[i * n + j] = sum;
    }
  }
  const minimiser = Float64Array.from({ length: n }, () => rng.normal() * 3);
  const objective: DifferentiableObjective = (x, gradient) => {
    let f = 0;
    for (let i = 0; i < n; i++) {
      let ae = 0;
      for (let j = 0; j < n; j++) ae += a[i * n + j] * (x[j] - minimiser[j]);
      gradient[i] = ae;
      f += 0.5 * (x[i] - minimiser[i]) * ae;
    }
    return f;
  };
  return { objective, minimiser };
}

/** The extended Rosenbrock function Σ 100(x_{i+1} − x_i²)² + (1 − x_i)², minimum 0 at all ones. */
const rosenbrock: DifferentiableObjective = (x, gradient) => {
  gradient.fill(0);
  let f = 0;
  for (let i = 0; i + 1 < x.length; i++) {
    const t = x[i + 1] - x[i] * x[i];
    const u = 1 - x[i];
    f += 100 * t * t + u * u;
    gradient[i] += -400 * x[i] * t - 2 * u;
    gradient[i + 1] += 200 * t;
  }
  return f;
};

function maxAbsDifference(a: Float64Array, b: Float64Array): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

describe("minimizeLbfgs", () => {
  it("finds the minimiser of a 30-dimensional convex quadratic", () => {
    const { objective, minimiser } = quadratic(30, 7);
    const result = minimizeLbfgs(objective, new Float64Array(30), {
      maxIterations: 500,
      gradientTolerance: 1e-8,
      relativeLossTolerance: 0,
    });
    expect(result.stopReason).toBe("gradient-tolerance");
    expect(maxAbsDifference(result.x, minimiser)).toBeLessThan(1e-7);
  });

  it("with the Hessian's inverse as preconditioner, solves a quadratic of condition 1e6 in a few iterations", () => {
    // f(x) = ½ Σ a_i (x_i − 1)², a_i spread over six decades: plain L-BFGS needs many iterations, whitened it needs ~1.
    const n = 200;
    const curvature = Float64Array.from({ length: n }, (_, i) => 10 ** (-3 + (6 * i) / (n - 1)));
    const objective: DifferentiableObjective = (x, gradient) => {
      let f = 0;
      for (let i = 0; i < n; i++) {
        gradient[i] = curvature[i] * (x[i] - 1);
        f += 0.5 * curvature[i] * (x[i] - 1) ** 2;
      }
      return f;
    };
    const options = { maxIterations: 1000, gradientTolerance: 1e-9, relativeLossTolerance: 0 };
    const plain = minimizeLbfgs(objective, new Float64Array(n), options);
    const preconditioned = minimizeLbfgs(objective, new Float64Array(n), {
      ...options,
      preconditioner: (v, out) => {
        for (let i = 0; i < n; i++) out[i] = v[i] / curvature[i];
      },
    });
    expect(preconditioned.stopReason).toBe("gradient-tolerance");
    expect(maxAbsDifference(preconditioned.x, new Float64Array(n).fill(1))).toBeLessThan(1e-6);
    expect(preconditioned.iterations).toBeLessThanOrEqual(3);
    expect(plain.iterations).toBeGreaterThan(10 * preconditioned.iterations);
  });

  it("reaches Rosenbrock's minimum at (1, 1) from the classic start (−1.2, 1)", () => {
    const result = minimizeLbfgs(rosenbrock, Float64Array.from([-1.2, 1]), {
      maxIterations: 200,
      gradientTolerance: 1e-8,
      relativeLossTolerance: 0,
    });
    expect(result.stopReason).toBe("gradient-tolerance");
    expect(maxAbsDifference(result.x, Float64Array.from([1, 1]))).toBeLessThan(1e-6);
    expect(result.loss).toBeLessThan(1e-12);
    // Quasi-Newton speed, not gradient-descent speed (which needs thousands of steps here).
    expect(result.iterations).toBeLessThan(60);
  });

  it("reaches the 10-dimensional Rosenbrock minimum at all ones", () => {
    const start = Float64Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? -1.2 : 1));
    const result = minimizeLbfgs(rosenbrock, start, {
      maxIterations: 500,
      gradientTolerance: 1e-8,
      relativeLossTolerance: 0,
    });
    expect(maxAbsDifference(result.x, new Float64Array(10).fill(1))).toBeLessThan(1e-6);
  });

  it("never accepts a step that raises the loss", () => {
    let previous = Infinity;
    for (let iterations = 1; iterations <= 30; iterations++) {
      const result = minimizeLbfgs(rosenbrock, Float64Array.from([-1.2, 1]), {
        maxIterations: iterations,
        gradientTolerance: 0,
      });
      expect(result.loss).toBeLessThanOrEqual(previous);
      previous = result.loss;
    }
    expect(previous).toBeLessThan(1e-3);
  });

  it("stops at maxIterations and says so", () => {
    const result = minimizeLbfgs(rosenbrock, Float64Array.from([-1.2, 1]), { maxIterations: 3, gradientTolerance: 0 });
    expect(result.iterations).toBe(3);
    expect(result.stopReason).toBe("max-iterations");
  });

  it("treats a step into a region where the objective is not finite as too long", () => {
    // f(x) = x − log x (minimum at 1) is NaN for x < 0; from x = 30 the secant steps overshoot past 0.
    let nonFiniteEvaluations = 0;
    const objective: DifferentiableObjective = (x, gradient) => {
      gradient[0] = 1 - 1 / x[0];
      const f = x[0] - Math.log(x[0]);
      if (!Number.isFinite(f)) nonFiniteEvaluations++;
      return f;
    };
    const result = minimizeLbfgs(objective, Float64Array.from([30]), { maxIterations: 100, gradientTolerance: 1e-10 });
    expect(nonFiniteEvaluations).toBeGreaterThan(0);
    expect(Number.isFinite(result.loss)).toBe(true);
    expect(result.x[0]).toBeCloseTo(1, 6);
  });

  it("returns the start untouched when its gradient is already below tolerance", () => {
    const { objective, minimiser } = quadratic(5, 3);
    const result = minimizeLbfgs(objective, minimiser, { gradientTolerance: 1e-6 });
    expect(result.iterations).toBe(0);
    expect(result.evaluations).toBe(1);
    expect(Array.from(result.x)).toEqual(Array.from(minimiser));
  });

  it("refuses a start where the objective is not finite, naming the loss", () => {
    const objective: DifferentiableObjective = (_x, gradient) => {
      gradient.fill(0);
      return Number.NaN;
    };
    expect(() => minimizeLbfgs(objective, new Float64Array(2))).toThrow(
      /not finite at the starting point \(loss NaN\)/,
    );
  });
});
