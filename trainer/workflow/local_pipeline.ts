// `npm start` / `ijepa start`: the whole job on this machine — shard, train in epoch segments, probe, rotate,
// report — with the Lambda handlers called in-process and the trainer run as a child process, as the
// AWS workflow runs them (Lambda + Batch). Only pointers (URIs, steps) pass between the stages.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { HandlerDeps } from "../../functions/handler_deps.js";
import { BACKEND_NAMES } from "../backend.js";
import { FASHION_MNIST_NAME } from "../data/fashion_mnist.js";
import { SOURCE_FORMATS } from "../data/shard_input.js";
import { resolveConfigPath } from "../config/config_path.js";
import { loadConfigFile } from "../config/load_config.js";
import { readLatestPointer } from "../checkpoint/checkpoint_store.js";
import { ConfigError, IjepaError, describeZodIssues } from "../errors.js";
import { joinUri, openStore } from "../storage/open_store.js";
import { datasetFolder } from "../run/dataset_layout.js";
import { INPUT_KEY, REPORT_HTML_KEY, probeKey } from "../run/run_layout.js";
import { InterruptedError } from "../train/train_loop.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The execution input (the same small JSON a user gives the Step Functions console). */
export const pipelineInputSchema = z.strictObject({
  /** A dataset name (fashion-mnist) or a source folder / s3:// prefix to shard. */
  dataset: z.string().min(1).default(FASHION_MNIST_NAME),
  /** Source format when `dataset` is a folder (idx, cifar, imagefolder). */
  format: z.enum(SOURCE_FORMATS).default("idx"),
  /** Config preset name or YAML path. */
  config: z.string().min(1).default("fmnist-vit-tiny"),
  /** Overrides optimization.epochs. */
  epochs: z.number().int().positive().optional(),
  /** Where datasets and runs live: a folder or an s3:// prefix. */
  root: z.string().min(1).default("runs"),
  runId: z.string().regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' and '-' only").optional(),
  /** Epochs per training segment; a probe, a rotation and a report follow each. */
  segmentEpochs: z.number().int().positive().default(1),
  /** Cap on the total number of steps (for a quick look; the schedules still span all epochs). */
  maxSteps: z.number().int().positive().optional(),
  /** Train images used by each probe. */
  probeTrainLimit: z.number().int().positive().default(10_000),
  keepLast: z.number().int().nonnegative().default(2),
  keepBest: z.number().int().nonnegative().default(1),
  replicas: z.number().int().positive().optional(),
  backend: z.enum(BACKEND_NAMES).optional(),
});

export type PipelineInput = z.input<typeof pipelineInputSchema>;

export interface PipelineResult {
  runUri: string;
  manifestUri: string;
  step: number;
  probes: Array<{ step: number; linearTop1: number; knnTop1: number }>;
  reportUri: string;
}

