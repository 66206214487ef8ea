// `ijepa pull`: its flags, the checkpoint choice, a byte progress bar (TTY) or plain lines, and what was written.
import type { Command } from "commander";
import type { CheckpointChoice } from "../../trainer/checkpoint/choose_checkpoint.js";
import { PROBE_METRICS, type ProbeMetric } from "../../trainer/checkpoint/rotation.js";
import { ConfigError } from "../../trainer/errors.js";
import { formatBytes } from "../../trainer/export/byte_size.js";
import type { PullProgress, PullResult } from "../../trainer/export/pull_run.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import { type CommandIo, type ProgressReporter, processIo, terminalBar } from "./command_io.js";

export function registerPull(program: Command): void {
  program
    .command("pull")
    .description(
      "copy one checkpoint (checksum-verified) and the run's config, metrics, probes and report into a local folder " +
        "laid out like a run",
    )
    .requiredOption("--run <uri>", "run folder or s3:// prefix")
    .option("--which <latest|best|step>", "which checkpoint: latest, best (by probe metric) or a step", "latest")
    .option("--metric <name>", `probe metric for --which best (${PROBE_METRICS.join(", ")})`, "linearTop1")
    .requiredOption(
      "--to <dir>",
      "local folder (resume it with ijepa train --config <dir>/config.yaml --resume --out <dir>)",
    )
    .option(
      "--force",
      "pull into a folder holding other files (another run, yours), overwriting those of the same names",
    )
    .action(async (o) => {
      await runPullCommand({ run: o.run, which: o.which, metric: o.metric, to: o.to, force: Boolean(o.force) });
    });
}

/** The command's flags, as the CLI parses them. */
export interface PullCommandOptions {
  run: string;
  /** "latest" (default), "best", or a step number (as text or a number). */
  which?: string | number;
  to: string;
  /** Probe metric for "best": linearTop1 (default), linearTop5 or knnTop1. */
  metric?: string;
  /** Overwrite a folder that holds other files. */
  force?: boolean;
}

/** Where the command writes: the list of files to stdout, progress to stderr (a bar when it is a TTY). */
export interface PullCommandIo extends CommandIo {
  /** Defaults to trainer/storage/open_store.ts's openStore. */
  openStore?: (uri: string) => ObjectStore;
}

/** "latest" | "best" | "120" | 120 → a CheckpointChoice; anything else is a ConfigError. */
export function parseCheckpointChoice(text: string | number): CheckpointChoice {
  if (typeof text === "number") {
    if (Number.isInteger(text) && text >= 0) return text;
  } else {
    const trimmed = text.trim();
    if (trimmed === "latest" || trimmed === "best") return trimmed;
    if (/^\d+$/.test(trimmed)) return Number(trimmed);
  }
  throw new ConfigError(
    `checkpoint ${JSON.stringify(text)} is not "latest", "best" or a step number`,
    "give latest, best, or a step such as 120",
  );
}

export async function runPullCommand(opts: PullCommandOptions, io: PullCommandIo = processIo): Promise<PullResult> {
  const which = parseCheckpointChoice(opts.which ?? "latest");
  const reporter = io.stderr.isTTY ? barReporter(io) : lineReporter(io);
  // Loaded when the command runs, not whenever the CLI starts.
  const { pullRun } = await import("../../trainer/export/pull_run.js");
  let result: PullResult;
  try {
    result = await pullRun(
      { run: opts.run, which, to: opts.to, metric: opts.metric as ProbeMetric | undefined, force: opts.force },
      { onProgress: reporter.update, openStore: io.openStore },
    );
  } finally {
    reporter.stop();
  }
  for (const line of formatPull(result)) io.stdout.write(line + "\n");
  return result;
}

/** One line per file (copied or already there), then the summary and how to go on. */
export function formatPull(result: PullResult): string[] {
  const actionWidth = Math.max(...result.files.map((f) => f.action.length));
  return [
    `checkpoint ${result.step} (${result.reason}) of ${result.from}`,
    ...result.files.map((f) => `  ${f.action.padEnd(actionWidth)}  ${f.key} (${formatBytes(f.sizeBytes)})`),
    `${formatBytes(result.bytesCopied)} copied into ${result.to}; ${result.files.filter((f) => f.action === "unchanged").length} file(s) were already there`,
    `resume training with: ijepa train --resume --out ${result.to}`,
  ];
}

function barReporter(io: PullCommandIo): ProgressReporter<PullProgress> {
  return terminalBar<PullProgress>(io, "pulling [{bar}] {percentage}% | {done} of {size} | {file}", (p) => ({
    value: p.bytesDone,
    total: p.bytesTotal,
    payload: { done: formatBytes(p.bytesDone), size: formatBytes(p.bytesTotal), file: p.key },
  }));
}

function lineReporter(io: PullCommandIo): ProgressReporter<PullProgress> {
  const interval = io.progressIntervalMs ?? 10_000;
  let last = Date.now();
  let lastKey = "";
  return {
    update(p) {
      const now = Date.now();
      // A line per file that starts, and at most one per interval within a large file.
      if (p.key === lastKey && now - last < interval) return;
      lastKey = p.key;
      last = now;
      const percent = p.bytesTotal > 0 ? Math.floor((100 * p.bytesDone) / p.bytesTotal) : 100;
      io.stderr.write(`pulling ${percent}% (${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}): ${p.key}\n`);
    },
    stop() {},
  };
}
