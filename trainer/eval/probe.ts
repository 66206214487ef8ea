// `ijepa probe`: linear-probe and kNN top-1 of a checkpoint's target encoder, next to raw-pixel and random-init baselines.
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs-core";
import { PROBE_HISTORY_KEY, probeBaselineKey, probeKey } from "../run/run_layout.js";
import { buildTargetEncoder, readTargetEncoder } from "../checkpoint/target_encoder.js";
import { openEvalSplit, type EvalSplit } from "../data/open_train_source.js";
import { imageStats } from "../data/in_memory_source.js";
import { ConfigError, CorruptDataError, DataError, NotFoundError, describeZodIssues } from "../errors.js";
import { VisionTransformer } from "../models/vision_transformer.js";
import { type ObjectStore, getJson } from "../storage/object_store.js";
import {
  type BaselineName,
  type ProbeHistoryRecord,
  type ProbeReport,
  type ProbeScores,
  parseProbeHistoryLine,
  probeScoresSchema,
} from "../run/probe_record.js";
import type { FeatureImages } from "../models/pooled_features.js";
import { type FeatureNormalization, FeaturePool, featureWorkerCount } from "./feature_pool.js";
import { linearProbe, type LinearProbeOptions, type LinearProbeResult } from "./linear_probe.js";
import { type ProbeEmbeddingInput, randomInitFeatures, writeProbeEmbeddings } from "./probe_embeddings.js";

// The documents a probe writes are the run contract's; re-exported for the callers that know them from here.
export { BASELINE_NAMES, type BaselineName, type ProbeReport, type ProbeScores } from "../run/probe_record.js";

/**
 * Part of every baseline's cache key: baselines cached by an earlier solver (unpreconditioned L-BFGS with a full
 * sweep, which stopped short of the optimum) are recomputed rather than shown beside the new solver's scores.
 */
const PROBE_SOLVER = "lbfgs-preconditioned-v2";

export interface ProbeOptions {
  /** A run (its latest checkpoint) or one checkpoint folder, local or s3://. */
  checkpoint: string;
  /** Labelled dataset: fashion-mnist, an IDX folder, a sharded folder or its manifest URI (default: the one trained on). */
  data?: string;
  /** Train images used to fit the probe (default 10000; the first N in stored order). */
  trainLimit?: number;
  /** Test images scored (default: all). */
  testLimit?: number;
  baselines?: BaselineName[];
  /** Write probe/<step>.json and append probe/history.jsonl in the run (default true). */
  write?: boolean;
  probe?: Omit<LinearProbeOptions, "onProgress">;
  /** Worker threads for the encoders' forward passes (default: IJEPA_PROBE_WORKERS, else one per core; 1 = none). */
  workers?: number;
  log?: (line: string) => void;
}

