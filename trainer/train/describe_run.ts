// The lines that say what a training process is about to run: data, steps, model sizes, replicas and threads.
import type { BackendInfo } from "../backend.js";
import type { TrainConfig } from "../config/schema.js";
import type { IJepa } from "../models/ijepa.js";
import type { ModelDims } from "../models/model_dims.js";

export interface RunDescription {
  dims: ModelDims;
  config: TrainConfig;
  model: IJepa;
  origin: string;
  numExamples: number;
  itersPerEpoch: number;
  lastStep: number;
  replicas: number;
  backend: BackendInfo;
}

export function describeRun(r: RunDescription): string[] {
  const { dims, config, model, itersPerEpoch: ipe } = r;
  const m = (n: number) => `${(n / 1e6).toFixed(2)}M`;
  return [
    `data ${r.origin}: ${r.numExamples} images → ${ipe} steps/epoch of ${config.data.batch_size}; ` +
      `training to step ${r.lastStep} of ${ipe * config.optimization.epochs}`,
    `encoder ${config.meta.model_name} ${dims.embedDim}×${dims.depth} ` +
      `(${dims.numHeads} heads, ${m(model.encoder.params.numParams(true))} params) ` +
      `on ${dims.gridSize}×${dims.gridSize} patches of ${dims.patchSize}px; ` +
      `predictor ${dims.predEmbedDim}×${dims.predDepth} (${m(model.predictor.params.numParams(true))}); ` +
      `float32; ${r.replicas} replica(s) × ${r.backend.threads} thread(s)`,
  ];
}
