// IDX reading: raw and .gz files decode to NHWC + labels; wrong magic, truncation and count mismatches name the file.
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DataError } from "../../trainer/errors.js";
import { findIdxSplitKeys, loadIdxSplit, parseIdx } from "../../trainer/data/idx_reader.js";
import { DEBIAN_FASHION_MNIST_DIR } from "../../trainer/data/fashion_mnist.js";
import { idxImagesBytes, idxLabelsBytes, pixelOf, writeIdxFolder } from "./fixtures.js";
import { tempDir } from "../support/temp_dir.js";

describe("IDX reader", () => {
  it("reads gzipped and raw folders to the same images and labels", async () => {
    const gz = await loadIdxSplit(
      await writeIdxFolder(tempDir(), { gzip: true, train: 7, height: 3, width: 4 }),
      "train",
    );
    const raw = await loadIdxSplit(
      await writeIdxFolder(tempDir(), { gzip: false, train: 7, height: 3, width: 4 }),
      "train",
    );
    expect(gz.count).toBe(7);
    expect([gz.height, gz.width, gz.channels]).toEqual([3, 4, 1]);
    expect(gz.images[5 * 12 + 2]).toBe(pixelOf(5, 2));
    expect(Array.from(gz.labels)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(Buffer.from(raw.images)).toEqual(Buffer.from(gz.images));
    expect(Array.from(raw.labels)).toEqual(Array.from(gz.labels));
  });

  it("finds split files by base name, preferring the shallowest copy", () => {
    const keys = [
      "deep/x/train-images-idx3-ubyte.gz",
      "raw/train-images.idx3-ubyte",
      "raw/train-labels-idx1-ubyte",
      "t10k-images-idx3-ubyte",
    ];
    expect(findIdxSplitKeys(keys, "train")).toEqual({
      images: "raw/train-images.idx3-ubyte",
      labels: "raw/train-labels-idx1-ubyte",
    });
    expect(findIdxSplitKeys(keys, "test")).toBeUndefined();
  });

  it("rejects a labels file given as images with the magic it found and the one it expected", () => {
    expect(() => parseIdx(idxLabelsBytes(3), "train-images-idx3-ubyte", "images")).toThrow(
      /train-images-idx3-ubyte: wrong IDX magic 0x00000801, expected 0x00000803/,
    );
  });

  it("rejects a truncated images file, naming it and the bytes its header needs", () => {
    const bytes = idxImagesBytes(4, 2, 2);
    expect(() => parseIdx(bytes.subarray(0, bytes.length - 3), "f.idx", "images")).toThrow(
      /f\.idx: truncated: 29 bytes, dims \[4, 2, 2\] need 32/,
    );
    expect(() => parseIdx(bytes.subarray(0, 2), "f.idx", "images")).toThrow(DataError);
  });

  it("rejects a damaged gzip stream as a DataError naming the file", async () => {
    const dir = await writeIdxFolder(tempDir());
    const file = path.join(dir, "train-images-idx3-ubyte.gz");
    const gz = await fs.readFile(file);
    await fs.writeFile(file, gz.subarray(0, gz.length - 10));
    await expect(loadIdxSplit(dir, "train")).rejects.toThrow(/train-images-idx3-ubyte\.gz: gzip data is damaged/);
  });

  it("rejects images and labels whose counts differ, naming both files and both counts", async () => {
    const dir = await writeIdxFolder(tempDir(), { train: 5 });
    await fs.writeFile(path.join(dir, "train-labels-idx1-ubyte.gz"), gzipSync(idxLabelsBytes(4)));
    const err = await loadIdxSplit(dir, "train").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(
      /train-images-idx3-ubyte\.gz holds 5 images but .*train-labels-idx1-ubyte\.gz holds 4 labels/,
    );
  });

  it("reads the real Fashion-MNIST: 60000 + 10000 images of 28x28, 6000 and 1000 of each class", async () => {
    const train = await loadIdxSplit(DEBIAN_FASHION_MNIST_DIR, "train");
    const test = await loadIdxSplit(DEBIAN_FASHION_MNIST_DIR, "test");
    expect([train.count, train.height, train.width]).toEqual([60000, 28, 28]);
    expect(test.count).toBe(10000);
    const perClass = (labels: Int32Array) => Array.from({ length: 10 }, (_, c) => labels.filter((l) => l === c).length);
    expect(perClass(train.labels)).toEqual(new Array(10).fill(6000));
    expect(perClass(test.labels)).toEqual(new Array(10).fill(1000));
    // Fashion-MNIST's published train mean is 0.2860 (pixels / 255).
    let sum = 0;
    for (let i = 0; i < train.images.length; i++) sum += train.images[i];
    const mean = sum / train.images.length / 255;
    expect(mean).toBeCloseTo(0.286, 3);
  });
});
