// ijepa shard writes only into what it owns: not the source folder, not among a user's files; scratch is its own.
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../trainer/errors.js";
import { shardDataset } from "../../trainer/data/shard_writer.js";
import { changedFiles, snapshotFiles } from "../support/file_snapshot.js";
import { writeIdxFolder, writeImageFolder } from "./fixtures.js";
import { tempDir } from "../support/temp_dir.js";

describe("ijepa shard's output", () => {
  it("refuses --source and --out that are the same folder, and every source image is still there", async () => {
    const src = await writeImageFolder(await tempDir(), ["cat", "dog"], 3);
    const before = await snapshotFiles(src);
    const err = await shardDataset({ source: src, format: "imagefolder", output: src, resolution: 16 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/are the same folder.*choose an --out outside the source folder/s);
    expect(changedFiles(before, await snapshotFiles(src))).toEqual([]);
    expect([...(await snapshotFiles(src)).keys()]).toEqual([...before.keys()]);
  });

  it("refuses an --out inside the source folder (or the reverse), also through a symbolic link", async () => {
    const src = await writeIdxFolder(await tempDir());
    await expect(shardDataset({ source: src, format: "idx", output: path.join(src, "out") })).rejects.toThrow(
      /--out lies inside --source/,
    );
    const link = path.join(await tempDir(), "link");
    await fs.symlink(src, link);
    await expect(shardDataset({ source: src, format: "idx", output: link })).rejects.toThrow(/are the same folder/);
    await expect(fs.stat(path.join(src, "out"))).rejects.toThrow(/ENOENT/);
  });

  it("refuses an output holding a user's parts/ (or any file it did not write), leaving them alone", async () => {
    const src = await writeIdxFolder(await tempDir());
    const out = await tempDir();
    await fs.mkdir(path.join(out, "parts"));
    await fs.writeFile(path.join(out, "parts", "00000.json"), "my own notes\n");
    await fs.mkdir(path.join(out, "shards"));
    await fs.writeFile(path.join(out, "shards", "train-00000.images.npy.bak"), "keep me\n");
    const before = await snapshotFiles(out);
    const err = await shardDataset({ source: src, format: "idx", output: out, shardSize: 7 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /holds files ijepa shard did not write \(parts\/00000\.json, shards\/train-00000\.images\.npy\.bak\)/,
    );
    expect(await snapshotFiles(out)).toEqual(before);
  });

  it("keeps its scratch space in a folder of its own name and removes it when done", async () => {
    const src = await writeIdxFolder(await tempDir());
    const out = await tempDir();
    await shardDataset({ source: src, format: "idx", output: out, shardSize: 7 });
    const files = [...(await snapshotFiles(out)).keys()];
    expect(files).toContain("manifest.json");
    expect(
      files.every((f) => f === "manifest.json" || /^shards\/(train|test)-\d{5}\.(images|labels)\.npy$/.test(f)),
    ).toBe(true);
    // Sharding into its own dataset again is allowed (it only rewrites its own files).
    expect((await shardDataset({ source: src, format: "idx", output: out, shardSize: 7 })).reused).toBe(true);
  });
});
