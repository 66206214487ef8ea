// ijepa probe end to end on a tiny trained run: scores next to baselines, files in the run, caching.
import { mkdtempSync, readFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import { runProbe } from "../../trainer/eval/probe.js";
import { train } from "../../trainer/train/train_loop.js";
import { readProbeScores } from "../../trainer/checkpoint/rotation.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { probeEmbeddingSchema } from "../../trainer/run/probe_embedding.js";
import { rmSync } from "node:fs";

const root = path.resolve(__dirname, "../..");
let run: string;

beforeAll(async () => {
  await initBackend("wasm");
  const config = await loadConfigFile(path.join(root, "configs/smoke.yaml"));
  run = mkdtempSync(path.join(tmpdir(), "ijepa-probe-"));
  await train({
    config,
    configName: "smoke",
    data: "fashion-mnist",
    out: run,
    maxSteps: 3,
    replicas: 1,
    log: () => {},
  });
});

describe("runProbe", () => {
  it("scores the target encoder next to raw pixels and random init, and writes probe/<step>.json and history.jsonl", async () => {
    const lines: string[] = [];
    const report = await runProbe({
      checkpoint: run,
      trainLimit: 600,
      testLimit: 300,
      probe: { weightDecays: [1e-4, 1e-2], maxIterations: 40 },
      log: (l) => lines.push(l),
    });
    expect(report.step).toBe(3);
    expect(report.rows).toEqual({ train: 600, test: 300 });
    expect(report.numClasses).toBe(10);
    for (const s of [report.encoder, report.baselines.raw!, report.baselines.random!]) {
      expect(s.linearTop1).toBeGreaterThan(0.3); // well above 10 % chance on Fashion-MNIST
      expect(s.linearTop1).toBeLessThanOrEqual(1);
      expect(s.knnTop1).toBeGreaterThan(0.2);
      expect(s.linearTop5).toBeGreaterThanOrEqual(s.linearTop1);
    }
    expect(report.baselines.raw!.featureDim).toBe(784);
    expect(report.encoder.featureDim).toBe(32);
    const written = JSON.parse(readFileSync(path.join(run, "probe/00000003.json"), "utf8"));
    expect(written.encoder.linearTop1).toBe(report.encoder.linearTop1);
    const history = readFileSync(path.join(run, "probe/history.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({
      step: 3,
      linearTop1: report.encoder.linearTop1,
      baselines: { raw: { linearTop1: report.baselines.raw!.linearTop1 } },
    });
    expect(lines.some((l) => l.includes("raw pixels"))).toBe(true);

    // The embedding picture's data: the same 300 test images through both encoders, on their top two axes.
    const readEmbedding = () =>
      probeEmbeddingSchema.parse(JSON.parse(readFileSync(path.join(run, "probe/00000003.embedding.json"), "utf8")));
    const embedding = readEmbedding();
    expect(embedding.trained.count).toBe(300);
    expect(embedding.randomInit!.count).toBe(300);
    expect(embedding.randomInit!.labels).toEqual(embedding.trained.labels);
    expect(embedding.classNames).toHaveLength(10);
    expect(embedding.trained.explainedVariance[0]).toBeGreaterThanOrEqual(embedding.trained.explainedVariance[1]);
    expect(embedding.trained.x).not.toEqual(embedding.randomInit!.x);
    const baselineFiles = readdirSync(path.join(run, "probe/baselines"));
    const cachedProjection = baselineFiles.filter((f) => f.endsWith(".embedding.json"));
    expect(cachedProjection).toEqual([expect.stringMatching(/^random-[0-9a-f]{16}\.embedding\.json$/)]);
    // Scores cached but no projection yet (probed before pictures existed): only projected images are encoded again.
    rmSync(path.join(run, "probe/baselines", cachedProjection[0]));

    // Again: the baselines come from the cache, and history still has one line for step 3.
    const again = await runProbe({
      checkpoint: run,
      trainLimit: 600,
      testLimit: 300,
      probe: { weightDecays: [1e-4, 1e-2], maxIterations: 40 },
    });
    expect(again.baselines.raw).toMatchObject({ cached: true, linearTop1: report.baselines.raw!.linearTop1 });
    expect(again.baselines.random).toMatchObject({ cached: true, linearTop1: report.baselines.random!.linearTop1 });
    expect(again.encoder.linearTop1).toBe(report.encoder.linearTop1);
    expect(readFileSync(path.join(run, "probe/history.jsonl"), "utf8").trim().split("\n")).toHaveLength(1);
    const recomputed = readEmbedding().randomInit!;
    expect(recomputed.labels).toEqual(embedding.randomInit!.labels);
    for (const [i, x] of recomputed.x.entries()) expect(x).toBeCloseTo(embedding.randomInit!.x[i], 2);
    expect(readEmbedding().trained).toEqual(embedding.trained);

    // Rotation and `pull --which best` read the scores back; without the history line (a probe stopped
    // between its two writes) they fall back to probe/<step>.json as runProbe writes it.
    const store = new LocalObjectStore(run);
    expect((await readProbeScores(store, "linearTop1")).get(3)).toBe(report.encoder.linearTop1);
    rmSync(path.join(run, "probe/history.jsonl"));
    expect((await readProbeScores(store, "knnTop1")).get(3)).toBe(report.encoder.knnTop1);
  });

  it("the random-init baseline is the run's own step-0 encoder: identical to probing an untrained checkpoint", async () => {
    const config = await loadConfigFile(path.join(root, "configs/smoke.yaml"));
    const fresh = mkdtempSync(path.join(tmpdir(), "ijepa-probe0-"));
    // lr 0 for one step leaves the weights at their initial values (AdamW with lr 0 changes nothing).
    config.optimization.lr = 0;
    config.optimization.start_lr = 0;
    config.optimization.final_lr = 0;
    await train({
      config,
      configName: "smoke",
      data: "fashion-mnist",
      out: fresh,
      maxSteps: 1,
      replicas: 1,
      log: () => {},
    });
    const settings = {
      trainLimit: 400,
      testLimit: 200,
      probe: { weightDecays: [1e-3], maxIterations: 30 },
      write: false,
    } as const;
    const untrained = await runProbe({ checkpoint: fresh, ...settings, baselines: ["random"] });
    expect(untrained.encoder.linearTop1).toBe(untrained.baselines.random!.linearTop1);
    expect(untrained.encoder.knnTop1).toBe(untrained.baselines.random!.knnTop1);
    expect(existsSync(path.join(fresh, "probe"))).toBe(false);
  });

  it("scores the same with the forward passes in two worker threads as in this one", async () => {
    const settings = {
      checkpoint: run,
      trainLimit: 400,
      testLimit: 200,
      probe: { weightDecays: [1e-3], maxIterations: 30 },
      write: false,
    } as const;
    const here = await runProbe({ ...settings, baselines: ["random"], workers: 1 });
    const pooled = await runProbe({ ...settings, baselines: ["random"], workers: 2 });
    for (const pick of [(r: typeof here) => r.encoder, (r: typeof here) => r.baselines.random!]) {
      expect(pick(pooled).linearTop1).toBe(pick(here).linearTop1);
      expect(pick(pooled).knnTop1).toBe(pick(here).knnTop1);
      expect(pick(pooled).linearTop5).toBe(pick(here).linearTop5);
    }
  }, 120_000);
});
