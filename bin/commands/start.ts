// `ijepa start` (`npm start`): the deployed workflow's state machine, synthesized from lib/ and run on this machine.
import { type Command, Option } from "commander";
import { SOURCE_FORMATS } from "../../trainer/data/shard_input.js";
import { InterruptedError } from "../../trainer/train/train_loop.js";
import { int } from "./flag_parsers.js";

export function registerStart(program: Command): void {
  program
    .command("start")
    .description(
      "run the deployed workflow on this machine: the state machine synthesized from lib/, executed locally " +
        "(re-running resumes)",
    )
    .option(
      "--input <file.json>",
      "the execution input, as pasted into the Step Functions console (flags override its fields)",
    )
    .option("--dataset <name|dir|uri>", "fashion-mnist, or a raw dataset's folder / s3:// prefix")
    .addOption(new Option("--format <format>", "raw dataset format").choices(SOURCE_FORMATS))
    .option("--config <preset|uri>", "preset name (smoke, fmnist-vit-tiny, …) or a YAML file")
    .option("--epochs <n>", "total epochs (overrides the preset's)", int("--epochs"))
    .option("--run-id <id>", "run name (default <dataset>-<config>)")
    .option("--segment-epochs <n>", "epochs per training segment (a probe follows each)", int("--segment-epochs"))
    .option("--max-steps <n>", "cap on total steps, for a quick look", int("--max-steps"))
    .option("--probe-train-limit <n>", "train images per probe (default: the config's)", int("--probe-train-limit"))
    .option(
      "--probe-test-limit <n>",
      "test images per probe, 0 = all (default: the config's)",
      int("--probe-test-limit"),
    )
    .option("--keep-last <k>", "rotation: newest checkpoints kept", int("--keep-last"))
    .option("--keep-best <b>", "rotation: best checkpoints kept", int("--keep-best"))
    .option("--keep-every <n>", "rotation: keep steps that are multiples of N", int("--keep-every"))
    .option("--root <dir|uri>", "where the datasets and runs buckets live here: a folder or s3://bucket/prefix", "runs")
    .option("--execution-name <name>", "execution name (default local-<time>)")
    .action(async (o) => {
      const { runStartCommand, WorkflowFailedError } = await import("../../local/start_command.js");
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
          probeTestLimit: o.probeTestLimit,
          keepLast: o.keepLast,
          keepBest: o.keepBest,
          keepEvery: o.keepEvery,
        },
      });
      if (result.interrupted) {
        throw new InterruptedError(
          "stopped on request; the run lock is released",
          "run the same command again: it resumes from the last checkpoint",
        );
      }
      if (result.status !== "SUCCEEDED") {
        const cause =
          typeof result.error?.Cause === "string" ? result.error.Cause : JSON.stringify(result.error?.Cause);
        throw new WorkflowFailedError(`execution ${result.executionName} failed: ${result.error?.Error}: ${cause}`);
      }
    });
}
