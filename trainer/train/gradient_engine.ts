// Computes a batch's loss and gradients, either in this process or split across data-parallel worker replicas.
import * as tf from "@tensorflow/tfjs-core";
import { Worker } from "node:worker_threads";
import type { IJepa, LossKind, StepIndices, StepResult } from "../models/ijepa.js";
import type { ModelDims } from "../models/model_dims.js";
import type { BackendName } from "../backend.js";
import {
  profilingRequested,
  startKernelProfile,
  takeKernelProfile,
  wasmHeapMb,
  type KernelProfile,
} from "../kernels/kernel_profiler.js";

/** One batch: patch rows [B·N, C·p·p] (row-major Float32Array) and its mask indices. */
export interface StepBatch {
  patches: Float32Array;
  patchWidth: number;
  indices: StepIndices;
}

export interface GradientEngine {
  /** Number of replicas that share each batch (1 = this process only). */
  readonly replicas: number;
  /**
   * Mean loss and gradients (keyed by variable name, owned by the caller) for the batch, with the
   * model's current weights. All replicas together compute exactly the full-batch mean.
   */
  compute(batch: StepBatch): Promise<{ loss: number; grads: Record<string, tf.Tensor> }>;
  close(): Promise<void>;
}

/** One replica's share of a step: its own compute time, its heap's high-water mark, and (profiling) its kernels. */
export interface ReplicaStepStats {
  computeMs: number;
  heapMb?: number;
  kernels: KernelProfile;
}

/** Where one step's gradient computation went (replica 0 is this thread). */
export interface EngineStepStats {
  replicas: ReplicaStepStats[];
  /** Copying the weights into the buffer the workers read. */
  publishMs: number;
  /** This thread waiting for the slowest worker after finishing its own slice. */
  waitMs: number;
  /** Averaging the replicas' gradients. */
  combineMs: number;
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
    heapMb: wasmHeapMb(),
    kernels: takeKernelProfile(),
  };
  return { ...result, stats };
}

/** The whole batch in this process. */
export class InProcessEngine implements GradientEngine {
  readonly replicas = 1;
  constructor(
    private readonly model: IJepa,
    private readonly variables: tf.Variable[],
    private readonly lossKind: LossKind,
  ) {}

  async compute(batch: StepBatch) {
    markStepStart();
    const { loss, grads, stats } = computeSlice(this.model, this.variables, this.lossKind, batch);
    record({ replicas: [stats], publishMs: 0, waitMs: 0, combineMs: 0 });
    return { loss, grads };
  }