export async function runProbe(options: ProbeOptions): Promise<ProbeReport> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  // Only model.safetensors is read (checksum-verified); the optimizer state is not needed to evaluate.
  const trained = await readTargetEncoder(options.checkpoint);
  const { step, dims, seed, run } = trained;
  const data = options.data ?? trained.data;
  if (!data)
    throw new DataError(`${trained.folder} does not name its training data`, "pass --data with a labelled dataset");
  const trainLimit = options.trainLimit ?? 10_000;
  const [train, test] = await Promise.all([
    openEvalSplit(data, "train", { limit: trainLimit }),
    openEvalSplit(data, "test", { limit: options.testLimit }),
  ]);
  const numClasses = countClasses(train, test);
  const normalization = trained.normalization ?? imageStats(train.images, train.channels);
  log(
    `probe: step ${step} of ${run.baseUri} on ${train.origin}: ${train.count} train / ${test.count} test images, ${numClasses} classes`,
  );

  const score = (name: string, features: SplitFeatures, dim: number): ProbeScores => {
    const t1 = performance.now();
    const result = linearProbe(
      {
        train: { features: features.train, labels: train.labels },
        test: { features: features.test, labels: test.labels },
        numClasses,
        dim,
      },
      options.probe,
    );
    const scores = toScores(result, dim, features.ms, performance.now() - t1);
    log(
      `probe: ${name}: linear top-1 ${(scores.linearTop1 * 100).toFixed(2)} %, kNN top-1 ${(scores.knnTop1 * 100).toFixed(2)} % (λ ${scores.weightDecay})`,
    );
    return scores;
  };

  // Training never changes a baseline: cache it under a hash of the exact images and labels probed, the probe
  // settings and (for random init) the architecture and seed, so re-sharded data is never confused.
  const splitDigest = digestSplits(train, test);
  const wanted = options.baselines ?? ["raw", "random"];
  const cacheKeys = new Map<BaselineName, string>();
  const cachedScores = new Map<BaselineName, ProbeScores>();
  for (const name of wanted) {
    const cacheKey = probeBaselineKey(
      name,
      hashOf([splitDigest, options.probe ?? null, name === "random" ? { dims, seed } : null, PROBE_SOLVER]),
    );
    cacheKeys.set(name, cacheKey);
    const cached = await readCachedScores(run, cacheKey);
    if (cached) cachedScores.set(name, cached);
  }
  let randomEmbedding: ProbeEmbeddingInput["random"];
  if (cacheKeys.has("random")) {
    const features = (s: FeatureImages) => randomInitFeatures(dims, seed, s, normalization);
    randomEmbedding = { baselineKey: cacheKeys.get("random")!, features };
  }

  // The encoders' forward passes dominate a probe. They run in worker threads, one backend per core, all queued at
  // once; meanwhile this thread probes raw pixels, which need no forward pass.
  const workers = options.workers ?? (parallelBackend() ? featureWorkerCount(train.count + test.count) : 1);
  const pool = await FeaturePool.start({ workers, backend: parallelBackend() ?? "cpu" }).catch((err: Error) => {
    if (err instanceof ConfigError) throw err;
    // The features are the same in this thread, only slower: a runtime without worker threads still probes.
    log(`probe: feature workers did not start (${err.message.split("\n")[0]}); computing features in this thread`);
    return FeaturePool.start({ workers: 1, backend: "cpu" });
  });
  if (pool.size > 1) log(`probe: encoder forward passes in ${pool.size} worker threads`);
  const computed = new Map<BaselineName, ProbeScores>();
  let encoderScores: ProbeScores;
  // Test features of both encoders are kept for the report's embedding picture (2-D PCA).
  let trainedTest: Float32Array;
  try {
    const encoder = buildTargetEncoder(trained);
    let encoderFeatures: Promise<SplitFeatures>;
    try {
      encoderFeatures = splitFeatures(pool, encoder, train, test, normalization);
    } finally {
      encoder.params.dispose();
    }
    let randomFeatures: Promise<SplitFeatures> | undefined;
    if (cacheKeys.has("random") && !cachedScores.has("random")) {
      // The same architecture at the run's own initialisation (step 0).
      const random = VisionTransformer.initialise(dims, seed, "random_init");
      try {
        randomFeatures = splitFeatures(pool, random, train, test, normalization);
      } finally {
        random.params.dispose();
      }
    }
    // A failed pass rejects both; the one not awaited yet must not end the process as an unhandled rejection.
    for (const pending of [encoderFeatures, randomFeatures]) pending?.catch(() => {});
    if (cacheKeys.has("raw") && !cachedScores.has("raw")) {
      const t0 = performance.now();
      const pixels = (s: EvalSplit) => scaledPixels(s.images);
      const raw = { train: pixels(train), test: pixels(test), ms: 0 };
      raw.ms = performance.now() - t0;
      computed.set("raw", score("raw pixels", raw, train.height * train.width * train.channels));
    }
    const features = await encoderFeatures;
    trainedTest = features.test;
    encoderScores = score("target encoder", features, dims.embedDim);
    if (randomFeatures) {
      const features = await randomFeatures;
      randomEmbedding!.testFeatures = features.test;
      computed.set("random", score("random-init encoder", features, dims.embedDim));
    }
  } finally {
    await pool.close();
  }

  const baselines: ProbeReport["baselines"] = {};
  for (const name of wanted) {
    const cached = cachedScores.get(name);
    if (cached) {
      baselines[name] = { ...cached, cached: true };
      log(
        `probe: ${name} baseline (cached): linear top-1 ${(cached.linearTop1 * 100).toFixed(2)} %, kNN top-1 ${(cached.knnTop1 * 100).toFixed(2)} %`,
      );
      continue;
    }
    const scores = computed.get(name)!;
    if (options.write !== false)
      await run.put(cacheKeys.get(name)!, JSON.stringify(scores, null, 2), { contentType: "application/json" });
    baselines[name] = { ...scores, cached: false };
  }

  const report: ProbeReport = {
    step,
    checkpoint: trained.folder,
    dataset: train.origin,
    rows: { train: train.count, test: test.count },
    numClasses,
    encoder: encoderScores,
    baselines,
    settings: { trainLimit, testLimit: options.testLimit ?? null },
    timingsMs: { total: performance.now() - started },
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
  if (options.write !== false) {
    const classNames = test.classNames ?? train.classNames;
    const [dim, random] = [dims.embedDim, randomEmbedding];
    await writeProbeEmbeddings(run, { step, dataset: train.origin, test, classNames, dim, trainedTest, random });
    const key = probeKey(step);
    await run.put(key, JSON.stringify(report, null, 2) + "\n", { contentType: "application/json" });
    await appendHistory(run, {
      step,
      time: new Date().toISOString(),
      dataset: train.origin,
      linearTop1: encoderScores.linearTop1,
      linearTop5: encoderScores.linearTop5,
      knnTop1: encoderScores.knnTop1,
      baselines: Object.fromEntries(
        Object.entries(baselines).map(([k, v]) => [k, { linearTop1: v.linearTop1, knnTop1: v.knnTop1 }]),
      ),
    });
    report.writtenTo = run.uriOf(key);
  }
  return report;
}

