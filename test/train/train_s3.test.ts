// End to end through the CLI against the test radosgw: shard into S3, train from s3://…/manifest.json into s3://….
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeTestBucket, s3TestEnv, withS3Server } from "../support/s3_test_bucket.js";

const root = path.resolve(__dirname, "../..");

function ijepa(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [path.join(root, "bin/ijepa.js"), ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 240_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

const losses = (jsonl: string) =>
  jsonl
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l))
    .filter((r) => r.type === "step")
    .map((r) => r.loss as number);

withS3Server("training against S3", (server) => {
  describe("training against S3", () => {
    it("shards Fashion-MNIST locally and into S3, then trains from s3://…/manifest.json into s3://… with the local copy's losses", async () => {
      const bucket = await makeTestBucket("train-e2e");
      const env = s3TestEnv(server);
      const dir = mkdtempSync(path.join(tmpdir(), "ijepa-s3-train-"));
      const s3Data = `s3://${bucket.bucket}/datasets/fashion-mnist`;
      for (const out of [path.join(dir, "shards"), s3Data]) {
        const r = ijepa(["shard", "--source", "fashion-mnist", "--format", "idx", "--out", out], env);
        expect(r.code, r.out).toBe(0);
      }
      const common = [
        "train",
        "--config",
        "smoke",
        "--max-steps",
        "4",
        "--replicas",
        "1",
        "--no-progress",
        "--seed",
        "3",
      ];
      const local = ijepa(
        [...common, "--data", path.join(dir, "shards/manifest.json"), "--out", path.join(dir, "run")],
        env,
      );
      expect(local.code, local.out).toBe(0);
      const remote = ijepa(
        [...common, "--data", `${s3Data}/manifest.json`, "--out", `s3://${bucket.bucket}/runs/r1`],
        env,
      );
      expect(remote.code, remote.out).toBe(0);
      const store = bucket.store("runs/r1");
      const remoteLosses = losses(new TextDecoder().decode(await store.get("metrics.jsonl")));
      expect(remoteLosses).toHaveLength(4);
      expect(remoteLosses).toEqual(losses(readFileSync(path.join(dir, "run/metrics.jsonl"), "utf8")));
      expect(await store.head("checkpoints/latest.json")).toBeDefined();
      expect(await store.head("checkpoints/00000004/model.safetensors")).toBeDefined();
    });
  });
});
