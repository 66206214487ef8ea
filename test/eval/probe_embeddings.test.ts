import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EvalSplit } from "../../trainer/data/open_train_source.js";
import { writeProbeEmbeddings } from "../../trainer/eval/probe_embeddings.js";
import { probeEmbeddingSchema } from "../../trainer/run/probe_embedding.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { getJson } from "../../trainer/storage/object_store.js";
import { Rng } from "../../trainer/utils/rng.js";

const DIM = 6;
const BASELINE_KEY = "probe/baselines/random-0123456789abcdef.json";

/** A test split of `count` 2×2 images whose pixel values encode their row, with features derived from them. */
function split(count: number): EvalSplit {
  const images = Uint8Array.from({ length: count * 4 }, (_, i) => Math.floor(i / 4) % 256);
  return {
    images,
    labels: Int32Array.from({ length: count }, (_, i) => i % 4),
    count,
    height: 2,
    width: 2,
    channels: 1,
    origin: "t",
  };
}

/** Features that depend only on an image (its first pixel), so any subset gives the same rows. */
function featuresOf(images: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count * DIM);
  for (let i = 0; i < count; i++) {
    const rng = Rng.fromSeed(images[i * 4], "row");
    for (let j = 0; j < DIM; j++) out[i * DIM + j] = (j + 1) * rng.normal();
  }
  return out;
}

describe("writeProbeEmbeddings", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "probe-embeddings-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes both projections and caches the random-init one beside its baseline, reusing it next time", async () => {
    const store = new LocalObjectStore(dir);
    const test = split(300);
    const features = featuresOf(test.images, test.count);
    const input = { step: 7, dataset: "t", test, classNames: ["a", "b", "c", "d"], dim: DIM, trainedTest: features };
    const random = { baselineKey: BASELINE_KEY, testFeatures: features.map((v) => -2 * v), features: () => features };
    expect(await writeProbeEmbeddings(store, { ...input, random })).toBe("probe/00000007.embedding.json");
    const first = probeEmbeddingSchema.parse(await getJson(store, "probe/00000007.embedding.json"));
    expect(first.classNames).toEqual(["a", "b", "c", "d"]);
    expect(first.randomInit!.count).toBe(300);
    expect(await getJson(store, "probe/baselines/random-0123456789abcdef.embedding.json")).toEqual(first.randomInit);

    const never = () => {
      throw new Error("the cached projection should have been used");
    };
    await writeProbeEmbeddings(store, { ...input, step: 9, random: { baselineKey: BASELINE_KEY, features: never } });
    expect(probeEmbeddingSchema.parse(await getJson(store, "probe/00000009.embedding.json")).randomInit).toEqual(
      first.randomInit,
    );
  });

  it("encodes only the projected images when neither random-init features nor a cached projection exist", async () => {
    const store = new LocalObjectStore(dir);
    const test = split(5000);
    const seen: number[] = [];
    const features = (images: { images: Uint8Array; count: number }) => {
      seen.push(images.count);
      return featuresOf(images.images, images.count);
    };
    const trainedTest = featuresOf(test.images, test.count);
    await writeProbeEmbeddings(store, {
      step: 1,
      dataset: "t",
      test,
      dim: DIM,
      trainedTest,
      random: { baselineKey: BASELINE_KEY, features },
    });
    expect(seen).toEqual([2000]);
    const doc = probeEmbeddingSchema.parse(await getJson(store, "probe/00000001.embedding.json"));
    // The same images, so the same picture as projecting all 5,000 rows' features and thinning them.
    expect(doc.randomInit!.labels).toEqual(doc.trained.labels);
    for (const [i, x] of doc.randomInit!.x.entries()) expect(x).toBeCloseTo(doc.trained.x[i], 3);
  });

  it("writes nothing, and does not fail the probe, when the encoder's features are not finite", async () => {
    const store = new LocalObjectStore(dir);
    const test = split(50);
    const trainedTest = featuresOf(test.images, test.count);
    trainedTest[17] = NaN;
    expect(await writeProbeEmbeddings(store, { step: 3, dataset: "t", test, dim: DIM, trainedTest })).toBeUndefined();
    expect(await store.head("probe/00000003.embedding.json")).toBeUndefined();
  });
});
