// `npm run bench:train`: training throughput of config A and fmnist-vit-tiny through the real training loop.
// Each config runs in its own child process (so its peak RSS is its own) for warm-up + measured steps.
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
  peakRssMb: number;
}

if (values.child) {
  const result = await runOne(values.config![0], Number(values.warmup), Number(values.steps));
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

const configs = values.config ?? ["bench-config-a", "fmnist-vit-tiny"];
if (!values.json) console.log(`bench:train — ${values.warmup} warm-up + ${values.steps} measured steps per config, Fashion-MNIST, median of the measured steps`);
for (const config of configs) {
  const args = [path.join(root, "bin/run-ts.js"), path.join(root, "bench/train.ts"), "--child", "--config", config, "--steps", values.steps!, "--warmup", values.warmup!];
  if (values.replicas) args.push("--replicas", values.replicas);
  if (values.backend) args.push("--backend", values.backend);
  const child = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 });
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
        `${r.msPerStep.toFixed(0)} ms/step, ${r.imgPerSec.toFixed(1)} img/s, ${r.gflopPerSec.toFixed(1)} GFLOP/s, peak RSS ${r.peakRssMb.toFixed(0)} MB`,
    );
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
    const records = readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const measured = records.filter((r) => r.type === "step" && r.step >= warmup);
    const ms = measured.map((r) => r.msPerStep as number).sort((a, b) => a - b);
    const median = ms[Math.floor(ms.length / 2)];
    const dims = resolveModelDims(config, 1);
    const sampler = new MultiBlockMaskSampler(maskOptionsFromConfig(config));
    // GFLOP/s over the measured steps as a whole: their FLOPs (mask sizes vary by step) over their time.
    let flops = 0;
    let totalMs = 0;
    for (const r of measured) {
      flops += stepFlops(dims, stepIndices(sampler.sample(config.data.batch_size, config.meta.seed, r.step), dims.numPatches));
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
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
