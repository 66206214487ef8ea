// Multinomial logistic regression on a feature matrix: the softmax cross-entropy objective (analytic gradient, matrix products in tfjs) and its L-BFGS fit.
import * as tf from "@tensorflow/tfjs-core";
import { DataError } from "../errors.js";
import type { LabelledFeatures } from "./labelled_features.js";
import { FeaturePreconditioner } from "./feature_preconditioner.js";
import { type LbfgsStopReason, type Preconditioner, minimizeLbfgs } from "./lbfgs.js";

/** A linear softmax classifier: scores = W·x + b (W laid out like PyTorch's nn.Linear weight). */
export interface SoftmaxClassifier {
  dim: number;
  numClasses: number;
  /** Row-major [numClasses, dim]. */
  weights: Float64Array;
  /** [numClasses]. */
  bias: Float64Array;
}

/**
 * Mean softmax cross-entropy of `data` plus (λ/2)·‖W‖² (the bias is not decayed), over the
 * parameter vector [W row-major [C, d], b]. Gradients are analytic — ∇W = (P − Y)ᵀX/n + λW,
 * ∇b = mean(P − Y) — with the two n×d products on the tfjs backend and everything per-row in float64 JS.
 * Holds X and Xᵀ as tensors until `dispose()`.
 */
export class SoftmaxCrossEntropyObjective {
  readonly rows: number;
  readonly dim: number;
  readonly numClasses: number;
  private readonly labels: Int32Array;
  // Both products take the data as their right-hand side (W·Xᵀ and Rᵀ·X): wasm's XNNPACK path
  // packs the right-hand matrix once per tensor and reuses it, and needs no transpose flags
  // (flags fall back to a scalar loop ~10× slower), so X and Xᵀ are both kept.
  private readonly x: tf.Tensor2D;
  private readonly xT: tf.Tensor2D;
  private readonly features: Float32Array;
  private featurePreconditioner: FeaturePreconditioner | undefined;

  constructor(data: LabelledFeatures, dim: number, numClasses: number) {
    this.rows = data.labels.length;
    this.dim = dim;
    this.numClasses = numClasses;
    if (data.features.length !== this.rows * dim) {
      throw new DataError(
        `logistic regression: ${data.features.length} feature values for ${this.rows} rows of dimension ${dim}`,
      );
    }
    if (this.rows === 0) throw new DataError("logistic regression: no training rows");
    this.labels = data.labels;
    this.features = data.features;
    this.x = tf.tensor2d(data.features, [this.rows, dim]);
    this.xT = tf.tidy(() => tf.transpose(this.x));
  }

  get parameterCount(): number {
    return this.dim * this.numClasses + this.numClasses;
  }

  /** Loss at `params`; writes its gradient into `gradient`. */
  evaluate(params: Float64Array, weightDecay: number, gradient: Float64Array): number {
    const { rows, dim, numClasses: classes } = this;
    const weightCount = dim * classes;
    // [C, n]: logits of row i are column i.
    const logitsTensor = tf.tidy(() =>
      tf.matMul(tf.tensor2d(Float32Array.from(params.subarray(0, weightCount)), [classes, dim]), this.xT),
    );
    const logits = logitsTensor.dataSync() as Float32Array;
    logitsTensor.dispose();

    // Row by row: log-sum-exp, loss, and the residual (P − Y)/n, kept as [C, n] for the next product.
    const residualT = new Float32Array(classes * rows);
    const probabilities = new Float64Array(classes);
    gradient.fill(0, weightCount);
    let crossEntropy = 0;
    for (let i = 0; i < rows; i++) {
      let maxLogit = -Infinity;
      for (let c = 0; c < classes; c++) {
        const z = logits[c * rows + i] + params[weightCount + c];
        probabilities[c] = z;
        if (z > maxLogit) maxLogit = z;
      }
      const label = this.labels[i];
      const labelLogit = probabilities[label];
      let sumExp = 0;
      for (let c = 0; c < classes; c++) {
        const e = Math.exp(probabilities[c] - maxLogit);
        probabilities[c] = e;
        sumExp += e;
      }
      crossEntropy += maxLogit + Math.log(sumExp) - labelLogit;
      for (let c = 0; c < classes; c++) {
        const r = (probabilities[c] / sumExp - (c === label ? 1 : 0)) / rows;
        residualT[c * rows + i] = r;
        gradient[weightCount + c] += r;
      }
    }

    const weightGradientTensor = tf.tidy(() => tf.matMul(tf.tensor2d(residualT, [classes, rows]), this.x));
    const weightGradient = weightGradientTensor.dataSync() as Float32Array;
    weightGradientTensor.dispose();
    let squaredNorm = 0;
    for (let j = 0; j < weightCount; j++) {
      const w = params[j];
      squaredNorm += w * w;
      gradient[j] = weightGradient[j] + weightDecay * w;
    }
    return crossEntropy / rows + 0.5 * weightDecay * squaredNorm;
  }

