// The I-JEPA training loop: data → masks → loss/grads → AdamW → EMA, with metrics, checkpoints and exact resume.
import os from "node:os";
import { stringify as toYaml } from "yaml";
import { describeBackend, initBackend, type BackendInfo, type BackendName } from "../backend.js";
import { folderUri, loadCheckpoint, readLatestPointer, saveCheckpoint } from "../checkpoint/checkpoint_store.js";
import { CONFIG_KEY, stepName } from "../checkpoint/layout.js";
import type { NamedTensor } from "../checkpoint/safetensors.js";
import type { TrainConfig } from "../config/schema.js";
import { ConfigError, DataError, IjepaError, NonFiniteLossError } from "../errors.js";
import type { TrainBatchSource } from "../data/batch_source.js";
import { openTrainSource } from "../data/open_train_source.js";
import { pooledFeatures } from "../eval/features.js";
import { MultiBlockMaskSampler } from "../masks/multiblock.js";
import { describeMaskStats, formatMaskStats } from "../masks/mask_stats.js";
import { IJepa, stepIndices } from "../models/ijepa.js";
import { resolveModelDims, type ModelDims } from "../models/model_dims.js";
import type { StateTensor } from "../models/param_table.js";
import { patchify } from "../models/vision_transformer.js";
import { AdamW } from "../optim/adamw.js";
import { openStore } from "../storage/open_store.js";
import type { ObjectStore } from "../storage/object_store.js";
import { augmentBatch } from "../transforms.js";
import { makeSchedules } from "../utils/schedulers.js";
import { collapseMetrics } from "./collapse_metrics.js";
import { DataParallelEngine, InProcessEngine, type GradientEngine } from "./gradient_engine.js";
import { MetricsLog } from "./metrics_log.js";
import type { EpochRecord, StepRecord } from "./metrics_record.js";
import { TrainProgress } from "./progress.js";

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
  stopped: "done" | "max-steps" | "interrupted";
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
  const store = openStore(options.out);
  log(`ijepa train: ${describeBackend(backend)}; run ${store.baseUri}`);

  // Resume first: the checkpoint's config, seed and replica count win unless overridden.
  const wantResume = options.resume || options.resumeFrom !== undefined || Boolean(options.config?.meta.load_checkpoint);
  const latest = await readLatestPointer(store);
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
  const seed = options.seed ?? checkpoint?.state.seed ?? config.meta.seed;
  // An injected source names itself; otherwise --data, then the checkpoint's, then the config's.
  const data = options.data ?? (options.source ? options.source.info.origin : (checkpoint?.state.data ?? config.data.dataset));
  if (!data) throw new DataError("no dataset given", "pass --data (e.g. --data fashion-mnist) or set data.dataset in the config");

  const source = options.source ?? (await openTrainSource(data, { seed }));
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
  checkpoint: Awaited<ReturnType<typeof loadCheckpoint<TrainState>>> | undefined;
  log: (line: string) => void;
}

