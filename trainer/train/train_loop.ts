// `train()`: runs (or resumes) I-JEPA training in a run folder; the resume policy decides, the training run steps.
import { describeBackend, initBackend } from "../backend.js";
import { folderUri, readLatestPointer } from "../checkpoint/checkpoint_store.js";
import { machineMemoryBytes, refuseUnfitConfig } from "../config/resource_estimate.js";
import { IjepaError } from "../errors.js";
import { resolveModelDims } from "../models/model_dims.js";
import { MODEL_FILE, OPTIMIZER_FILE } from "../run/run_layout.js";
import { requireFolderLocation } from "../storage/folder_location.js";
import type { ObjectStore } from "../storage/object_store.js";
import { removeStaleRunTempFiles } from "../run/stale_run_temp_files.js";
import { refuseConstantData, refuseNonFiniteWeights } from "../utils/nan_diagnosis.js";
import { refuseForeignRunFolder, refuseRewritingHistory } from "./run_history_guard.js";
import { takeTrainingLock } from "./training_lock.js";
import { requireGpuWhenAsked } from "./gpu_requirement.js";
import { checkGpuFit } from "./gpu_memory.js";
import type { MetricsRecord } from "../run/metrics_record.js";
import { openTrainSource } from "../data/open_train_source.js";
import { openStore } from "../storage/open_store.js";
import type { TrainBatchSource } from "../data/batch_source.js";
import type { NamedTensor } from "../checkpoint/safetensors.js";
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
  /** Resume when the run has a checkpoint, else start it (a retried Batch attempt continues where it stopped). */
  autoResume?: boolean;
  /** Sees every metrics record as it is appended (the EMF reporter on AWS). */
  onRecord?: (record: MetricsRecord) => void;
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
  /** Overwrite what is refused otherwise: a non-run folder's files (new run), later checkpoints (--resume-from). */
  force?: boolean;
  /** Use this store for the run instead of opening `out` (fault-injection tests). */
  store?: ObjectStore;
  /** Run-lock owner to act as (default: $IJEPA_RUN_LOCK_OWNER, else "trainer:<host>:<pid>"). */
  lockOwner?: string;
}

export type TrainResult = TrainingOutcome;

/** Runs (or resumes) training and returns where it stopped. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const backend = await initBackend(options.backend);
  const gpu = await requireGpuWhenAsked(backend); // in a GPU job: node-gpu on a visible GPU, or a loud failure
  if (!options.store) requireFolderLocation(options.out, "--out");
  const store = options.store ?? openStore(options.out);
  log(`ijepa train: ${describeBackend(backend)}; run ${store.baseUri}`);

  // Everything that only reads comes before the lock, so a refused command leaves every file as it was.
  // Resume first: the checkpoint's config, seed and replica count win unless overridden.
  const plan = await planResume(store, { ...options, sourceOrigin: options.source?.info.origin }, log);
  const force = Boolean(options.force);
  if (!plan.checkpoint) await refuseForeignRunFolder(store, force);
  const later =
    options.resumeFrom !== undefined
      ? await refuseRewritingHistory(store, options.resumeFrom, plan.latest?.step, force)
      : [];
  if (plan.checkpoint) {
    const where = folderUri(store, plan.checkpoint.prefix);
    const hint =
      "resume from an earlier checkpoint with --resume-from <step> (and lower optimization.lr if it diverged)";
    refuseNonFiniteWeights(named(plan.checkpoint.model), `${where}${MODEL_FILE}`, hint);
    refuseNonFiniteWeights(named(plan.checkpoint.optimizer), `${where}${OPTIMIZER_FILE}`, hint);
  }
  const source =
    options.source ?? (await openTrainSource(plan.data, { seed: plan.seed, limit: plan.config.data.train_limit }));
  try {
    refuseConstantData(source.info.origin, source.info.mean, source.info.std);
    if (gpu) checkGpuFit(plan.config, gpu, source.info.channels, plan.configName);
    // Before the model is built: a config this machine cannot hold is refused with the arithmetic.
    const dims = resolveModelDims(plan.config, source.info.channels);
    const { batch_size } = plan.config.data;
    const masks = plan.config.mask.num_pred_masks;
    refuseUnfitConfig(
      `the config of ${store.baseUri}`,
      dims,
      batch_size,
      masks,
      machineMemoryBytes(),
      "this machine has",
    );
    const lock = await takeTrainingLock(store, { owner: options.lockOwner });
    try {
      // Again under the lock: the run must not have moved on (another trainer finished or checkpointed) meanwhile.
      const now = await readLatestPointer(store);
      if (!plan.checkpoint && now) {
        throw new IjepaError(
          `${store.baseUri} already holds a run (checkpoint at step ${now.step})`,
          "pass --resume to continue it, or choose another --out",
        );
      }
      if (plan.checkpoint && options.resumeFrom === undefined && now?.step !== plan.checkpoint.step) {
        throw new IjepaError(
          `${store.baseUri} moved on to step ${now?.step} while this trainer started`,
          "run the same command again",
        );
      }
      const cleaned = await removeStaleRunTempFiles(store);
      if (cleaned.length > 0) log(`removed ${cleaned.length} temp file(s) killed writers left (e.g. ${cleaned[0]})`);
      if (later.length > 0) {
        log(
          `note: --force: resuming from step ${options.resumeFrom} replaces checkpoint(s) ${later.join(", ")} as it goes`,
        );
      }
      return await runTraining({
        ...plan,
        source,
        store,
        backend,
        log,
        lock,
        onRecord: options.onRecord,
        maxSteps: options.maxSteps,
        untilEpoch: options.untilEpoch,
        replicas: options.replicas,
        stopRequested: options.stopRequested,
        progress: options.progress,
        drawMaskFigure: options.drawMaskFigure,
      });
    } finally {
      await lock.end();
    }
  } finally {
    if (!options.source) await source.close();
  }
}

function named(tensors: Map<string, NamedTensor>): Array<{ name: string; data: ArrayLike<number> }> {
  return [...tensors].map(([name, t]) => ({ name, data: t.data as ArrayLike<number> }));
}
