// Pooled encoder features computed by worker threads, one tfjs backend each, so the probe's forward passes use every core.
import { availableParallelism } from "node:os";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { initBackend } from "../backend.js";
import { ConfigError } from "../errors.js";
import type { ModelDims } from "../models/model_dims.js";
import { type FeatureImages, pooledFeatures } from "../models/pooled_features.js";
import { VisionTransformer } from "../models/vision_transformer.js";
import { awaitWorkerMessage } from "../utils/worker_message.js";

/** Images one request carries: small enough to balance two busy cores, large enough to keep the GEMMs long. */
export const FEATURE_REQUEST_IMAGES = 256;
/** Below this many images per worker, starting workers (a backend and the weights each) costs more than it saves. */
const MIN_IMAGES_PER_WORKER = 1024;
/** Marks a worker thread as ours: the bundled Lambda starts its own file as the worker (see workerEntry). */
const WORKER_MARK = "ijepa-feature-worker";

export interface FeaturePoolOptions {
  /** Worker threads; default IJEPA_PROBE_WORKERS, else the cores this process may use. 1 = no workers. */
  workers?: number;
  /** The backend each worker starts (the main process's). */
  backend: string;
}

export interface FeatureNormalization {
  mean: number[];
  std: number[];
}

/** Weights of an encoder as plain arrays (our layout), so a worker can rebuild it. */
interface EncoderWeights {
  dims: ModelDims;
  weights: Record<string, Float32Array>;
}

/**
 * One forward pass over many images, shared by every worker: the images, the output and a counter of requests
 * handed out live in shared memory, so workers pull work without the main thread, which may be busy meanwhile.
 */
interface FeatureJob {
  jobId: number;
  /** Sent when the encoder changed since the last job. */
  encoder?: EncoderWeights;
  images: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  normalization: FeatureNormalization;
  /** Int32 [1]: the next request's index. */
  claims: SharedArrayBuffer;
  /** Float32 [count, embedDim]. */
  out: SharedArrayBuffer;
}
/** A worker's part of a job: ok with when it took its first request and answered its last (epoch ms). */
type JobReply =
  | { jobId: number; ok: true; startedAt: number; finishedAt: number }
  | { jobId: number; ok: false; error: string };

/** Features of a job and its wall time: first request taken to last answered, whatever else ran meanwhile. */
export interface FeatureResult {
  features: Float32Array;
  ms: number;
}

interface PendingJob {
  waiting: number;
  startedAt: number;
  finishedAt: number;
  resolve: (ms: number) => void;
  reject: (e: Error) => void;
}

/** How many workers to start for `images` images: the option, else IJEPA_PROBE_WORKERS, else the cores. */
export function featureWorkerCount(images: number, requested?: number): number {
  const fromEnv = process.env.IJEPA_PROBE_WORKERS;
  const wanted = requested ?? (fromEnv !== undefined && fromEnv !== "" ? Number(fromEnv) : availableParallelism());
  if (!Number.isInteger(wanted) || wanted < 1) {
    throw new ConfigError(
      `probe workers ${requested ?? `IJEPA_PROBE_WORKERS=${fromEnv}`} must be an integer ≥ 1`,
      "use 1 to compute features in this thread",
    );
  }
  return Math.max(1, Math.min(wanted, Math.floor(images / MIN_IMAGES_PER_WORKER)));
}

/**
 * Computes pooledFeatures (the encoder with its final norm, patch tokens averaged) for many images with the work
 * spread over worker threads: each worker rebuilds the encoder from its weights once, then takes requests of
 * FEATURE_REQUEST_IMAGES images as it finishes the previous one, so a core slowed by other jobs gets fewer. Jobs are
 * queued in the workers at once: the main thread may compute something else until it awaits them.
 * Every image goes through the same kernels as in this thread, in batches of the same size, so the features are
 * the single-thread ones (test/eval/feature_pool.test.ts). With one worker it computes here, starting nothing.
 */
export class FeaturePool {
  private readonly workers: Worker[];
  // The encoder the workers hold now: the same object is not shipped twice (train, then test images).
  private sentEncoder: VisionTransformer | undefined;
  private readonly pending = new Map<number, PendingJob>();
  private failure: Error | undefined;
  private nextJobId = 0;

  private constructor(workers: Worker[]) {
    this.workers = workers;
    for (const worker of workers) {
      worker.on("message", (reply: JobReply) => this.settle(reply));
      worker.on("error", (err) => this.fail(err));
      worker.on("exit", (code) => this.fail(new Error(`feature worker exited with code ${code}`)));
    }
  }

