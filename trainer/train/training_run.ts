// The training loop: data → masks → loss/grads → AdamW → EMA, step after step, with metrics and checkpoints.
import { stringify as toYaml } from "yaml";
import type { BackendInfo } from "../backend.js";
import { type LoadedCheckpoint, folderUri, saveCheckpoint } from "../checkpoint/checkpoint_store.js";
import type { TrainConfig } from "../config/schema.js";
import type { ImageSourceInfo, RawBatch, TrainBatchSource } from "../data/batch_source.js";
import { DataError, IjepaError, NonFiniteLossError } from "../errors.js";
import { maskOptionsFromConfig } from "../masks/mask_config.js";
import { describeMaskStats, formatMaskStats } from "../masks/mask_stats.js";
import { type BatchMasks, MultiBlockMaskSampler } from "../masks/multiblock.js";
import { IJepa, stepIndices } from "../models/ijepa.js";
import { type ModelDims, resolveModelDims } from "../models/model_dims.js";
import { patchify } from "../models/vision_transformer.js";
import { AdamW } from "../optim/adamw.js";
import type { TrainState } from "../run/checkpoint_state.js";
import type { MetricsRecord, StepRecord } from "../run/metrics_record.js";
import { CONFIG_KEY, MASKS_FIGURE_KEY, stepName } from "../run/run_layout.js";
import type { ObjectStore } from "../storage/object_store.js";
import { type AugmentSettings, augmentBatch } from "../transforms.js";
import { describeRun } from "./describe_run.js";
import { epochMetrics } from "./epoch_metrics.js";
import { type MaskFigureDrawer, firstBatchFigure } from "./first_batch_figure.js";
import { DataParallelEngine, type GradientEngine, InProcessEngine, type StepBatch } from "./gradient_engine.js";
import { MetricsLog } from "./metrics_log.js";
import { type TrainProgressFactory, type TrainProgressReporter, plainTrainProgress } from "./progress.js";
import { chooseReplicas, resumeDifferences } from "./resume_policy.js";
import { asStateMap, assembleTrainState, toNamed } from "./train_checkpoint.js";
import type { TrainingLock } from "./training_lock.js";
import { schedulesFromConfig } from "./training_schedules.js";
import { CheckpointClock } from "./checkpoint_clock.js";

/** Everything one training process runs with, once the resume policy has decided. */
export interface RunContext {
  config: TrainConfig;
  configName: string;
  seed: number;
  data: string;
  source: TrainBatchSource;
  store: ObjectStore;
  backend: BackendInfo;
  checkpoint: LoadedCheckpoint<TrainState> | undefined;
  log: (line: string) => void;
  /** Stop after this many steps in total. */
  maxSteps?: number;
  /** Stop once this many epochs are complete. */
  untilEpoch?: number;
  /** --replicas, when given. */
  replicas?: number;
  stopRequested?: () => boolean;
  progress?: TrainProgressFactory;
  drawMaskFigure?: MaskFigureDrawer;
  /** Sees every metrics record as it is appended (the EMF reporter on AWS). */
  onRecord?: (record: MetricsRecord) => void;
  /** The run lock this process trains under; checked before each checkpoint is published. */
  lock: TrainingLock;
}

export interface TrainingOutcome {
  step: number;
  epochsCompleted: number;
  lastLoss: number;
  stopped: "done" | "max-steps";
  backend: BackendInfo;
  replicas: number;
  outUri: string;
}

/** Stopped on request (SIGTERM, SIGINT) after a complete checkpoint. */
export class InterruptedError extends IjepaError {}

/** Prepares a run, trains it to its last step, and releases everything it held. */
export async function runTraining(ctx: RunContext): Promise<TrainingOutcome> {
  const run = await TrainingRun.prepare(ctx);
  try {
    return await run.loop();
  } finally {
    await run.close();
  }
}

/** One step's input, made from its raw batch. */
interface PreparedStep {
  step: number;
  crops: Float32Array;
  masks: BatchMasks;
  batch: StepBatch;
}

