// IDX .gz files whose headers lie or that inflate past what they declare are refused before memory is spent.
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { DataError } from "../../trainer/errors.js";
import { MAX_IDX_BYTES, decodeIdxSplit } from "../../trainer/data/idx_reader.js";
import { shardDataset } from "../../trainer/data/shard_writer.js";
import { idxGzBomb, lyingIdxGz } from "../support/hostile_inputs.js";
import { snapshotFiles } from "../support/file_snapshot.js";
import { writeIdxFolder } from "./fixtures.js";
import { tempDir } from "../support/temp_dir.js";

const names = { images: "train-images-idx3-ubyte.gz", labels: "train-labels-idx1-ubyte.gz" };
const labels = lyingIdxGz([10], 10);

describe("IDX .gz limits", () => {
  it("refuses a header declaring 2^31 images by its size alone, before inflating the rest", () => {
    const bomb = lyingIdxGz([2 ** 31 - 1, 28, 28]);
    expect(bomb.length).toBeLessThan(200);
    const rssBefore = process.memoryUsage().rss;
    expect(() => decodeIdxSplit(bomb, labels, names)).toThrow(DataError);
    expect(() => decodeIdxSplit(bomb, labels, names)).toThrow(
      new RegExp(`declares dims \\[2147483647, 28, 28\\] = \\d+ bytes, over the ${MAX_IDX_BYTES}-byte limit`),
    );
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 ** 2);
  });

  it("refuses a header that declares more than its compressed size can inflate to", () => {
    const liar = lyingIdxGz([100_000, 28, 28]); // 78 MB declared in a few hundred bytes
    expect(() => decodeIdxSplit(liar, labels, names)).toThrow(/but \d+ gzip bytes inflate to at most \d+/);
  });

  it("stops inflating a gzip bomb at the size its header declares", () => {
    const bomb = idxGzBomb([10, 10, 10], 64 * 1024 * 1024); // declares 1 KB, inflates to 64 MB
    expect(bomb.length).toBeLessThan(200_000);
    expect(() => decodeIdxSplit(bomb, labels, names)).toThrow(
      /inflates to more than the 1016 bytes its IDX header declares/,
    );
  });

  it("ends `ijepa shard` of a bomb with a DataError and leaves the source and output as they were", async () => {
    const src = await writeIdxFolder(await tempDir());
    await fs.writeFile(path.join(src, "train-images-idx3-ubyte.gz"), lyingIdxGz([2 ** 31 - 1, 28, 28]));
    const out = await tempDir();
    const before = await snapshotFiles(src);
    await expect(shardDataset({ source: src, format: "idx", output: out })).rejects.toThrow(DataError);
    expect(await snapshotFiles(src)).toEqual(before);
    expect(await fs.readdir(out)).toEqual([]);
  });
});
