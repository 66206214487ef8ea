// ShardedTrainSource: a seeded permutation per epoch, random access, window-at-a-time reading with prefetch, verified shards.
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CorruptDataError } from "../../trainer/errors.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { windowedEpochOrder } from "../../trainer/data/epoch_order.js";
import { loadIdxSplit } from "../../trainer/data/idx_reader.js";
import {
  ShardedTrainSource,
  type ShardedSourceOptions,
  openShardedTrainSource,
} from "../../trainer/data/sharded_source.js";
import { shardDataset } from "../../trainer/data/shard_writer.js";
import { writeIdxFolder } from "./fixtures.js";
import { tempDir } from "../support/temp_dir.js";

const H = 6;
const W = 5;
let src: string;
let out: string;

beforeAll(async () => {
  src = await writeIdxFolder(tempDir(), { train: 103, test: 7, height: H, width: W });
  out = tempDir();
  await shardDataset({ source: src, format: "idx", output: out, shardSize: 10 }); // 11 train shards, the last of 3
});

function open(options: Partial<ShardedSourceOptions> = {}, dir = out): Promise<ShardedTrainSource> {
  return ShardedTrainSource.open(new LocalObjectStore(dir), "manifest.json", { seed: 11, ...options });
}

async function epoch(source: ShardedTrainSource, e: number, batchSize: number, after?: () => void) {
  const batches = [];
  for (let i = 0; i < source.batchesPerEpoch(batchSize); i++) {
    batches.push(await source.batch(e, i, batchSize));
    after?.();
  }
  return batches;
}

describe("ShardedTrainSource", () => {
  it("visits each example at most once per epoch, all but the dropped partial batch", async () => {
    const source = await open();
    expect(source.info.numExamples).toBe(103);
    expect(source.batchesPerEpoch(8)).toBe(12);
    const seen = (await epoch(source, 0, 8)).flatMap((b) => Array.from(b.indices));
    expect(seen).toHaveLength(96);
    expect(new Set(seen).size).toBe(96);
    expect(seen.every((i) => i >= 0 && i < 103)).toBe(true);
  });

  it("hands out the pixels and label of the source example each index names", async () => {
    const train = await loadIdxSplit(src, "train");
    const source = await open();
    const bytes = H * W;
    for (const b of await epoch(source, 2, 16)) {
      b.indices.forEach((g, k) => {
        expect(
          Buffer.from(b.images.subarray(k * bytes, (k + 1) * bytes)).equals(
            Buffer.from(train.images.subarray(g * bytes, (g + 1) * bytes)),
          ),
        ).toBe(true);
        expect(b.labels[k]).toBe(train.labels[g]);
      });
    }
  });

  it("orders epochs differently, and identically for two readers with the same seed", async () => {
    const a = await open();
    const b = await open();
    const order = async (s: ShardedTrainSource, e: number) =>
      (await epoch(s, e, 8)).flatMap((x) => Array.from(x.indices));
    const a0 = await order(a, 0);
    expect(await order(b, 0)).toEqual(a0);
    expect(await order(a, 1)).not.toEqual(a0);
    expect(await order(await open({ seed: 12 }), 0)).not.toEqual(a0);
  });

  it("mixes the examples of a window's shards instead of reading shard after shard", async () => {
    const source = await open({ windowShards: 2 });
    const counts = source.manifest.splits.train.shards.map((s) => s.count);
    const window = windowedEpochOrder(counts, 11, 0, 2).windows.find((w) => w.end - w.start === 20)!;
    const sequence = (await epoch(source, 0, 4)).flatMap((b) => Array.from(b.indices)).slice(window.start, window.end);
    const shardIds = sequence.map((g) => Math.floor(g / 10));
    expect([...new Set(shardIds)].sort()).toEqual([...window.shards].sort());
    const switches = shardIds.filter((s, i) => i > 0 && s !== shardIds[i - 1]).length;
    expect(switches).toBeGreaterThan(3);
  });

  it("gives identical batches from a copy of the shards in another store", async () => {
    const copy = path.join(tempDir(), "copy");
    await fs.cp(out, copy, { recursive: true });
    const a = await epoch(await open(), 3, 10);
    const b = await epoch(await open({}, copy), 3, 10);
    expect(b.map((x) => Buffer.from(x.images).toString("base64"))).toEqual(
      a.map((x) => Buffer.from(x.images).toString("base64")),
    );
    expect(b.map((x) => Array.from(x.labels))).toEqual(a.map((x) => Array.from(x.labels)));
  });

  it("resumes at any batch: random access returns what sequential reading returned", async () => {
    const sequential = await epoch(await open(), 1, 8);
    const fresh = await open();
    for (const i of [7, 0, 11, 3])
      expect(Array.from((await fresh.batch(1, i, 8)).indices)).toEqual(Array.from(sequential[i].indices));
  });

  it("reading in order loads each shard once per epoch even with room for a single window", async () => {
    const source = await open({ cachedWindows: 1, prefetch: false });
    await epoch(source, 0, 8);
    expect(source.stats.shardLoads).toBe(11);
  });

  it("never holds more than two windows of shards, and prefetches the next window before it is needed", async () => {
    const source = await open({ windowShards: 2 });
    let most = 0;
    await source.batch(0, 0, 4);
    // Window 0 is in use, window 1 is loading in the background: four shards.
    expect(source.cachedShards()).toHaveLength(4);
    await epoch(source, 0, 4, () => (most = Math.max(most, source.cachedShards().length)));
    expect(most).toBeLessThanOrEqual(4);
    expect(source.stats.shardLoads).toBeLessThanOrEqual(11 + 2); // + the next epoch's first window
  });

  it("fails a batch with CorruptDataError naming the shard whose bytes changed", async () => {
    const copy = path.join(tempDir(), "damaged");
    await fs.cp(out, copy, { recursive: true });
    const victim = path.join(copy, "shards", "train-00004.images.npy");
    const bytes = await fs.readFile(victim);
    bytes[200] ^= 1;
    await fs.writeFile(victim, bytes);
    const source = await open({ prefetch: false }, copy);
    const errors = [];
    for (let i = 0; i < source.batchesPerEpoch(10); i++) {
      const err = await source.batch(0, i, 10).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (err) errors.push(err);
    }
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toBeInstanceOf(CorruptDataError);
    expect((errors[0] as CorruptDataError).uri).toBe(victim);
  });

  it("opens from the manifest's URI, with the manifest's statistics", async () => {
    const source = await openShardedTrainSource(path.join(out, "manifest.json"), { seed: 1 });
    expect(source.info.origin).toBe(path.join(out, "manifest.json"));
    expect([source.info.height, source.info.width, source.info.channels]).toEqual([H, W, 1]);
    expect(source.info.mean[0]).toBeGreaterThan(0);
    await source.close();
    await expect(source.batch(0, 0, 1)).rejects.toThrow(/after close/);
  });
});
