// Chooses the logistic-regression weight decay by held-out top-1 over a grid, warm-starting along the regularisation path.
import { DataError } from "../errors.js";
import type { LabelledFeatures } from "./labelled_features.js";
import {
  type LogisticRegressionFitOptions,
  type SoftmaxClassifier,
  SoftmaxCrossEntropyObjective,
  classifierScores,
  fitLogisticRegression,
} from "./logistic_regression.js";
import { topKAccuracy } from "./topk_accuracy.js";

/**
 * Default grid: 0 and every decade from 1e-7 to 1e-1. It reaches far down because sweeps over
 * 1e-4…1e-1 kept choosing their smallest value on frozen features.
 */
export const DEFAULT_WEIGHT_DECAYS: readonly number[] = [0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1];

export interface WeightDecayScore {
  weightDecay: number;
  /** Top-1 on the held-out rows, in [0, 1]. */
  heldOutTop1: number;
  /** L-BFGS iterations the fit took. */
  iterations: number;
}

/**
 * Walking down the grid, the sweep stops once this many λ in a row score below the best so far on the
 * held-out rows: past the best λ, weaker regularisation only overfits more, and those fits are the slow
 * ones (nearly separable data, hundreds of iterations). Values never fitted are absent from `scores`.
 */
export const SWEEP_PATIENCE = 2;

export interface WeightDecaySweep {
  /** The λ with the best held-out top-1 (ties go to the larger λ, the simpler model). */
  best: number;
  /** The fit for `best`, a warm start for the refit on all rows. */
  bestClassifier: SoftmaxClassifier;
  /** One entry per grid value fitted, in ascending λ (the smallest are skipped once scores fall: SWEEP_PATIENCE). */
  scores: WeightDecayScore[];
}

export type SweepFitOptions = Omit<LogisticRegressionFitOptions, "weightDecay" | "initial">;

/**
 * Fits one classifier per λ on `fit` and scores it on `heldOut`. Fits run from the largest λ down,
 * each starting from the previous solution: a strongly regularised problem converges in few
 * iterations and its solution is close to the next, weaker one. Stops early after SWEEP_PATIENCE
 * values in a row below the best held-out top-1 (`patience`, Infinity to fit every value).
 */
export function sweepWeightDecay(
  fit: LabelledFeatures,
  heldOut: LabelledFeatures,
  dim: number,
  numClasses: number,
  weightDecays: readonly number[],
  fitOptions: SweepFitOptions,
  onScore?: (score: WeightDecayScore) => void,
  patience = SWEEP_PATIENCE,
): WeightDecaySweep {
  checkWeightDecays(weightDecays);
  const descending = [...new Set(weightDecays)].sort((a, b) => b - a);
  const objective = new SoftmaxCrossEntropyObjective(fit, dim, numClasses);
  const scores: WeightDecayScore[] = [];
  let best: { score: WeightDecayScore; classifier: SoftmaxClassifier } | undefined;
  let previous: SoftmaxClassifier | undefined;
  let worseInARow = 0;
  try {
    for (const weightDecay of descending) {
      const result = fitLogisticRegression(objective, { ...fitOptions, weightDecay, initial: previous });
      previous = result.classifier;
      const heldOutTop1 = topKAccuracy(
        classifierScores(result.classifier, heldOut.features),
        heldOut.labels,
        numClasses,
        1,
      );
      const score = { weightDecay, heldOutTop1, iterations: result.iterations };
      scores.push(score);
      onScore?.(score);
      // Strict ">" while walking down the grid keeps the larger λ on ties.
      if (!best || heldOutTop1 > best.score.heldOutTop1) {
        best = { score, classifier: result.classifier };
        worseInARow = 0;
      } else if (heldOutTop1 < best.score.heldOutTop1 && ++worseInARow >= patience) {
        break;
      }
    }
  } finally {
    objective.dispose();
  }
  if (!best) throw new Error("sweepWeightDecay: empty grid");
  return { best: best.score.weightDecay, bestClassifier: best.classifier, scores: scores.reverse() };
}

/** Non-empty, every value finite and ≥ 0. */
export function checkWeightDecays(weightDecays: readonly number[]): void {
  if (weightDecays.length === 0)
    throw new DataError("weight-decay grid is empty", "pass at least one value, e.g. [0, 1e-6, 1e-4, 1e-2]");
  for (const value of weightDecays) {
    if (!Number.isFinite(value) || value < 0) {
      throw new DataError(
        `weight decay ${value} in the grid must be a finite number ≥ 0`,
        "use values like 0, 1e-6, 1e-3",
      );
    }
  }
}
