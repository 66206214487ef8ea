// The probe evaluation of frozen features: standardise, sweep weight decay, fit a softmax classifier by L-BFGS, score it on test; plus DINO-style kNN.
import { ConfigError } from "../errors.js";
import { type KnnOptions, type KnnResult, evaluateKnn } from "./knn.js";
import { type LabelledFeatures, checkLabelledFeatures } from "./labelled_features.js";
import type { LbfgsStopReason } from "./lbfgs.js";
import {
  type LogisticRegressionFit,
  type SoftmaxClassifier,
  SoftmaxCrossEntropyObjective,
  classifierScores,
  fitLogisticRegression,
} from "./logistic_regression.js";
import { FeatureStandardizer } from "./standardize.js";
import { selectRows, stratifiedHoldout } from "./stratified_holdout.js";
import { type ClassificationAccuracy, classificationAccuracy } from "./topk_accuracy.js";
import {
  DEFAULT_WEIGHT_DECAYS,
  type WeightDecayScore,
  checkWeightDecays,
  sweepWeightDecay,
} from "./weight_decay_sweep.js";

export type { KnnOptions, KnnResult } from "./knn.js";
export type { LabelledFeatures } from "./labelled_features.js";
export type { WeightDecayScore } from "./weight_decay_sweep.js";
export { DEFAULT_WEIGHT_DECAYS } from "./weight_decay_sweep.js";

export interface LinearProbeInput {
  train: LabelledFeatures;
  test: LabelledFeatures;
  numClasses: number;
  /** Feature dimension: both feature arrays are row-major [n, dim]. */
  dim: number;
}

export interface LinearProbeOptions {
  /** λ grid for (λ/2)·‖W‖². Default DEFAULT_WEIGHT_DECAYS (0, 1e-7 … 1e-1). One value skips the sweep. */
  weightDecays?: readonly number[];
  /** L-BFGS iterations per fit (each sweep value and the refit). Default 100 (scikit-learn's max_iter). */
  maxIterations?: number;
  /** Share of each class's train rows held out to score the sweep. Default 0.2. */
  heldOutFraction?: number;
  /** Stop walking down the λ grid after this many values in a row score below the best. Default SWEEP_PATIENCE (2). */
  sweepPatience?: number;
  /** Seed of the held-out split. Default 0. */
  seed?: number;
  /** L-BFGS stops at max |∇| ≤ this. Default 1e-4 (scikit-learn's tol, on the same mean loss). */
  gradientTolerance?: number;
  /** L-BFGS stops when the loss changes by ≤ this × max(|loss|, 1) in one iteration. Default 1e-9. */
  relativeLossTolerance?: number;
  knn?: Omit<KnnOptions, "onChunk">;
  /** Progress for a CLI or log line; never required. */
  onProgress?: (event: LinearProbeProgress) => void;
}

export type LinearProbeProgress =
  | { stage: "sweep"; score: WeightDecayScore; done: number; total: number }
  | { stage: "refit"; weightDecay: number; iterations: number }
  | { stage: "knn"; rowsDone: number; rowsTotal: number };

export interface LinearClassifierResult extends ClassificationAccuracy {
  /** The λ chosen by the sweep (or the single λ given) and used for the final fit. */
  weightDecay: number;
  /** Held-out top-1 per λ, ascending λ; empty when one λ was given. */
  sweep: WeightDecayScore[];
  /** L-BFGS iterations of the final fit on all train rows. */
  iterations: number;
  stopReason: LbfgsStopReason;
}

export interface LinearProbeTimings {
  standardize: number;
  sweep: number;
  refit: number;
  /** Scoring the test set with the final classifier. */
  linearTest: number;
  knn: number;
  total: number;
}

/** Accuracies are fractions in [0, 1]; `top5` appears only with more than 5 classes. */
export interface LinearProbeResult {
  linear: LinearClassifierResult;
  knn: KnnResult;
  timingsMs: LinearProbeTimings;
  /** Rows used: sweep fit / held out (0 / 0 without a sweep), all train, test. */
  rows: { sweepFit: number; sweepHeldOut: number; train: number; test: number };
}

