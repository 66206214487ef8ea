// Benchmark: sharding throughput (Fashion-MNIST IDX, a folder of generated JPEGs) and the sharded loader's batch throughput.
// Each measurement runs in its own child process so its peak RSS is its own. Usage:
//   npm run bench:shard [-- --json] [-- --images 2000 --side 64]
import { execFileSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { resolveDatasetDir } from "../trainer/data/fashion_mnist.js";
import { openShardedTrainSource } from "../trainer/data/sharded_source.js";
import { shardDataset } from "../trainer/data/shard_writer.js";

interface Measurement {
  name: string;
  images: number;
  seconds: number;
  imagesPerSecond: number;
  peakRssMiB: number;
  detail: string;
}

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};

function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = process.hrtime.bigint();
  const value = await work();
  return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

/** Phases run in a child: one JSON Measurement on stdout. */
async function runPhase(phase: string): Promise<Measurement> {
  const source = flag("source")!;
  const output = flag("output")!;
  if (phase === "shard-idx" || phase === "shard-jpeg") {
    const format = phase === "shard-idx" ? "idx" : "imagefolder";
    const resolution = phase === "shard-jpeg" ? Number(flag("side")) : undefined;
    const shardSize = flag("shard-size") ? Number(flag("shard-size")) : undefined;
    const { value, seconds } = await timed(() =>
      shardDataset({ source, format, output, resolution, shardSize, testFraction: 0.1 }),
    );
    const images = value.counts.train + value.counts.test;
    return {
      name:
        phase === "shard-idx"
          ? "shard fashion-mnist (IDX → .npy)"
          : `shard ${images} JPEGs (imagefolder → ${resolution}x${resolution})`,
      images,
      seconds,
      imagesPerSecond: images / seconds,
      peakRssMiB: peakRssMiB(),
      detail: `${value.shards.train + value.shards.test} shards, ${value.rejected.length} rejected`,
    };
  }
  if (phase === "loader") {
    const batchSize = 128;
    const reader = await openShardedTrainSource(path.join(source, "manifest.json"), { seed: 0 });
    const batches = reader.batchesPerEpoch(batchSize);
    const { seconds } = await timed(async () => {
      for (let i = 0; i < batches; i++) await reader.batch(0, i, batchSize);
    });
    const shards = reader.manifest.splits.train.shards.length;
    await reader.close();
    const images = batches * batchSize;
    return {
      name: `ShardedTrainSource.batch() ${reader.info.height}x${reader.info.width}, batch ${batchSize}, one epoch`,
      images,
      seconds,
      imagesPerSecond: images / seconds,
      peakRssMiB: peakRssMiB(),
      detail: `${shards} shards, window 2 shards, sha256-verified loads, prefetch on`,
    };
  }
  throw new Error(`unknown phase ${phase}`);
}

async function writeJpegFolder(dir: string, count: number, side: number): Promise<void> {
  const classes = 10;
  for (let c = 0; c < classes; c++) await fs.mkdir(path.join(dir, `class-${c}`), { recursive: true });
  const raw = Buffer.alloc(side * side * 3);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < side * side; p++) {
      raw[3 * p] = (p * 3 + i * 7) % 256;
      raw[3 * p + 1] = ((p % side) * 4 + i) % 256;
      raw[3 * p + 2] = (Math.floor(p / side) * 4 + i * 13) % 256;
    }
    const jpeg = await sharp(raw, { raw: { width: side, height: side, channels: 3 } })
      .jpeg({ quality: 85 })
      .toBuffer();
    await fs.writeFile(path.join(dir, `class-${i % classes}`, `img-${String(i).padStart(6, "0")}.jpg`), jpeg);
  }
}

async function main(): Promise<void> {
  const phase = flag("phase");
  if (phase) {
    process.stdout.write(JSON.stringify(await runPhase(phase)) + "\n");
    return;
  }
  const json = args.includes("--json");
  const count = Number(flag("images") ?? 2000);
  const side = Number(flag("side") ?? 64);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "ijepa-bench-shard-"));
  const child = (phaseName: string, extra: string[]): Measurement => {
    const out = execFileSync(
      process.execPath,
      [path.join(root, "bin/run-ts.js"), path.join(root, "bench/shard.ts"), "--phase", phaseName, ...extra],
      {
        encoding: "utf8",
        maxBuffer: 1 << 20,
      },
    );
    return JSON.parse(out.trim().split("\n").pop()!) as Measurement;
  };
  const report = (m: Measurement) => {
    if (json) process.stdout.write(JSON.stringify(m) + "\n");
    else {
      process.stdout.write(
        `${m.name}: ${m.images} images in ${m.seconds.toFixed(2)} s = ${m.imagesPerSecond.toFixed(0)} img/s, peak RSS ${m.peakRssMiB.toFixed(0)} MiB (${m.detail})\n`,
      );
    }
  };
  try {
    const fmnist = await resolveDatasetDir("fashion-mnist");
    report(child("shard-idx", ["--source", fmnist, "--output", path.join(work, "fmnist")]));
    const jpegs = path.join(work, "jpegs");
    await writeJpegFolder(jpegs, count, side);
    report(
      child("shard-jpeg", ["--source", jpegs, "--output", path.join(work, "jpeg-shards"), "--side", String(side)]),
    );
    // The loader reads many small shards (4096 images each) so windows and prefetch are exercised.
    const loaderShards = path.join(work, "fmnist-4096");
    await shardDataset({ source: fmnist, format: "idx", output: loaderShards, shardSize: 4096 });
    report(child("loader", ["--source", loaderShards]));
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

await main();
