// openTrainSource / openEvalSplit: one --data argument names Fashion-MNIST, an IDX folder, a sharded folder or its manifest.
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { NotFoundError } from "../../trainer/errors.js";
import { DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES } from "../../trainer/data/fashion_mnist.js";
import { InMemoryTrainSource } from "../../trainer/data/in_memory_source.js";
import { loadIdxSplit } from "../../trainer/data/idx_reader.js";
import { openEvalSplit, openTrainSource } from "../../trainer/data/open_train_source.js";
import { ShardedTrainSource } from "../../trainer/data/sharded_source.js";
import { shardDataset } from "../../trainer/data/shard_writer.js";
import { writeIdxFolder } from "./fixtures.js";
import { tempDir } from "../support/temp_dir.js";

let idxDir: string;
let shardedDir: string;

beforeAll(async () => {
  idxDir = await writeIdxFolder(tempDir(), { train: 40, test: 12, height: 4, width: 4 });
  shardedDir = tempDir();
  await shardDataset({ source: idxDir, format: "idx", output: shardedDir, shardSize: 5 });
});

describe("openTrainSource", () => {
  it("reads an IDX folder into memory and a sharded folder or manifest URI as shards, with the same examples", async () => {
    const inMemory = await openTrainSource(idxDir, { seed: 3 });
    const fromDir = await openTrainSource(shardedDir, { seed: 3 });
    const fromManifest = await openTrainSource(path.join(shardedDir, "manifest.json"), { seed: 3 });
    expect(inMemory).toBeInstanceOf(InMemoryTrainSource);
    expect(fromDir).toBeInstanceOf(ShardedTrainSource);
    expect(fromManifest).toBeInstanceOf(ShardedTrainSource);
    for (const s of [inMemory, fromDir, fromManifest]) expect(s.info.numExamples).toBe(40);
    expect(fromDir.info.mean[0]).toBeCloseTo(inMemory.info.mean[0], 12);
    expect(fromDir.info.std[0]).toBeCloseTo(inMemory.info.std[0], 12);
    const b = await fromManifest.batch(0, 1, 8);
    const train = await loadIdxSplit(idxDir, "train");
    expect(Array.from(b.labels)).toEqual(Array.from(b.indices, (i) => train.labels[i]));
  });

  it("trains on only the first `limit` images, from IDX and from shards alike, normalized like the whole split", async () => {
    const full = await openTrainSource(idxDir, { seed: 3 });
    const inMemory = await openTrainSource(idxDir, { seed: 3, limit: 23 });
    const sharded = await openTrainSource(shardedDir, { seed: 3, limit: 23 });
    for (const s of [inMemory, sharded]) {
      expect(s.info.numExamples).toBe(23);
      expect(s.batchesPerEpoch(4)).toBe(5);
      expect(s.info.mean[0]).toBeCloseTo(full.info.mean[0], 12);
      const seen = new Set<number>();
      for (let epoch = 0; epoch < 2; epoch++) {
        for (let i = 0; i < 5; i++) for (const g of (await s.batch(epoch, i, 4)).indices) seen.add(g);
      }
      expect(Math.max(...seen)).toBeLessThan(23);
      expect(seen.size).toBeGreaterThanOrEqual(20);
      await expect(s.batch(0, 5, 4)).rejects.toThrow(RangeError);
    }
    const again = await openTrainSource(shardedDir, { seed: 3, limit: 23 });
    expect(Array.from((await again.batch(1, 2, 4)).indices)).toEqual(
      Array.from((await sharded.batch(1, 2, 4)).indices),
    );
  });

  it("keeps every image's order when the limit is the split size or more", async () => {
    const a = await openTrainSource(shardedDir, { seed: 3 });
    const b = await openTrainSource(shardedDir, { seed: 3, limit: 1000 });
    expect(b.info.numExamples).toBe(40);
    expect(Array.from((await b.batch(1, 3, 8)).indices)).toEqual(Array.from((await a.batch(1, 3, 8)).indices));
    const c = await openTrainSource(idxDir, { seed: 3 });
    const d = await openTrainSource(idxDir, { seed: 3, limit: 40 });
    expect(Array.from((await d.batch(1, 3, 8)).indices)).toEqual(Array.from((await c.batch(1, 3, 8)).indices));
  });

  it("resolves fashion-mnist to the installed dataset with its class names", async () => {
    const source = await openTrainSource("fashion-mnist", {
      seed: 0,
      datasetResolution: { env: {}, systemDir: DEBIAN_FASHION_MNIST_DIR, download: false },
    });
    expect(source.info.numExamples).toBe(60000);
    expect(source.info.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(source.info.mean[0]).toBeCloseTo(0.286, 3);
    expect(source.info.std[0]).toBeCloseTo(0.353, 3);
  });

  it("names what it looked for when the folder holds neither a manifest nor IDX files", async () => {
    const err = await openTrainSource(tempDir(), { seed: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toMatch(/manifest\.json, or the IDX files/);
  });
});

describe("openEvalSplit", () => {
  it("returns a whole split, the same from IDX and from shards, and honours limit", async () => {
    const a = await openEvalSplit(idxDir, "test");
    const b = await openEvalSplit(shardedDir, "test");
    expect(a.count).toBe(12);
    expect(Buffer.from(b.images).equals(Buffer.from(a.images))).toBe(true);
    expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
    const limited = await openEvalSplit(path.join(shardedDir, "manifest.json"), "train", { limit: 7 });
    expect(limited.count).toBe(7);
    expect(limited.images).toHaveLength(7 * 16);
    expect(Array.from(limited.labels)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});
