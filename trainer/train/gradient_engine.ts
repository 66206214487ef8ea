// One training step's computation — loss, gradients, AdamW, EMA — in this process or split over worker replicas.
import * as tf from "@tensorflow/tfjs-core";
import { Worker } from "node:worker_threads";
import type { IJepa, LossKind, StepIndices, StepResult } from "../models/ijepa.js";
import type { ModelDims } from "../models/model_dims.js";
import type { BackendName } from "../backend.js";
import type { AdamW } from "../optim/adamw.js";
import type { AdamWStepConstants } from "../optim/adamw_constants.js";
import type { SharedWasmMemory } from "../kernels/webassembly_api.js";
import {
  type SharedUpdateBuffers,
  type SharedUpdateLayout,
  SharedUpdateKernel,
  type UpdateSegment,
  createSharedMemory,
  MAIN_THREAD_SHARE,
  shareBounds,
  sharedBuffers,
  sharedUpdateLayout,
} from "./sharded_update.js";
import {
  profilingRequested,
  startKernelProfile,
  takeKernelProfile,
  wasmHeapMb,
  type KernelProfile,
} from "../kernels/kernel_profiler.js";
import { awaitWorkerMessage } from "../utils/worker_message.js";

/** One batch: patch rows [B·N, C·p·p] (row-major Float32Array) and its mask indices. */
export interface StepBatch {
  patches: Float32Array;
  patchWidth: number;
  indices: StepIndices;
}

/** The schedules' values for the update that follows a batch's gradients. */
export interface StepUpdate {
  lr: number;
  weightDecay: number;
  /** EMA momentum of the target encoder. */
  momentum: number;
}

/**
 * Work the caller would do after the step anyway and that does not touch the weights (preparing the next batch): the
 * engine may run it once on this thread where it would otherwise wait for other replicas, or not at all.
 */
export type SpareWork = () => void;

export interface GradientEngine {
  /** Number of replicas that share each batch (1 = this process only). */
  readonly replicas: number;
  /**
   * The batch's mean loss with the model's current weights (all replicas together compute exactly the full-batch
   * mean); when it is finite, the optimiser's AdamW update and then the target encoder's EMA follow, so that the
   * model holds the new weights when this resolves. A non-finite loss changes nothing.
   */
  step(batch: StepBatch, update: StepUpdate, spare?: SpareWork): Promise<number>;
  close(): Promise<void>;
}

/** One replica's share of a step: its own compute time, its heap's high-water mark, and (profiling) its kernels. */
export interface ReplicaStepStats {
  computeMs: number;
  /** When its compute began, in ms on a clock all threads share (performance.timeOrigin + now()). */
  startedAt: number;
  heapMb?: number;
  kernels: KernelProfile;
}

/** Where one step's computation went (replica 0 is this thread). */
export interface EngineStepStats {
  replicas: ReplicaStepStats[];
  /** This thread waiting for the slowest worker's gradients after finishing its own slice. */
  waitMs: number;
  /** This thread's share of averaging the gradients, AdamW and the EMA (all of it with one replica). */
  updateMs: number;
  /** This thread waiting for the workers' shares of the update. */
  updateWaitMs: number;
  /** Loading the updated weights into this thread's variables (the workers load theirs meanwhile). */
  loadMs: number;
  /** The caller's spare work, run while the workers finished their shares. */
  spareMs: number;
}

// Kept per process for `bench:train`, which runs the real training loop and reads them afterwards: every step's stats
// while profiling (IJEPA_PROFILE=1), and always each replica's largest heap.
const stepStats: EngineStepStats[] = [];
const heapHighWaterMb: number[] = [];
// Process CPU time (every thread) in ms as each compute() began: on a shared machine, CPU time per step is the
// figure that other processes' load disturbs least.
const cpuAtStepStartMs: number[] = [];

function markStepStart(): void {
  const { user, system } = process.cpuUsage();
  cpuAtStepStartMs.push((user + system) / 1000);
}

/** Process CPU ms at the start of each compute() call so far (all threads together). */
export function cpuAtStepStart(): readonly number[] {
  return cpuAtStepStartMs;
}