  /** Starts `workers` threads (none for 1) and waits until each has its backend. */
  static async start(options: FeaturePoolOptions & { workers: number }): Promise<FeaturePool> {
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new ConfigError(
        `probe workers ${options.workers} must be an integer ≥ 1`,
        "use 1 to compute features in this thread",
      );
    }
    if (options.workers === 1) return new FeaturePool([]);
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < options.workers; i++)
        workers.push(new Worker(workerEntry(), { workerData: { mark: WORKER_MARK, backend: options.backend } }));
      await Promise.all(workers.map((w) => waitForReady(w)));
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return new FeaturePool(workers);
  }

  get size(): number {
    return Math.max(1, this.workers.length);
  }

  /**
   * Pooled features [images.count, embedDim] of `encoder`. With workers the job is queued before this returns
   * (weights and images copied), so the caller may dispose the encoder or compute meanwhile.
   */
  features(
    encoder: VisionTransformer,
    images: FeatureImages,
    normalization: FeatureNormalization,
  ): Promise<FeatureResult> {
    if (this.workers.length === 0) {
      const started = performance.now();
      const features = pooledFeatures(encoder, images, normalization.mean, normalization.std);
      return Promise.resolve({ features, ms: performance.now() - started });
    }
    if (this.failure) return Promise.reject(this.failure);
    const dim = encoder.dims.embedDim;
    const shared = new Uint8Array(new SharedArrayBuffer(images.images.byteLength));
    shared.set(images.images);
    const out = new SharedArrayBuffer(images.count * dim * 4);
    const job: FeatureJob = {
      jobId: this.nextJobId++,
      encoder: this.sentEncoder === encoder ? undefined : encoderWeightsOf(encoder),
      images: shared,
      count: images.count,
      height: images.height,
      width: images.width,
      channels: images.channels,
      normalization,
      claims: new SharedArrayBuffer(4),
      out,
    };
    this.sentEncoder = encoder;
    const done = new Promise<number>((resolve, reject) => {
      const waiting = this.workers.length;
      this.pending.set(job.jobId, { waiting, startedAt: Infinity, finishedAt: -Infinity, resolve, reject });
    });
    for (const worker of this.workers) worker.postMessage(job);
    // A plain copy: callers hand features to tfjs and keep them after the pool is closed.
    return done.then((ms) => ({ features: new Float32Array(out).slice(), ms }));
  }

  async close(): Promise<void> {
    this.failure ??= new Error("feature pool closed");
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private settle(reply: JobReply): void {
    const job = this.pending.get(reply.jobId);
    if (!job) return;
    if (!reply.ok) {
      this.pending.delete(reply.jobId);
      job.reject(new Error(`feature worker: ${reply.error}`));
      return;
    }
    job.startedAt = Math.min(job.startedAt, reply.startedAt);
    job.finishedAt = Math.max(job.finishedAt, reply.finishedAt);
    if (--job.waiting === 0) {
      this.pending.delete(reply.jobId);
      job.resolve(job.finishedAt - job.startedAt);
    }
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const job of this.pending.values()) job.reject(err);
    this.pending.clear();
  }
}

function encoderWeightsOf(encoder: VisionTransformer): EncoderWeights {
  const weights: Record<string, Float32Array> = {};
  for (const spec of encoder.params.specs) {
    weights[spec.name] = encoder.params.get(spec.name).dataSync() as Float32Array;
  }
  return { dims: encoder.dims, weights };
}

/**
 * The file a worker runs. Under tsx (the CLI, tests, the local runner) a small .mjs that registers tsx and imports
 * this module; in an esbuild bundle (the Lambda) this module is inside the bundle, so the bundle itself is the
 * worker's file, and the check at the bottom of this module serves requests there.
 */
function workerEntry(): URL {
  const self = new URL(import.meta.url);
  return self.pathname.endsWith(".ts") ? new URL("./feature_worker_entry.mjs", self) : self;
}

function waitForReady(worker: Worker): Promise<void> {
  return awaitWorkerMessage<{ ready?: boolean; error?: string }, void>(
    worker,
    (m) => {
      if (m.ready) return { value: undefined };
      if (m.error !== undefined) throw new Error(`feature worker: ${m.error}`);
      return undefined;
    },
    (code) => `feature worker exited with code ${code} before it was ready`,
  );
}

/** The worker side: start the backend, then take requests of every job queued until terminated. */
async function serveFeatureRequests(backend: string): Promise<void> {
  const port = parentPort!;
  try {
    await initBackend(backend);
  } catch (err) {
    port.postMessage({ error: (err as Error).stack ?? String(err) });
    return;
  }
  let encoder: VisionTransformer | undefined;
  port.on("message", (job: FeatureJob) => {
    const startedAt = Date.now();
    try {
      if (job.encoder) {
        encoder?.params.dispose();
        const { dims, weights } = job.encoder;
        encoder = new VisionTransformer(dims, (spec) => weights[spec.name], "feature_worker");
      }
      if (!encoder) throw new Error("no encoder sent before features were asked for");
      const claims = new Int32Array(job.claims);
      const out = new Float32Array(job.out);
      const dim = encoder.dims.embedDim;
      const bytesPerImage = job.height * job.width * job.channels;
      for (;;) {
        const start = Atomics.add(claims, 0, 1) * FEATURE_REQUEST_IMAGES;
        if (start >= job.count) break;
        const count = Math.min(FEATURE_REQUEST_IMAGES, job.count - start);
        const images = job.images.subarray(start * bytesPerImage, (start + count) * bytesPerImage);
        const part = { images, count, height: job.height, width: job.width, channels: job.channels };
        const { mean, std } = job.normalization;
        out.set(pooledFeatures(encoder, part, mean, std), start * dim);
      }
      port.postMessage({ jobId: job.jobId, ok: true, startedAt, finishedAt: Date.now() } satisfies JobReply);
    } catch (err) {
      port.postMessage({ jobId: job.jobId, ok: false, error: (err as Error).stack ?? String(err) } satisfies JobReply);
    }
  });
  port.postMessage({ ready: true });
}

if (!isMainThread && (workerData as { mark?: string } | undefined)?.mark === WORKER_MARK)
  void serveFeatureRequests((workerData as { backend: string }).backend);
