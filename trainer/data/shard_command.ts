// `ijepa shard`: runs a whole sharding job with a progress bar (TTY) or periodic lines, then prints a summary.
import { type CommandIo, type ProgressReporter, processIo, terminalBar } from "../utils/command_io.js";
import { type ShardInput, parseShardInput } from "./shard_input.js";
import { type ShardDatasetOptions, type ShardProgress, type ShardResult, shardDataset } from "./shard_writer.js";

/** The command's flags, as the CLI parses them. */
export interface ShardCommandOptions {
  source: string;
  format: string;
  out: string;
  resolution?: number;
  shardSize?: number;
  grayscale?: boolean;
  testFraction?: number;
  seed?: number;
  name?: string;
}

/** Where the command writes: the summary to stdout, progress to stderr (a bar when it is a TTY). */
export type ShardCommandIo = CommandIo;

export async function runShardCommand(
  opts: ShardCommandOptions,
  io: ShardCommandIo = processIo,
  jobOptions: Omit<ShardDatasetOptions, "onProgress"> = {},
): Promise<ShardResult> {
  const input: ShardInput = parseShardInput(
    {
      source: opts.source,
      format: opts.format,
      output: opts.out,
      resolution: opts.resolution,
      shardSize: opts.shardSize,
      grayscale: opts.grayscale,
      testFraction: opts.testFraction,
      seed: opts.seed,
      name: opts.name,
    },
    "shard options",
  );
  const started = Date.now();
  const progress = io.stderr.isTTY ? barReporter(io) : lineReporter(io, started);
  let result: ShardResult;
  try {
    result = await shardDataset(input, { ...jobOptions, onProgress: progress.update });
  } finally {
    progress.stop();
  }
  io.stdout.write(formatSummary(result, (Date.now() - started) / 1000));
  return result;
}

function barReporter(io: ShardCommandIo): ProgressReporter<ShardProgress> {
  return terminalBar<ShardProgress>(io, "sharding [{bar}] {percentage}% | {value}/{total} images | {phase}", (p) => ({
    value: p.imagesDone,
    total: p.imagesTotal,
    payload: { phase: p.phase },
  }));
}

function lineReporter(io: ShardCommandIo, started: number): ProgressReporter<ShardProgress> {
  const interval = io.progressIntervalMs ?? 10_000;
  let lastLine = 0;
  return {
    update(p) {
      const now = Date.now();
      const last = p.phase === "finalize";
      if (!last && p.phase !== "plan" && now - lastLine < interval) return;
      lastLine = now;
      const pct = p.imagesTotal > 0 ? ((100 * p.imagesDone) / p.imagesTotal).toFixed(0) : "100";
      io.stderr.write(
        `shard: ${p.phase}: ${p.imagesDone}/${p.imagesTotal} images (${pct}%), ${p.chunksDone}/${p.chunksTotal} shards, ${((now - started) / 1000).toFixed(1)} s\n`,
      );
    },
    stop() {},
  };
}

/** The end-of-job summary: counts, shards, rejections (the first few named), statistics, time. */
export function formatSummary(result: ShardResult, seconds: number): string {
  const m = result.manifest;
  const lines = [
    result.reused ? `already sharded (same fingerprint), nothing written: ${result.manifestUri}` : `wrote ${result.manifestUri}`,
    `  images: ${m.imageShape.join("x")}, classes: ${m.classNames ? m.classNames.length : "none"}`,
    `  train: ${result.counts.train} images in ${result.shards.train} shards`,
    `  test:  ${result.counts.test} images in ${result.shards.test} shards`,
    `  mean ${m.mean.map((v) => v.toFixed(4)).join(", ")}  std ${m.std.map((v) => v.toFixed(4)).join(", ")}`,
    `  rejected: ${result.rejected.length}`,
    ...result.rejected.slice(0, 5).map((r) => `    ${r.source}: ${r.reason}`),
    ...(result.rejected.length > 5 ? [`    … ${result.rejected.length - 5} more in manifest.json`] : []),
    `  fingerprint ${result.fingerprint.slice(0, 16)}…, ${seconds.toFixed(1)} s`,
  ];
  return lines.join("\n") + "\n";
}
