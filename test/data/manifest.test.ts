// Manifest validation: a document that does not match the schema is a CorruptDataError naming the file and the field.
import { describe, expect, it } from "vitest";
import { CorruptDataError } from "../../trainer/errors.js";
import { parseManifest } from "../../trainer/data/manifest.js";
import { planShards } from "../../trainer/data/shard_plan.js";
import { shardDataset } from "../../trainer/data/shard_writer.js";
import { FASHION_MNIST_CLASSES } from "../../trainer/data/fashion_mnist.js";
import { writeIdxFolder } from "./fixtures.js";
import { tempDir } from "../support/temp_dir.js";

describe("dataset manifest", () => {
  it("accepts what the sharder writes and refuses edits that break it, naming the field", async () => {
    const { manifest } = await shardDataset({
      source: await writeIdxFolder(tempDir()),
      format: "idx",
      output: tempDir(),
      shardSize: 20,
    });
    expect(parseManifest(JSON.parse(JSON.stringify(manifest)), "m.json")).toEqual(manifest);
    const broken: Array<[object, RegExp]> = [
      [
        { ...manifest, splits: { ...manifest.splits, train: { ...manifest.splits.train, count: 49 } } },
        /splits\.train: count must equal the sum/,
      ],
      [{ ...manifest, mean: [0.5, 0.5] }, /mean: needs 1 values/],
      [{ ...manifest, imageShape: [28, 28, 2] }, /imageShape\.2/],
      [{ ...manifest, fingerprint: "abc" }, /fingerprint: expected 64 lowercase hex digits/],
      [{ ...manifest, formatVersion: 2 }, /formatVersion/],
    ];
    for (const [doc, field] of broken) {
      const err = (() => {
        try {
          parseManifest(doc, "s3://b/ds/manifest.json");
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(CorruptDataError);
      expect((err as CorruptDataError).uri).toBe("s3://b/ds/manifest.json");
      expect((err as Error).message).toMatch(field);
    }
  });

  it("plans the real Fashion-MNIST by name with its class names and ~32 MiB shards", async () => {
    const plan = await planShards(
      { source: "fashion-mnist", format: "idx", output: tempDir() },
      { datasetResolution: { env: {}, download: false } },
    );
    expect(plan.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(plan.counts).toEqual({ train: 60000, test: 10000 });
    expect(plan.imageShape).toEqual([28, 28, 1]);
    expect(plan.chunks.map((c) => [c.split, c.count])).toEqual([
      ["train", 42799],
      ["train", 17201],
      ["test", 10000],
    ]);
  });
});
