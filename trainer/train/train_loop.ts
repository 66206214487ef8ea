// `train()`: runs (or resumes) I-JEPA training in a run folder; the resume policy decides, the training run steps.
import { describeBackend, initBackend } from "../backend.js";
import { openTrainSource } from "../data/open_train_source.js";
import { openStore } from "../storage/open_store.js";
import type { TrainBatchSource } from "../data/batch_source.js";
import type { TrainConfig } from "../config/schema.js";
import type { MaskFigureDrawer } from "./first_batch_figure.js";
import type { TrainProgressFactory } from "./progress.js";
import { planResume } from "./resume_policy.js";
import { type TrainingOutcome, runTraining } from "./training_run.js";

// Known from here by the CLI, the workflow and tests.
export { InterruptedError } from "./training_run.js";
/** What a checkpoint's state.json `state` holds for training: the run contract's schema. */
export type { TrainState } from "../run/checkpoint_state.js";

export interface TrainOptions {
  /** Required for a new run; when resuming, the checkpoint's own config is used. */
  config?: TrainConfig;
  /** Preset or file name, recorded in metrics and checkpoints (default: the checkpoint's when resuming). */
  configName?: string;
  /** Dataset name, folder or manifest URI (falls back to data.dataset in the config). */
  data?: string;
  /** Run folder or s3:// prefix. */
  out: string;
  /** Overrides optimization.epochs. */
  epochs?: number;
  /** Stop after this many steps in total (schedules still span the configured epochs). */
  maxSteps?: number;
  /** Stop once this many epochs are complete (one segment of a longer run; schedules span all epochs). */
  untilEpoch?: number;
  /** Continue from checkpoints/latest.json (or from `resumeFrom`). */
  resume?: boolean;
  resumeFrom?: number;
  /** Overrides meta.seed. */
  seed?: number;
  backend?: string;
  /** Data-parallel replicas in this machine (wasm/cpu); default: min(cores, 4), or what the checkpoint used. */
  replicas?: number;
  /** Lines for the log (default: stdout). */
  log?: (line: string) => void;
  /** Reports progress (default: plain periodic lines to `log`; the CLI passes a terminal bar). */
  progress?: TrainProgressFactory;
  /** Draws report/masks.png from the first batch (default: no figure; the CLI passes the report's renderMaskFigure). */
  drawMaskFigure?: MaskFigureDrawer;
  /** Set to true (e.g. by SIGTERM) to checkpoint after the current step and stop. */
  stopRequested?: () => boolean;
  /** Use this source instead of opening `data` (embedding and tests). */
  source?: TrainBatchSource;
}

export type TrainResult = TrainingOutcome;

/** Runs (or resumes) training and returns where it stopped. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const backend = await initBackend(options.backend);
  const store = openStore(options.out);
  log(`ijepa train: ${describeBackend(backend)}; run ${store.baseUri}`);

  // Resume first: the checkpoint's config, seed and replica count win unless overridden.
  const plan = await planResume(store, { ...options, sourceOrigin: options.source?.info.origin }, log);
  const source = options.source ?? (await openTrainSource(plan.data, { seed: plan.seed }));
  try {
    return await runTraining({
      ...plan,
      source,
      store,
      backend,
      log,
      maxSteps: options.maxSteps,
      untilEpoch: options.untilEpoch,
      replicas: options.replicas,
      stopRequested: options.stopRequested,
      progress: options.progress,
      drawMaskFigure: options.drawMaskFigure,
    });
  } finally {
    if (!options.source) await source.close();
  }
}
