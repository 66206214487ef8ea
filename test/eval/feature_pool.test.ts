// The probe's feature workers: the same pooled features as computing them in this thread, image for image.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import { FEATURE_REQUEST_IMAGES, FeaturePool, featureWorkerCount } from "../../trainer/eval/feature_pool.js";
import { resolveModelDims, type ModelDims } from "../../trainer/models/model_dims.js";
import { pooledFeatures, type FeatureImages } from "../../trainer/models/pooled_features.js";
import { VisionTransformer } from "../../trainer/models/vision_transformer.js";
import { Rng } from "../../trainer/utils/rng.js";

const root = path.resolve(__dirname, "../..");
const normalization = { mean: [0.29], std: [0.35] };
let dims: ModelDims;
let pool: FeaturePool;

function randomImages(count: number, seed: number): FeatureImages {
  const rng = Rng.fromSeed(seed, "images");
  const images = new Uint8Array(count * 28 * 28);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(0, 256);
  return { images, count, height: 28, width: 28, channels: 1 };
}

beforeAll(async () => {
  await initBackend("wasm");
  dims = resolveModelDims(await loadConfigFile(path.join(root, "configs/smoke.yaml")), 1);
  pool = await FeaturePool.start({ workers: 2, backend: "wasm" });
}, 60_000);

afterAll(async () => {
  await pool?.close();
});

describe("FeaturePool", () => {
  it("gives bit for bit the features this thread computes, over requests split between two workers", async () => {
    // More than two requests, the last one short, so both workers answer and the seams are checked.
    const images = randomImages(2 * FEATURE_REQUEST_IMAGES + 37, 1);
    const encoder = VisionTransformer.initialise(dims, 7, "feature_pool_test");
    try {
      const expected = pooledFeatures(encoder, images, normalization.mean, normalization.std);
      const { features: got, ms } = await pool.features(encoder, images, normalization);
      expect(ms).toBeGreaterThan(0);
      expect(pool.size).toBe(2);
      expect(got.length).toBe(images.count * dims.embedDim);
      expect(Buffer.from(got.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    } finally {
      encoder.params.dispose();
    }
  }, 120_000);

  it("runs jobs queued back to back for different encoders, each with its own weights, once their encoders are gone", async () => {
    const images = randomImages(300, 2);
    const first = VisionTransformer.initialise(dims, 1, "feature_pool_first");
    const second = VisionTransformer.initialise(dims, 2, "feature_pool_second");
    const expectedFirst = pooledFeatures(first, images, normalization.mean, normalization.std);
    const expectedSecond = pooledFeatures(second, images, normalization.mean, normalization.std);
    // Both queued before either is awaited, and the encoders disposed at once: the jobs hold copies.
    const a = pool.features(first, images, normalization);
    const b = pool.features(second, images, normalization);
    first.params.dispose();
    second.params.dispose();
    const [gotFirst, gotSecond] = await Promise.all([a, b]);
    expect(Array.from(gotFirst.features)).toEqual(Array.from(expectedFirst));
    expect(Array.from(gotSecond.features)).toEqual(Array.from(expectedSecond));
    expect(Array.from(expectedFirst)).not.toEqual(Array.from(expectedSecond));
  }, 120_000);
});

describe("FeaturePool.start", () => {
  it("fails naming the worker's error when a worker cannot start its backend", async () => {
    // tfjs-node is not installed here: each worker's initBackend("node") refuses.
    await expect(FeaturePool.start({ workers: 2, backend: "node" })).rejects.toThrow(/feature worker: .*"node"/);
  }, 60_000);
});

describe("featureWorkerCount", () => {
  it("starts no more workers than the images keep busy, and refuses a count that is not a positive integer", () => {
    expect(featureWorkerCount(20_000, 4)).toBe(4);
    expect(featureWorkerCount(1_500, 4)).toBe(1);
    expect(featureWorkerCount(500, 2)).toBe(1);
    expect(() => featureWorkerCount(20_000, 0)).toThrow(/integer ≥ 1/);
    return expect(FeaturePool.start({ workers: 0, backend: "wasm" })).rejects.toThrow(/integer ≥ 1/);
  });
});