  /** L-BFGS's M⁻¹ for weight decay λ (see FeaturePreconditioner); built on first use, freed by dispose(). */
  preconditioner(weightDecay: number): Preconditioner {
    this.featurePreconditioner ??= new FeaturePreconditioner(this.features, this.dim, this.numClasses);
    return this.featurePreconditioner.forWeightDecay(weightDecay);
  }

  dispose(): void {
    this.x.dispose();
    this.xT.dispose();
    this.featurePreconditioner?.dispose();
  }
}

export interface LogisticRegressionFitOptions {
  /** λ of the (λ/2)·‖W‖² penalty; 0 for none. */
  weightDecay: number;
  /** L-BFGS iterations. */
  maxIterations: number;
  /** Default 1e-5 (max |∇|). */
  gradientTolerance?: number;
  /** Default 1e-9 (relative loss change per iteration). */
  relativeLossTolerance?: number;
  /** L-BFGS history m. Default 10. */
  historySize?: number;
  /** Warm start (e.g. the fit for the neighbouring λ); zeros otherwise. */
  initial?: SoftmaxClassifier;
  /** Precondition L-BFGS with the features' second moments (FeaturePreconditioner). Default true. */
  precondition?: boolean;
}

export interface LogisticRegressionFit {
  classifier: SoftmaxClassifier;
  /** Final regularised training loss. */
  loss: number;
  iterations: number;
  evaluations: number;
  stopReason: LbfgsStopReason;
}

/** Fits W, b by full-batch L-BFGS on the objective's rows. */
export function fitLogisticRegression(
  objective: SoftmaxCrossEntropyObjective,
  options: LogisticRegressionFitOptions,
): LogisticRegressionFit {
  const { dim, numClasses } = objective;
  if (!(options.weightDecay >= 0) || !Number.isFinite(options.weightDecay)) {
    throw new DataError(`logistic regression: weight decay ${options.weightDecay} must be a finite number ≥ 0`);
  }
  const start = new Float64Array(objective.parameterCount);
  if (options.initial) {
    if (options.initial.dim !== dim || options.initial.numClasses !== numClasses) {
      throw new DataError(
        `logistic regression: warm start is [${options.initial.dim}, ${options.initial.numClasses}], objective is [${dim}, ${numClasses}]`,
      );
    }
    start.set(options.initial.weights, 0);
    start.set(options.initial.bias, dim * numClasses);
  }
  const result = minimizeLbfgs((params, gradient) => objective.evaluate(params, options.weightDecay, gradient), start, {
    maxIterations: options.maxIterations,
    gradientTolerance: options.gradientTolerance ?? 1e-5,
    relativeLossTolerance: options.relativeLossTolerance ?? 1e-9,
    historySize: options.historySize ?? 10,
    preconditioner: options.precondition === false ? undefined : objective.preconditioner(options.weightDecay),
  });
  return {
    classifier: {
      dim,
      numClasses,
      weights: result.x.slice(0, dim * numClasses),
      bias: result.x.slice(dim * numClasses),
    },
    loss: result.loss,
    iterations: result.iterations,
    evaluations: result.evaluations,
    stopReason: result.stopReason,
  };
}

/** Rows scored per matMul in `classifierScores`, so a large split never needs one huge tensor. */
const SCORE_CHUNK_ROWS = 8192;

/** W·x + b for every row of a row-major [n, dim] matrix, as row-major [n, numClasses]. */
export function classifierScores(classifier: SoftmaxClassifier, features: Float32Array): Float32Array {
  const { dim, numClasses } = classifier;
  const rows = features.length / dim;
  if (!Number.isInteger(rows))
    throw new DataError(
      `classifier scores: ${features.length} values is not a whole number of rows of dimension ${dim}`,
    );
  const scores = new Float32Array(rows * numClasses);
  // Wᵀ [dim, C] as the right-hand side, so each chunk is a plain matMul on the fast path.
  const weightsT = tf.tidy(() => tf.transpose(tf.tensor2d(Float32Array.from(classifier.weights), [numClasses, dim])));
  try {
    for (let start = 0; start < rows; start += SCORE_CHUNK_ROWS) {
      const end = Math.min(rows, start + SCORE_CHUNK_ROWS);
      const chunk = tf.tidy(() =>
        tf.matMul(tf.tensor2d(features.subarray(start * dim, end * dim), [end - start, dim]), weightsT),
      );
      scores.set(chunk.dataSync(), start * numClasses);
      chunk.dispose();
    }
  } finally {
    weightsT.dispose();
  }
  for (let i = 0; i < rows; i++) {
    for (let c = 0; c < numClasses; c++) scores[i * numClasses + c] += classifier.bias[c];
  }
  return scores;
}
