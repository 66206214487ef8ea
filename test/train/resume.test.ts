// Exact resume, end to end through the CLI: separate processes, data-parallel replicas, SIGKILL.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadConfigFile } from "../../trainer/config/load_config.js";

const root = path.resolve(__dirname, "../..");
const cli = path.join(root, "bin/ijepa.js");

function ijepa(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: "utf8", timeout: 240_000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

async function configFile(dir: string): Promise<string> {
  const config = await loadConfigFile(path.join(root, "configs/smoke.yaml"));
  config.logging.checkpoint_every = 4;
  const file = path.join(dir, "config.yaml");
  writeFileSync(file, stringify(config));
  return file;
}

const modelBytes = (run: string, step: number) =>
  readFileSync(path.join(run, "checkpoints", String(step).padStart(8, "0"), "model.safetensors"));

describe("exact resume", () => {
  it("N steps, then a new process with --resume to 2N, gives byte-identical model.safetensors to 2N straight", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ijepa-resume-"));
    const cfg = await configFile(dir);
    const common = ["train", "--config", cfg, "--data", "fashion-mnist", "--replicas", "2", "--no-progress"];
    const straight = ijepa([...common, "--out", path.join(dir, "straight"), "--max-steps", "12"]);
    expect(straight.code, straight.out).toBe(0);
    const first = ijepa([...common, "--out", path.join(dir, "resumed"), "--max-steps", "6"]);
    expect(first.code, first.out).toBe(0);
    const second = ijepa([...common, "--out", path.join(dir, "resumed"), "--max-steps", "12", "--resume"]);
    expect(second.code, second.out).toBe(0);
    expect(second.out).toMatch(/resumed from .*00000006/);
    expect(modelBytes(path.join(dir, "resumed"), 12).equals(modelBytes(path.join(dir, "straight"), 12))).toBe(true);
    // The metrics read as if the run had never stopped: steps 0..11 once each.
    const steps = readFileSync(path.join(dir, "resumed/metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((r) => r.type === "step")
      .map((r) => r.step);
    expect(steps).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it("after SIGKILL at a random point, --resume reaches the same bytes as an uninterrupted run", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ijepa-kill-"));
    const cfg = await configFile(dir);
    const common = [
      "train",
      "--config",
      cfg,
      "--data",
      "fashion-mnist",
      "--replicas",
      "2",
      "--no-progress",
      "--max-steps",
      "16",
    ];
    const straight = ijepa([...common, "--out", path.join(dir, "straight")]);
    expect(straight.code, straight.out).toBe(0);

    const killed = path.join(dir, "killed");
    const child = spawn(process.execPath, [cli, ...common, "--out", killed], { cwd: root, stdio: "ignore" });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal)),
    );
    // Wait for the first checkpoint, then kill somewhere in the next ~1.5 s (mid-step, mid-save, …).
    const deadline = Date.now() + 120_000;
    while (!existsSync(path.join(killed, "checkpoints/latest.json")) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, Math.random() * 1500));
    child.kill("SIGKILL");
    const signal = await exited;
    const latest = JSON.parse(readFileSync(path.join(killed, "checkpoints/latest.json"), "utf8")).step as number;
    // Usually mid-run; with fast kernels the kill can also land after the last checkpoint, while the process is
    // still shutting down its replicas: --resume must reach the same bytes either way.
    expect(signal === "SIGKILL" || signal === null).toBe(true);
    expect(latest).toBeLessThanOrEqual(16);

    const resumed = ijepa([...common, "--out", killed, "--resume"]);
    expect(resumed.code, resumed.out).toBe(0);
    expect(modelBytes(killed, 16).equals(modelBytes(path.join(dir, "straight"), 16))).toBe(true);
  });

  it("a misspelt config key or a missing dataset is a one-line error naming it, with a non-zero exit", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ijepa-errors-"));
    const bad = path.join(dir, "bad.yaml");
    writeFileSync(
      bad,
      readFileSync(path.join(root, "configs/smoke.yaml"), "utf8").replace("min_keep: 3", "min_kep: 3"),
    );
    const r1 = ijepa(["train", "--config", bad, "--data", "fashion-mnist", "--out", path.join(dir, "a")]);
    expect(r1.code).not.toBe(0);
    expect(r1.out).toMatch(/error: .*mask\.min_kep: unknown key \(did you mean mask\.min_keep\?\)/);
    const r2 = ijepa([
      "train",
      "--config",
      "smoke",
      "--data",
      path.join(dir, "no-such-dataset"),
      "--out",
      path.join(dir, "b"),
    ]);
    expect(r2.code).not.toBe(0);
    expect(r2.out).toMatch(/error: not found: .*no-such-dataset/);
  });
});
