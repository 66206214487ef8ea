// `ijepa rotate`: its flags, the same rotation as the Lambda, and a table of what it kept (and why) and deleted.
import type { Command } from "commander";
import { type ProbeMetric, type RotationResult, rotateCheckpoints } from "../../trainer/checkpoint/rotation.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import { openStore as openRunStore } from "../../trainer/storage/open_store.js";
import { int } from "./flag_parsers.js";

export function registerRotate(program: Command): void {
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
      const { run, keepLast, keepBest, keepEvery, metric } = o;
      await runRotateCommand({ run, keepLast, keepBest, keepEvery, metric, dryRun: Boolean(o.dryRun) });
    });
}

export interface RotateCommandOptions {
  run: string;
  keepLast: number;
  keepBest: number;
  keepEvery: number;
  /** Checked by the rotation itself (a ConfigError names the metrics it knows). */
  metric?: ProbeMetric;
  dryRun?: boolean;
}

export interface RotateCommandIo {
  /** Defaults to trainer/storage/open_store.ts's openStore. */
  openStore?: (uri: string) => ObjectStore | Promise<ObjectStore>;
  /** Where the table goes; defaults to console.log. */
  print?: (line: string) => void;
}

/** Runs the rotation and prints one row per checkpoint; resolves to the same result the Lambda returns. */
export async function runRotateCommand(
  options: RotateCommandOptions,
  io: RotateCommandIo = {},
): Promise<RotationResult> {
  const openStore = io.openStore ?? openRunStore;
  const print = io.print ?? ((line: string) => console.log(line));
  const { run, dryRun = false, ...policy } = options;
  const { kept, deleted } = await rotateCheckpoints(await openStore(run), { ...policy, dryRun });
  const result: RotationResult = { kept, deleted, dryRun };
  for (const line of formatRotation(options.run, result)) print(line);
  return result;
}

/** The table: step, action, reasons; then a one-line summary. */
export function formatRotation(run: string, result: RotationResult): string[] {
  const deleteWord = result.dryRun ? "would delete" : "deleted";
  const rows = [
    ...result.kept.map((k) => ({ step: k.step, action: "keep", reasons: k.reasons.join("; ") })),
    ...result.deleted.map((step) => ({ step, action: deleteWord, reasons: "" })),
  ].sort((a, b) => a.step - b.step);
  const actionWidth = Math.max("action".length, ...rows.map((r) => r.action.length));
  const line = (step: string, action: string, reasons: string): string =>
    `${step.padStart(10)}  ${action.padEnd(actionWidth)}  ${reasons}`.trimEnd();
  return [
    `checkpoints of ${run}${result.dryRun ? " (dry run: nothing deleted)" : ""}`,
    line("step", "action", "reasons"),
    ...rows.map((r) => line(String(r.step), r.action, r.reasons)),
    `${result.kept.length} kept, ${result.deleted.length} ${deleteWord}`,
  ];
}