/** One process's share of a run: the model, optimiser and schedules, stepping from `step` to `lastStep`. */
class TrainingRun {
  private readonly info: ImageSourceInfo;
  private readonly batchSize: number;
  private readonly itersPerEpoch: number;
  private readonly totalSteps: number;
  private readonly lastStep: number;
  private readonly dims: ModelDims;
  private readonly sampler: MultiBlockMaskSampler;
  private readonly schedules: ReturnType<typeof schedulesFromConfig>;
  private readonly model: IJepa;
  private readonly optimizer: AdamW;
  private readonly metrics: MetricsLog;
  private readonly augment: AugmentSettings;
  private step = 0;
  private readonly clock: CheckpointClock;
  private replicas = 1;
  private engine!: GradientEngine;
  /** The next step's input when the engine made it early (during the previous step). */
  private prepared: PreparedStep | undefined;
  private progress!: TrainProgressReporter;

  private constructor(private readonly ctx: RunContext) {
    const { config, source } = ctx;
    this.info = source.info;
    this.batchSize = config.data.batch_size;
    this.itersPerEpoch = source.batchesPerEpoch(this.batchSize);
    if (this.itersPerEpoch < 1) {
      throw new DataError(
        `${this.info.origin} has ${this.info.numExamples} training images, fewer than one batch of ${this.batchSize}`,
        "lower data.batch_size or use more images",
      );
    }
    this.dims = resolveModelDims(config, this.info.channels);
    this.sampler = new MultiBlockMaskSampler(maskOptionsFromConfig(config));
    const o = config.optimization;
    this.totalSteps = o.epochs * this.itersPerEpoch;
    this.lastStep = Math.min(
      this.totalSteps,
      ctx.maxSteps ?? this.totalSteps,
      (ctx.untilEpoch ?? o.epochs) * this.itersPerEpoch,
    );
    this.schedules = schedulesFromConfig(o, this.itersPerEpoch);
    // A resumed run's weights all come from the checkpoint: skip drawing an initialisation.
    this.model = ctx.checkpoint ? IJepa.blank(this.dims) : IJepa.initialise(this.dims, ctx.seed);
    this.optimizer = new AdamW(
      [
        { prefix: "encoder.", table: this.model.encoder.params },
        { prefix: "predictor.", table: this.model.predictor.params },
      ],
      { betas: o.betas, eps: o.eps },
    );
    this.metrics = new MetricsLog(ctx.store, undefined, ctx.onRecord);
    this.clock = new CheckpointClock(config.logging.checkpoint_every_minutes ?? 0);
    this.augment = {
      cropSize: config.data.crop_size,
      scale: config.data.crop_scale,
      ratio: config.data.crop_ratio,
      horizontalFlip: config.data.use_horizontal_flip,
      mean: this.info.mean,
      std: this.info.std,
    };
  }

  /** Builds the model, restores the checkpoint if resuming, starts the replicas, and logs what will run. */
  static async prepare(ctx: RunContext): Promise<TrainingRun> {
    const run = new TrainingRun(ctx);
    try {
      await run.restoreAndAnnounce();
    } catch (err) {
      await run.close();
      throw err;
    }
    return run;
  }

  private async restoreAndAnnounce(): Promise<void> {
    const { ctx } = this;
    const { checkpoint, store, log, backend, config } = ctx;
    if (checkpoint) {
      const origin = folderUri(store, checkpoint.prefix);
      this.model.importState(asStateMap(checkpoint.model), origin);
      this.optimizer.importState(asStateMap(checkpoint.optimizer), checkpoint.state.optimizerStep, origin);
      this.step = checkpoint.step;
      await this.metrics.loadForResume(this.step);
      log(`resumed from ${origin} (step ${this.step}, epoch ${Math.floor(this.step / this.itersPerEpoch)})`);
    }
    this.replicas = chooseReplicas(ctx.replicas, checkpoint?.state.replicas, backend, this.batchSize);
    if (checkpoint) {
      const note = resumeDifferences(checkpoint.state, {
        replicas: this.replicas,
        backend: backend.name,
        itersPerEpoch: this.itersPerEpoch,
      });
      if (note) log(note);
    }
    await store.put(CONFIG_KEY, toYaml(config), { contentType: "application/yaml" });
    const { dims, model, itersPerEpoch, lastStep, replicas } = this;
    const described = describeRun({
      dims,
      config,
      model,
      origin: this.info.origin,
      numExamples: this.info.numExamples,
      itersPerEpoch,
      lastStep,
      replicas,
      backend,
    });
    for (const line of described) log(line);
    log(
      formatMaskStats(
        describeMaskStats(this.sampler.options, { batchSize: this.batchSize, batches: 20, seed: ctx.seed }),
      ),
    );
    this.metrics.append({
      type: "start",
      time: new Date().toISOString(),
      step: this.step,
      backend: backend.name,
      threads: backend.threads,
      replicas: this.replicas,
      resumed: Boolean(checkpoint),
      configName: ctx.configName,
    });
    const loss = config.optimization.loss;
    this.engine =
      this.replicas > 1
        ? await DataParallelEngine.start(this.replicas, this.model, this.optimizer, loss, backend.name)
        : new InProcessEngine(this.model, this.optimizer, loss);
    this.progress = (ctx.progress ?? plainTrainProgress)({
      total: this.lastStep,
      start: this.step,
      itersPerEpoch: this.itersPerEpoch,
      logEvery: config.logging.log_every,
      log,
    });
  }

