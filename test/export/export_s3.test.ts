// pull and export against the real S3 server (radosgw) the test setup starts: runs read from s3://, exports written to and loaded from s3://.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { exportEncoder } from "../../trainer/export/export_encoder.js";
import { readExportedEncoder } from "../../trainer/export/load_exported_encoder.js";
import { pullRun } from "../../trainer/export/pull_run.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { openStore } from "../../trainer/storage/open_store.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import { type TestBucket, makeTestBucket, s3TestEnv, withS3Server } from "../support/s3_test_bucket.js";
import { trainSmokeRun } from "./smoke_run.js";
import { tempDir } from "../support/temp_dir.js";

withS3Server("pull and export on S3", () => {
  describe("pull and export on S3 (radosgw)", () => {
    let bucket: TestBucket;
    let local: string;
    let runUri: string;
    const savedEnv = { ...process.env };

    beforeAll(async () => {
      await initBackend("wasm");
      bucket = await makeTestBucket("export");
      Object.assign(process.env, s3TestEnv(bucket.server));
      local = tempDir("s3-run");
      await trainSmokeRun(local, { steps: 2 });
      mkdirSync(path.join(local, "probe"));
      writeFileSync(
        path.join(local, "probe/history.jsonl"),
        JSON.stringify({ step: 1, time: "t", dataset: "squares", linearTop1: 0.8, knnTop1: 0.5 }) + "\n",
      );
      // Upload the run as `ijepa train --out s3://…` would have left it.
      const source = new LocalObjectStore(local);
      const remote = bucket.store("runs/r1");
      for await (const info of source.list("")) await remote.put(info.key, await source.get(info.key));
      runUri = `s3://${bucket.bucket}/runs/r1`;
    });

    afterAll(() => {
      for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
      Object.assign(process.env, savedEnv);
    });

    it("pulls the latest checkpoint from s3:// into a local run folder, byte for byte", async () => {
      const to = tempDir("s3-pulled");
      const result = await pullRun({ run: runUri, which: "latest", to });
      expect(result).toMatchObject({ step: 2, from: `${runUri}/checkpoints/00000002/` });
      for (const key of [
        "checkpoints/00000002/model.safetensors",
        "checkpoints/00000002/optimizer.safetensors",
        "checkpoints/00000002/state.json",
        "config.yaml",
        "metrics.jsonl",
        "probe/history.jsonl",
      ]) {
        expect(readFileSync(path.join(to, key)).equals(readFileSync(path.join(local, key))), key).toBe(true);
      }
      expect(readdirSync(path.join(to, "checkpoints")).sort()).toEqual(["00000002", "latest.json"]);
    });

    it("pulls the best checkpoint from s3://, and downloads nothing the second time", async () => {
      const to = tempDir("s3-best");
      expect(await pullRun({ run: runUri, which: "best", to })).toMatchObject({
        step: 1,
        reason: "best linearTop1 (0.8)",
      });
      const reads: string[] = [];
      const counting = (uri: string): ObjectStore => {
        const store = openStore(uri);
        if (!uri.startsWith("s3://")) return store;
        return Object.assign(Object.create(store) as ObjectStore, {
          get: (key: string) => {
            reads.push(key);
            return store.get(key);
          },
          getStream: (key: string) => {
            reads.push(key);
            return store.getStream(key);
          },
        });
      };
      const again = await pullRun({ run: runUri, which: "best", to }, { openStore: counting });
      expect(again.bytesCopied).toBe(0);
      expect(reads.filter((k) => k.endsWith(".safetensors"))).toEqual([]);
    });

    it("exports a checkpoint folder given as an s3:// URI, to s3://, and loads it back from there", async () => {
      const to = `s3://${bucket.bucket}/exports/step1`;
      const result = await exportEncoder({ checkpoint: `${runUri}/checkpoints/00000001/`, format: "tfjs", to });
      expect(result.config).toMatchObject({ step: 1, source: `${runUri}/checkpoints/00000001/` });
      expect(result.files.map((f) => f.uri)).toEqual([
        `${to}/group1-shard1of1.bin`,
        `${to}/README.md`,
        `${to}/model.json`,
      ]);
      const fromS3 = await readExportedEncoder(to);
      const localExport = tempDir("s3-local-export");
      await exportEncoder({ checkpoint: path.join(local, "checkpoints/00000001"), format: "tfjs", to: localExport });
      const fromDisk = await readExportedEncoder(localExport);
      expect(fromS3.config).toEqual({ ...fromDisk.config, source: fromS3.config.source });
      expect([...fromS3.weights.keys()]).toEqual([...fromDisk.weights.keys()]);
      for (const [name, data] of fromDisk.weights)
        expect(Array.from(fromS3.weights.get(name)!), name).toEqual(Array.from(data));
    });
  });
});