/** Features of the train and test splits, and the milliseconds they took. */
interface SplitFeatures {
  train: Float32Array;
  test: Float32Array;
  ms: number;
}

/** Pixels as [0, 1] floats. A plain loop: Float32Array.from with a map function took seconds for 15.7 M bytes. */
function scaledPixels(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] / 255;
  return out;
}

/** Queues the forward passes of both splits; the encoder may be disposed once this returns. */
async function splitFeatures(
  pool: FeaturePool,
  encoder: VisionTransformer,
  train: EvalSplit,
  test: EvalSplit,
  normalization: FeatureNormalization,
): Promise<SplitFeatures> {
  const [a, b] = [pool.features(encoder, train, normalization), pool.features(encoder, test, normalization)];
  const [trainFeatures, testFeatures] = await Promise.all([a, b]);
  return { train: trainFeatures.features, test: testFeatures.features, ms: trainFeatures.ms + testFeatures.ms };
}

/** The backend feature workers should start, when worker threads help it: wasm and cpu run one thread each. */
function parallelBackend(): "wasm" | "cpu" | undefined {
  const name = tf.getBackend();
  return name === "wasm" || name === "cpu" ? name : undefined;
}

function toScores(r: LinearProbeResult, dim: number, featureMs: number, probeMs: number): ProbeScores {
  return {
    linearTop1: r.linear.top1,
    linearTop5: r.linear.top5,
    knnTop1: r.knn.top1,
    knnTop5: r.knn.top5,
    knnK: r.knn.k,
    knnTemperature: r.knn.temperature,
    weightDecay: r.linear.weightDecay,
    sweep: r.linear.sweep.map((s) => ({ weightDecay: s.weightDecay, heldOutTop1: s.heldOutTop1 })),
    featureDim: dim,
    timingsMs: { features: featureMs, probe: probeMs, probeStages: r.timingsMs },
  };
}

function countClasses(train: EvalSplit, test: EvalSplit): number {
  let max = -1;
  for (const split of [train, test]) {
    for (const l of split.labels) {
      if (l < 0)
        throw new DataError(
          `${split.origin} has unlabelled images`,
          "the linear probe needs a labelled dataset (class folders, IDX or CIFAR)",
        );
      if (l > max) max = l;
    }
  }
  return Math.max(max + 1, train.classNames?.length ?? 0);
}

/** probe/history.jsonl: one line per probe; a re-run of the same step replaces its line (idempotent). */
async function appendHistory(run: ObjectStore, record: ProbeHistoryRecord): Promise<void> {
  let existing = "";
  try {
    existing = new TextDecoder().decode(await run.get(PROBE_HISTORY_KEY));
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  const records: ProbeHistoryRecord[] = [];
  existing.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const parsed = parseProbeHistoryLine(line);
    if (!parsed) {
      throw new CorruptDataError(
        run.uriOf(PROBE_HISTORY_KEY),
        `line ${i + 1} is not a probe record with a whole-number step`,
        "fix or delete that line, then probe again",
      );
    }
    if (parsed.step !== record.step) records.push(parsed);
  });
  records.push(record);
  records.sort((a, b) => a.step - b.step);
  await run.put(PROBE_HISTORY_KEY, records.map((r) => JSON.stringify(r)).join("\n") + "\n", {
    contentType: "application/x-ndjson",
  });
}

/** A cached baseline's scores, or undefined when there is none yet; CorruptDataError when the file is not scores. */
async function readCachedScores(store: ObjectStore, key: string): Promise<ProbeScores | undefined> {
  let raw: unknown;
  try {
    raw = await getJson(store, key);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
  const parsed = probeScoresSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new CorruptDataError(
    store.uriOf(key),
    `not a baseline's probe scores (${describeZodIssues(parsed.error)})`,
    "delete it: the next probe computes the baseline again",
  );
}

/** A digest of exactly what is probed: both splits' images and labels. */
function digestSplits(train: EvalSplit, test: EvalSplit): string {
  const h = createHash("sha256");
  for (const s of [train, test]) {
    h.update(`${s.count}x${s.height}x${s.width}x${s.channels};`);
    h.update(s.images);
    h.update(new Uint8Array(s.labels.buffer, s.labels.byteOffset, s.labels.byteLength));
  }
  return h.digest("hex");
}

function hashOf(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
}
