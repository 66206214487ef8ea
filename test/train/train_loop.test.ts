import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../trainer/backend.js";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import type { TrainConfig } from "../../trainer/config/schema.js";
import { NonFiniteLossError } from "../../trainer/errors.js";
import { renderMaskFigure } from "../../trainer/report/mask_figure.js";
import type { FirstBatchFigure } from "../../trainer/train/first_batch_figure.js";
import type { ProgressPlan } from "../../trainer/train/progress.js";
import { InterruptedError, train } from "../../trainer/train/train_loop.js";
import type { MetricsRecord, StepRecord } from "../../trainer/run/metrics_record.js";
import { squaresSource } from "../support/squares_source.js";

const configs = path.resolve(__dirname, "../../configs");
let smoke: TrainConfig;

beforeAll(async () => {
  await initBackend("wasm");
  smoke = await loadConfigFile(path.join(configs, "smoke.yaml"));
});

const tempRun = () => mkdtempSync(path.join(tmpdir(), "ijepa-train-"));
const readMetrics = (dir: string) =>
  readFileSync(path.join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as MetricsRecord);

describe("train()", () => {
  it("writes per-step metrics with finite losses, epoch collapse metrics, checkpoints and latest.json; the loss falls", async () => {
    const out = tempRun();
    const config = structuredClone(smoke);
    config.data.batch_size = 16;
    config.logging.checkpoint_every = 20;
    config.logging.collapse_sample = 32;
    config.optimization.epochs = 1;
    config.optimization.lr = 1e-3;
    const lines: string[] = [];
    const result = await train({
      config,
      configName: "smoke",
      out,
      source: squaresSource(640),
      replicas: 1,
      drawMaskFigure: renderMaskFigure,
      log: (l) => lines.push(l),
    });
    expect(result.step).toBe(40);
    expect(result.epochsCompleted).toBe(1);
    const metrics = readMetrics(out);
    const steps = metrics.filter((r): r is StepRecord => r.type === "step");
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    for (const s of steps) {
      expect(Number.isFinite(s.loss)).toBe(true);
      for (const k of ["lr", "wd", "momentum", "imgPerSec"] as const) expect(Number.isFinite(s[k])).toBe(true);
    }
    const first = steps.slice(0, 5).reduce((a, s) => a + s.loss, 0) / 5;
    const last = steps.slice(-5).reduce((a, s) => a + s.loss, 0) / 5;
    expect(last).toBeLessThan(first * 0.9);
    const epoch = metrics.find((r) => r.type === "epoch");
    expect(epoch).toMatchObject({ type: "epoch", epoch: 0, step: 40 });
    if (epoch?.type === "epoch") {
      expect(epoch.targetStd).toBeGreaterThan(0);
      expect(epoch.effectiveRank).toBeGreaterThan(1);
    }
    expect(JSON.parse(readFileSync(path.join(out, "checkpoints/latest.json"), "utf8"))).toMatchObject({
      step: 40,
      prefix: "checkpoints/00000040/",
    });
    for (const step of ["00000020", "00000040"]) {
      for (const f of ["model.safetensors", "optimizer.safetensors", "state.json"])
        expect(existsSync(path.join(out, "checkpoints", step, f))).toBe(true);
    }
    expect(lines.some((l) => l.includes("backend wasm"))).toBe(true);
    // The first batch's crops with their masks, as a picture.
    const png = readFileSync(path.join(out, "report/masks.png"));
    expect(png.subarray(1, 4).toString()).toBe("PNG");
  });

  it("stops at a non-finite loss with a named error and leaves the last good checkpoint untouched", async () => {
    const out = tempRun();
    const config = structuredClone(smoke);
    config.logging.checkpoint_every = 5;
    await train({
      config,
      configName: "smoke",
      out,
      source: squaresSource(320),
      replicas: 1,
      maxSteps: 5,
      log: () => {},
    });
    const latestBefore = readFileSync(path.join(out, "checkpoints/latest.json"), "utf8");
    const modelBefore = readFileSync(path.join(out, "checkpoints/00000005/model.safetensors"));
    // A NaN mean in the normalisation turns every input into NaN: the first step's loss is NaN.
    const squares = squaresSource(320);
    const broken = { ...squares, info: { ...squares.info, mean: [Number.NaN] } };
    const err = await train({
      config,
      configName: "smoke",
      out,
      source: broken,
      replicas: 1,
      resume: true,
      maxSteps: 10,
      log: () => {},
    }).catch((e) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as NonFiniteLossError).step).toBe(5);
    expect((err as Error).message).toMatch(/loss became NaN at step 5/);
    expect(readFileSync(path.join(out, "checkpoints/latest.json"), "utf8")).toBe(latestBefore);
    expect(readFileSync(path.join(out, "checkpoints/00000005/model.safetensors")).equals(modelBefore)).toBe(true);
    expect(existsSync(path.join(out, "checkpoints/00000006"))).toBe(false);
  });

  it("refuses to overwrite an existing run unless asked to resume", async () => {
    const out = tempRun();
    const config = structuredClone(smoke);
    await train({
      config,
      configName: "smoke",
      out,
      source: squaresSource(320),
      replicas: 1,
      maxSteps: 2,
      log: () => {},
    });
    await expect(
      train({ config, configName: "smoke", out, source: squaresSource(320), replicas: 1, maxSteps: 2, log: () => {} }),
    ).rejects.toThrow(/already holds a run \(checkpoint at step 2\)[\s\S]*--resume/);
  });

  it("reports progress and draws the first batch only through what the caller injects", async () => {
    const plain = tempRun();
    await train({
      config: smoke,
      configName: "smoke",
      out: plain,
      source: squaresSource(320),
      replicas: 1,
      maxSteps: 3,
      log: () => {},
    });
    expect(existsSync(path.join(plain, "report/masks.png"))).toBe(false);

    const seen: { plan?: ProgressPlan; steps: number[]; notes: string[]; stopped: boolean } = {
      steps: [],
      notes: [],
      stopped: false,
    };
    const figures: FirstBatchFigure[] = [];
    const out = tempRun();
    await train({
      config: smoke,
      configName: "smoke",
      out,
      source: squaresSource(320),
      replicas: 1,
      maxSteps: 3,
      log: () => {},
      progress: (plan) => {
        seen.plan = plan;
        return {
          step: (r) => seen.steps.push(r.step),
          note: (l) => seen.notes.push(l),
          stop: () => (seen.stopped = true),
        };
      },
      drawMaskFigure: async (figure) => {
        figures.push(figure);
        return new Uint8Array([1, 2, 3]);
      },
    });
    expect(seen.plan).toMatchObject({ total: 3, start: 0, logEvery: smoke.logging.log_every });
    expect(seen.steps).toEqual([0, 1, 2]);
    expect(seen.notes.at(-1)).toBe("checkpoint 00000003 written");
    expect(seen.stopped).toBe(true);
    // Step 0's crops back in 0–255 with their masks, and the drawer's bytes stored as they came.
    expect(figures).toHaveLength(1);
    const f = figures[0];
    expect(f.images.length).toBe(f.count * f.height * f.width * f.channels);
    expect(f.context).toHaveLength(f.count);
    expect(f.targets[0]).toHaveLength(smoke.mask.num_pred_masks);
    expect([...readFileSync(path.join(out, "report/masks.png"))]).toEqual([1, 2, 3]);
  });

  it("--resume on an empty folder says there is no checkpoint yet", async () => {
    await expect(
      train({
        config: smoke,
        configName: "smoke",
        out: tempRun(),
        source: squaresSource(320),
        resume: true,
        log: () => {},
      }),
    ).rejects.toThrow(/checkpoint/i);
  });

  it("keeps the number of live tensors flat across steps", async () => {
    const out = tempRun();
    const counts: number[] = [];
    await train({
      config: smoke,
      configName: "smoke",
      out,
      source: squaresSource(320),
      replicas: 1,
      maxSteps: 8,
      log: (l) => {
        if (l.startsWith("step ")) counts.push(tf.memory().numTensors);
      },
    });
    expect(counts.length).toBeGreaterThan(2);
    expect(new Set(counts.slice(1)).size).toBe(1);
  });

  it("on a stop request (SIGTERM) checkpoints the finished step and stops with InterruptedError; --resume continues", async () => {
    const out = tempRun();
    let steps = 0;
    const stopAfter3 = () => ++steps >= 3;
    const err = await train({
      config: smoke,
      configName: "smoke",
      out,
      source: squaresSource(320),
      replicas: 1,
      maxSteps: 8,
      stopRequested: stopAfter3,
      log: () => {},
    }).catch((e) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(JSON.parse(readFileSync(path.join(out, "checkpoints/latest.json"), "utf8")).step).toBe(3);
    const resumed = await train({
      configName: "smoke",
      out,
      source: squaresSource(320),
      replicas: 1,
      maxSteps: 8,
      resume: true,
      log: () => {},
    });
    expect(resumed.step).toBe(8);
  });

  it("an epoch interrupted and resumed logs the same epoch summary as one run straight through", async () => {
    const config = structuredClone(smoke);
    config.logging.checkpoint_every = 0;
    config.logging.collapse_sample = 16;
    const straight = tempRun();
    await train({ config, configName: "smoke", out: straight, source: squaresSource(160), replicas: 1, log: () => {} });
    const split = tempRun();
    await train({
      config,
      configName: "smoke",
      out: split,
      source: squaresSource(160),
      replicas: 1,
      maxSteps: 4,
      log: () => {},
    });
    await train({
      config,
      configName: "smoke",
      out: split,
      source: squaresSource(160),
      replicas: 1,
      resume: true,
      log: () => {},
    });
    const epochOf = (dir: string) => readMetrics(dir).find((r) => r.type === "epoch");
    expect(epochOf(split)).toEqual({ ...epochOf(straight), time: expect.any(String) });
  });
});
