// The I-JEPA training loop: data → masks → loss/grads → AdamW → EMA, with metrics, checkpoints and exact resume.
import os from "node:os";
import { stringify as toYaml } from "yaml";
import { describeBackend, initBackend, type BackendInfo, type BackendName } from "../backend.js";
import { folderUri, loadCheckpoint, readLatestPointer, saveCheckpoint, type LoadedCheckpoint } from "../checkpoint/checkpoint_store.js";
import { CONFIG_KEY, stepName } from "../run/run_layout.js";
import type { NamedTensor } from "../checkpoint/safetensors.js";
import type { TrainConfig } from "../config/schema.js";
import { ConfigError, DataError, IjepaError, NonFiniteLossError } from "../errors.js";
import type { ImageSourceInfo, RawBatch, TrainBatchSource } from "../data/batch_source.js";
import { openTrainSource } from "../data/open_train_source.js";
import { pooledFeatures } from "../eval/features.js";
import { MultiBlockMaskSampler, type BatchMasks } from "../masks/multiblock.js";
import { maskOptionsFromConfig } from "../masks/mask_config.js";
import { MASKS_FIGURE_KEY, renderMaskFigure } from "../report/mask_figure.js";
import { describeMaskStats, formatMaskStats } from "../masks/mask_stats.js";
import { IJepa, stepIndices } from "../models/ijepa.js";
import { resolveModelDims, type ModelDims } from "../models/model_dims.js";
import type { StateTensor } from "../models/param_table.js";
import { patchify } from "../models/vision_transformer.js";
import { AdamW } from "../optim/adamw.js";
import { openStore } from "../storage/open_store.js";
import type { ObjectStore } from "../storage/object_store.js";
import { augmentBatch, type AugmentSettings } from "../transforms.js";
import { makeSchedules } from "../utils/schedulers.js";
import { collapseMetrics } from "./collapse_metrics.js";
import { DataParallelEngine, InProcessEngine, type GradientEngine } from "./gradient_engine.js";
import { MetricsLog } from "./metrics_log.js";
import type { EpochRecord, StepRecord } from "./metrics_record.js";
import { TrainProgress } from "./progress.js";
import { requireGpuWhenAsked } from "./gpu_requirement.js";
import { checkGpuFit } from "./gpu_memory.js";
import { CheckpointClock } from "./checkpoint_clock.js";
import type { MetricsRecord } from "./metrics_record.js";

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
  /** Show a progress bar (default: when stdout is a TTY). */
  progressBar?: boolean;
  /** Set to true (e.g. by SIGTERM) to checkpoint after the current step and stop. */
  stopRequested?: () => boolean;
  /** Use this source instead of opening `data` (embedding and tests). */
  source?: TrainBatchSource;
}

export interface TrainResult {
  step: number;
  epochsCompleted: number;
  lastLoss: number;
  stopped: "done" | "max-steps";
  backend: BackendInfo;
  replicas: number;
  outUri: string;
}

/** What a checkpoint's state.json `state` holds for training (everything else is in the safetensors files). */
export interface TrainState {
  step: number;
  epochsCompleted: number;
  itersPerEpoch: number;
  seed: number;
  configName: string;
  config: TrainConfig;
  data: string;
  backend: BackendName;
  replicas: number;
  optimizerStep: number;
  /** Per-channel mean/std (pixels in [0, 1]) the inputs were normalised with; evaluation uses the same. */
  normalization: { mean: number[]; std: number[] };
  /** Schedule values the next step will use (for inspection; they are recomputed from the step). */
  schedules: { lr: number; wd: number; momentum: number };
  /**
   * Every random draw is a pure function of (seed, stream name, step): masks "mask-size/<step>" and
   * "mask-position/<step>", crops "augment/<step>", data order "epoch/<e>" (or shard windows), init
   * "init/*". So the generator state to restore is the seed plus the step counter.
   */
  rng: { seed: number; streams: string[]; nextStep: number };
}

export class InterruptedError extends IjepaError {}

