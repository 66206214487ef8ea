// The learning-rate, weight-decay and EMA-momentum schedules a config's `optimization` section describes.
import type { TrainConfig } from "../config/schema.js";
import { makeSchedules } from "../utils/schedulers.js";

/** The schedules of a run with `itersPerEpoch` steps per epoch, evaluated as the official `step()` does. */
export function schedulesFromConfig(o: TrainConfig["optimization"], itersPerEpoch: number) {
  return makeSchedules({
    itersPerEpoch,
    epochs: o.epochs,
    ipeScale: o.ipe_scale,
    warmupEpochs: o.warmup,
    startLr: o.start_lr,
    lr: o.lr,
    finalLr: o.final_lr,
    weightDecay: o.weight_decay,
    finalWeightDecay: o.final_weight_decay,
    ema: o.ema,
  });
}
