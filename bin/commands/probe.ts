// `ijepa probe`: its flags, then linear-probe and kNN scores of a checkpoint next to baselines, printed as JSON.
import { type Command, Option } from "commander";
import { BACKEND_NAMES } from "../../trainer/backend.js";
import { BASELINE_NAMES, type BaselineName } from "../../trainer/eval/probe.js";
import { int } from "./flag_parsers.js";

export function registerProbe(program: Command): void {
  program
    .command("probe")
    .description(
      "linear-probe and kNN top-1 of a checkpoint's target encoder, next to raw-pixel and random-init baselines " +
        "(prints JSON)",
    )
    .requiredOption("--checkpoint <uri>", "a run (its latest checkpoint) or one checkpoint folder, local or s3://")
    .option("--data <manifest|dir|name>", "labelled dataset (default: the one the run trained on)")
    .addOption(
      new Option("--baseline <name...>", "baselines to report next to the encoder")
        .choices([...BASELINE_NAMES, "none"])
        .default([...BASELINE_NAMES]),
    )
    .option("--train-limit <n>", "train images used to fit the probe", int("--train-limit"), 10_000)
    .option("--test-limit <n>", "test images scored (default: all)", int("--test-limit"))
    .option(
      "--workers <n>",
      "worker threads for the encoders' forward passes on wasm/cpu (default: IJEPA_PROBE_WORKERS, else one per core)",
      int("--workers"),
    )
    .option("--no-write", "do not write probe/<step>.json and probe/history.jsonl into the run")
    .addOption(new Option("--backend <name>", "force a TensorFlow.js backend").choices([...BACKEND_NAMES]))
    .action(async (o) => {
      const { initBackend, describeBackend } = await import("../../trainer/backend.js");
      const { runProbe } = await import("../../trainer/eval/probe.js");
      const backend = await initBackend(o.backend);
      console.error(`ijepa probe: ${describeBackend(backend)}`);
      const baselines = (o.baseline as string[]).filter((b) => b !== "none") as BaselineName[];
      const report = await runProbe({
        checkpoint: o.checkpoint,
        data: o.data,
        trainLimit: o.trainLimit,
        testLimit: o.testLimit,
        baselines,
        write: o.write,
        workers: o.workers,
        log: (line) => console.error(line),
      });
      console.log(JSON.stringify(report, null, 2));
    });
}
