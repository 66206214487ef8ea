// End to end on S3: the synthesized workflow run locally with both buckets mapped to the test radosgw, the
// in-process Lambdas and the trainer child reading and writing s3:// like the deployed ones.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { STATE } from "../../lib/training_workflow.js";
import { startLocalExecution } from "../../local/run_local_workflow.js";
import { LOCAL_TRAINER_ENVIRONMENT } from "../../local/start_command.js";
import { readWorkflowTemplate, synthesizeTemplate } from "../../local/workflow_template.js";
import { readRunLock } from "../../trainer/run/run_lock.js";
import { executionKey } from "../../trainer/run/run_layout.js";
import { writeIdxFolder } from "../data/fixtures.js";
import { makeTestBucket, s3TestEnv, s3TestServer } from "../support/s3_test_bucket.js";

const { server, skipReason } = s3TestServer();

if (skipReason) {
  describe("the synthesized workflow on S3", () => {
    it.skip(skipReason, () => undefined);
  });
} else {
  describe("the synthesized workflow on S3", () => {
    it("shards into the datasets bucket, trains, probes and reports into the runs bucket, and releases the lock", async () => {
      Object.assign(process.env, s3TestEnv(server!)); // the in-process handlers and the trainer child use it
      const bucket = await makeTestBucket("workflow");
      const src = await writeIdxFolder(path.join(mkdtempSync(path.join(tmpdir(), "ijepa-wf-s3-")), "tiny"), {
        train: 96,
        test: 32,
        height: 28,
        width: 28,
      });
      const output: string[] = [];
      const execution = startLocalExecution({
        template: readWorkflowTemplate(synthesizeTemplate()),
        input: { dataset: src, config: "smoke", epochs: 1, probeTrainLimit: 96, runId: "on-s3" },
        root: `s3://${bucket.bucket}/ijepa`,
        batch: { localEnvironment: LOCAL_TRAINER_ENVIRONMENT, stdio: "pipe", onOutput: (c) => output.push(c) },
      });
      const r = await execution.result;
      expect(r.status, output.join("")).toBe("SUCCEEDED");
      expect(r.runUri).toBe(`s3://${bucket.bucket}/ijepa/on-s3`);
      expect(
        r.events.filter((e) => e.type === "StateEntered").map((e) => (e.state as { name: string }).name),
      ).toContain(STATE.probe);
      const run = bucket.store("ijepa/on-s3");
      for (const key of [
        "config.yaml",
        "input.json",
        "checkpoints/latest.json",
        "probe/00000006.json",
        "report/report.html",
        executionKey(r.executionName),
      ]) {
        expect(await run.head(key), key).toBeDefined();
      }
      expect(await bucket.store("ijepa/datasets/tiny").head("manifest.json")).toBeDefined();
      expect((await readRunLock(run))?.state).toBe("released");
    });
  });
}
