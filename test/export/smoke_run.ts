// Test fixture: small real runs made by train() with the smoke config (a few steps, a checkpoint after each), and helpers to look at them.
import path from "node:path";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import { renderMaskFigure } from "../../trainer/report/mask_figure.js";
import { type TrainResult, train } from "../../trainer/train/train_loop.js";
import { squaresSource } from "../support/squares_source.js";

export { squaresSource };

const SMOKE_CONFIG = path.resolve(__dirname, "../../configs/smoke.yaml");

export interface SmokeRunOptions {
  steps: number;
  /** "fashion-mnist" trains on the real dataset (so the run records it); default: in-memory squares. */
  data?: "fashion-mnist";
  /** Continue an existing run in `out`. */
  resume?: boolean;
}

/** Trains the smoke config for `steps` steps into `out`, writing a checkpoint after every step. */
export async function trainSmokeRun(out: string, options: SmokeRunOptions): Promise<TrainResult> {
  const config = await loadConfigFile(SMOKE_CONFIG);
  config.logging.checkpoint_every = 1;
  config.logging.collapse_sample = 16;
  // Without this, a run fed the in-memory source would record the config's dataset as its training data.
  if (!options.data) config.data.dataset = undefined;
  return train({
    config,
    configName: "smoke",
    out,
    maxSteps: options.steps,
    resume: options.resume,
    replicas: 1,
    drawMaskFigure: renderMaskFigure,
    log: () => undefined,
    ...(options.data ? { data: options.data } : { source: squaresSource() }),
  });
}