function record(stats: EngineStepStats): void {
  stats.replicas.forEach((r, i) => {
    if (r.heapMb !== undefined) heapHighWaterMb[i] = Math.max(heapHighWaterMb[i] ?? 0, r.heapMb);
  });
  if (profilingRequested()) stepStats.push(stats);
}

/** Every step's stats since the process started (profiling only; empty otherwise). */
export function engineStepStats(): readonly EngineStepStats[] {
  return stepStats;
}

/** Each replica's wasm heap high-water mark in MB so far (empty on other backends). */
export function replicaHeapHighWaterMb(): readonly number[] {
  return heapHighWaterMb;
}

/** Loss and gradients of a slice, timed, with the kernel profile since the last one when profiling. */
function computeSlice(model: IJepa, variables: tf.Variable[], lossKind: LossKind, batch: StepBatch) {
  if (profilingRequested()) startKernelProfile();
  const start = performance.now();
  const startedAt = performance.timeOrigin + start;
  const rows = batch.patches.length / batch.patchWidth;
  const patches = tf.tensor2d(batch.patches, [rows, batch.patchWidth]);
  let result: StepResult;
  try {
    result = model.lossAndGrads(patches, batch.indices, lossKind, variables);
  } finally {
    patches.dispose();
  }
  const stats: ReplicaStepStats = {
    computeMs: performance.now() - start,
    startedAt,
    heapMb: wasmHeapMb(),
    kernels: takeKernelProfile(),
  };
  return { ...result, stats };
}

/** The whole batch in this process: tfjs gradients, then AdamW and the EMA as tfjs ops (on any backend). */
export class InProcessEngine implements GradientEngine {
  readonly replicas = 1;
  private readonly variables: tf.Variable[];
  constructor(
    private readonly model: IJepa,
    private readonly optimizer: AdamW,
    private readonly lossKind: LossKind,
  ) {
    this.variables = model.trainableVariables();
  }

  async step(batch: StepBatch, update: StepUpdate) {
    markStepStart();
    const { loss, grads, stats } = computeSlice(this.model, this.variables, this.lossKind, batch);
    const start = performance.now();
    try {
      if (Number.isFinite(loss)) this.optimizer.apply(grads, update.lr, update.weightDecay);
    } finally {
      for (const g of Object.values(grads)) g.dispose();
    }
    if (Number.isFinite(loss)) this.model.updateTarget(update.momentum);
    record({
      replicas: [stats],
      waitMs: 0,
      updateMs: performance.now() - start,
      updateWaitMs: 0,
      loadMs: 0,
      spareMs: 0,
    });
    return loss;
  }

  async close() {}
}

/** Splits a batch's images (and their masks) into `parts` equal slices. */
export function splitBatch(batch: StepBatch, parts: number): StepBatch[] {
  const idx = batch.indices;
  const B = idx.batch;
  if (B % parts !== 0) throw new Error(`batch size ${B} does not split evenly over ${parts} replicas`);
  const b = B / parts;
  const rowsPerImage = batch.patches.length / batch.patchWidth / B;
  const out: StepBatch[] = [];
  for (let p = 0; p < parts; p++) {
    const images = [p * b, (p + 1) * b];
    // Index arrays are ordered (mask, image, token): keep images [lo, hi) of every mask chunk, and
    // shift token rows so they index this slice's own [b·N] token matrix.
    const pick = (arr: Int32Array, chunks: number, perImage: number, shiftRows: boolean) => {
      const res = new Int32Array(chunks * b * perImage);
      let o = 0;
      for (let c = 0; c < chunks; c++) {
        const start = (c * B + images[0]) * perImage;
        for (let i = 0; i < b * perImage; i++) res[o++] = arr[start + i] - (shiftRows ? images[0] * rowsPerImage : 0);
      }
      return res;
    };
    const ctxChunks = idx.numCtxMasks;
    const tgtChunks = idx.numTargetMasks * idx.numCtxMasks;
    out.push({
      patchWidth: batch.patchWidth,
      patches: batch.patches.subarray(
        images[0] * rowsPerImage * batch.patchWidth,
        images[1] * rowsPerImage * batch.patchWidth,
      ),
      indices: {
        ...idx,
        batch: b,
        ctxRows: pick(idx.ctxRows, ctxChunks, idx.ctxLen, true),
        ctxPatches: pick(idx.ctxPatches, ctxChunks, idx.ctxLen, false),
        targetRows: pick(idx.targetRows, tgtChunks, idx.targetLen, true),
        targetPatches: pick(idx.targetPatches, tgtChunks, idx.targetLen, false),
      },
    });
  }
  return out;
}