  async loop(): Promise<TrainingOutcome> {
    const { config, source } = this.ctx;
    let lastLoss = Number.NaN;
    let pending =
      this.step < this.lastStep ? fetchBatch(source, this.step, this.itersPerEpoch, this.batchSize) : undefined;
    try {
      while (this.step < this.lastStep) {
        const raw = await pending!;
        // Start reading the next batch now; it overlaps with this step's compute where the source does I/O.
        pending =
          this.step + 1 < this.lastStep
            ? fetchBatch(source, this.step + 1, this.itersPerEpoch, this.batchSize)
            : undefined;
        let nextRaw: RawBatch | undefined;
        pending?.then(
          (r) => {
            nextRaw = r;
          },
          () => undefined, // its error surfaces where the loop awaits it
        );
        lastLoss = await this.trainStep(raw, () => nextRaw);
        const epochEnd = this.step % this.itersPerEpoch === 0;
        if (epochEnd) await this.endEpoch();
        const periodic =
          (config.logging.checkpoint_every > 0 && this.step % config.logging.checkpoint_every === 0) ||
          this.clock.due();
        const interrupted = this.ctx.stopRequested?.() ?? false;
        if (epochEnd || periodic || this.step === this.lastStep || interrupted) await this.saveCheckpoint();
        else await this.metrics.flush();
        if (interrupted && this.step < this.lastStep) {
          throw new InterruptedError(
            `stopped at step ${this.step} on request; checkpoint ${stepName(this.step)} is complete`,
            "run again with --resume to continue",
          );
        }
      }
    } finally {
      if (pending) await pending.catch(() => undefined);
    }
    return {
      step: this.step,
      epochsCompleted: Math.floor(this.step / this.itersPerEpoch),
      lastLoss,
      stopped: this.lastStep === this.totalSteps ? "done" : "max-steps",
      backend: this.ctx.backend,
      replicas: this.replicas,
      outUri: this.ctx.store.baseUri,
    };
  }

  /** One optimisation step on `raw` (the batch of this.step): crops, masks, then the engine's step, metrics. */
  private async trainStep(raw: RawBatch, nextRaw: () => RawBatch | undefined): Promise<number> {
    const { step } = this;
    const started = performance.now();
    const input = this.prepared?.step === step ? this.prepared : this.prepare(raw, step);
    this.prepared = undefined;
    const { indices } = input.batch;
    if (step === 0) await this.drawMasks(input.crops, input.masks);
    const lr = this.schedules.lr.at(step);
    const wd = this.schedules.wd.at(step);
    const momentum = this.schedules.momentum.at(step);
    // The next step's input, if its batch has arrived: the engine makes it where this thread would wait for workers.
    const prepareNext = () => {
      const next = step + 1 < this.lastStep ? nextRaw() : undefined;
      if (next) this.prepared = this.prepare(next, step + 1);
    };
    // Loss, gradients, AdamW and the EMA: the engine updates the weights in place unless the loss is not finite.
    const loss = await this.engine.step(input.batch, { lr, weightDecay: wd, momentum }, prepareNext);
    if (!Number.isFinite(loss)) {
      await this.metrics.flush(true);
      throw new NonFiniteLossError(step, loss);
    }
    const ms = performance.now() - started;
    const record: StepRecord = {
      type: "step",
      time: new Date().toISOString(),
      step,
      epoch: Math.floor(step / this.itersPerEpoch),
      loss,
      lr,
      wd,
      momentum,
      imgPerSec: (this.batchSize * 1000) / ms,
      msPerStep: ms,
      contextPatches: indices.ctxLen,
      targetPatches: indices.targetLen,
    };
    this.metrics.append(record);
    this.progress.step(record);
    this.step += 1;
    return loss;
  }

