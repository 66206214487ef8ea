// The `ijepa` command line: one line per command (its module in bin/commands/ parses the flags and calls the
// core), and how errors end the process. Nothing else knows about argv.
import { Command } from "commander";
import { formatCliError } from "../trainer/system_errors.js";
import { InterruptedError } from "../trainer/train/train_loop.js";
import { awsCommand } from "./commands/aws.js";
import { registerExport } from "./commands/export.js";
import { registerProbe } from "./commands/probe.js";
import { registerPull } from "./commands/pull.js";
import { registerReport } from "./commands/report.js";
import { registerRotate } from "./commands/rotate.js";
import { registerShard } from "./commands/shard.js";
import { registerStart } from "./commands/start.js";
import { registerTrain } from "./commands/train.js";

const program = new Command()
  .name("ijepa")
  .description("I-JEPA self-supervised pretraining on your own images — on AWS or on this machine")
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(str) });

// The order here is the order of `ijepa --help`.
registerTrain(program);
registerShard(program);
registerRotate(program);
registerProbe(program);
registerPull(program);
registerExport(program);
registerStart(program);
registerReport(program);
program.addCommand(awsCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof InterruptedError) {
    console.error(`stopped: ${err.message}`);
    process.exit(130);
  }
  // One message naming the thing and the fix; a system or runtime error is explained the same way, with the
  // stack trace only under IJEPA_DEBUG=1. (Rethrowing would let the wasm backend's own process-level handler
  // print its minified glue code instead.)
  console.error(formatCliError(err));
  process.exit(1);
}
