// `ijepa shard`: its flags, the whole sharding job with a progress bar (TTY) or periodic lines, then a summary.
import { type Command, Option } from "commander";
import { SOURCE_FORMATS, type ShardInput, parseShardInput } from "../../trainer/data/shard_input.js";
import {
  type ShardDatasetOptions,
  type ShardProgress,
  type ShardResult,
  shardDataset,
} from "../../trainer/data/shard_writer.js";
import { type CommandIo, type ProgressReporter, processIo, terminalBar } from "./command_io.js";
import { int } from "./flag_parsers.js";

export function registerShard(program: Command): void {
  program
    .command("shard")
    .description("convert a dataset into shards (.npy) + manifest.json that training streams from")
    .requiredOption("--source <uri>", "folder or s3:// prefix holding the source dataset")
    .addOption(new Option("--format <format>", "source format").choices(SOURCE_FORMATS).makeOptionMandatory())
    .requiredOption("--out <uri>", "output folder or s3:// prefix (manifest.json is written last)")
    .option("--resolution <px>", "side of the square images (imagefolder: resize + centre crop)", int("--resolution"))
    .option("--shard-size <n>", "images per shard (default: ~32 MiB per shard)", int("--shard-size"))
    .option("--grayscale", "imagefolder: keep one channel")
    .option("--name <name>", "dataset name recorded in the manifest")
    .action(async (o) => {
      const { source, format, out, resolution, shardSize, grayscale, name } = o;
      await runShardCommand({ source, format, out, resolution, shardSize, grayscale, name });
    });
}

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
    result.reused
      ? `already sharded (same fingerprint), nothing written: ${result.manifestUri}`
      : `wrote ${result.manifestUri}`,
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
