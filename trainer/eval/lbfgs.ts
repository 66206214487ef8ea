// Limited-memory BFGS with a strong-Wolfe line search, for smooth objectives over a Float64Array.
import { ConfigError, IjepaError } from "../errors.js";

/** Returns f(x) and writes ∇f(x) into `gradient` (same length as x). Must not keep or modify `x`. */
export type DifferentiableObjective = (x: Float64Array, gradient: Float64Array) => number;

/**
 * Writes M⁻¹·v into `out` for a fixed symmetric positive-definite M that approximates the Hessian's shape
 * (its scale does not matter). Must not keep or modify `v`.
 */
export type Preconditioner = (v: Float64Array, out: Float64Array) => void;

export interface LbfgsOptions {
  /** Curvature pairs kept (m). Default 10. */
  historySize?: number;
  /** Iterations (line searches) before giving up. Default 100. */
  maxIterations?: number;
  /** Stop once max |∇f| is at or below this. Default 1e-6. */
  gradientTolerance?: number;
  /** Stop once |f_prev − f| ≤ this × max(|f_prev|, |f|, 1) (scipy's ftol). Default 1e-10. */
  relativeLossTolerance?: number;
  /** Objective evaluations allowed within one line search. Default 25. */
  maxLineSearchEvaluations?: number;
  /** Sufficient-decrease (Armijo) constant. Default 1e-4. */
  armijo?: number;
  /** Curvature constant of the strong Wolfe condition. Default 0.9. */
  curvature?: number;
  /**
   * Initial inverse-Hessian shape: H₀ = γ·M⁻¹ instead of γ·I (preconditioned L-BFGS, the same iterates as
   * plain L-BFGS on variables whitened by M). On an ill-conditioned problem with a good M this cuts the
   * iterations several-fold. Default: none (the identity).
   */
  preconditioner?: Preconditioner;
}

/** Why the minimiser stopped. "no-progress": a line search found no lower point (usually the noise floor). */
export type LbfgsStopReason = "gradient-tolerance" | "loss-tolerance" | "max-iterations" | "no-progress";

export interface LbfgsResult {
  x: Float64Array;
  loss: number;
  gradient: Float64Array;
  /** max |∇f| at x. */
  gradientMaxAbs: number;
  iterations: number;
  evaluations: number;
  stopReason: LbfgsStopReason;
}

/**
 * Minimises `objective` from `x0` (Nocedal & Wright, Alg. 7.5 with the two-loop recursion 7.4). The
 * first step is scaled to min(1, 1/‖g‖₁) like PyTorch's LBFGS; later steps start at 1, which the
 * H₀ = (sᵀy / yᵀy)·I scaling makes the natural length.
 */