/** Runs (or resumes) training and returns where it stopped. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const backend = await initBackend(options.backend);
  const gpu = await requireGpuWhenAsked(backend); // in a GPU job: node-gpu on a visible GPU, or a loud failure
  const store = openStore(options.out);
  log(`ijepa train: ${describeBackend(backend)}; run ${store.baseUri}`);

  // Resume first: the checkpoint's config, seed and replica count win unless overridden.
  const latest = await readLatestPointer(store);
  const wantResume = options.resume || options.resumeFrom !== undefined || Boolean(options.config?.meta.load_checkpoint) || (options.autoResume === true && latest !== undefined);
  if (!wantResume && latest) {
    throw new IjepaError(
      `${store.baseUri} already holds a run (checkpoint at step ${latest.step})`,
      "pass --resume to continue it, or choose another --out",
    );
  }
  const checkpoint = wantResume ? await loadCheckpoint<TrainState>(store, options.resumeFrom ?? "latest") : undefined;
  const base = checkpoint ? checkpoint.state.config : options.config;
  if (!base) throw new ConfigError("no config given", "pass --config with a YAML file or a preset name (smoke, fmnist-vit-tiny, …)");
  const config = structuredClone(base);
  if (options.epochs !== undefined) config.optimization.epochs = options.epochs;
  if (checkpoint && options.config) {
    const given = structuredClone(options.config);
    given.optimization.epochs = config.optimization.epochs;
    if (JSON.stringify(given) !== JSON.stringify(config)) {
      log("note: --config differs from the config this run was trained with; resuming uses the run's own (only --epochs, --seed and --data can change on resume)");
    }
  }
  const seed = options.seed ?? checkpoint?.state.seed ?? config.meta.seed;
  // An injected source names itself; otherwise --data, then the checkpoint's, then the config's.
  const data = options.data ?? (options.source ? options.source.info.origin : (checkpoint?.state.data ?? config.data.dataset));
  if (!data) throw new DataError("no dataset given", "pass --data (e.g. --data fashion-mnist) or set data.dataset in the config");

  const source = options.source ?? (await openTrainSource(data, { seed }));
  if (gpu) checkGpuFit(config, gpu, source.info.channels, options.configName ?? checkpoint?.state.configName);
  try {
    const configName = options.configName ?? checkpoint?.state.configName ?? "config";
    return await runTraining({ options, config, configName, seed, data, source, store, backend, checkpoint, log });
  } finally {
    if (!options.source) await source.close();
  }
}

interface RunContext {
  options: TrainOptions;
  config: TrainConfig;
  configName: string;
  seed: number;
  data: string;
  source: TrainBatchSource;
  store: ObjectStore;
  backend: BackendInfo;
  checkpoint: LoadedCheckpoint<TrainState> | undefined;
  log: (line: string) => void;
}

async function runTraining(ctx: RunContext): Promise<TrainResult> {
  const run = await TrainingRun.prepare(ctx);
  try {
    return await run.loop();
  } finally {
    await run.close();
  }
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
  private readonly schedules: ReturnType<typeof makeSchedules>;
  private readonly model: IJepa;
  private readonly optimizer: AdamW;
  private readonly metrics: MetricsLog;
  private readonly augment: AugmentSettings;
  private step = 0;
  private replicas = 1;
  private readonly clock: CheckpointClock;
  private engine!: GradientEngine;
  private progress!: TrainProgress;

  private constructor(private readonly ctx: RunContext) {
    const { config, source, options } = ctx;
    this.info = source.info;
    this.batchSize = config.data.batch_size;
    this.itersPerEpoch = source.batchesPerEpoch(this.batchSize);
    if (this.itersPerEpoch < 1) {
      throw new DataError(`${this.info.origin} has ${this.info.numExamples} training images, fewer than one batch of ${this.batchSize}`, "lower data.batch_size or use more images");
    }
    this.dims = resolveModelDims(config, this.info.channels);
    this.sampler = new MultiBlockMaskSampler(maskOptionsFromConfig(config));
    const o = config.optimization;
    this.totalSteps = o.epochs * this.itersPerEpoch;
    this.lastStep = Math.min(this.totalSteps, options.maxSteps ?? this.totalSteps, (options.untilEpoch ?? o.epochs) * this.itersPerEpoch);
    this.schedules = makeSchedules({
      itersPerEpoch: this.itersPerEpoch,
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
    // A resumed run's weights all come from the checkpoint: skip drawing an initialisation.
    this.model = ctx.checkpoint ? IJepa.blank(this.dims) : IJepa.initialise(this.dims, ctx.seed);
    this.optimizer = new AdamW(
      [
        { prefix: "encoder.", table: this.model.encoder.params },
        { prefix: "predictor.", table: this.model.predictor.params },
      ],
      { betas: o.betas, eps: o.eps },
    );
    this.metrics = new MetricsLog(ctx.store, undefined, options.onRecord);
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
    this.replicas = chooseReplicas(ctx.options.replicas, checkpoint?.state.replicas, backend, this.batchSize);
    if (checkpoint) {
      // Exact resume needs the same backend, replica count and data; anything else still resumes, but say so.
      const s = checkpoint.state;
      const differences = [
        s.replicas !== this.replicas ? `${s.replicas} replica(s), now ${this.replicas}` : "",
        s.backend !== backend.name ? `backend ${s.backend}, now ${backend.name}` : "",
        s.itersPerEpoch !== this.itersPerEpoch ? `${s.itersPerEpoch} steps per epoch, now ${this.itersPerEpoch} (other data: epoch boundaries and schedules shift)` : "",
      ].filter(Boolean);
      if (differences.length) log(`note: the checkpoint was trained with ${differences.join("; ")}: training continues, but not bit-identically to an uninterrupted run`);
    }
    await store.put(CONFIG_KEY, toYaml(config), { contentType: "application/yaml" });
    describeRun(this.dims, config, this.model, this.info.origin, this.info.numExamples, this.itersPerEpoch, this.lastStep, this.replicas, backend).forEach((l) => log(l));
    log(formatMaskStats(describeMaskStats(this.sampler.options, { batchSize: this.batchSize, batches: 20, seed: ctx.seed })));
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
    const variables = this.model.trainableVariables();
    const loss = config.optimization.loss;
    this.engine =
      this.replicas > 1 ? await DataParallelEngine.start(this.replicas, this.model, variables, loss, backend.name) : new InProcessEngine(this.model, variables, loss);
    this.progress = new TrainProgress({ total: this.lastStep, start: this.step, itersPerEpoch: this.itersPerEpoch, logEvery: config.logging.log_every, bar: ctx.options.progressBar, log });
  }

  async loop(): Promise<TrainResult> {
    const { options, config, source } = this.ctx;
    let lastLoss = Number.NaN;
    let pending = this.step < this.lastStep ? fetchBatch(source, this.step, this.itersPerEpoch, this.batchSize) : undefined;
    try {
      while (this.step < this.lastStep) {
        const raw = await pending!;
        // Start reading the next batch now; it overlaps with this step's compute where the source does I/O.
        pending = this.step + 1 < this.lastStep ? fetchBatch(source, this.step + 1, this.itersPerEpoch, this.batchSize) : undefined;
        lastLoss = await this.trainStep(raw);
        const epochEnd = this.step % this.itersPerEpoch === 0;
        if (epochEnd) await this.endEpoch();
        const periodic = (config.logging.checkpoint_every > 0 && this.step % config.logging.checkpoint_every === 0) || this.clock.due();
        const interrupted = options.stopRequested?.() ?? false;
        if (epochEnd || periodic || this.step === this.lastStep || interrupted) await this.saveCheckpoint();
        else await this.metrics.flush();
        if (interrupted && this.step < this.lastStep) {
          throw new InterruptedError(`stopped at step ${this.step} on request; checkpoint ${stepName(this.step)} is complete`, "run again with --resume to continue");
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

  /** One optimisation step on `raw` (the batch of this.step): crops, masks, loss/grads, AdamW, EMA, metrics. */
  private async trainStep(raw: RawBatch): Promise<number> {
    const { seed } = this.ctx;
    const { info, dims, batchSize, step } = this;
    const started = performance.now();
    const crops = augmentBatch(raw.images, batchSize, info.height, info.width, info.channels, this.augment, seed, step);
    const masks = this.sampler.sample(batchSize, seed, step);
    if (step === 0) await this.drawMasks(crops, masks);
    const indices = stepIndices(masks, dims.numPatches);
    const lr = this.schedules.lr.at(step);
    const wd = this.schedules.wd.at(step);
    const momentum = this.schedules.momentum.at(step);
    const patchWidth = dims.inChannels * dims.patchSize * dims.patchSize;
    const { loss, grads } = await this.engine.compute({ patches: patchify(crops, batchSize, dims.imageSize, dims.inChannels, dims.patchSize), patchWidth, indices });
    if (!Number.isFinite(loss)) {
      for (const g of Object.values(grads)) g.dispose();
      await this.metrics.flush(true);
      throw new NonFiniteLossError(step, loss);
    }
    this.optimizer.apply(grads, lr, wd);
    for (const g of Object.values(grads)) g.dispose();
    this.model.updateTarget(momentum);
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
      imgPerSec: (batchSize * 1000) / ms,
      msPerStep: ms,
      contextPatches: indices.ctxLen,
      targetPatches: indices.targetLen,
    };
    this.metrics.append(record);
    this.progress.step(record);
    this.step += 1;
    return loss;
  }

  /** report/masks.png: the first batch's crops as the encoder sees them, with the context and target blocks. */
  private async drawMasks(crops: Float32Array, masks: BatchMasks): Promise<void> {
    const { cropSize, mean, std } = this.augment;
    const c = this.info.channels;
    const count = Math.min(8, this.batchSize);
    const pixels = new Uint8Array(count * cropSize * cropSize * c);
    for (let i = 0; i < pixels.length; i++) pixels[i] = Math.max(0, Math.min(255, Math.round((crops[i] * std[i % c] + mean[i % c]) * 255)));
    const rows = (mask: Int32Array, keep: number, b: number) => mask.subarray(b * keep, (b + 1) * keep);
    const png = await renderMaskFigure({
      images: pixels,
      count,
      height: cropSize,
      width: cropSize,
      channels: c,
      gridHeight: masks.gridHeight,
      gridWidth: masks.gridWidth,
      context: Array.from({ length: count }, (_, b) => rows(masks.context[0], masks.contextKeep, b)),
      targets: Array.from({ length: count }, (_, b) => masks.target.map((t) => rows(t, masks.targetKeep, b))),
      scale: Math.max(1, Math.round(160 / cropSize)),
    });
    await this.ctx.store.put(MASKS_FIGURE_KEY, png, { contentType: "image/png" });
  }

  /** Epoch summary: mean loss (from the log, so a resumed epoch counts every step) and collapse metrics. */
  private async endEpoch(): Promise<void> {
    const { config, source } = this.ctx;
    const epoch = this.step / this.itersPerEpoch - 1;
    const losses = this.metrics.epochLosses(epoch);
    const rec = await epochMetrics(this.model, source, config, this.step, epoch, losses);
    this.metrics.append(rec);
    this.progress.note(`epoch ${epoch + 1} done: mean loss ${rec.meanLoss.toFixed(5)}, target std ${rec.targetStd.toFixed(4)}, effective rank ${rec.effectiveRank.toFixed(1)}`);
    if (rec.collapseWarning) {
      this.progress.note(
        `WARNING: representation collapse: the mean per-dimension std of pooled target features fell to ${rec.targetStd.toFixed(5)} ` +
          `(below logging.collapse_std_threshold ${config.logging.collapse_std_threshold}); lower optimization.lr or raise optimization.warmup`,
      );
    }
  }

  private async saveCheckpoint(): Promise<void> {
    const { ctx, step: completed } = this;
    const state: TrainState = {
      step: completed,
      epochsCompleted: Math.floor(completed / this.itersPerEpoch),
      itersPerEpoch: this.itersPerEpoch,
      seed: ctx.seed,
      configName: ctx.configName,
      config: ctx.config,
      data: ctx.data,
      backend: ctx.backend.name,
      replicas: this.replicas,
      optimizerStep: this.optimizer.stepCount,
      normalization: { mean: this.info.mean, std: this.info.std },
      schedules: { lr: this.schedules.lr.at(completed), wd: this.schedules.wd.at(completed), momentum: this.schedules.momentum.at(completed) },
      rng: { seed: ctx.seed, streams: ["mask-size/<step>", "mask-position/<step>", "augment/<step>", "epoch/<epoch>", "init/encoder", "init/predictor"], nextStep: completed },
    };
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

/** Mean loss of the epoch and collapse metrics of the pooled target-encoder features on a fixed sample. */
async function epochMetrics(model: IJepa, source: TrainBatchSource, config: TrainConfig, step: number, epoch: number, losses: number[]): Promise<EpochRecord> {
  const info = source.info;
  const n = Math.min(config.logging.collapse_sample, info.numExamples);
  // A fixed sample: the first n images of epoch 0's order (same images at every epoch end).
  const sample = await source.batch(0, 0, n);
  const features = pooledFeatures(model.targetEncoder, { images: sample.images, count: n, height: info.height, width: info.width, channels: info.channels }, info.mean, info.std);
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

/** Replicas for this process: an explicit --replicas, else the checkpoint's count, else min(cores, 4) — on wasm/cpu only. */
function chooseReplicas(requested: number | undefined, fromCheckpoint: number | undefined, backend: BackendInfo, batchSize: number): number {
  if (requested !== undefined && requested < 1) throw new IjepaError(`--replicas ${requested}`, "use 1 or more");
  if (backend.name === "node" || backend.name === "node-gpu") {
    if (requested && requested > 1) throw new IjepaError(`--replicas ${requested} is for the wasm/cpu backends`, "TensorFlow's native backend uses every core (or the GPU) in one process; drop --replicas");
    return 1;
  }
  let replicas = requested ?? fromCheckpoint ?? Math.min(4, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  while (replicas > 1 && batchSize % replicas !== 0) replicas -= 1;
  if (requested && replicas !== requested) {
    throw new IjepaError(`data.batch_size ${batchSize} does not split evenly over --replicas ${requested}`, `use a replica count that divides the batch size`);
  }
  return replicas;
}

function describeRun(dims: ModelDims, config: TrainConfig, model: IJepa, origin: string, numExamples: number, ipe: number, lastStep: number, replicas: number, backend: BackendInfo): string[] {
  const m = (n: number) => `${(n / 1e6).toFixed(2)}M`;
  return [
    `data ${origin}: ${numExamples} images → ${ipe} steps/epoch of ${config.data.batch_size}; training to step ${lastStep} of ${ipe * config.optimization.epochs}`,
    `encoder ${config.meta.model_name} ${dims.embedDim}×${dims.depth} (${dims.numHeads} heads, ${m(model.encoder.params.numParams(true))} params) on ${dims.gridSize}×${dims.gridSize} patches of ${dims.patchSize}px; ` +
      `predictor ${dims.predEmbedDim}×${dims.predDepth} (${m(model.predictor.params.numParams(true))}); float32; ${replicas} replica(s) × ${backend.threads} thread(s)`,
  ];
}

function toNamed(tensors: StateTensor[]): NamedTensor[] {
  return tensors.map((t) => ({ name: t.name, dtype: "F32", shape: t.shape, data: t.data }) as NamedTensor);
}

function asStateMap(tensors: Map<string, NamedTensor>): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of tensors) {
    if (t.dtype !== "F32") throw new DataError(`checkpoint tensor ${name} is ${t.dtype}, expected F32`);
    out.set(name, { shape: t.shape, data: t.data as Float32Array });
  }
  return out;
}
