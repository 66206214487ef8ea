// `ijepa start` (npm start) as a user runs it: the console's message for a bad input, and Ctrl-C — the trainer
// checkpoints, the lock is released, exit 130 — after which the same command resumes and finishes.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readRunLock } from "../../trainer/run/run_lock.js";
import { openStore } from "../../trainer/storage/open_store.js";
import { writeIdxFolder } from "../data/fixtures.js";

const repo = path.resolve(__dirname, "../..");
const cli = path.join(repo, "bin/ijepa.js");
const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("ijepa start", () => {
  it("fails a bad input file in PrepareRun with the console's message and exit code 1", () => {
    const dir = tempDir("ijepa-start-bad-");
    const input = path.join(dir, "input.json");
    writeFileSync(input, JSON.stringify({ runId: "bad", segmentEpochs: 0 }));
    const r = spawnSync(process.execPath, [cli, "start", "--input", input, "--root", path.join(dir, "runs")], {
      cwd: repo,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/▶ PrepareRun/);
    expect(r.stderr).toMatch(
      /error: execution \S+ failed: ConfigError: invalid execution input: segmentEpochs: Too small/,
    );
  });

  it("on Ctrl-C lets the trainer checkpoint, releases the lock and exits 130; the same command then resumes", async () => {
    const dir = tempDir("ijepa-start-int-");
    const src = await writeIdxFolder(path.join(dir, "src", "tiny"), { train: 96, test: 32, height: 28, width: 28 });
    const args = [
      cli,
      "start",
      "--dataset",
      src,
      "--config",
      "smoke",
      "--epochs",
      "10",
      "--segment-epochs",
      "10",
      "--max-steps",
      "30",
      "--probe-train-limit",
      "96",
      "--root",
      path.join(dir, "runs"),
    ];
    const first = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, args, { cwd: repo });
      let out = "";
      let sent = false;
      const onData = (d: Buffer) => {
        out += String(d);
        if (!sent && out.includes("checkpoint 00000010 written")) {
          sent = true;
          child.kill("SIGINT");
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.on("exit", (code) => resolve({ code, out }));
    });
    expect(first.code, first.out).toBe(130);
    // The trainer stops after its step (or its segment ends first); the next state then fails with Interrupted.
    expect(first.out).toMatch(/✗ (TrainSegment|PlanSegment): Interrupted: stopped on request/);
    const run = openStore(path.join(dir, "runs", "tiny-smoke"));
    expect((await readRunLock(run))?.state).toBe("released");

    const second = spawnSync(process.execPath, args, { cwd: repo, encoding: "utf8", timeout: 240_000 });
    expect(second.status, `${second.stdout}\n${second.stderr}`).toBe(0);
    expect(second.stdout).toMatch(/resumed from .*step 1\d/);
    expect(second.stdout).toMatch(/probe at step 30 .*linear top-1 .*\n {2}vs raw pixels: linear/);
    expect(second.stdout).toMatch(/report: .*tiny-smoke\/report\/report\.html/);
  });
});
