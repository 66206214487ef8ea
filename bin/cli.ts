// The `ijepa` command line: parses flags and hands over to the core; nothing else knows about argv.
import { Command, InvalidArgumentError, Option } from "commander";
import { IjepaError } from "../trainer/errors.js";
import { BACKEND_NAMES } from "../trainer/backend.js";
import { InterruptedError, train } from "../trainer/train/train_loop.js";
import { runShardCommand } from "../trainer/data/shard_command.js";
import { runRotateCommand } from "../functions/rotate-checkpoints/command.js";
import { loadConfigArg } from "../trainer/run/config_source.js";
import { emfReporterFromEnv } from "../trainer/aws/emf_reporter.js";
import { awsCommand } from "./commands/aws.js";


const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${value}"`);
  return n;
};

/**
 * IJEPA_MAX_STEPS: the workflow's step cap. The Batch job's command is fixed by its job definition, so TrainSegment
 * passes the cap as a container environment override; "" means none.
 */
function maxStepsFromEnv(): number | undefined {
  const raw = process.env.IJEPA_MAX_STEPS;
  if (raw === undefined || raw === "") return undefined;
  return int("IJEPA_MAX_STEPS")(raw);
}

const program = new Command()
  .name("ijepa")
  .description("I-JEPA self-supervised pretraining on your own images — on AWS or on this machine")
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(str) });

program
  .command("train")
  .description("pretrain (or resume) an I-JEPA encoder")
  .option("--config <yaml|preset|uri>", "config file (local or s3://), or a preset name from configs/ (smoke, fmnist-vit-tiny, gpu-vits16-224, …); with --resume, the checkpoint's own")
  .option("--data <name|dir|uri>", "dataset: fashion-mnist, a folder of IDX files, a sharded folder, or a manifest URI (default: data.dataset)")
  .requiredOption("--out <dir|uri>", "run folder or s3://bucket/prefix")
  .option("--epochs <n>", "override optimization.epochs", int("--epochs"))
  .option("--max-steps <n>", "stop after this many steps in total (the schedules still span all epochs)", int("--max-steps"))
  .option("--until-epoch <k>", "stop once k epochs are complete (a segment of a longer run)", int("--until-epoch"))
  .option("--resume", "continue from <out>/checkpoints/latest.json")
  .option("--auto-resume", "continue from <out>'s latest checkpoint when there is one, else start (retried Batch jobs)")
  .option("--resume-from <step>", "continue from the checkpoint of this step", int("--resume-from"))
  .option("--seed <n>", "override meta.seed", int("--seed"))
  .addOption(new Option("--backend <name>", "force a TensorFlow.js backend").choices([...BACKEND_NAMES]))
  .option("--replicas <n>", "data-parallel replicas on this machine (wasm/cpu; default min(cores, 4))", int("--replicas"))
  .option("--no-progress", "plain log lines even on a terminal")
  .action(async (o) => {
    const { config, configName } = o.config ? await loadConfigArg(o.config) : { config: undefined, configName: undefined };
    const emf = emfReporterFromEnv(process.env, o.out); // CloudWatch metric lines in the Batch job
    let stop = false;
    const onSignal = (signal: string) => {
      if (stop) process.exit(130);
      stop = true;
      console.error(`\n${signal}: finishing this step and writing a checkpoint (send again to quit at once)`);
    };
    process.on("SIGINT", () => onSignal("SIGINT"));
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    const result = await train({
      config,
      configName,
      autoResume: o.autoResume,
      onRecord: emf?.record,
      data: o.data,
      out: o.out,
      epochs: o.epochs,
      maxSteps: o.maxSteps ?? maxStepsFromEnv(),
      untilEpoch: o.untilEpoch,
      resume: o.resume,
      resumeFrom: o.resumeFrom,
      seed: o.seed,
      backend: o.backend,
      replicas: o.replicas,
      progressBar: o.progress === false ? false : undefined,
      stopRequested: () => stop,
    }).finally(() => emf?.close());
    console.log(`done: step ${result.step} (${result.epochsCompleted} full epochs), last loss ${result.lastLoss.toFixed(5)}; run in ${result.outUri}`);
  });