  /** Step `step`'s crops, masks and engine input from its raw batch: a pure function of (seed, step, raw batch). */
  private prepare(raw: RawBatch, step: number): PreparedStep {
    const { seed } = this.ctx;
    const { info, dims, batchSize } = this;
    const crops = augmentBatch(raw.images, batchSize, info.height, info.width, info.channels, this.augment, seed, step);
    const masks = this.sampler.sample(batchSize, seed, step);
    const patches = patchify(crops, batchSize, dims.imageSize, dims.inChannels, dims.patchSize);
    const patchWidth = dims.inChannels * dims.patchSize * dims.patchSize;
    return { step, crops, masks, batch: { patches, patchWidth, indices: stepIndices(masks, dims.numPatches) } };
  }

  /** report/masks.png: the first batch's crops as the encoder sees them, with the context and target blocks. */
  private async drawMasks(crops: Float32Array, masks: BatchMasks): Promise<void> {
    const draw = this.ctx.drawMaskFigure;
    if (!draw) return;
    const { cropSize, mean, std } = this.augment;
    const png = await draw(
      firstBatchFigure(crops, masks, { size: cropSize, channels: this.info.channels, mean, std }, this.batchSize),
    );
    await this.ctx.store.put(MASKS_FIGURE_KEY, png, { contentType: "image/png" });
  }

  /** Epoch summary: mean loss (from the log, so a resumed epoch counts every step) and collapse metrics. */
  private async endEpoch(): Promise<void> {
    const { config, source } = this.ctx;
    const epoch = this.step / this.itersPerEpoch - 1;
    const losses = this.metrics.epochLosses(epoch);
    const rec = await epochMetrics(this.model, source, config, this.step, epoch, losses);
    this.metrics.append(rec);
    this.progress.note(
      `epoch ${epoch + 1} done: mean loss ${rec.meanLoss.toFixed(5)}, target std ${rec.targetStd.toFixed(4)}, ` +
        `effective rank ${rec.effectiveRank.toFixed(1)}`,
    );
    if (rec.collapseWarning) {
      this.progress.note(
        "WARNING: representation collapse: the mean per-dimension std of pooled target features fell to " +
          `${rec.targetStd.toFixed(5)} ` +
          `(below logging.collapse_std_threshold ${config.logging.collapse_std_threshold}); ` +
          "lower optimization.lr or raise optimization.warmup",
      );
    }
  }

  private async saveCheckpoint(): Promise<void> {
    const { ctx, step: completed } = this;
    const state = assembleTrainState({
      step: completed,
      itersPerEpoch: this.itersPerEpoch,
      seed: ctx.seed,
      configName: ctx.configName,
      config: ctx.config,
      data: ctx.data,
      backend: ctx.backend.name,
      replicas: this.replicas,
      optimizerStep: this.optimizer.stepCount,
      normalization: { mean: this.info.mean, std: this.info.std },
      schedules: this.schedules,
    });
    await ctx.lock.check(); // never publish into a run someone else has taken over
    await this.metrics.flush(true);
    await saveCheckpoint(ctx.store, {
      step: completed,
      epoch: state.epochsCompleted,
      model: toNamed(this.model.exportState()),
      optimizer: toNamed(this.optimizer.exportState()),
      state,
      metadata: { format: "pt", producer: "ijepa-aws (TensorFlow.js, float32)", config: ctx.configName },
    });
    this.clock.reset();
    this.progress.note(`checkpoint ${stepName(completed)} written`);
  }

  async close(): Promise<void> {
    this.progress?.stop();
    await this.engine?.close();
    await this.metrics.flush(true).catch(() => undefined);
    this.optimizer.dispose();
    this.model.dispose();
  }
}

function fetchBatch(source: TrainBatchSource, step: number, itersPerEpoch: number, batchSize: number) {
  return source.batch(Math.floor(step / itersPerEpoch), step % itersPerEpoch, batchSize);
}