/**
 * Linear probe + kNN of frozen features. The linear side standardises with train statistics,
 * chooses λ on a seeded stratified hold-out of train, refits on all of train (warm-started from the
 * chosen fit) and reports test accuracy. The kNN side works on the features as given, L2-normalised
 * (as DINO's eval_knn). Needs an initialised tfjs backend (wasm or cpu is enough); leaves no tensors behind.
 */
export function linearProbe(input: LinearProbeInput, options: LinearProbeOptions = {}): LinearProbeResult {
  const started = performance.now();
  const { numClasses, dim } = input;
  const trainRows = checkLabelledFeatures(input.train, dim, numClasses, "train features");
  const testRows = checkLabelledFeatures(input.test, dim, numClasses, "test features");
  const weightDecays = options.weightDecays ?? DEFAULT_WEIGHT_DECAYS;
  checkWeightDecays(weightDecays);
  const maxIterations = options.maxIterations ?? 100;
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new ConfigError(
      `linear probe: maxIterations ${maxIterations} must be an integer ≥ 1`,
      "use e.g. 100 (each λ of the sweep, and the refit, gets this many L-BFGS iterations)",
    );
  }
  const fitOptions = {
    maxIterations,
    gradientTolerance: options.gradientTolerance ?? 1e-4,
    relativeLossTolerance: options.relativeLossTolerance ?? 1e-9,
  };
  const progress = options.onProgress;
  const timingsMs: LinearProbeTimings = { standardize: 0, sweep: 0, refit: 0, linearTest: 0, knn: 0, total: 0 };
  let mark = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const elapsed = now - mark;
    mark = now;
    return elapsed;
  };

  const standardizer = FeatureStandardizer.fit(input.train.features, dim);
  const train = { features: standardizer.apply(input.train.features, "train features"), labels: input.train.labels };
  const testFeatures = standardizer.apply(input.test.features, "test features");
  timingsMs.standardize = lap();

  let weightDecay = weightDecays[0];
  let sweep: WeightDecayScore[] = [];
  let warmStart: SoftmaxClassifier | undefined;
  let rows = { sweepFit: 0, sweepHeldOut: 0, train: trainRows, test: testRows };
  if (new Set(weightDecays).size > 1) {
    const split = stratifiedHoldout(train.labels, numClasses, options.heldOutFraction ?? 0.2, options.seed ?? 0);
    const fit = selectRows(train.features, train.labels, dim, split.fitRows);
    const heldOut = selectRows(train.features, train.labels, dim, split.heldOutRows);
    rows = { ...rows, sweepFit: split.fitRows.length, sweepHeldOut: split.heldOutRows.length };
    let done = 0;
    const total = new Set(weightDecays).size;
    const result = sweepWeightDecay(
      fit,
      heldOut,
      dim,
      numClasses,
      weightDecays,
      fitOptions,
      (score) => progress?.({ stage: "sweep", score, done: ++done, total }),
      options.sweepPatience,
    );
    weightDecay = result.best;
    sweep = result.scores;
    warmStart = result.bestClassifier;
  }
  timingsMs.sweep = lap();

  const objective = new SoftmaxCrossEntropyObjective(train, dim, numClasses);
  let final: LogisticRegressionFit;
  try {
    final = fitLogisticRegression(objective, { ...fitOptions, weightDecay, initial: warmStart });
  } finally {
    objective.dispose();
  }
  progress?.({ stage: "refit", weightDecay, iterations: final.iterations });
  timingsMs.refit = lap();

  const linearAccuracy = classificationAccuracy(
    classifierScores(final.classifier, testFeatures),
    input.test.labels,
    numClasses,
  );
  timingsMs.linearTest = lap();

  const knn = evaluateKnn(input.train, input.test, dim, numClasses, {
    ...options.knn,
    onChunk: (rowsDone, rowsTotal) => progress?.({ stage: "knn", rowsDone, rowsTotal }),
  });
  timingsMs.knn = lap();
  timingsMs.total = performance.now() - started;

  return {
    linear: { ...linearAccuracy, weightDecay, sweep, iterations: final.iterations, stopReason: final.stopReason },
    knn,
    timingsMs,
    rows,
  };
}