export async function runLocalPipeline(rawInput: PipelineInput, log: (line: string) => void = console.log): Promise<PipelineResult> {
  const parsed = pipelineInputSchema.safeParse(rawInput);
  if (!parsed.success) {
    throw new ConfigError(`invalid pipeline input: ${describeZodIssues(parsed.error, "input")}`);
  }
  const input = parsed.data;
  const configPath = resolveConfigPath(input.config);
  const config = await loadConfigFile(configPath);
  const configName = path.basename(configPath, ".yaml");
  const datasetName = input.dataset === FASHION_MNIST_NAME ? FASHION_MNIST_NAME : path.basename(input.dataset.replace(/\/+$/, ""));
  const runId = input.runId ?? `${datasetName}-${configName}`;
  const runUri = joinUri(input.root, `${runId}`);
  const run = openStore(runUri);
  const epochs = input.epochs ?? config.optimization.epochs;

  // ShardDataset (Lambda in AWS): idempotent, reuses a published manifest with the same fingerprint.
  log(`[1/4] shard ${input.dataset} → ${joinUri(input.root, datasetFolder(datasetName))}`);
  // The Lambdas' handlers, called here with this process's store opener, environment and clock.
  const deps: HandlerDeps = { openStore, env: process.env, now: () => new Date() };
  const { makeHandler: makeShardHandler } = await import("../../functions/shard-dataset/handler.js");
  const shard = await makeShardHandler(deps)({ source: input.dataset, format: input.format, output: joinUri(input.root, datasetFolder(datasetName)), name: datasetName });
  log(`      ${shard.reused ? "reused" : "wrote"} ${shard.manifestUri}: ${shard.counts.train} train / ${shard.counts.test} test images`);
  await run.put(INPUT_KEY, JSON.stringify({ ...input, configPath }, null, 2) + "\n", { contentType: "application/json" });

  const { makeHandler: makeProbeHandler } = await import("../../functions/linear-probe/handler.js");
  const { makeHandler: makeRotateHandler } = await import("../../functions/rotate-checkpoints/handler.js");
  const probeHandler = makeProbeHandler(deps);
  const rotate = makeRotateHandler(deps);
  const { buildRunReport } = await import("../report/build_run_report.js");
  const probes: PipelineResult["probes"] = [];

  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  // LinearProbe, RotateCheckpoints and the report (Lambdas in AWS) for the checkpoint a segment ended on.
  const evaluate = async (step: number) => {
    log(`[3/4] probe step ${step} (${input.probeTrainLimit} train images, full test split)`);
    const p = await probeHandler({ checkpoint: runUri, data: shard.manifestUri, trainLimit: input.probeTrainLimit });
    probes.push({ step: p.step, linearTop1: p.linearTop1, knnTop1: p.knnTop1 });
    log(`      linear ${pct(p.linearTop1)}, kNN ${pct(p.knnTop1)}` + Object.entries(p.baselines).map(([k, v]) => `; ${k}: linear ${pct(v.linearTop1)}, kNN ${pct(v.knnTop1)}`).join(""));
    const r = await rotate({ run: runUri, keepLast: input.keepLast, keepBest: input.keepBest, keepEvery: 0 });
    log(`      rotate: kept ${r.kept.map((k) => k.step).join(", ")}${r.deleted.length ? `; deleted ${r.deleted.join(", ")}` : ""}`);
    log(`[4/4] report`);
    await buildRunReport(run);
  };

  for (;;) {
    const latest = await readLatestPointer(run);
    // A segment whose training finished but whose probe did not (the pipeline stopped in between):
    // evaluate it first, before rotation could delete the checkpoint it never scored.
    if (latest && !(await run.head(probeKey(latest.step)))) await evaluate(latest.step);
    const doneEpochs = latest?.epoch ?? 0;
    const reachedCap = input.maxSteps !== undefined && (latest?.step ?? 0) >= input.maxSteps;
    if (doneEpochs >= epochs || reachedCap) break;
    const untilEpoch = Math.min(epochs, doneEpochs + input.segmentEpochs);
    // TrainSegment (a Batch job in AWS): the trainer in its own process, resuming where the last segment stopped.
    log(`[2/4] train ${configName} epochs ${doneEpochs + 1}–${untilEpoch} of ${epochs} → ${runUri}`);
    const args = ["train", "--config", configPath, "--data", shard.manifestUri, "--out", runUri, "--epochs", String(epochs), "--until-epoch", String(untilEpoch)];
    if (latest) args.push("--resume");
    if (input.maxSteps) args.push("--max-steps", String(input.maxSteps));
    if (input.replicas) args.push("--replicas", String(input.replicas));
    if (input.backend) args.push("--backend", input.backend);
    await runChild(args);
    const after = await readLatestPointer(run);
    if (!after || after.step === latest?.step) throw new IjepaError(`training made no progress past step ${latest?.step ?? 0}`, "look at the trainer's output above");
    await evaluate(after.step);
  }
  const final = await readLatestPointer(run);
  const reportUri = run.uriOf(REPORT_HTML_KEY);
  log(`done: ${runUri} at step ${final?.step}; report ${reportUri}`);
  return { runUri, manifestUri: shard.manifestUri, step: final?.step ?? 0, probes, reportUri };
}

/**
 * Runs `ijepa <args>` as a child process. The child gets its own process group, so a Ctrl-C in the
 * terminal reaches only this process, which passes it on once: the trainer then finishes its step and
 * writes a checkpoint (a second signal would make it quit at once).
 */
function runChild(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, "bin/ijepa.js"), ...args], { stdio: "inherit", detached: true });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    const stopChild = () => child.kill("SIGKILL");
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    process.on("exit", stopChild);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      process.off("exit", stopChild);
      if (code === 0) resolve();
      else if (code === 130) reject(new InterruptedError("the trainer stopped on request after writing a checkpoint", "run the same command again: it resumes from that checkpoint"));
      else reject(new IjepaError(`the trainer exited with ${signal ?? `code ${code}`}`, "fix what it reported above, then run the same command again: it resumes from the last checkpoint"));
    });
  });
}