export function minimizeLbfgs(
  objective: DifferentiableObjective,
  x0: Float64Array,
  options: LbfgsOptions = {},
): LbfgsResult {
  const historySize = options.historySize ?? 10;
  const maxIterations = options.maxIterations ?? 100;
  const gradientTolerance = options.gradientTolerance ?? 1e-6;
  const relativeLossTolerance = options.relativeLossTolerance ?? 1e-10;
  const lineSearch: LineSearchSettings = {
    maxEvaluations: options.maxLineSearchEvaluations ?? 25,
    armijo: options.armijo ?? 1e-4,
    curvature: options.curvature ?? 0.9,
  };
  if (!Number.isInteger(historySize) || historySize < 1) {
    throw new ConfigError(`L-BFGS historySize ${historySize} must be an integer ≥ 1`, "use e.g. 10");
  }
  if (!Number.isInteger(maxIterations) || maxIterations < 0) {
    throw new ConfigError(`L-BFGS maxIterations ${maxIterations} must be an integer ≥ 0`, "use e.g. 300");
  }

  const n = x0.length;
  let x: Float64Array = Float64Array.from(x0);
  let gradient: Float64Array = new Float64Array(n);
  let loss = objective(x, gradient);
  let evaluations = 1;
  if (!Number.isFinite(loss) || !gradient.every(Number.isFinite)) {
    throw new IjepaError(
      `L-BFGS: the objective is not finite at the starting point (loss ${loss})`,
      "check the inputs for NaN/Inf or start from smaller parameters",
    );
  }
  const done = (iterations: number, stopReason: LbfgsStopReason): LbfgsResult => ({
    x,
    loss,
    gradient,
    gradientMaxAbs: maxAbs(gradient),
    iterations,
    evaluations,
    stopReason,
  });
  if (maxAbs(gradient) <= gradientTolerance) return done(0, "gradient-tolerance");
  if (maxIterations === 0) return done(0, "max-iterations");

  const history = new CurvatureHistory(n, historySize, options.preconditioner);
  const direction = new Float64Array(n);
  for (let iteration = 1; ; iteration++) {
    history.direction(gradient, direction);
    let slope = dot(gradient, direction);
    if (!(slope < 0)) {
      // Round-off can make H·g point uphill after many tiny steps; fall back to (preconditioned) steepest descent.
      history.clear();
      history.direction(gradient, direction);
      slope = dot(gradient, direction);
    }
    const initialStep = history.size === 0 ? Math.min(1, 1 / sumAbs(direction)) : 1;
    const found = strongWolfeLineSearch(objective, x, loss, gradient, direction, slope, initialStep, lineSearch);
    evaluations += found.evaluations;
    if (found.step === 0 || !(found.loss <= loss)) {
      if (history.size > 0) {
        // The quasi-Newton model went stale; one retry along −g before declaring the minimum reached.
        history.clear();
        iteration--;
        continue;
      }
      return done(iteration - 1, "no-progress");
    }

    const nextX = new Float64Array(n);
    for (let i = 0; i < n; i++) nextX[i] = x[i] + found.step * direction[i];
    history.push(x, nextX, gradient, found.gradient);
    const previousLoss = loss;
    x = nextX;
    loss = found.loss;
    gradient = found.gradient;

    if (maxAbs(gradient) <= gradientTolerance) return done(iteration, "gradient-tolerance");
    if (Math.abs(previousLoss - loss) <= relativeLossTolerance * Math.max(Math.abs(previousLoss), Math.abs(loss), 1)) {
      return done(iteration, "loss-tolerance");
    }
    if (iteration >= maxIterations) return done(iteration, "max-iterations");
  }
}

/** The m most recent (s, y) pairs and the two-loop recursion that turns them into a search direction. */
class CurvatureHistory {
  private readonly s: Float64Array[] = [];
  private readonly y: Float64Array[] = [];
  private readonly rho: number[] = [];
  /** γ of H₀ = γ·M⁻¹ from the newest pair: sᵀy / yᵀM⁻¹y (sᵀy / yᵀy without a preconditioner). */
  private gamma = 1;
  private readonly alpha: Float64Array;
  private readonly scratch: Float64Array;

  constructor(
    private readonly n: number,
    private readonly capacity: number,
    private readonly preconditioner?: Preconditioner,
  ) {
    this.alpha = new Float64Array(capacity);
    this.scratch = new Float64Array(preconditioner ? n : 0);
  }

  get size(): number {
    return this.s.length;
  }

  clear(): void {
    this.s.length = 0;
    this.y.length = 0;
    this.rho.length = 0;
  }

  /** Adds the pair from a step x → nextX; skipped when sᵀy is not clearly positive (the update would lose positive-definiteness). */
  push(x: Float64Array, nextX: Float64Array, gradient: Float64Array, nextGradient: Float64Array): void {
    const s = new Float64Array(this.n);
    const y = new Float64Array(this.n);
    for (let i = 0; i < this.n; i++) {
      s[i] = nextX[i] - x[i];
      y[i] = nextGradient[i] - gradient[i];
    }
    const sy = dot(s, y);
    if (!(sy > 1e-10 * Math.sqrt(dot(s, s) * dot(y, y)))) return;
    if (this.s.length === this.capacity) {
      this.s.shift();
      this.y.shift();
      this.rho.shift();
    }
    this.s.push(s);
    this.y.push(y);
    this.rho.push(1 / sy);
    if (this.preconditioner) {
      this.preconditioner(y, this.scratch);
      this.gamma = sy / dot(y, this.scratch);
    } else {
      this.gamma = sy / dot(y, y);
    }
  }