program
  .command("shard")
  .description("convert a dataset into shards (.npy) + manifest.json that training streams from")
  .requiredOption("--source <uri>", "folder or s3:// prefix holding the source dataset")
  .addOption(new Option("--format <format>", "source format").choices(["idx", "cifar", "imagefolder"]).makeOptionMandatory())
  .requiredOption("--out <uri>", "output folder or s3:// prefix (manifest.json is written last)")
  .option("--resolution <px>", "side of the square images (imagefolder: resize + centre crop)", int("--resolution"))
  .option("--shard-size <n>", "images per shard (default: ~32 MiB per shard)", int("--shard-size"))
  .option("--grayscale", "imagefolder: keep one channel")
  .option("--name <name>", "dataset name recorded in the manifest")
  .action(async (o) => {
    await runShardCommand({ source: o.source, format: o.format, out: o.out, resolution: o.resolution, shardSize: o.shardSize, grayscale: o.grayscale, name: o.name });
  });

program
  .command("rotate")
  .description("delete old checkpoints of a run, keeping the last K, the best B by probe score, and every N-th step")
  .requiredOption("--run <uri>", "run folder or s3:// prefix")
  .requiredOption("--keep-last <k>", "keep the K newest complete checkpoints", int("--keep-last"))
  .option("--keep-best <b>", "keep the B best by probe metric", int("--keep-best"), 1)
  .option("--keep-every <n>", "keep checkpoints whose step is a multiple of N (0 = none)", int("--keep-every"), 0)
  .option("--metric <name>", "probe metric for --keep-best", "linearTop1")
  .option("--dry-run", "list what would be deleted, delete nothing")
  .action(async (o) => {
    await runRotateCommand({ run: o.run, keepLast: o.keepLast, keepBest: o.keepBest, keepEvery: o.keepEvery, metric: o.metric, dryRun: Boolean(o.dryRun) });
  });

program
  .command("probe")
  .description("linear-probe and kNN top-1 of a checkpoint's target encoder, next to raw-pixel and random-init baselines (prints JSON)")
  .requiredOption("--checkpoint <uri>", "a run (its latest checkpoint) or one checkpoint folder, local or s3://")
  .option("--data <manifest|dir|name>", "labelled dataset (default: the one the run trained on)")
  .addOption(new Option("--baseline <name...>", "baselines to report next to the encoder").choices(["raw", "random", "none"]).default(["raw", "random"]))
  .option("--train-limit <n>", "train images used to fit the probe", int("--train-limit"), 10_000)
  .option("--test-limit <n>", "test images scored (default: all)", int("--test-limit"))
  .option("--no-write", "do not write probe/<step>.json and probe/history.jsonl into the run")
  .addOption(new Option("--backend <name>", "force a TensorFlow.js backend").choices([...BACKEND_NAMES]))
  .action(async (o) => {
    const { initBackend, describeBackend } = await import("../trainer/backend.js");
    const { runProbe } = await import("../trainer/eval/probe.js");
    const backend = await initBackend(o.backend);
    console.error(`ijepa probe: ${describeBackend(backend)}`);
    const baselines = (o.baseline as string[]).filter((b) => b !== "none") as Array<"raw" | "random">;
    const report = await runProbe({
      checkpoint: o.checkpoint,
      data: o.data,
      trainLimit: o.trainLimit,
      testLimit: o.testLimit,
      baselines,
      write: o.write,
      log: (line) => console.error(line),
    });
    console.log(JSON.stringify(report, null, 2));
  });

const numbers = (name: string) => (value: string) => {
  const list = value.split(",").map(Number);
  if (list.some((n) => !Number.isFinite(n))) throw new InvalidArgumentError(`${name} takes comma-separated numbers, got "${value}"`);
  return list;
};

program
  .command("pull")
  .description("copy one checkpoint (checksum-verified) and the run's config, metrics, probes and report into a local folder laid out like a run")
  .requiredOption("--run <uri>", "run folder or s3:// prefix")
  .option("--which <latest|best|step>", "which checkpoint: latest, best (by probe metric) or a step", "latest")
  .option("--metric <name>", "probe metric for --which best (linearTop1, linearTop5, knnTop1)", "linearTop1")
  .requiredOption("--to <dir>", "local folder (resume it with ijepa train --config <dir>/config.yaml --resume --out <dir>)")
  .action(async (o) => {
    const { runPullCommand } = await import("../trainer/export/pull_command.js");
    await runPullCommand({ run: o.run, which: o.which, metric: o.metric, to: o.to });
  });

