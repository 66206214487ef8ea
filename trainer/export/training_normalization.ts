// Finds the per-channel mean/std a run normalised its inputs with, from its training data (manifest or IDX split), without downloading anything.
import type { TrainBatchSource } from "../data/batch_source.js";
import { openTrainSource } from "../data/open_train_source.js";
import type { Normalization } from "./encoder_config.js";

export type NormalizationLookup = { normalization: Normalization } | { normalization: null; why: string };

/**
 * Opens the run's training data the way `ijepa train` did (so the statistics are the very ones it
 * used): a sharded dataset's manifest, or the IDX training split (Fashion-MNIST only from a local
 * copy: never downloaded here). Returns why not when the data cannot be reached or does not fit.
 */
export async function lookUpTrainingNormalization(
  data: string | undefined,
  seed: number,
  channels: number,
): Promise<NormalizationLookup> {
  if (data === undefined || data === "")
    return { normalization: null, why: "the checkpoint does not name its training data" };
  let source: TrainBatchSource;
  try {
    source = await openTrainSource(data, {
      seed,
      prefetch: false,
      datasetResolution: { download: false, log: () => undefined },
    });
  } catch (err) {
    return {
      normalization: null,
      why: `the training data ${data} could not be opened here (${(err as Error).message.split("\n")[0]})`,
    };
  }
  try {
    const { mean, std, origin } = source.info;
    if (mean.length !== channels || std.length !== channels) {
      return {
        normalization: null,
        why: `the training data ${data} has ${mean.length} channel(s), the encoder ${channels}`,
      };
    }
    return { normalization: { mean: [...mean], std: [...std], source: origin } };
  } finally {
    await source.close();
  }
}
