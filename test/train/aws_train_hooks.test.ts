// train() as the Batch job runs it: --auto-resume, wall-clock checkpoints, the record observer, the GPU requirement.
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import type { TrainConfig } from "../../trainer/config/schema.js";
import { GpuUnavailableError } from "../../trainer/train/gpu_guard.js";
import { train } from "../../trainer/train/train_loop.js";
import type { MetricsRecord } from "../../trainer/run/metrics_record.js";
import { squaresSource } from "../support/squares_source.js";

let smoke: TrainConfig;
beforeAll(async () => {
  await initBackend("wasm");
  smoke = await loadConfigFile(path.resolve(__dirname, "../../configs/smoke.yaml"));
});
afterEach(() => {
  delete process.env.IJEPA_REQUIRE_GPU;
});

const small = (): TrainConfig => {
  const c = structuredClone(smoke);
  c.data.batch_size = 16;
  c.logging.checkpoint_every = 0;
  c.logging.checkpoint_every_minutes = 0;
  c.logging.collapse_sample = 16;
  c.optimization.epochs = 1;
  return c;
};
const run = (config: TrainConfig, out: string, extra: Partial<Parameters<typeof train>[0]> = {}) =>
  train({
    config,
    configName: "smoke",
    out,
    source: squaresSource(160),
    replicas: 1,
    log: () => {},
    ...extra,
  });
const checkpoints = (out: string) => readdirSync(path.join(out, "checkpoints")).filter((f) => /^\d{8}$/.test(f));

describe("train() --auto-resume", () => {
  it("starts a run that has no checkpoint, and continues one that has (a retried Batch attempt)", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "ijepa-auto-"));
    const first = await run(small(), out, { autoResume: true, maxSteps: 4 });
    expect(first.step).toBe(4);
    const lines: string[] = [];
    const second = await run(small(), out, { autoResume: true, log: (l) => lines.push(l) });
    expect(lines.some((l) => /resumed from .*00000004/.test(l))).toBe(true);
    expect(second.step).toBe(10);
  });
});

describe("train() wall-clock checkpoints", () => {
  it("writes a checkpoint whenever checkpoint_every_minutes have passed, even with no step-based checkpoints", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "ijepa-clock-"));
    const config = small();
    config.logging.checkpoint_every_minutes = 1e-7; // 6 µs: due after every step
    await run(config, out, { maxSteps: 3 });
    expect(checkpoints(out)).toEqual(["00000001", "00000002", "00000003"]);
  });

  it("writes none between epoch ends when the clock is off", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "ijepa-clock-"));
    await run(small(), out, { maxSteps: 3 });
    expect(checkpoints(out)).toEqual(["00000003"]);
  });
});

describe("train() record observer", () => {
  it("sees the start record, every step and the epoch summary, in order", async () => {
    const seen: MetricsRecord[] = [];
    await run(small(), mkdtempSync(path.join(tmpdir(), "ijepa-obs-")), { onRecord: (r) => seen.push(r) });
    expect(seen.map((r) => r.type)).toEqual(["start", ...Array(10).fill("step"), "epoch"]);
  });
});

describe("train() in a GPU job", () => {
  it("refuses to train on the CPU when IJEPA_REQUIRE_GPU=1, before reading any data or writing the run", async () => {
    process.env.IJEPA_REQUIRE_GPU = "1";
    const out = path.join(mkdtempSync(path.join(tmpdir(), "ijepa-gpu-")), "run");
    await expect(run(small(), out)).rejects.toThrow(GpuUnavailableError);
    await expect(run(small(), out)).rejects.toThrow(/requires the GPU but the backend is wasm/);
    expect(existsSync(path.join(out, "config.yaml"))).toBe(false);
  });
});