/** Where each synchronised variable sits in the shared weights buffer, in a fixed order. */
export interface WeightLayout {
  /** Variable names without tfjs's instance number, to check that a worker's model lines up with ours. */
  names: string[];
  shapes: number[][];
  offsets: number[];
  /** Indices (into the above) of the variables an update changes: trainable ones and their EMA copies. */
  updated: number[];
}

export interface ReplicaWorkerInit {
  dims: ModelDims;
  backend: BackendName;
  lossKind: LossKind;
  /** This worker's replica index (1…replicas − 1; 0 is the main thread). */
  replica: number;
  replicas: number;
  layout: WeightLayout;
  /** Weights [trainable, in the optimiser's order | target encoder] (as `layout` places them), moments, gradients. */
  memory: SharedWasmMemory;
  memoryLayout: SharedUpdateLayout;
  weightCount: number;
  trainableCount: number;
  segments: UpdateSegment[];
  /** Each replica's share of the update: shareBounds(segments, [MAIN_THREAD_SHARE, 1, 1, …]). */
  bounds: number[];
  /** Int32 counter of update shares finished so far, over all replicas and steps. */
  sharesDone: SharedArrayBuffer;
}

/** A variable's name without the instance number ParamTables add ("encoder#3/x" → "encoder/x"). */
export function layoutName(v: tf.Variable): string {
  return v.name.replace(/#\d+\//, "/");
}

/** Loads variables `which` from the shared weights (each becomes a fresh tensor; the old one is freed). */
export function loadWeights(vars: tf.Variable[], layout: WeightLayout, weights: Float32Array, which: number[]): void {
  tf.tidy(() => {
    for (const i of which) {
      const v = vars[i];
      v.assign(tf.tensor(weights.subarray(layout.offsets[i], layout.offsets[i] + v.size), v.shape));
    }
  });
}

/** Waits (blocking this thread) until `count` update shares are done in total; the timeout only guards a dead peer. */
export function awaitShares(sharesDone: Int32Array, count: number, timeoutMs = 120_000): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = Atomics.load(sharesDone, 0);
    if (seen >= count) return;
    if (Date.now() > deadline) throw new Error(`replica update: waited ${timeoutMs} ms for the other replicas' shares`);
    Atomics.wait(sharesDone, 0, seen, 1000);
  }
}

/**
 * Data parallelism on one machine: this thread computes slice 0 of every batch while each worker thread (its own
 * tfjs backend, its own copy of the weights) computes another. One shared WebAssembly memory holds the weights, the
 * optimiser's moments and a gradient buffer per replica: each replica writes its gradients there; then every replica
 * averages the gradients of a fixed share of the parameters (in replica order) and applies AdamW and the EMA to that
 * share, in place (ZeRO-1 style: no replica waits while another runs the optimiser); then every replica loads the new
 * weights. The arithmetic is the single-thread update's, element by element, so the weights are bit-identical to
 * averaging on one thread and updating there, and deterministic for a given replica count.
 */
export class DataParallelEngine implements GradientEngine {
  private readonly workers: Worker[] = [];
  private readonly layout: WeightLayout;
  private readonly syncVars: tf.Variable[];
  private readonly trainable: tf.Variable[];
  private readonly memory: SharedWasmMemory;
  private readonly memoryLayout: SharedUpdateLayout;
  private readonly buffers: SharedUpdateBuffers;
  private readonly kernel: SharedUpdateKernel;
  private readonly segments: UpdateSegment[];
  private readonly bounds: number[];
  private readonly sharesDone = new Int32Array(new SharedArrayBuffer(4));
  private readonly gradOffsets: Array<{ variable: string; offset: number }>;
  private updates = 0;

