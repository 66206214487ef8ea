// Sharding into and reading from S3 (the test run's radosgw): the same manifest and the same batches as a local folder.
import { describe, expect, it } from "vitest";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import { ShardedTrainSource } from "../../trainer/data/sharded_source.js";
import { shardDataset } from "../../trainer/data/shard_writer.js";
import { makeTestBucket, withS3Server } from "../support/s3_test_bucket.js";
import { writeIdxFolder, writeImageFolder } from "./fixtures.js";
import { tempDir } from "../support/temp_dir.js";

withS3Server("sharded datasets on S3", () => {
  describe("sharded datasets on S3", () => {
    /** Opens s3://<bucket>/<prefix> on the test bucket, anything else as a local folder. */
    async function bucketOpener(name: string) {
      const bucket = await makeTestBucket(name);
      const openStore = (uri: string): ObjectStore => {
        const m = /^s3:\/\/[^/]+\/?(.*)$/.exec(uri);
        return m ? bucket.store(m[1].replace(/\/$/, "")) : new LocalObjectStore(uri);
      };
      return { bucket, openStore, uri: (prefix: string) => `s3://${bucket.bucket}/${prefix}` };
    }

    it("writes the same shards to S3 as to a local folder, and reads back the same batches", async () => {
      const s3 = await bucketOpener("shards");
      const src = await writeIdxFolder(tempDir(), { train: 45, test: 10 });
      const local = tempDir();
      const a = await shardDataset({ source: src, format: "idx", output: local, shardSize: 8, name: "d" });
      const b = await shardDataset(
        { source: src, format: "idx", output: s3.uri("ds/d"), shardSize: 8, name: "d" },
        { openStore: s3.openStore },
      );
      expect({ ...b.manifest, createdAt: "" }).toEqual({ ...a.manifest, createdAt: "" });
      const again = await shardDataset(
        { source: src, format: "idx", output: s3.uri("ds/d"), shardSize: 8, name: "d" },
        { openStore: s3.openStore },
      );
      expect(again.reused).toBe(true);
      const fromLocal = await ShardedTrainSource.open(new LocalObjectStore(local), "manifest.json", { seed: 4 });
      const fromS3 = await ShardedTrainSource.open(s3.bucket.store("ds"), "d/manifest.json", { seed: 4 });
      for (let i = 0; i < fromLocal.batchesPerEpoch(6); i++) {
        const x = await fromLocal.batch(1, i, 6);
        const y = await fromS3.batch(1, i, 6);
        expect(Buffer.from(y.images).equals(Buffer.from(x.images))).toBe(true);
        expect(Array.from(y.indices)).toEqual(Array.from(x.indices));
      }
    });

    it("shards an image folder that lives in S3", async () => {
      const s3 = await bucketOpener("images");
      const folder = await writeImageFolder(tempDir(), ["a", "b"], 3, 12);
      const raw = s3.openStore(s3.uri("raw"));
      const files = new LocalObjectStore(folder);
      for await (const info of files.list("")) await raw.put(info.key, await files.get(info.key));
      const result = await shardDataset(
        { source: s3.uri("raw/"), format: "imagefolder", output: s3.uri("ds/img"), resolution: 8, testFraction: 0 },
        { openStore: s3.openStore },
      );
      expect(result.counts.train).toBe(6);
      expect(result.manifest.classNames).toEqual(["a", "b"]);
    });
  });
});