  /** Writes −H·g into `out`, with H the L-BFGS inverse-Hessian approximation. */
  direction(gradient: Float64Array, out: Float64Array): void {
    const n = this.n;
    const m = this.s.length;
    for (let i = 0; i < n; i++) out[i] = -gradient[i];
    for (let j = m - 1; j >= 0; j--) {
      const a = this.rho[j] * dot(this.s[j], out);
      this.alpha[j] = a;
      const y = this.y[j];
      for (let i = 0; i < n; i++) out[i] -= a * y[i];
    }
    if (this.preconditioner) {
      this.scratch.set(out);
      this.preconditioner(this.scratch, out);
    }
    if (m > 0) {
      const gamma = this.gamma;
      for (let i = 0; i < n; i++) out[i] *= gamma;
    }
    for (let j = 0; j < m; j++) {
      const beta = this.rho[j] * dot(this.y[j], out);
      const s = this.s[j];
      const coefficient = this.alpha[j] - beta;
      for (let i = 0; i < n; i++) out[i] += coefficient * s[i];
    }
  }
}

interface LineSearchSettings {
  maxEvaluations: number;
  armijo: number;
  curvature: number;
}

interface LineSearchPoint {
  step: number;
  loss: number;
  gradient: Float64Array;
  /** Directional derivative ∇f(x + step·d)·d. */
  slope: number;
}

interface LineSearchResult {
  step: number;
  loss: number;
  gradient: Float64Array;
  evaluations: number;
}

/**
 * Finds a step t along d satisfying the strong Wolfe conditions: bracketing phase, then zoom with
 * safeguarded cubic interpolation (Nocedal & Wright Alg. 3.5/3.6, following PyTorch's _strong_wolfe).
 * If the budget runs out it returns the lowest point seen, which may be t = 0 (no progress).
 */
