// `ijepa start` (`npm start`): its flags, handed as one input to the local workflow runner.
import { type Command, Option } from "commander";
import { BACKEND_NAMES } from "../../trainer/backend.js";
import { FASHION_MNIST_NAME } from "../../trainer/data/fashion_mnist.js";
import { SOURCE_FORMATS } from "../../trainer/data/shard_input.js";
import { int } from "./flag_parsers.js";

export function registerStart(program: Command): void {
  program
    .command("start")
    .description(
      "the whole job on this machine: shard the dataset, train in epoch segments, " +
        "probe, rotate and report after each (re-running resumes)",
    )
    .option(
      "--dataset <name|dir|uri>",
      `dataset name (${FASHION_MNIST_NAME}) or source folder / s3:// prefix`,
      FASHION_MNIST_NAME,
    )
    .addOption(
      new Option("--format <format>", "source format when --dataset is a folder")
        .choices(SOURCE_FORMATS)
        .default("idx"),
    )
    .option("--config <yaml|preset>", "config file or preset", "fmnist-vit-tiny")
    .option("--epochs <n>", "override optimization.epochs", int("--epochs"))
    .option("--root <dir|uri>", "where datasets/ and runs live (folder or s3:// prefix)", "runs")
    .option("--run-id <id>", "run name (default <dataset>-<config>)")
    .option("--segment-epochs <n>", "epochs per training segment (a probe follows each)", int("--segment-epochs"), 1)
    .option("--max-steps <n>", "cap on total steps, for a quick look", int("--max-steps"))
    .option("--probe-train-limit <n>", "train images per probe", int("--probe-train-limit"), 10_000)
    .option("--replicas <n>", "data-parallel replicas (wasm/cpu)", int("--replicas"))
    .addOption(new Option("--backend <name>", "force a TensorFlow.js backend").choices([...BACKEND_NAMES]))
    .action(async (o) => {
      const { runLocalPipeline } = await import("../../trainer/workflow/local_pipeline.js");
      await runLocalPipeline({
        dataset: o.dataset,
        format: o.format,
        config: o.config,
        epochs: o.epochs,
        root: o.root,
        runId: o.runId,
        segmentEpochs: o.segmentEpochs,
        maxSteps: o.maxSteps,
        probeTrainLimit: o.probeTrainLimit,
        replicas: o.replicas,
        backend: o.backend,
      });
    });
}
