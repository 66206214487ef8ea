// `ijepa train`: its flags, Ctrl-C as "finish this step and write a checkpoint", and the closing line.
import path from "node:path";
import { type Command, Option } from "commander";
import { BACKEND_NAMES } from "../../trainer/backend.js";
import { resolveConfigPath } from "../../trainer/config/config_path.js";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import { renderMaskFigure } from "../../trainer/report/mask_figure.js";
import { train } from "../../trainer/train/train_loop.js";
import { int } from "./flag_parsers.js";
import { terminalTrainProgress } from "./train_progress_bar.js";

export function registerTrain(program: Command): void {
  program
    .command("train")
    .description("pretrain (or resume) an I-JEPA encoder")
    .option(
      "--config <yaml|preset>",
      "config file, or a preset name from configs/ (smoke, fmnist-vit-tiny, bench-config-a, in1k-vith14); " +
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
      const configPath = o.config ? resolveConfigPath(o.config) : undefined;
      const config = configPath ? await loadConfigFile(configPath) : undefined;
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
        configName: configPath ? path.basename(configPath, ".yaml") : undefined,
        data: o.data,
        out: o.out,
        epochs: o.epochs,
        maxSteps: o.maxSteps,
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
      });
      const loss = result.lastLoss.toFixed(5);
      console.log(
        `done: step ${result.step} (${result.epochsCompleted} full epochs), last loss ${loss}; run in ${result.outUri}`,
      );
    });
}