  /** This process's slice only, with its stats (for DataParallelEngine, which records the step as a whole). */
  computeWithStats(batch: StepBatch) {
    return computeSlice(this.model, this.variables, this.lossKind, batch);
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

/** Shapes of the weights that travel to the workers, in a fixed order. */
interface WeightLayout {
  names: string[];
  shapes: number[][];
  offsets: number[];
  total: number;
}

function layoutOf(vars: tf.Variable[]): WeightLayout {
  const offsets: number[] = [];
  let total = 0;
  for (const v of vars) {
    offsets.push(total);
    total += v.size;
  }
  return { names: vars.map((v) => v.name), shapes: vars.map((v) => v.shape), offsets, total };
}

export interface ReplicaWorkerInit {
  dims: ModelDims;
  backend: BackendName;
  lossKind: LossKind;
  weights: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  /** Main's variable order: [trainable encoder+predictor..., target encoder...]. */
  trainableCount: number;
}

/**
 * Data parallelism on one machine: this process computes slice 0 of every batch while each worker
 * thread (its own tfjs backend, its own copy of the weights) computes another slice; the gradients are
 * averaged in a fixed order, so results are deterministic for a given replica count. Weights go to the
 * workers through a SharedArrayBuffer after every update; gradients come back through another.
 */
export class DataParallelEngine implements GradientEngine {
  private readonly workers: Worker[] = [];
  private readonly layout: WeightLayout;
  private readonly weightView: Float32Array;
  private readonly gradViews: Float32Array[] = [];
  private readonly syncVars: tf.Variable[];
  private readonly inProcess: InProcessEngine;

  private constructor(
    readonly replicas: number,
    model: IJepa,
    private readonly variables: tf.Variable[],
    lossKind: LossKind,
  ) {
    this.syncVars = [
      ...variables,
      ...model.targetEncoder.params.specs.map((s) => model.targetEncoder.params.get(s.name)),
    ];
    this.layout = layoutOf(this.syncVars);
    this.weightView = new Float32Array(new SharedArrayBuffer(this.layout.total * 4));
    this.inProcess = new InProcessEngine(model, variables, lossKind);
  }

  static async start(
    replicas: number,
    model: IJepa,
    variables: tf.Variable[],
    lossKind: LossKind,
    backend: BackendName,
  ): Promise<DataParallelEngine> {
    const engine = new DataParallelEngine(replicas, model, variables, lossKind);
    const trainableTotal = variables.reduce((n, v) => n + v.size, 0);
    const entry = new URL("./replica_worker_entry.mjs", import.meta.url);
    try {
      for (let r = 1; r < replicas; r++) {
        const grads = new SharedArrayBuffer(trainableTotal * 4);
        engine.gradViews.push(new Float32Array(grads));
        const init: ReplicaWorkerInit = {
          dims: model.dims,
          backend,
          lossKind,
          weights: engine.weightView.buffer as SharedArrayBuffer,
          grads,
          trainableCount: variables.length,
        };
        engine.workers.push(
          new Worker(entry, {
            workerData: { init, layout: { shapes: engine.layout.shapes, offsets: engine.layout.offsets } },
          }),
        );
      }
      // Workers load their backend and model in parallel.
      await Promise.all(engine.workers.map((w) => request(w, { type: "ready" })));
    } catch (err) {
      await engine.close();
      throw err;
    }
    return engine;
  }

  async compute(batch: StepBatch) {
    markStepStart();
    const publishStart = performance.now();
    this.publishWeights();
    const publishMs = performance.now() - publishStart;
    const slices = splitBatch(batch, this.replicas);
    // Each worker gets a copy of its own slice only (posting a subarray would copy the whole buffer).
    const pending = this.workers.map((w, i) =>
      request<{ loss: number; stats: ReplicaStepStats }>(w, {
        type: "step",
        batch: { ...slices[i + 1], patches: slices[i + 1].patches.slice() },
      }),
    );
    // Slice 0 runs here while the workers run theirs; `pending` settles once this thread yields.
    let own: ReturnType<InProcessEngine["computeWithStats"]>;
    try {
      own = this.inProcess.computeWithStats(slices[0]);
    } catch (err) {
      // Wait for the workers (their errors are secondary) so no rejection is left unhandled.
      await Promise.allSettled(pending);
      throw err;
    }
    const waitStart = performance.now();
    let replies: Array<{ loss: number; stats: ReplicaStepStats }>;
    try {
      replies = await Promise.all(pending);
    } catch (err) {
      for (const g of Object.values(own.grads)) g.dispose();
      throw err;
    }
    const waitMs = performance.now() - waitStart;
    const combineStart = performance.now();
    let lossSum = own.loss;
    const grads: Record<string, tf.Tensor> = {};
    tf.tidy(() => {
      let offset = 0;
      for (const v of this.variables) {
        let g: tf.Tensor = own.grads[v.name];
        for (const view of this.gradViews) g = tf.add(g, tf.tensor(view.subarray(offset, offset + v.size), v.shape));
        grads[v.name] = tf.keep(tf.div(g, this.replicas));
        offset += v.size;
      }
    });
    for (const g of Object.values(own.grads)) g.dispose();
    for (const r of replies) lossSum += r.loss;
    record({
      replicas: [own.stats, ...replies.map((r) => r.stats)],
      publishMs,
      waitMs,
      combineMs: performance.now() - combineStart,
    });
    return { loss: lossSum / this.replicas, grads };
  }

  private publishWeights(): void {
    for (const [i, v] of this.syncVars.entries())
      this.weightView.set(v.dataSync() as Float32Array, this.layout.offsets[i]);
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
  return new Promise<T>((resolve, reject) => {
    const onMessage = (reply: { id: number; ok: boolean; value?: T; error?: string }) => {
      if (reply.id !== id) return;
      cleanup();
      if (reply.ok) resolve(reply.value as T);
      else reject(new Error(`replica worker: ${reply.error}`));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`replica worker exited with code ${code}`));
    };
    const cleanup = () => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
    worker.postMessage({ ...message, id });
  });
}
