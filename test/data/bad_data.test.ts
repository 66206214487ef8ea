// A folder of good and broken files: every broken one ends up in `rejected` with a reason, and the dataset is still valid.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { DataError } from "../../trainer/errors.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { readManifest } from "../../trainer/data/manifest.js";
import { readShard } from "../../trainer/data/shard_format.js";
import { shardDataset } from "../../trainer/data/shard_writer.js";
import { exists, makeImage, writeImageFolder } from "./fixtures.js";
import { tempDir } from "../support/temp_dir.js";

/** Good images in three class folders with awkward names, plus one of each kind of broken file. */
async function corpus(): Promise<string> {
  const src = tempDir("corpus");
  await writeImageFolder(src, ["café au lait", "日本", "with#hash%pct"], 4, 24);
  const jpeg = await makeImage("jpeg", 40, 30, 9);
  await fs.writeFile(path.join(src, "日本", "truncated.jpg"), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  await fs.writeFile(path.join(src, "日本", "zero.png"), Buffer.alloc(0));
  await fs.writeFile(
    path.join(src, "café au lait", "letter.jpg"),
    "Dear reader, this is a text file with a .jpg name.\n",
  );
  await fs.writeFile(path.join(src, "with#hash%pct", "noise.png"), randomBytes(2048));
  await fs.writeFile(path.join(src, "with#hash%pct", "notes.txt"), "not an image");
  return src;
}

describe("bad-data corpus", () => {
  it("shards the good images, lists every bad file with its reason, and publishes a valid manifest", async () => {
    const src = await corpus();
    const out = tempDir();
    const result = await shardDataset({
      source: src,
      format: "imagefolder",
      output: out,
      resolution: 16,
      testFraction: 0.25,
      shardSize: 3,
      seed: 4,
    });
    const manifest = await readManifest(new LocalObjectStore(out));
    expect(manifest.classNames).toEqual(["café au lait", "with#hash%pct", "日本"]);
    expect(manifest.splits.train.count + manifest.splits.test.count).toBe(12);
    expect(manifest.splits.test.count).toBeGreaterThan(0);
    const reasons = Object.fromEntries(result.rejected.map((r) => [r.source, r.reason]));
    expect(Object.keys(reasons).sort()).toEqual(
      [
        "café au lait/letter.jpg",
        "with#hash%pct/noise.png",
        "with#hash%pct/notes.txt",
        "日本/truncated.jpg",
        "日本/zero.png",
      ].sort(),
    );
    expect(reasons["日本/truncated.jpg"]).toMatch(/premature end of JPEG/i);
    expect(reasons["日本/zero.png"]).toBe("empty file (0 bytes)");
    expect(reasons["café au lait/letter.jpg"]).toMatch(/unsupported image format/);
    expect(reasons["with#hash%pct/noise.png"]).toMatch(/cannot decode|unsupported image format/);
    expect(reasons["with#hash%pct/notes.txt"]).toMatch(/not an image file by name/);
    // Every shard the manifest names is complete and verifies; none is referenced twice.
    const store = new LocalObjectStore(out);
    for (const split of ["train", "test"] as const) {
      for (const entry of manifest.splits[split].shards) {
        const shard = await readShard(store, "", entry, manifest.imageShape, 3);
        expect(shard.images).toHaveLength(entry.count * 16 * 16 * 3);
      }
    }
  });

  it("is not stopped by a folder whose name is not valid UTF-8", async () => {
    const src = tempDir("corpus");
    await writeImageFolder(src, ["ok"], 3, 16);
    const badName = Buffer.concat([Buffer.from(path.join(src, "bad")), Buffer.from([0xff, 0xfe])]);
    await fs.mkdir(badName);
    await fs.writeFile(Buffer.concat([badName, Buffer.from("/x.png")]), await makeImage("png", 16, 16, 1));
    const out = tempDir();
    const result = await shardDataset({
      source: src,
      format: "imagefolder",
      output: out,
      resolution: 8,
      testFraction: 0,
    });
    expect(result.counts.train).toBeGreaterThanOrEqual(3);
    expect(await exists(path.join(out, "manifest.json"))).toBe(true);
  });

  it("with every image broken, publishes nothing and leaves no shard or part behind", async () => {
    const src = tempDir();
    await fs.mkdir(path.join(src, "a"));
    await fs.writeFile(path.join(src, "a", "1.jpg"), "text");
    await fs.writeFile(path.join(src, "a", "2.png"), Buffer.alloc(0));
    const out = tempDir();
    const err = await shardDataset({
      source: src,
      format: "imagefolder",
      output: out,
      resolution: 8,
      testFraction: 0,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(
      /empty dataset: none of the 2 train images could be decoded .*nothing was published/,
    );
    expect(await fs.readdir(out)).toEqual([]);
  });
});
