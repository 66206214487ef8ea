// Sharding jobs: IDX and CIFAR to .npy shards + manifest, idempotent reruns, plan/work/finalize, and errors that publish nothing.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ConfigError, CorruptDataError, DataError, IjepaError, NotFoundError } from "../../trainer/errors.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { loadIdxSplit } from "../../trainer/data/idx_reader.js";
import { imageStats } from "../../trainer/data/in_memory_source.js";
import { type DatasetManifest, readManifest } from "../../trainer/data/manifest.js";
import { readShard } from "../../trainer/data/shard_format.js";
import { planShards } from "../../trainer/data/shard_plan.js";
import { finalizeShards, partKey, shardDataset, writeShardChunk } from "../../trainer/data/shard_writer.js";
import {
  cifarRecord,
  exists,
  idxImagesBytes,
  numpyAvailable,
  snapshotEtags,
  writeCifar10Folder,
  writeIdxFolder,
} from "./fixtures.js";
import { tempDir } from "../support/temp_dir.js";

async function readSplit(out: string, manifest: DatasetManifest, split: "train" | "test") {
  const store = new LocalObjectStore(out);
  const parts = [];
  for (const entry of manifest.splits[split].shards)
    parts.push(await readShard(store, "", entry, manifest.imageShape, manifest.classNames?.length ?? null));
  return {
    images: Buffer.concat(parts.map((p) => p.images)),
    labels: parts.flatMap((p) => Array.from(p.labels)),
  };
}

function withoutTime(m: DatasetManifest) {
  return { ...m, createdAt: "" };
}

