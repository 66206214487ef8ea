// `ijepa train`: its flags, Ctrl-C as "finish this step and write a checkpoint", and the closing line.
import { type Command, Option } from "commander";
import { BACKEND_NAMES } from "../../trainer/backend.js";
import { emfReporterFromEnv } from "../../trainer/aws/emf_reporter.js";
import { loadConfigArg } from "../../trainer/run/config_source.js";
import { renderMaskFigure } from "../../trainer/report/mask_figure.js";
import { train } from "../../trainer/train/train_loop.js";
import { int } from "./flag_parsers.js";
import { terminalTrainProgress } from "./train_progress_bar.js";

/**
 * IJEPA_MAX_STEPS: the workflow's step cap. The Batch job's command is fixed by its job definition, so
 * TrainSegment passes the cap as a container environment override; "" means none.
 */
function maxStepsFromEnv(): number | undefined {
  const raw = process.env.IJEPA_MAX_STEPS;
  if (raw === undefined || raw === "") return undefined;
  return int("IJEPA_MAX_STEPS")(raw);
}

export function registerTrain(program: Command): void {
  program
    .command("train")
    .description("pretrain (or resume) an I-JEPA encoder")
    .option(
      "--config <yaml|preset|uri>",
      "config file (local or s3://), or a preset name from configs/ (smoke, fmnist-vit-tiny, gpu-vits16-224, …); " +
        "with --resume, the checkpoint's own",
    )
    .option(
      "--data <name|dir|uri>",
      "dataset: fashion-mnist, a folder of IDX files, a sharded folder, or a manifest URI (default: data.dataset)",
    )
    .requiredOption("--out <dir|uri>", "run folder or s3://bucket/prefix")
    .option("--epochs <n>", "override optimization.epochs", int("--epochs"))
    .option(
      "--max-steps <n>",
      "stop after this many steps in total (the schedules still span all epochs)",
      int("--max-steps"),
    )
    .option("--until-epoch <k>", "stop once k epochs are complete (a segment of a longer run)", int("--until-epoch"))
    .option("--resume", "continue from <out>/checkpoints/latest.json")
    .option(
      "--auto-resume",
      "continue from <out>'s latest checkpoint when there is one, else start (retried Batch jobs)",
    )
    .option("--resume-from <step>", "continue from the checkpoint of this step", int("--resume-from"))
    .option("--seed <n>", "override meta.seed", int("--seed"))
    .addOption(new Option("--backend <name>", "force a TensorFlow.js backend").choices([...BACKEND_NAMES]))
    .option(
      "--replicas <n>",
      "data-parallel replicas on this machine (wasm/cpu; default min(cores, 4))",
      int("--replicas"),
    )
    .option("--no-progress", "plain log lines even on a terminal")
    .option("--force", "overwrite what is refused otherwise: a non-run folder's files, checkpoints after --resume-from")
    .action(async (o) => {
      const { config, configName } = o.config
        ? await loadConfigArg(o.config)
        : { config: undefined, configName: undefined };
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
        progress: terminalTrainProgress(o.progress === false ? false : undefined),
        drawMaskFigure: renderMaskFigure,
        force: Boolean(o.force),
        stopRequested: () => stop,
      }).finally(() => emf?.close());
      const loss = result.lastLoss.toFixed(5);
      console.log(
        `done: step ${result.step} (${result.epochsCompleted} full epochs), last loss ${loss}; run in ${result.outUri}`,
      );
    });
}