function strongWolfeLineSearch(
  objective: DifferentiableObjective,
  x: Float64Array,
  loss0: number,
  gradient0: Float64Array,
  d: Float64Array,
  slope0: number,
  initialStep: number,
  settings: LineSearchSettings,
): LineSearchResult {
  const n = x.length;
  const trial = new Float64Array(n);
  let evaluations = 0;
  const evaluate = (step: number): LineSearchPoint => {
    for (let i = 0; i < n; i++) trial[i] = x[i] + step * d[i];
    const gradient = new Float64Array(n);
    let loss = objective(trial, gradient);
    evaluations++;
    let slope = dot(gradient, d);
    // A step into overflow is just a step that is too long: make it fail the Armijo test.
    if (!Number.isFinite(loss) || !Number.isFinite(slope)) {
      loss = Infinity;
      slope = Infinity;
    }
    return { step, loss, gradient, slope };
  };
  const sufficientDecrease = (p: LineSearchPoint): boolean => p.loss <= loss0 + settings.armijo * p.step * slope0;
  const curvatureHolds = (p: LineSearchPoint): boolean => Math.abs(p.slope) <= -settings.curvature * slope0;
  const dMaxAbs = maxAbs(d);
  const origin: LineSearchPoint = { step: 0, loss: loss0, gradient: gradient0, slope: slope0 };
  const result = (p: LineSearchPoint): LineSearchResult => ({
    step: p.step,
    loss: p.loss,
    gradient: p.gradient,
    evaluations,
  });

  // Bracketing: grow the step until it overshoots (Armijo fails, f rises, or the slope turns up).
  let previous = origin;
  let current = evaluate(initialStep);
  let bracket: [LineSearchPoint, LineSearchPoint] | undefined;
  while (evaluations < settings.maxEvaluations) {
    if (!sufficientDecrease(current) || (evaluations > 1 && current.loss >= previous.loss)) {
      bracket = [previous, current];
      break;
    }
    if (curvatureHolds(current)) return result(current);
    if (current.slope >= 0) {
      bracket = [previous, current];
      break;
    }
    const minStep = current.step + 0.01 * (current.step - previous.step);
    const maxStep = current.step * 10;
    const next = cubicMinimizer(previous, current, minStep, maxStep);
    previous = current;
    current = evaluate(next);
  }
  let zoom: [LineSearchPoint, LineSearchPoint] = bracket ?? [previous, current];

  // Zoom: shrink [lo, hi] (lo always the lower loss) until a point satisfies both conditions.
  let insufficientProgress = false;
  while (evaluations < settings.maxEvaluations) {
    const [a, b]: [LineSearchPoint, LineSearchPoint] = zoom;
    const lowerEnd = Math.min(a.step, b.step);
    const upperEnd = Math.max(a.step, b.step);
    // The bracket no longer moves x measurably (PyTorch's tolerance_change).
    if ((upperEnd - lowerEnd) * dMaxAbs < 1e-9) break;
    let step = cubicMinimizer(a, b, lowerEnd, upperEnd);
    // Keep trial steps off the ends of the bracket, or the interval stops shrinking.
    const margin = 0.1 * (upperEnd - lowerEnd);
    if (Math.min(upperEnd - step, step - lowerEnd) < margin) {
      if (insufficientProgress || step >= upperEnd || step <= lowerEnd) {
        step = Math.abs(step - upperEnd) < Math.abs(step - lowerEnd) ? upperEnd - margin : lowerEnd + margin;
        insufficientProgress = false;
      } else {
        insufficientProgress = true;
      }
    } else {
      insufficientProgress = false;
    }
    const point = evaluate(step);
    const lowIndex: number = a.loss <= b.loss ? 0 : 1;
    const low: LineSearchPoint = zoom[lowIndex];
    const high: LineSearchPoint = zoom[1 - lowIndex];
    if (!sufficientDecrease(point) || point.loss >= low.loss) {
      zoom = lowIndex === 0 ? [low, point] : [point, low];
    } else {
      if (curvatureHolds(point)) return result(point);
      // The new low point's slope says which side of it the minimum lies on.
      const newHigh: LineSearchPoint = point.slope * (high.step - low.step) >= 0 ? low : high;
      zoom = lowIndex === 0 ? [point, newHigh] : [newHigh, point];
    }
  }
  const [a, b] = zoom;
  return result(a.loss <= b.loss ? a : b);
}

/**
 * Minimiser of the cubic through two points' values and slopes, clamped to [lo, hi]; the midpoint
 * when the cubic has no minimum there or the numbers are not finite.
 */
function cubicMinimizer(p1: LineSearchPoint, p2: LineSearchPoint, lo: number, hi: number): number {
  const d1 = p1.slope + p2.slope - (3 * (p1.loss - p2.loss)) / (p1.step - p2.step);
  const d2Squared = d1 * d1 - p1.slope * p2.slope;
  if (d2Squared >= 0) {
    const d2 = Math.sqrt(d2Squared);
    const minimum =
      p1.step <= p2.step
        ? p2.step - (p2.step - p1.step) * ((p2.slope + d2 - d1) / (p2.slope - p1.slope + 2 * d2))
        : p1.step - (p1.step - p2.step) * ((p1.slope + d2 - d1) / (p1.slope - p2.slope + 2 * d2));
    if (Number.isFinite(minimum)) return Math.min(Math.max(minimum, lo), hi);
  }
  return (lo + hi) / 2;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function sumAbs(a: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]);
  return sum;
}