  private constructor(
    readonly replicas: number,
    private readonly model: IJepa,
    private readonly optimizer: AdamW,
    private readonly lossKind: LossKind,
  ) {
    const params = optimizer.flatLayout();
    const byName = new Map(model.trainableVariables().map((v) => [v.name, v]));
    // The trainable part uses the optimiser's order and offsets, so weights, moments and gradients line up.
    this.trainable = params.map((p) => {
      const v = byName.get(p.variable);
      if (!v) throw new Error(`data-parallel engine: the optimiser's ${p.variable} is not a trainable variable`);
      return v;
    });
    const targetSpecs = model.targetEncoder.params.specs;
    const targets = targetSpecs.map((s) => model.targetEncoder.params.get(s.name));
    this.syncVars = [...this.trainable, ...targets];
    const offsets: number[] = [];
    let total = 0;
    for (const v of this.syncVars) {
      offsets.push(total);
      total += v.size;
    }
    // Each trainable encoder weight's EMA copy is the target encoder's weight of the same spec.
    const targetIndex = new Map<tf.Variable, number>();
    for (const spec of model.encoder.params.specs) {
      if (!spec.trainable) continue;
      const k = targetSpecs.findIndex((t) => t.name === spec.name);
      targetIndex.set(model.encoder.params.get(spec.name), this.trainable.length + k);
    }
    this.segments = params.map((p, i) => {
      const t = targetIndex.get(this.trainable[i]);
      return { offset: p.offset, size: p.size, decay: p.decay, target: t === undefined ? -1 : offsets[t] };
    });
    this.bounds = shareBounds(this.segments, [MAIN_THREAD_SHARE, ...Array<number>(replicas - 1).fill(1)]);
    this.layout = {
      names: this.syncVars.map(layoutName),
      shapes: this.syncVars.map((v) => v.shape),
      offsets,
      updated: [...this.trainable.keys(), ...[...targetIndex.values()].sort((a, b) => a - b)],
    };
    const trainableTotal = params.reduce((n, p) => n + p.size, 0);
    this.memoryLayout = sharedUpdateLayout(total, trainableTotal, replicas);
    this.memory = createSharedMemory(this.memoryLayout);
    this.buffers = sharedBuffers(this.memory, this.memoryLayout, total, trainableTotal);
    this.kernel = new SharedUpdateKernel(this.memory, this.memoryLayout);
    this.gradOffsets = params.map((p) => ({ variable: p.variable, offset: p.offset }));
    // From here on the engine owns the weights and moments: the workers start from these, and every update goes
    // through it (the optimiser's moments now live in the shared memory; checkpoints read them there).
    optimizer.moveMoments(this.buffers.expAvg, this.buffers.expAvgSq);
    for (const [i, v] of this.syncVars.entries()) this.buffers.weights.set(v.dataSync() as Float32Array, offsets[i]);
  }

  static async start(
    replicas: number,
    model: IJepa,
    optimizer: AdamW,
    lossKind: LossKind,
    backend: BackendName,
  ): Promise<DataParallelEngine> {
    const engine = new DataParallelEngine(replicas, model, optimizer, lossKind);
    const entry = new URL("./replica_worker_entry.mjs", import.meta.url);
    try {
      for (let r = 1; r < replicas; r++) {
        const init: ReplicaWorkerInit = {
          dims: model.dims,
          backend,
          lossKind,
          replica: r,
          replicas,
          layout: engine.layout,
          memory: engine.memory,
          memoryLayout: engine.memoryLayout,
          weightCount: engine.buffers.weights.length,
          trainableCount: engine.buffers.expAvg.length,
          segments: engine.segments,
          bounds: engine.bounds,
          sharesDone: engine.sharesDone.buffer as SharedArrayBuffer,
        };
        engine.workers.push(new Worker(entry, { workerData: { init } }));
      }
      // Workers load their backend, model and the current weights in parallel.
      await Promise.all(engine.workers.map((w) => request(w, { type: "ready" })));
    } catch (err) {
      await engine.close();
      throw err;
    }
    return engine;
  }

