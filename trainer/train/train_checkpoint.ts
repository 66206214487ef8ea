// What a training checkpoint holds: the trainer's state (the contract's TrainState) and its tensors as safetensors.
import type { BackendName } from "../backend.js";
import type { NamedTensor } from "../checkpoint/safetensors.js";
import type { TrainConfig } from "../config/schema.js";
import { DataError } from "../errors.js";
import type { StateTensor } from "../models/param_table.js";
import type { TrainState } from "../run/checkpoint_state.js";
import type { makeSchedules } from "../utils/schedulers.js";

/** The random streams a run draws from, each keyed by step or epoch (see TrainState.rng). */
export const RNG_STREAMS = [
  "mask-size/<step>",
  "mask-position/<step>",
  "augment/<step>",
  "epoch/<epoch>",
  "init/encoder",
  "init/predictor",
];

export interface TrainStateInputs {
  /** Steps completed: the step the next process starts at. */
  step: number;
  itersPerEpoch: number;
  seed: number;
  configName: string;
  config: TrainConfig;
  data: string;
  backend: BackendName;
  replicas: number;
  optimizerStep: number;
  normalization: { mean: number[]; std: number[] };
  schedules: ReturnType<typeof makeSchedules>;
}

/** state.json's `state` after `step` completed steps. */
export function assembleTrainState(s: TrainStateInputs): TrainState {
  const { step } = s;
  return {
    step,
    epochsCompleted: Math.floor(step / s.itersPerEpoch),
    itersPerEpoch: s.itersPerEpoch,
    seed: s.seed,
    configName: s.configName,
    config: s.config,
    data: s.data,
    backend: s.backend,
    replicas: s.replicas,
    optimizerStep: s.optimizerStep,
    normalization: s.normalization,
    schedules: { lr: s.schedules.lr.at(step), wd: s.schedules.wd.at(step), momentum: s.schedules.momentum.at(step) },
    rng: { seed: s.seed, streams: RNG_STREAMS, nextStep: step },
  };
}

/** Model or optimizer state as safetensors tensors (float32). */
export function toNamed(tensors: StateTensor[]): NamedTensor[] {
  return tensors.map((t) => ({ name: t.name, dtype: "F32", shape: t.shape, data: t.data }) as NamedTensor);
}

/** A checkpoint's tensors as model or optimizer state; every one must be float32. */
export function asStateMap(tensors: Map<string, NamedTensor>): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of tensors) {
    if (t.dtype !== "F32") throw new DataError(`checkpoint tensor ${name} is ${t.dtype}, expected F32`);
    out.set(name, { shape: t.shape, data: t.data as Float32Array });
  }
  return out;
}