async function runTraining(ctx: RunContext): Promise<TrainResult> {
  const { options, config, configName, seed, source, store, backend, checkpoint, log } = ctx;
  const info = source.info;
  const batchSize = config.data.batch_size;
  const itersPerEpoch = source.batchesPerEpoch(batchSize);
  if (itersPerEpoch < 1) {
    throw new DataError(`${info.origin} has ${info.numExamples} training images, fewer than one batch of ${batchSize}`, "lower data.batch_size or use more images");
  }
  const dims = resolveModelDims(config, info.channels);
  const sampler = new MultiBlockMaskSampler({
    inputSize: config.data.crop_size,
    patchSize: config.mask.patch_size,
    encMaskScale: config.mask.enc_mask_scale,
    predMaskScale: config.mask.pred_mask_scale,
    aspectRatio: config.mask.aspect_ratio,
    nenc: config.mask.num_enc_masks,
    npred: config.mask.num_pred_masks,
    minKeep: config.mask.min_keep,
    allowOverlap: config.mask.allow_overlap,
    cornerSampling: config.mask.corner_sampling,
  });
  const epochs = config.optimization.epochs;
  const totalSteps = epochs * itersPerEpoch;
  const lastStep = Math.min(totalSteps, options.maxSteps ?? totalSteps, (options.untilEpoch ?? epochs) * itersPerEpoch);
  const o = config.optimization;
  const schedules = makeSchedules({
    itersPerEpoch,
    epochs,
    ipeScale: o.ipe_scale,
    warmupEpochs: o.warmup,
    startLr: o.start_lr,
    lr: o.lr,
    finalLr: o.final_lr,
    weightDecay: o.weight_decay,
    finalWeightDecay: o.final_weight_decay,
    ema: o.ema,
  });

  const model = IJepa.initialise(dims, seed);
  const variables = model.trainableVariables();
  const optimizer = new AdamW(
    [
      { prefix: "encoder.", table: model.encoder.params },
      { prefix: "predictor.", table: model.predictor.params },
    ],
    { betas: o.betas, eps: o.eps },
  );
  const metrics = new MetricsLog(store);
  let step = 0;
  if (checkpoint) {
    const origin = folderUri(store, checkpoint.prefix);
    model.importState(asStateMap(checkpoint.model), origin);
    optimizer.importState(asStateMap(checkpoint.optimizer), checkpoint.state.optimizerStep, origin);
    step = checkpoint.step;
    await metrics.loadForResume(step);
    log(`resumed from ${origin} (step ${step}, epoch ${Math.floor(step / itersPerEpoch)})`);
  }
  const replicas = chooseReplicas(options.replicas ?? checkpoint?.state.replicas, backend, batchSize);
  if (checkpoint && checkpoint.state.replicas !== replicas) {
    log(`note: the checkpoint was trained with ${checkpoint.state.replicas} replica(s), this process uses ${replicas}: results stay valid but are not bit-identical to an uninterrupted run`);
  }

  await store.put(CONFIG_KEY, toYaml(config), { contentType: "application/yaml" });
  const summary = describeRun(dims, config, model, info.origin, info.numExamples, itersPerEpoch, lastStep, replicas, backend);
  summary.forEach((l) => log(l));
  log(formatMaskStats(describeMaskStats(sampler.options, { batchSize, batches: 20, seed })));
  metrics.append({
    type: "start",
    time: new Date().toISOString(),
    step,
    backend: backend.name,
    threads: backend.threads,
    replicas,
    resumed: Boolean(checkpoint),
    configName,
  });

  const engine: GradientEngine =
    replicas > 1 ? await DataParallelEngine.start(replicas, model, variables, o.loss, backend.name) : new InProcessEngine(model, variables, o.loss);
  const progress = new TrainProgress({ total: lastStep, start: step, itersPerEpoch, logEvery: config.logging.log_every, bar: options.progressBar, log });
  const epochLosses: number[] = [];
  let lastLoss = Number.NaN;
  let stopped: TrainResult["stopped"] = lastStep === totalSteps ? "done" : "max-steps";
  const patchWidth = dims.inChannels * dims.patchSize * dims.patchSize;
  const augment = {
    cropSize: config.data.crop_size,
    scale: config.data.crop_scale,
    ratio: config.data.crop_ratio,
    horizontalFlip: config.data.use_horizontal_flip,
    mean: info.mean,
    std: info.std,
  };

  const save = async (completed: number) => {
    const state: TrainState = {
      step: completed,
      epochsCompleted: Math.floor(completed / itersPerEpoch),
      itersPerEpoch,
      seed,
      configName,
      config,
      data: ctx.data,
      backend: backend.name,
      replicas,
      optimizerStep: optimizer.stepCount,
      normalization: { mean: info.mean, std: info.std },
      schedules: { lr: schedules.lr.at(completed), wd: schedules.wd.at(completed), momentum: schedules.momentum.at(completed) },
      rng: { seed, streams: ["mask-size/<step>", "mask-position/<step>", "augment/<step>", "epoch/<epoch>", "init/encoder", "init/predictor"], nextStep: completed },
    };
    await metrics.flush(true);
    await saveCheckpoint(store, {
      step: completed,
      epoch: state.epochsCompleted,
      model: toNamed(model.exportState()),
      optimizer: toNamed(optimizer.exportState()),
      state,
      metadata: { format: "pt", producer: "ijepa-aws (TensorFlow.js, float32)", config: configName },
    });
    progress.note(`checkpoint ${stepName(completed)} written`);
  };

  try {
    let pending = step < lastStep ? fetchBatch(source, step, itersPerEpoch, batchSize) : undefined;
    while (step < lastStep) {
      const started = performance.now();
      const epoch = Math.floor(step / itersPerEpoch);
      const raw = await pending!;
      // Start reading the next batch now; it overlaps with this step's compute where the source does I/O.
      pending = step + 1 < lastStep ? fetchBatch(source, step + 1, itersPerEpoch, batchSize) : undefined;
      const crops = augmentBatch(raw.images, batchSize, info.height, info.width, info.channels, augment, seed, step);
      const masks = sampler.sample(batchSize, seed, step);
      const indices = stepIndices(masks, dims.numPatches);
      const lr = schedules.lr.at(step);
      const wd = schedules.wd.at(step);
      const momentum = schedules.momentum.at(step);
      const { loss, grads } = await engine.compute({ patches: patchify(crops, batchSize, dims.imageSize, dims.inChannels, dims.patchSize), patchWidth, indices });
      if (!Number.isFinite(loss)) {
        for (const g of Object.values(grads)) g.dispose();
        await metrics.flush(true);
        throw new NonFiniteLossError(step, loss);
      }
      optimizer.apply(grads, lr, wd);
      for (const g of Object.values(grads)) g.dispose();
      model.updateTarget(momentum);

      const ms = performance.now() - started;
      lastLoss = loss;
      epochLosses.push(loss);
      const record: StepRecord = {
        type: "step",
        time: new Date().toISOString(),
        step,
        epoch,
        loss,
        lr,
        wd,
        momentum,
        imgPerSec: (batchSize * 1000) / ms,
        msPerStep: ms,
        contextPatches: indices.ctxLen,
        targetPatches: indices.targetLen,
      };
      metrics.append(record);
      progress.step(record);
      step += 1;

      const epochEnd = step % itersPerEpoch === 0;
      if (epochEnd) {
        const rec = await epochMetrics(model, source, config, step, epoch, epochLosses);
        metrics.append(rec);
        progress.note(
          `epoch ${epoch + 1} done: mean loss ${rec.meanLoss.toFixed(5)}, target std ${rec.targetStd.toFixed(4)}, effective rank ${rec.effectiveRank.toFixed(1)}`,
        );
        if (rec.collapseWarning) {
          progress.note(
            `WARNING: representation collapse: the mean per-dimension std of pooled target features fell to ${rec.targetStd.toFixed(5)} ` +
              `(below logging.collapse_std_threshold ${config.logging.collapse_std_threshold}); lower optimization.lr or raise optimization.warmup`,
          );
        }
        epochLosses.length = 0;
      }
      const periodic = config.logging.checkpoint_every > 0 && step % config.logging.checkpoint_every === 0;
      const interrupted = options.stopRequested?.() ?? false;
      if (epochEnd || periodic || step === lastStep || interrupted) await save(step);
      else await metrics.flush();
      if (interrupted && step < lastStep) {
        stopped = "interrupted";
        break;
      }
    }
    if (pending) await pending.catch(() => undefined);
  } finally {
    progress.stop();
    await engine.close();
    await metrics.flush(true).catch(() => undefined);
    optimizer.dispose();
    model.dispose();
  }
  if (stopped === "interrupted") {
    throw new InterruptedError(`stopped at step ${step} on request; checkpoint ${stepName(step)} is complete`, "run again with --resume to continue");
  }
  return {
    step,
    epochsCompleted: Math.floor(step / itersPerEpoch),
    lastLoss,
    stopped,
    backend,
    replicas,
    outUri: store.baseUri,
  };
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

function chooseReplicas(requested: number | undefined, backend: BackendInfo, batchSize: number): number {
  if (backend.name === "node" || backend.name === "node-gpu") {
    if (requested && requested > 1) throw new IjepaError(`--replicas ${requested} is for the wasm/cpu backends`, "TensorFlow's native backend uses every core (or the GPU) in one process; drop --replicas");
    return 1;
  }
  let replicas = requested ?? Math.min(4, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
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
