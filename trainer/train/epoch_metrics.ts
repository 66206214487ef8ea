// The epoch record: mean loss of the epoch and collapse metrics of pooled target-encoder features on a fixed sample.
import type { TrainConfig } from "../config/schema.js";
import type { TrainBatchSource } from "../data/batch_source.js";
import type { IJepa } from "../models/ijepa.js";
import { pooledFeatures } from "../models/pooled_features.js";
import type { EpochRecord } from "../run/metrics_record.js";
import { collapseMetrics } from "./collapse_metrics.js";

export async function epochMetrics(
  model: IJepa,
  source: TrainBatchSource,
  config: TrainConfig,
  step: number,
  epoch: number,
  losses: number[],
): Promise<EpochRecord> {
  const info = source.info;
  const n = Math.min(config.logging.collapse_sample, info.numExamples);
  // A fixed sample: the first n images of epoch 0's order (same images at every epoch end).
  const sample = await source.batch(0, 0, n);
  const features = pooledFeatures(
    model.targetEncoder,
    { images: sample.images, count: n, height: info.height, width: info.width, channels: info.channels },
    info.mean,
    info.std,
  );
  const { targetStd, effectiveRank } = collapseMetrics(features, n, model.dims.embedDim);
  return {
    type: "epoch",
    time: new Date().toISOString(),
    step,
    epoch,
    meanLoss: losses.reduce((a, b) => a + b, 0) / Math.max(1, losses.length),
    targetStd,
    effectiveRank,
    collapseWarning: targetStd < config.logging.collapse_std_threshold,
  };
}
