// `npm run bench:probe`: the linear-probe Lambda as it would be deployed — bundled by esbuild (as CDK's
// NodejsFunction bundles it) with tfjs's wasm binaries beside it, run from a folder outside the repo —
// timed on the full Fashion-MNIST test set, with its peak memory and its unzipped size (Lambda allows 250 MB),
// and where each probe's time went (features, standardise, λ sweep, refit, test scoring, kNN) from probe/<step>.json.
// CPU seconds (all threads: the feature workers too) are printed beside wall seconds, which other jobs inflate.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { probeKey } from "../trainer/run/run_layout.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    checkpoint: { type: "string" },
    "train-limit": { type: "string", default: "10000" },
    json: { type: "boolean", default: false },
  },
});

const STAGES = ["features", "standardize", "sweep", "refit", "linearTest", "knn"] as const;
type Stage = (typeof STAGES)[number];
interface StageRow {
  features: string;
  cached: boolean;
  seconds: Partial<Record<Stage, number>>;
}
interface StoredScores {
  timingsMs: { features: number; probeStages?: Partial<Record<Stage, number>> };
  cached?: boolean;
}

const scratch = mkdtempSync(path.join(tmpdir(), "ijepa-bench-probe-"));
try {
  let checkpoint: string;
  if (values.checkpoint) {
    // Probe a copy without its probe results, so the first run really computes its baselines and the
    // user's run is left as it was (the probe writes its results into the run it probes).
    const given = path.resolve(values.checkpoint);
    if (!existsSync(path.join(given, "checkpoints"))) {
      console.error(
        `bench:probe: ${given} is not a local run folder (no checkpoints/ inside); pull an S3 run first with ijepa pull`,
      );
      process.exitCode = 1;
      throw new Error("no run");
    }
    checkpoint = path.join(scratch, "run");
    cpSync(given, checkpoint, { recursive: true });
    rmSync(path.join(checkpoint, "probe"), { recursive: true, force: true });
  } else {
    // No run given: a 2-step fmnist-vit-tiny run is enough to time the probe (its scores are not the point).
    checkpoint = path.join(scratch, "run");
    const t = spawnSync(
      process.execPath,
      [
        path.join(root, "bin/ijepa.js"),
        "train",
        "--config",
        "fmnist-vit-tiny",
        "--data",
        "fashion-mnist",
        "--out",
        checkpoint,
        "--max-steps",
        "2",
        "--no-progress",
      ],
      { stdio: "inherit" },
    );
    if (t.status !== 0) throw new Error("training the throwaway run failed");
  }

  const bundle = path.join(scratch, "lambda");
  await build({
    entryPoints: [path.join(root, "functions/linear-probe/index.ts")],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    outfile: path.join(bundle, "index.mjs"),
    // tfjs-node is what Lambda must not carry; sharp (native) is only used when sharding image folders.
    external: ["@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu", "sharp"],
    banner: {
      js: [
        "import { createRequire as __ijepaCreateRequire } from 'module';",
        "import { fileURLToPath as __ijepaFileUrlToPath } from 'url';",
        "import { dirname as __ijepaDirname } from 'path';",
        "const require = __ijepaCreateRequire(import.meta.url);",
        "const __filename = __ijepaFileUrlToPath(import.meta.url);",
        "const __dirname = __ijepaDirname(__filename);",
      ].join(" "),
    },
    logLevel: "error",
  });
  const wasmDir = path.join(root, "node_modules/@tensorflow/tfjs-backend-wasm/dist");
  for (const f of readdirSync(wasmDir).filter((f) => f.endsWith(".wasm")))
    cpSync(path.join(wasmDir, f), path.join(bundle, f));
  const bundleMb = readdirSync(bundle).reduce((s, f) => s + statSync(path.join(bundle, f)).size, 0) / 1e6;
  const driver = path.join(bundle, "invoke.mjs");
  writeFileSync(
    driver,
    `const { handler } = await import("./index.mjs");
const started = performance.now();
const result = await handler(JSON.parse(process.argv[2]));
const usage = process.resourceUsage();
const cpuSeconds = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
console.log("RESULT " + JSON.stringify({ ...result, wallSeconds: (performance.now() - started) / 1000, cpuSeconds, peakRssMb: usage.maxRSS / 1024 }));
`,
  );

  const runs: Array<{
    run: string;
    seconds: number;
    cpuSeconds: number;
    peakRssMb: number;
    linearTop1: number;
    knnTop1: number;
    stages: StageRow[];
  }> = [];
  for (const label of ["first probe (baselines computed)", "later probe (baselines cached)"]) {
    const event = JSON.stringify({ checkpoint, trainLimit: Number(values["train-limit"]) });
    const child = spawnSync(process.execPath, [driver, event], {
      cwd: bundle,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, IJEPA_NO_DOWNLOAD: "1" },
    });
    const line = child.stdout.split("\n").find((l) => l.startsWith("RESULT "));
    if (child.status !== 0 || !line) throw new Error(`probe failed (exit ${child.status})\n${child.stdout}`);
    const r = JSON.parse(line.slice(7));
    const stages = stagesOf(checkpoint, r.step);
    const { linearTop1, knnTop1 } = r;
    const [seconds, cpuSeconds, peakRssMb] = [r.wallSeconds, r.cpuSeconds, r.peakRssMb];
    runs.push({ run: label, seconds, cpuSeconds, peakRssMb, linearTop1, knnTop1, stages });
  }

  if (values.json) {
    for (const r of runs) console.log(JSON.stringify({ ...r, bundleMb }));
  } else {
    console.log(
      `bench:probe — bundled linear-probe handler, wasm backend, ${values["train-limit"]} train images, full Fashion-MNIST test split (10000)`,
    );
    for (const r of runs) {
      console.log(
        `${r.run.padEnd(34)} ${r.seconds.toFixed(1)} s (CPU ${r.cpuSeconds.toFixed(1)} s), peak RSS ${r.peakRssMb.toFixed(0)} MB (linear ${(r.linearTop1 * 100).toFixed(2)} %, kNN ${(r.knnTop1 * 100).toFixed(2)} %)`,
      );
      console.log(`  ${"seconds per stage".padEnd(22)}${STAGES.map((s) => s.padStart(11)).join("")}`);
      for (const row of r.stages) {
        const cells = STAGES.map((s) => (row.seconds[s]?.toFixed(2) ?? "—").padStart(11));
        console.log(`  ${`${row.features}${row.cached ? " (cached)" : ""}`.padEnd(22)}${cells.join("")}`);
      }
    }
    console.log(`bundle: ${bundleMb.toFixed(1)} MB unzipped (index.mjs + tfjs wasm binaries; Lambda allows 250 MB)`);
  }
} catch (err) {
  if (!process.exitCode) console.error(`bench:probe: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

/** Per-stage seconds of the encoder and each baseline, from the probe/<step>.json the handler wrote into the run. */
function stagesOf(run: string, step: number): StageRow[] {
  const report = JSON.parse(readFileSync(path.join(run, probeKey(step)), "utf8")) as {
    encoder: StoredScores;
    baselines: Record<string, StoredScores>;
  };
  const row = (features: string, scores: StoredScores): StageRow => {
    const seconds: Partial<Record<Stage, number>> = { features: scores.timingsMs.features / 1000 };
    for (const [stage, ms] of Object.entries(scores.timingsMs.probeStages ?? {})) {
      if ((STAGES as readonly string[]).includes(stage)) seconds[stage as Stage] = ms / 1000;
    }
    return { features, cached: scores.cached === true, seconds };
  };
  const baselines = Object.entries(report.baselines).map(([name, scores]) => row(name, scores));
  return [row("target encoder", report.encoder), ...baselines];
}
