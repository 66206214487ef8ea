// `npm run bench:train`: training throughput of config A and fmnist-vit-tiny through the real training loop.
// Each config runs in its own child process (so its peak RSS is its own) for warm-up + measured steps.
// --profile adds where a step goes: per replica its compute time and per-kernel times, and the engine's phases.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    config: { type: "string", multiple: true },
    json: { type: "boolean", default: false },
    steps: { type: "string", default: "8" },
    warmup: { type: "string", default: "2" },
    replicas: { type: "string" },
    backend: { type: "string" },
    child: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
  },
});

export interface BenchResult {
  config: string;
  backend: string;
  threads: number;
  replicas: number;
  msPerStep: number;
  imgPerSec: number;
  gflopPerSec: number;
  /** Process CPU time per measured step, all threads together (start-to-start of the measured steps). */
  cpuMsPerStep?: number;
  /** Peak RSS of the whole training process (every replica thread together). */
  peakRssMb: number;
  /** Per replica (0 = the main thread), its wasm heap's high-water mark in MB; empty on other backends. */
  replicaPeakHeapMb: number[];
  profile?: StepProfile;
}

/** Medians over the measured steps, in ms per step. */
export interface StepProfile {
  /** startLagMs: how much later than the main thread's its compute began. */
  replicas: Array<{ computeMs: number; startLagMs: number; kernels: Record<string, { ms: number; calls: number }> }>;
  /** Main thread: waiting for the workers' gradients, its share of AdamW + EMA, waiting for theirs, reloading. */
  waitMs: number;
  updateMs: number;
  updateWaitMs: number;
  loadMs: number;
  /** The next step's data, made while the worker finished its share (so it no longer counts outside the engine). */
  spareMs: number;
  /** Step time outside the engine: data (when not made during the previous step) and logging. */
  outsideEngineMs: number;
}

if (values.child) {
  const result = await runOne(values.config![0], Number(values.warmup), Number(values.steps));
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

const configs = values.config ?? ["bench-config-a", "fmnist-vit-tiny"];
if (!values.json)
  console.log(
    `bench:train — ${values.warmup} warm-up + ${values.steps} measured steps per config, Fashion-MNIST, median of the measured steps`,
  );
for (const config of configs) {
  const args = [
    path.join(root, "bin/run-ts.js"),
    path.join(root, "bench/train.ts"),
    "--child",
    "--config",
    config,
    "--steps",
    values.steps!,
    "--warmup",
    values.warmup!,
  ];
  if (values.replicas) args.push("--replicas", values.replicas);
  if (values.backend) args.push("--backend", values.backend);
  const env = values.profile ? { ...process.env, IJEPA_PROFILE: "1" } : process.env;
  const child = spawnSync(process.execPath, args, {
    cwd: root,
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 << 20,
  });
  const line = child.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (child.status !== 0 || !line) {
    console.error(`bench:train ${config} failed (exit ${child.status})\n${child.stdout}`);
    process.exit(1);
  }
  const r = JSON.parse(line.slice(7)) as BenchResult;
  if (values.json) console.log(JSON.stringify(r));
  else
    console.log(
      `${r.config.padEnd(16)} ${r.backend} ${r.replicas} replica(s) × ${r.threads / r.replicas} thread(s): ` +
        `${r.msPerStep.toFixed(0)} ms/step, ${r.imgPerSec.toFixed(1)} img/s, ${r.gflopPerSec.toFixed(1)} GFLOP/s, ` +
        (r.cpuMsPerStep ? `${(r.cpuMsPerStep / 1000).toFixed(2)} CPU-s/step, ` : "") +
        `peak RSS ${r.peakRssMb.toFixed(0)} MB` +
        (r.replicaPeakHeapMb.length
          ? ` (wasm heaps ${r.replicaPeakHeapMb.map((h) => h.toFixed(0)).join(" + ")} MB)`
          : ""),
    );
  if (r.profile && !values.json) printProfile(r.profile, r.msPerStep);
}

function printProfile(p: StepProfile, msPerStep: number): void {
  const pct = (ms: number) => `${((100 * ms) / msPerStep).toFixed(0).padStart(3)} %`;
  console.log(`  per step (means of the measured steps; replica 0 is the main thread):`);
  p.replicas.forEach((r, i) => {
    const kernelMs = Object.values(r.kernels).reduce((sum, k) => sum + k.ms, 0);
    console.log(
      `  replica ${i}: compute ${r.computeMs.toFixed(0)} ms (${pct(r.computeMs)}), in kernels ${kernelMs.toFixed(0)} ms, JS/tfjs ${(r.computeMs - kernelMs).toFixed(0)} ms` +
        (i > 0 ? `, started ${r.startLagMs.toFixed(1)} ms after replica 0` : ""),
    );
    const top = Object.entries(r.kernels)
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 14);
    for (const [name, k] of top)
      console.log(
        `    ${name.padEnd(22)} ${k.ms.toFixed(1).padStart(8)} ms ${pct(k.ms)} ${String(k.calls).padStart(6)} calls`,
      );
  });
  console.log(
    `  wait for workers' gradients ${p.waitMs.toFixed(0)} ms (${pct(p.waitMs)}), ` +
      `own share of AdamW + EMA ${p.updateMs.toFixed(0)} ms, wait for the other shares ${p.updateWaitMs.toFixed(0)} ms, ` +
      `load weights ${p.loadMs.toFixed(0)} ms, next step's data meanwhile ${p.spareMs.toFixed(0)} ms, ` +
      `outside the engine (logging; data when not made early) ${p.outsideEngineMs.toFixed(0)} ms`,
  );
}

