// The probe's embedding picture data: test images on their top two principal axes, trained and random-init encoder.
import type { EvalSplit } from "../data/open_train_source.js";
import { CorruptDataError, DataError, NotFoundError } from "../errors.js";
import { type ProbeEmbeddingDocument, embeddingProjectionSchema } from "../run/probe_embedding.js";
import { baselineEmbeddingKey, probeEmbeddingKey } from "../run/run_layout.js";
import { type ObjectStore, getJson } from "../storage/object_store.js";
import {
  DEFAULT_MAX_POINTS,
  type EmbeddingProjection,
  evenlySpacedIndices,
  projectEmbeddings,
} from "./embedding_projection.js";
import { type FeatureImages, pooledFeatures } from "../models/pooled_features.js";
import type { ModelDims } from "../models/model_dims.js";
import { VisionTransformer } from "../models/vision_transformer.js";

export interface ProbeEmbeddingInput {
  step: number;
  dataset: string;
  test: EvalSplit;
  classNames?: string[];
  dim: number;
  /** The trained encoder's features of every test image (row-major [test.count, dim]). */
  trainedTest: Float32Array;
  /** The random-init encoder, when its baseline is probed: its cache key, and its test features if computed now. */
  random?: { baselineKey: string; testFeatures?: Float32Array; features: (images: FeatureImages) => Float32Array };
}

/**
 * Writes probe/<step>.embedding.json. The random-init projection never changes for a run and a test
 * split, so it is cached beside the random-init baseline's scores; when those scores came from the
 * cache (no features computed this time) and the projection is not cached yet, only the ≤ 2,000
 * projected test images go through the random-init encoder.
 */
export async function writeProbeEmbeddings(run: ObjectStore, input: ProbeEmbeddingInput): Promise<string | undefined> {
  const { test, dim } = input;
  const trained = pictureOf(() => projectEmbeddings(input.trainedTest, test.labels, dim));
  // No picture (non-finite features) is no reason to fail the probe: the report says the file is missing.
  if (!trained) return undefined;
  const document: ProbeEmbeddingDocument = {
    step: input.step,
    dataset: input.dataset,
    ...(input.classNames?.length ? { classNames: input.classNames } : {}),
    trained,
  };
  if (input.random) {
    const cacheKey = baselineEmbeddingKey(input.random.baselineKey);
    let random = await readCachedProjection(run, cacheKey);
    if (!random) {
      const { testFeatures, features } = input.random;
      if (testFeatures) random = pictureOf(() => projectEmbeddings(testFeatures, test.labels, dim));
      else {
        const subset = subsetOf(test, evenlySpacedIndices(test.count, DEFAULT_MAX_POINTS));
        const options = { maxPoints: subset.count };
        random = pictureOf(() => projectEmbeddings(features(subset), subset.labels, dim, options));
      }
      if (random) await run.put(cacheKey, JSON.stringify(random), { contentType: "application/json" });
    }
    if (random) document.randomInit = random;
  }
  const key = probeEmbeddingKey(input.step);
  await run.put(key, JSON.stringify(document), { contentType: "application/json" });
  return key;
}

/** A compacted projection, or undefined when the features cannot make one (DataError). */
function pictureOf(project: () => EmbeddingProjection): EmbeddingProjection | undefined {
  try {
    return compact(project());
  } catch (err) {
    if (err instanceof DataError) return undefined;
    throw err;
  }
}

/** Features of the run's step-0 encoder (the random-init baseline's), built for this call and released after. */
export function randomInitFeatures(
  dims: ModelDims,
  seed: number,
  images: FeatureImages,
  normalization: { mean: number[]; std: number[] },
): Float32Array {
  const random = VisionTransformer.initialise(dims, seed, "random_init");
  try {
    return pooledFeatures(random, images, normalization.mean, normalization.std);
  } finally {
    random.params.dispose();
  }
}

async function readCachedProjection(run: ObjectStore, key: string): Promise<EmbeddingProjection | undefined> {
  try {
    const parsed = embeddingProjectionSchema.safeParse(await getJson(run, key));
    // An unreadable cache entry is recomputed and overwritten, never trusted.
    return parsed.success ? parsed.data : undefined;
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof CorruptDataError) return undefined;
    throw err;
  }
}

/** Five significant digits are far finer than a picture shows, and keep 2,000 points to about 60 kB. */
function compact(p: EmbeddingProjection): EmbeddingProjection {
  const round = (v: number): number => Number(v.toPrecision(5));
  return {
    ...p,
    x: p.x.map(round),
    y: p.y.map(round),
    explainedVariance: [round(p.explainedVariance[0]), round(p.explainedVariance[1])],
  };
}

/** The chosen images of a split (and their labels), as a split of their own. */
function subsetOf(split: EvalSplit, rows: Int32Array): FeatureImages & { labels: Int32Array } {
  const bytes = split.height * split.width * split.channels;
  const images = new Uint8Array(rows.length * bytes);
  for (const [i, row] of rows.entries()) images.set(split.images.subarray(row * bytes, (row + 1) * bytes), i * bytes);
  return {
    images,
    count: rows.length,
    height: split.height,
    width: split.width,
    channels: split.channels,
    labels: Int32Array.from(rows, (r) => split.labels[r]),
  };
}