  async step(batch: StepBatch, update: StepUpdate, spare?: SpareWork) {
    markStepStart();
    const slices = splitBatch(batch, this.replicas);
    // Each worker gets a copy of its own slice only (posting a subarray would copy the whole buffer).
    const pending = this.workers.map((w, i) =>
      request<{ loss: number; stats: ReplicaStepStats }>(w, {
        type: "step",
        batch: { ...slices[i + 1], patches: slices[i + 1].patches.slice() },
      }),
    );
    // Slice 0 runs here while the workers run theirs; `pending` settles once this thread yields.
    let own: { loss: number; stats: ReplicaStepStats };
    try {
      own = this.computeOwn(slices[0]);
    } catch (err) {
      // Wait for the workers (their errors are secondary) so no rejection is left unhandled.
      await Promise.allSettled(pending);
      throw err;
    }
    const waitStart = performance.now();
    const replies = await Promise.all(pending);
    const waitMs = performance.now() - waitStart;
    let lossSum = own.loss;
    for (const r of replies) lossSum += r.loss;
    const loss = lossSum / this.replicas;
    const stats: EngineStepStats = {
      replicas: [own.stats, ...replies.map((r) => r.stats)],
      waitMs,
      updateMs: 0,
      updateWaitMs: 0,
      loadMs: 0,
      spareMs: 0,
    };
    if (Number.isFinite(loss))
      await this.update(this.optimizer.beginStep(update.lr, update.weightDecay), update, stats, spare);
    record(stats);
    return loss;
  }

  /** This thread's slice: loss and stats; its gradients go to its shared buffer. */
  private computeOwn(slice: StepBatch): { loss: number; stats: ReplicaStepStats } {
    const start = performance.now();
    const { loss, grads, stats } = computeSlice(this.model, this.trainable, this.lossKind, slice);
    stats.startedAt = performance.timeOrigin + start;
    try {
      for (const { variable, offset } of this.gradOffsets)
        this.buffers.grads[0].set(grads[variable].dataSync() as Float32Array, offset);
    } finally {
      for (const g of Object.values(grads)) g.dispose();
    }
    return { loss, stats: { ...stats, computeMs: performance.now() - start } };
  }

  /**
   * Every replica's share of AdamW + EMA, then this thread's weights reloaded; fills in `stats`' update phases. The
   * caller's spare work runs between this thread's share and the others' end: the workers, which load their weights
   * as soon as every share is done, need nothing from this thread meanwhile.
   */
  private async update(
    constants: AdamWStepConstants,
    update: StepUpdate,
    stats: EngineStepStats,
    spare: SpareWork | undefined,
  ): Promise<void> {
    this.updates += 1;
    const shares = this.workers.map((w) =>
      request(w, { type: "update", constants, momentum: update.momentum, round: this.updates }),
    );
    const start = performance.now();
    try {
      this.kernel.applyShare(this.segments, this.bounds[0], this.bounds[1], constants, update.momentum);
    } catch (err) {
      await Promise.allSettled(shares);
      throw err;
    } finally {
      Atomics.add(this.sharesDone, 0, 1);
      Atomics.notify(this.sharesDone, 0);
    }
    stats.updateMs = performance.now() - start;
    if (spare) {
      const spareStart = performance.now();
      try {
        spare();
      } catch (err) {
        await Promise.allSettled(shares);
        throw err;
      }
      stats.spareMs = performance.now() - spareStart;
    }
    const waitStart = performance.now();
    await Promise.all(shares);
    stats.updateWaitMs = performance.now() - waitStart;
    const loadStart = performance.now();
    loadWeights(this.syncVars, this.layout, this.buffers.weights, this.layout.updated);
    stats.loadMs = performance.now() - loadStart;
  }

  async close() {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}

let nextRequestId = 0;

/** Sends a message and waits for the worker's reply to it (or its error / exit). */
function request<T = unknown>(worker: Worker, message: Record<string, unknown>): Promise<T> {
  const id = nextRequestId++;
  const reply = awaitWorkerMessage<{ id: number; ok: boolean; value?: T; error?: string }, T>(
    worker,
    (r) => {
      if (r.id !== id) return undefined;
      if (!r.ok) throw new Error(`replica worker: ${r.error}`);
      return { value: r.value as T };
    },
    (code) => `replica worker exited with code ${code}`,
  );
  worker.postMessage({ ...message, id });
  return reply;
}