/** Mean CPU ms between consecutive step starts (undefined with fewer than two). */
function cpuPerStep(starts: readonly number[]): number | undefined {
  return starts.length < 2 ? undefined : (starts[starts.length - 1] - starts[0]) / (starts.length - 1);
}

/** Mean per step of each replica's kernels and the engine's phases over `steps`. */
function summarise(
  steps: readonly import("../trainer/train/gradient_engine.js").EngineStepStats[],
  msPerStep: number,
): StepProfile {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  const replicas = steps[0].replicas.map((_, i) => {
    const kernels: Record<string, { ms: number; calls: number }> = {};
    for (const s of steps) {
      for (const [name, k] of Object.entries(s.replicas[i].kernels)) {
        kernels[name] ??= { ms: 0, calls: 0 };
        const e = kernels[name];
        e.ms += k.ms / steps.length;
        e.calls += k.calls / steps.length;
      }
    }
    return {
      computeMs: mean(steps.map((s) => s.replicas[i].computeMs)),
      startLagMs: mean(steps.map((s) => s.replicas[i].startedAt - s.replicas[0].startedAt)),
      kernels,
    };
  });
  const waitMs = mean(steps.map((s) => s.waitMs));
  const updateMs = mean(steps.map((s) => s.updateMs));
  const updateWaitMs = mean(steps.map((s) => s.updateWaitMs));
  const loadMs = mean(steps.map((s) => s.loadMs));
  const spareMs = mean(steps.map((s) => s.spareMs));
  return {
    replicas,
    waitMs,
    updateMs,
    updateWaitMs,
    loadMs,
    spareMs,
    outsideEngineMs: msPerStep - replicas[0].computeMs - waitMs - updateMs - updateWaitMs - loadMs - spareMs,
  };
}

async function runOne(configName: string, warmup: number, steps: number): Promise<BenchResult> {
  const { loadConfigFile } = await import("../trainer/config/load_config.js");
  const { train } = await import("../trainer/train/train_loop.js");
  const { resolveConfigPath } = await import("../trainer/config/config_path.js");
  const { MultiBlockMaskSampler } = await import("../trainer/masks/multiblock.js");
  const { maskOptionsFromConfig } = await import("../trainer/masks/mask_config.js");
  const { stepIndices } = await import("../trainer/models/ijepa.js");
  const { resolveModelDims } = await import("../trainer/models/model_dims.js");
  const { stepFlops } = await import("../trainer/train/step_flops.js");
  const { cpuAtStepStart, engineStepStats, replicaHeapHighWaterMb } = await import(
    "../trainer/train/gradient_engine.js"
  );
  const config = await loadConfigFile(resolveConfigPath(configName));
  config.logging.checkpoint_every = 0;
  const out = mkdtempSync(path.join(tmpdir(), "ijepa-bench-"));
  try {
    const result = await train({
      config,
      configName,
      data: "fashion-mnist",
      out,
      maxSteps: warmup + steps,
      backend: values.backend,
      replicas: values.replicas ? Number(values.replicas) : undefined,
      log: () => {},
    });
    const records = readFileSync(path.join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const measured = records.filter((r) => r.type === "step" && r.step >= warmup);
    const ms = measured.map((r) => r.msPerStep as number).sort((a, b) => a - b);
    const median = ms[Math.floor(ms.length / 2)];
    const dims = resolveModelDims(config, 1);
    const sampler = new MultiBlockMaskSampler(maskOptionsFromConfig(config));
    // GFLOP/s over the measured steps as a whole: their FLOPs (mask sizes vary by step) over their time.
    let flops = 0;
    let totalMs = 0;
    for (const r of measured) {
      flops += stepFlops(
        dims,
        stepIndices(sampler.sample(config.data.batch_size, config.meta.seed, r.step), dims.numPatches),
      );
      totalMs += r.msPerStep;
    }
    return {
      config: configName,
      backend: result.backend.name,
      threads: result.replicas * result.backend.threads,
      replicas: result.replicas,
      msPerStep: median,
      imgPerSec: (config.data.batch_size * 1000) / median,
      gflopPerSec: flops / (totalMs / 1000) / 1e9,
      cpuMsPerStep: cpuPerStep(cpuAtStepStart().slice(warmup)),
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      replicaPeakHeapMb: [...replicaHeapHighWaterMb()],
      profile:
        process.env.IJEPA_PROFILE === "1"
          ? summarise(engineStepStats().slice(warmup), measured.reduce((a, r) => a + r.msPerStep, 0) / measured.length)
          : undefined,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
