// npm start's pipeline on a tiny dataset: every stage leaves its files, and running it again resumes instead of redoing.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runLocalPipeline } from "../../trainer/workflow/local_pipeline.js";
import { writeIdxFolder } from "../data/fixtures.js";

describe("runLocalPipeline", () => {
  it("shards, trains, probes, rotates and reports; a second run changes nothing; a lost probe is redone without retraining", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "ijepa-pipeline-"));
    const src = await writeIdxFolder(path.join(root, "src", "tiny"), { train: 96, test: 32, height: 28, width: 28 });
    const input = { dataset: src, format: "idx" as const, config: "smoke", root, maxSteps: 4, probeTrainLimit: 96, replicas: 1 };
    const lines: string[] = [];
    const first = await runLocalPipeline(input, (l) => lines.push(l));
    const run = path.join(root, "tiny-smoke");
    expect(first).toMatchObject({ runUri: run, step: 4, manifestUri: path.join(root, "datasets/tiny/manifest.json") });
    expect(first.probes.map((p) => p.step)).toEqual([4]);
    for (const f of ["input.json", "config.yaml", "metrics.jsonl", "checkpoints/latest.json", "probe/00000004.json", "probe/history.jsonl", "report/report.html", "report/loss.png"]) {
      expect(existsSync(path.join(run, f)), f).toBe(true);
    }
    expect(lines.some((l) => l.startsWith("[1/4] shard"))).toBe(true);

    // Again: the manifest is reused, nothing trains, nothing is probed.
    const probeFile = path.join(run, "probe/00000004.json");
    const mtime = statSync(probeFile).mtimeMs;
    const again: string[] = [];
    const second = await runLocalPipeline(input, (l) => again.push(l));
    expect(second.probes).toEqual([]);
    expect(again.some((l) => l.includes("reused"))).toBe(true);
    expect(again.some((l) => l.startsWith("[2/4] train"))).toBe(false);
    expect(statSync(probeFile).mtimeMs).toBe(mtime);

    // The pipeline stopped after training but before its probe: the next run probes that step first.
    rmSync(probeFile);
    const third = await runLocalPipeline(input, () => {});
    expect(third.probes.map((p) => p.step)).toEqual([4]);
    expect(JSON.parse(readFileSync(probeFile, "utf8")).step).toBe(4);
  });

  it("rejects a malformed input, naming the field", async () => {
    await expect(runLocalPipeline({ dataset: "fashion-mnist", runId: "no spaces allowed" }, () => {})).rejects.toThrow(/runId/);
  });
});