program
  .command("export")
  .description("export a checkpoint's target encoder: safetensors with the official PyTorch names (load_state_dict), or TensorFlow.js weights")
  .requiredOption("--checkpoint <uri>", "a run (its latest checkpoint) or one checkpoint folder, local or s3://")
  .addOption(new Option("--format <format>", "safetensors (PyTorch) or tfjs").choices(["safetensors", "tfjs"]).makeOptionMandatory())
  .requiredOption("--to <dir|uri>", "output folder")
  .option("--mean <m,...>", "per-channel input mean, when the checkpoint does not record it", numbers("--mean"))
  .option("--std <s,...>", "per-channel input std, when the checkpoint does not record it", numbers("--std"))
  .action(async (o) => {
    const { runExportCommand } = await import("../trainer/export/export_command.js");
    await runExportCommand({ checkpoint: o.checkpoint, format: o.format, to: o.to, mean: o.mean, std: o.std });
  });

program
  .command("start")
  .description("run the deployed workflow on this machine: the state machine synthesized from lib/, executed locally (re-running resumes)")
  .option("--input <file.json>", "the execution input, as pasted into the Step Functions console (flags override its fields)")
  .option("--dataset <name|dir|uri>", "fashion-mnist, or a raw dataset's folder / s3:// prefix")
  .addOption(new Option("--format <format>", "raw dataset format").choices(["idx", "cifar", "imagefolder"]))
  .option("--config <preset|uri>", "preset name (smoke, fmnist-vit-tiny, …) or a YAML file")
  .option("--epochs <n>", "total epochs (overrides the preset's)", int("--epochs"))
  .option("--run-id <id>", "run name (default <dataset>-<config>)")
  .option("--segment-epochs <n>", "epochs per training segment (a probe follows each)", int("--segment-epochs"))
  .option("--max-steps <n>", "cap on total steps, for a quick look", int("--max-steps"))
  .option("--probe-train-limit <n>", "train images per probe", int("--probe-train-limit"))
  .option("--keep-last <k>", "rotation: newest checkpoints kept", int("--keep-last"))
  .option("--keep-best <b>", "rotation: best checkpoints kept", int("--keep-best"))
  .option("--keep-every <n>", "rotation: keep steps that are multiples of N", int("--keep-every"))
  .option("--root <dir|uri>", "where the datasets and runs buckets live here: a folder or s3://bucket/prefix", "runs")
  .option("--execution-name <name>", "execution name (default local-<time>)")
  .action(async (o) => {
    const { runStartCommand, WorkflowFailedError } = await import("../local/start_command.js");
    const result = await runStartCommand({
      input: o.input,
      root: o.root,
      executionName: o.executionName,
      fields: {
        dataset: o.dataset,
        format: o.format,
        config: o.config,
        epochs: o.epochs,
        runId: o.runId,
        segmentEpochs: o.segmentEpochs,
        maxSteps: o.maxSteps,
        probeTrainLimit: o.probeTrainLimit,
        keepLast: o.keepLast,
        keepBest: o.keepBest,
        keepEvery: o.keepEvery,
      },
    });
    if (result.interrupted) throw new InterruptedError("stopped on request; the run lock is released", "run the same command again: it resumes from the last checkpoint");
    if (result.status !== "SUCCEEDED") {
      const cause = typeof result.error?.Cause === "string" ? result.error.Cause : JSON.stringify(result.error?.Cause);
      throw new WorkflowFailedError(`execution ${result.executionName} failed: ${result.error?.Error}: ${cause}`);
    }
  });

program
  .command("report")
  .description("draw a run's loss, schedules, collapse metrics and probe scores into <run>/report/ (PNG + HTML)")
  .requiredOption("--run <uri>", "run folder or s3:// prefix")
  .action(async (o) => {
    const { openStore } = await import("../trainer/storage/open_store.js");
    const { buildRunReport } = await import("../trainer/report/build_run_report.js");
    const store = openStore(o.run);
    const { files, notes } = await buildRunReport(store);
    for (const note of notes) console.log(`note: ${note}`);
    for (const f of files) console.log(`wrote ${store.uriOf(f)}`);
  });

program.addCommand(awsCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof InterruptedError) {
    console.error(`stopped: ${err.message}`);
    process.exit(130);
  }
  if (err instanceof IjepaError) {
    console.error(`error: ${err.message}`);
    process.exit(1);
  }
  // Anything else is a bug or an environment problem: show where it came from. (Rethrowing would let
  // the wasm backend's own process-level handler print its minified glue code instead.)
  console.error(`error: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
}
