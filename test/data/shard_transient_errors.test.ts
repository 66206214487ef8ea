// A source read that fails for a passing reason (throttling, a dropped connection) must fail the job, not drop the image.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { shardDataset } from "../../trainer/data/shard_writer.js";
import { IjepaError } from "../../trainer/errors.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import { exists, writeImageFolder } from "./fixtures.js";
import { tempDir } from "../support/temp_dir.js";

describe("shardDataset and transient read errors", () => {
  it("fails the chunk (nothing published) on a transient error, and a retry shards every image", async () => {
    const src = await writeImageFolder(tempDir(), ["a", "b"], 4, 12);
    const out = tempDir();
    let failOnce = true;
    const flaky = (uri: string): ObjectStore => {
      const store = new LocalObjectStore(uri);
      if (uri !== src) return store;
      const get = store.get.bind(store);
      store.get = async (key: string) => {
        if (failOnce && key.startsWith("a/")) {
          failOnce = false;
          throw new IjepaError(`GetObject ${key}: SlowDown after 5 attempts`);
        }
        return get(key);
      };
      return store;
    };
    const input = { source: src, format: "imagefolder" as const, output: out, resolution: 8, testFraction: 0.25 };
    await expect(shardDataset(input, { openStore: flaky })).rejects.toThrow(/SlowDown/);
    expect(await exists(path.join(out, "manifest.json"))).toBe(false);
    const retried = await shardDataset(input, { openStore: flaky });
    expect(retried.rejected).toEqual([]);
    expect(retried.counts.train + retried.counts.test).toBe(8);
  });
});