describe("shardDataset on IDX", () => {
  it("writes shards of shardSize holding the source images in order, and a valid manifest with train mean/std", async () => {
    const src = await writeIdxFolder(tempDir(), { train: 50, test: 20, height: 6, width: 5 });
    const out = path.join(tempDir(), "mini");
    const result = await shardDataset({ source: src, format: "idx", output: out, shardSize: 16 });
    expect(result.reused).toBe(false);
    expect(result.counts).toEqual({ train: 50, test: 20 });
    expect(result.shards).toEqual({ train: 4, test: 2 });
    const manifest = await readManifest(new LocalObjectStore(out));
    expect(manifest.name).toBe("mini");
    expect(manifest.imageShape).toEqual([6, 5, 1]);
    expect(manifest.splits.train.shards.map((s) => s.count)).toEqual([16, 16, 16, 2]);
    expect(manifest.splits.train.shards[1].images.key).toBe("shards/train-00001.images.npy");
    expect(manifest.splits.test.shards[1].labels.key).toBe("shards/test-00001.labels.npy");
    const train = await loadIdxSplit(src, "train");
    const stored = await readSplit(out, manifest, "train");
    expect(stored.images.equals(Buffer.from(train.images))).toBe(true);
    expect(stored.labels).toEqual(Array.from(train.labels));
    const stats = imageStats(train.images, 1);
    expect(manifest.mean[0]).toBeCloseTo(stats.mean[0], 12);
    expect(manifest.std[0]).toBeCloseTo(stats.std[0], 12);
    expect(await exists(path.join(out, "parts"))).toBe(false);
  });

  it("picks a default shard size of about 32 MiB of pixels", async () => {
    const src = await writeIdxFolder(tempDir(), { train: 30, test: 5 });
    const plan = await planShards({ source: src, format: "idx", output: tempDir() });
    expect(plan.parameters.shardSize).toBe(Math.floor((32 * 1024 * 1024) / 30));
    expect(plan.chunks).toHaveLength(2);
  });

  it("run twice with the same input, writes nothing the second time and returns the same manifest", async () => {
    const src = await writeIdxFolder(tempDir());
    const out = tempDir();
    const first = await shardDataset({ source: src, format: "idx", output: out, shardSize: 7 });
    const before = await snapshotEtags(out);
    const second = await shardDataset({ source: src, format: "idx", output: out, shardSize: 7 });
    expect(second.reused).toBe(true);
    expect(second.manifest).toEqual(first.manifest);
    expect(await snapshotEtags(out)).toEqual(before);
  });

  it("refuses an output that holds a dataset made from other options or a changed source, leaving it intact", async () => {
    const src = await writeIdxFolder(tempDir());
    const out = tempDir();
    await shardDataset({ source: src, format: "idx", output: out, shardSize: 7 });
    const before = await snapshotEtags(out);
    const err = await shardDataset({ source: src, format: "idx", output: out, shardSize: 8 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /manifest\.json already holds a dataset with fingerprint .*choose another output, or delete/s,
    );
    // Rewriting a source file changes its etag, so the fingerprint changes too.
    const labels = path.join(src, "t10k-labels-idx1-ubyte.gz");
    await fs.writeFile(labels, await fs.readFile(labels));
    await expect(shardDataset({ source: src, format: "idx", output: out, shardSize: 7 })).rejects.toThrow(ConfigError);
    expect(await snapshotEtags(out)).toEqual(before);
  });

  // NumPy is the reader that matters; where it is missing, test/data/npy.test.ts still checks the header bytes.
  it.skipIf(!numpyAvailable())("gives NumPy files it can load", async () => {
    const src = await writeIdxFolder(tempDir(), { train: 9, test: 3, height: 4, width: 3 });
    const out = tempDir();
    await shardDataset({ source: src, format: "idx", output: out, shardSize: 5 });
    const script =
      "import numpy as np,sys;a=np.load(sys.argv[1]+'/shards/train-00000.images.npy');l=np.load(sys.argv[1]+'/shards/train-00000.labels.npy');print(a.dtype,a.shape,l.dtype,l.tolist())";
    expect(execFileSync("python3", ["-c", script, out], { encoding: "utf8" }).trim()).toBe(
      "uint8 (5, 4, 3, 1) int32 [0, 1, 2, 3, 4]",
    );
  });
});

describe("plan / work / finalize", () => {
  it("produces the same manifest as the whole job, re-running a chunk rewrites nothing, finalize removes its work folder", async () => {
    const src = await writeIdxFolder(tempDir(), { train: 23, test: 9 });
    const whole = tempDir();
    const fanned = tempDir();
    const input = { source: src, format: "idx" as const, output: fanned, shardSize: 6, name: "tiny" };
    const expected = (await shardDataset({ ...input, output: whole })).manifest;
    const plan = await planShards(input);
    expect(plan.chunks.map((c) => [c.split, c.shardIndex, c.count])).toEqual([
      ["train", 0, 6],
      ["train", 1, 6],
      ["train", 2, 6],
      ["train", 3, 5],
      ["test", 0, 6],
      ["test", 1, 3],
    ]);
    for (const chunk of [...plan.chunks].reverse()) expect((await writeShardChunk(input, chunk)).reused).toBe(false);
    const before = await snapshotEtags(fanned);
    expect((await writeShardChunk(input, plan.chunks[2])).reused).toBe("part");
    expect(await snapshotEtags(fanned)).toEqual(before);
    const manifest = await finalizeShards(input, plan);
    expect(withoutTime(manifest)).toEqual(withoutTime(expected));
    expect(await exists(path.join(fanned, ".ijepa-shard-work"))).toBe(false);
    expect((await writeShardChunk(input, plan.chunks[0])).reused).toBe("manifest");
  });

  it("will not finalize while a chunk is unwritten, and names that chunk", async () => {
    const src = await writeIdxFolder(tempDir(), { train: 12, test: 4 });
    const out = tempDir();
    const input = { source: src, format: "idx" as const, output: out, shardSize: 4 };
    const plan = await planShards(input);
    for (const chunk of plan.chunks) if (chunk.chunkIndex !== 1) await writeShardChunk(input, chunk);
    const err = await finalizeShards(input, plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IjepaError);
    expect((err as Error).message).toContain(`${partKey(1)} is missing: chunk 1 (train shard 1) has not been written`);
    expect(await exists(path.join(out, "manifest.json"))).toBe(false);
  });
});

describe("shardDataset on CIFAR", () => {
  it("shards records across batch files in order, HWC, with the class names of batches.meta.txt", async () => {
    const src = path.join(tempDir(), "cifar-10-batches-bin");
    await writeCifar10Folder(src, 7, 3, 5);
    const out = tempDir();
    const result = await shardDataset({ source: path.dirname(src), format: "cifar", output: out, shardSize: 5 });
    expect(result.counts).toEqual({ train: 21, test: 5 });
    const m = result.manifest;
    expect(m.imageShape).toEqual([32, 32, 3]);
    expect(m.classNames?.[9]).toBe("truck");
    const train = await readSplit(out, m, "train");
    expect(train.labels).toEqual(Array.from({ length: 21 }, (_, i) => i % 10));
    // Record r has R plane (r + p) mod 256 at pixel p; check pixel 0 and 1000 of every record.
    for (let r = 0; r < 21; r++) {
      for (const p of [0, 1000]) {
        const at = (r * 1024 + p) * 3;
        expect([train.images[at], train.images[at + 1], train.images[at + 2]]).toEqual([
          (r + p) % 256,
          (r + p + 100) % 256,
          (r + p + 200) % 256,
        ]);
      }
    }
  });

  it("refuses a batch file that ends inside a record, publishing nothing", async () => {
    const src = await writeCifar10Folder(tempDir(), 3, 1, 2);
    await fs.writeFile(
      path.join(src, "data_batch_1.bin"),
      Buffer.concat([cifarRecord([1], 0), cifarRecord([2], 1).subarray(0, 100)]),
    );
    const out = tempDir();
    await expect(shardDataset({ source: src, format: "cifar", output: out })).rejects.toThrow(
      /data_batch_1\.bin: truncated record/,
    );
    expect(await fs.readdir(out)).toEqual([]);
  });
});

describe("bad input publishes nothing", () => {
  const cases: Array<[string, (src: string) => Promise<object>, RegExp, new (...a: never[]) => Error]> = [
    [
      "wrong IDX magic",
      async (src) => {
        await writeIdxFolder(src);
        await fs.writeFile(
          path.join(src, "train-images-idx3-ubyte.gz"),
          gzipSync(idxImagesBytes(50, 6, 5, 0x00000802)),
        );
        return { format: "idx" };
      },
      /wrong IDX magic 0x00000802, expected 0x00000803/,
      DataError,
    ],
    [
      "image/label count mismatch",
      async (src) => {
        await writeIdxFolder(src, { train: 50 });
        await fs.writeFile(path.join(src, "train-images-idx3-ubyte.gz"), gzipSync(idxImagesBytes(49, 6, 5)));
        return { format: "idx" };
      },
      /holds 49 images but .* holds 50 labels/,
      DataError,
    ],
    ["empty folder", async () => ({ format: "imagefolder" }), /no files there/, NotFoundError],
    [
      "folder without images",
      async (src) => {
        await fs.writeFile(path.join(src, "notes.txt"), "hello");
        return { format: "imagefolder" };
      },
      /empty dataset: no \.jpg.*notes\.txt/,
      DataError,
    ],
    ["unknown format", async () => ({ format: "tfrecord" }), /format: Invalid option/, ConfigError],
    [
      "missing source",
      async (src) => ({ format: "idx", source: path.join(src, "does-not-exist") }),
      /not found: .*does-not-exist/,
      NotFoundError,
    ],
  ];
  for (const [name, prepare, message, type] of cases) {
    it(`${name}: a clear error and no manifest`, async () => {
      const src = tempDir();
      const out = path.join(tempDir(), "out");
      const extra = await prepare(src);
      const err = await shardDataset({ source: src, output: out, ...extra } as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(type);
      expect((err as Error).message).toMatch(message);
      expect(await exists(path.join(out, "manifest.json"))).toBe(false);
      expect(await exists(path.join(out, "shards"))).toBe(false);
    });
  }
});

describe("reading shards back", () => {
  it("raises CorruptDataError naming the shard when its bytes changed or it was cut short", async () => {
    const src = await writeIdxFolder(tempDir(), { train: 10, test: 2 });
    const out = tempDir();
    const { manifest } = await shardDataset({ source: src, format: "idx", output: out, shardSize: 5 });
    const store = new LocalObjectStore(out);
    const entry = manifest.splits.train.shards[0];
    const file = path.join(out, entry.images.key);
    const bytes = await fs.readFile(file);
    bytes[bytes.length - 1] ^= 0xff;
    await fs.writeFile(file, bytes);
    const flipped = await readShard(store, "", entry, manifest.imageShape, null).catch((e: unknown) => e);
    expect(flipped).toBeInstanceOf(CorruptDataError);
    expect((flipped as CorruptDataError).uri).toBe(file);
    expect((flipped as Error).message).toMatch(/sha256 .* does not match/);
    await fs.writeFile(file, bytes.subarray(0, 100));
    await expect(readShard(store, "", entry, manifest.imageShape, null)).rejects.toThrow(/truncated: 100 bytes/);
  });
});
