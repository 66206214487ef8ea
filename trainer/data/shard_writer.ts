// Writing a sharded dataset: chunks → shards + parts, then one manifest published last; whole-job or plan/work/finalize.
import { z } from "zod";
import { CorruptDataError, DataError, IjepaError, NotFoundError } from "../errors.js";
import type { ObjectStore } from "../storage/object_store.js";
import { getJson } from "../storage/object_store.js";
import { MANIFEST_KEY } from "../run/dataset_layout.js";
import { type PixelSums, addPixels, emptyPixelSums, meanStd, mergePixelSums } from "./channel_stats.js";
import {
  type DatasetManifest,
  MANIFEST_FORMAT_VERSION,
  type Rejection,
  RejectionSchema,
  type ShardEntry,
  ShardEntrySchema,
  parseManifest,
  readManifestIfPresent,
} from "./manifest.js";
import { readChunkExamples } from "./shard_chunk_reader.js";
import { encodeShard } from "./shard_format.js";
import { PARTS_PREFIX, PLAN_KEY, SHARDS_PREFIX, partKey, shardKeys } from "../run/dataset_layout.js";
import { sha256Hex } from "../utils/sha256.js";
import { type ShardInput, parseShardInput } from "./shard_input.js";
import {
  SHARDER,
  type ShardChunk,
  type ShardJobOptions,
  type ShardPlan,
  ShardPlanSchema,
  openOutput,
  openSource,
  outputTakenError,
  planShards,
} from "./shard_plan.js";
import type { SplitName } from "./split_name.js";
import { SourceReadCache } from "./source_read_cache.js";
import { SHARD_WORK_PREFIX, isShardWorkOrShardKey } from "./shard_output_guard.js";

export { PARTS_PREFIX, PLAN_KEY, partKey } from "../run/dataset_layout.js";

const PixelSumsSchema = z.object({
  pixelCount: z.number().nonnegative(),
  sum: z.array(z.number()),
  sumSquares: z.array(z.number()),
});

/** What a chunk left behind: its shard (null when every file was rejected), its rejections and pixel sums. */
export const ShardPartSchema = z.object({
  fingerprint: z.string(),
  chunkIndex: z.number().int().nonnegative(),
  split: z.enum(["train", "test"]),
  shardIndex: z.number().int().nonnegative(),
  shard: ShardEntrySchema.nullable(),
  rejected: z.array(RejectionSchema),
  pixelSums: PixelSumsSchema,
});
export type ShardPart = z.infer<typeof ShardPartSchema>;

/** What writeShardChunk did: wrote the part, found it already written, or found the whole dataset published. */
export interface ShardChunkResult {
  chunkIndex: number;
  split: SplitName;
  shard: ShardEntry | null;
  rejected: Rejection[];
  reused: false | "part" | "manifest";
}

export interface ShardProgress {
  phase: "plan" | "write" | "finalize";
  chunksDone: number;
  chunksTotal: number;
  imagesDone: number;
  imagesTotal: number;
}

export interface ShardDatasetOptions extends ShardJobOptions {
  onProgress?: (progress: ShardProgress) => void;
}

/** The outcome of a whole job. */
export interface ShardResult {
  manifestUri: string;
  manifest: DatasetManifest;
  fingerprint: string;
  counts: Record<SplitName, number>;
  shards: Record<SplitName, number>;
  rejected: Rejection[];
  /** True when the output already held this dataset and nothing was written. */
  reused: boolean;
}

/**
 * Shards a whole dataset in this process: plan, every chunk in turn (one shard in memory at a
 * time), then the manifest, published last. Running it again on an unchanged source writes nothing.
 */
export async function shardDataset(rawInput: ShardInput, options: ShardDatasetOptions = {}): Promise<ShardResult> {
  const input = parseShardInput(rawInput);
  const jobOptions: ShardJobOptions = { ...options, sourceCache: options.sourceCache ?? new SourceReadCache() };
  const output = openOutput(input, jobOptions);
  const plan = await planShards(input, jobOptions);
  const imagesTotal = plan.counts.train + plan.counts.test;
  const report = (phase: ShardProgress["phase"], chunksDone: number, imagesDone: number) =>
    options.onProgress?.({ phase, chunksDone, chunksTotal: plan.chunks.length, imagesDone, imagesTotal });
  report("plan", 0, 0);
  if (!plan.alreadyPublished) {
    let imagesDone = 0;
    for (const chunk of plan.chunks) {
      await writeShardChunk(input, chunk, jobOptions);
      imagesDone += chunk.count;
      report("write", chunk.chunkIndex + 1, imagesDone);
    }
  }
  report("finalize", plan.chunks.length, imagesTotal);
  const manifest = await finalizeShards(input, plan, jobOptions);
  return summarize(output, manifest, plan.alreadyPublished);
}

/** Builds the job summary from a published manifest. */
export function summarize(output: ObjectStore, manifest: DatasetManifest, reused: boolean): ShardResult {
  return {
    manifestUri: output.uriOf(MANIFEST_KEY),
    manifest,
    fingerprint: manifest.fingerprint,
    counts: { train: manifest.splits.train.count, test: manifest.splits.test.count },
    shards: { train: manifest.splits.train.shards.length, test: manifest.splits.test.shards.length },
    rejected: manifest.rejected,
    reused,
  };
}

/**
 * Writes one chunk's shard (images .npy, labels .npy) and then its part file. Idempotent: a part
 * already there with the same fingerprint (and its shard files in place), or a published manifest
 * with that fingerprint, means nothing is written.
 */
export async function writeShardChunk(
  rawInput: ShardInput,
  chunk: ShardChunk,
  options: ShardJobOptions = {},
): Promise<ShardChunkResult> {
  const input = parseShardInput(rawInput);
  const output = openOutput(input, options);
  const base = { chunkIndex: chunk.chunkIndex, split: chunk.split };
  const published = await readManifestIfPresent(output);
  if (published) {
    if (published.fingerprint !== chunk.fingerprint)
      throw outputTakenError(output, published.fingerprint, chunk.fingerprint);
    const keys = shardKeys(chunk.split, chunk.shardIndex);
    const shard = published.splits[chunk.split].shards.find((s) => s.images.key === keys.images) ?? null;
    const rejected = published.rejected.filter((r) => chunk.sourceKeys.includes(r.source));
    return { ...base, shard, rejected, reused: "manifest" };
  }
  const existing = await readPartIfUsable(output, chunk);
  if (existing) return { ...base, shard: existing.shard, rejected: existing.rejected, reused: "part" };

  const source = await openSource(input, options);
  const examples = await readChunkExamples(source.store, input.format, chunk, { cache: options.sourceCache });
  let shard: ShardEntry | null = null;
  const pixelSums = emptyPixelSums(chunk.imageShape[2]);
  if (examples.count > 0) {
    const keys = shardKeys(chunk.split, chunk.shardIndex);
    const encoded = encodeShard(examples.images, examples.labels, chunk.imageShape);
    // Shard files first, part last: a part on the store always means its shard is complete.
    await output.put(keys.images, encoded.images, { contentType: "application/octet-stream" });
    await output.put(keys.labels, encoded.labels, { contentType: "application/octet-stream" });
    shard = {
      images: { key: keys.images, sha256: sha256Hex(encoded.images), sizeBytes: encoded.images.length },
      labels: { key: keys.labels, sha256: sha256Hex(encoded.labels), sizeBytes: encoded.labels.length },
      count: examples.count,
    };
    if (chunk.split === "train") addPixels(pixelSums, examples.images, chunk.imageShape[2]);
  }
  const part: ShardPart = {
    fingerprint: chunk.fingerprint,
    chunkIndex: chunk.chunkIndex,
    split: chunk.split,
    shardIndex: chunk.shardIndex,
    shard,
    rejected: examples.rejected,
    pixelSums,
  };
  await output.publish(partKey(chunk.chunkIndex), part);
  return { ...base, shard, rejected: examples.rejected, reused: false };
}

/** A part from an earlier run of this same chunk whose shard files are still in place, else undefined. */
async function readPartIfUsable(output: ObjectStore, chunk: ShardChunk): Promise<ShardPart | undefined> {
  const key = partKey(chunk.chunkIndex);
  if (!(await output.head(key))) return undefined;
  const parsed = ShardPartSchema.safeParse(await getJson(output, key).catch(() => undefined));
  if (!parsed.success || parsed.data.fingerprint !== chunk.fingerprint) return undefined;
  const shard = parsed.data.shard;
  if (shard && !(await filesInPlace(output, shard))) return undefined;
  return parsed.data;
}

async function filesInPlace(output: ObjectStore, shard: ShardEntry): Promise<boolean> {
  for (const file of [shard.images, shard.labels]) {
    const info = await output.head(file.key);
    if (!info || info.sizeBytes !== file.sizeBytes) return false;
  }
  return true;
}

/**
 * Merges every chunk's part into the manifest, computes mean/std from the train parts' pixel sums,
 * publishes manifest.json (the last write), then removes parts/ and any shard no manifest entry
 * names. An output that already holds this fingerprint's manifest is returned as it is.
 */
export async function finalizeShards(
  rawInput: ShardInput,
  plan: ShardPlan,
  options: ShardJobOptions = {},
): Promise<DatasetManifest> {
  const input = parseShardInput(rawInput);
  const output = openOutput(input, options);
  const published = await readManifestIfPresent(output);
  if (published) {
    if (published.fingerprint !== plan.fingerprint)
      throw outputTakenError(output, published.fingerprint, plan.fingerprint);
    // A finalize that stopped after publishing left its work files: finish the clean-up (idempotent).
    await removeWorkFiles(output, referencedShardKeys(published));
    return published;
  }
  const parts: ShardPart[] = [];
  for (const chunk of plan.chunks) {
    const key = partKey(chunk.chunkIndex);
    if (!(await output.head(key))) {
      throw new IjepaError(
        `${output.uriOf(key)} is missing: chunk ${chunk.chunkIndex} (${chunk.split} shard ${chunk.shardIndex}) has not been written`,
        "run the work step for that chunk (or the whole shard job) again; finished chunks are kept",
      );
    }
    const parsed = ShardPartSchema.safeParse(await getJson(output, key));
    if (!parsed.success || parsed.data.fingerprint !== plan.fingerprint) {
      throw new CorruptDataError(
        output.uriOf(key),
        "part does not belong to this plan (other fingerprint or invalid)",
        "run the work step for that chunk again",
      );
    }
    if (parsed.data.shard && !(await filesInPlace(output, parsed.data.shard))) {
      throw new CorruptDataError(
        output.uriOf(parsed.data.shard.images.key),
        "shard file missing or of the wrong size",
        "run the work step for that chunk again",
      );
    }
    parts.push(parsed.data);
  }

  const channels = plan.imageShape[2];
  const splitEntries = {
    train: { count: 0, shards: [] as ShardEntry[] },
    test: { count: 0, shards: [] as ShardEntry[] },
  };
  const rejected: Rejection[] = [...plan.rejected];
  const trainSums: PixelSums[] = [];
  for (const part of parts) {
    rejected.push(...part.rejected);
    if (!part.shard) continue;
    splitEntries[part.split].shards.push(part.shard);
    splitEntries[part.split].count += part.shard.count;
    if (part.split === "train") trainSums.push(part.pixelSums);
  }
  if (splitEntries.train.count === 0) {
    await removeWorkFiles(output, new Set());
    const example = rejected[0] ? ` (e.g. ${rejected[0].source}: ${rejected[0].reason})` : "";
    throw new DataError(
      `${plan.source}: empty dataset: none of the ${plan.counts.train} train images could be decoded${example}; nothing was published`,
      "check the files: JPEG, PNG or WebP that sharp can open",
    );
  }
  const { mean, std } = meanStd(mergePixelSums(trainSums, channels));
  const document: DatasetManifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    name: input.name ?? defaultName(output),
    imageShape: plan.imageShape,
    classNames: plan.classNames,
    splits: splitEntries,
    fingerprint: plan.fingerprint,
    mean,
    std,
    rejected,
    createdAt: new Date().toISOString(),
    tool: { name: SHARDER.name, version: SHARDER.version },
    source: plan.source,
    format: plan.format,
    parameters: {
      resolution: plan.parameters.resolution,
      grayscale: plan.parameters.grayscale,
      shardSize: plan.parameters.shardSize,
      testFraction: plan.parameters.testFraction,
      seed: plan.parameters.seed,
    },
  };
  const manifest = parseManifest(document, output.uriOf(MANIFEST_KEY)); // our own output must pass our own reader
  await output.publish(MANIFEST_KEY, manifest);
  await removeWorkFiles(output, referencedShardKeys(manifest));
  return manifest;
}

function referencedShardKeys(manifest: DatasetManifest): Set<string> {
  return new Set(
    [...manifest.splits.train.shards, ...manifest.splits.test.shards].flatMap((s) => [s.images.key, s.labels.key]),
  );
}

/**
 * Deletes the work files and every shard file not in `keep` (leftovers of an interrupted or failed run);
 * only names the sharder writes, so nothing else in the output is ever touched.
 */
async function removeWorkFiles(output: ObjectStore, keep: ReadonlySet<string>): Promise<void> {
  const doomed: string[] = [];
  for (const prefix of [PARTS_PREFIX, SHARDS_PREFIX]) {
    for await (const info of output.list(prefix)) {
      if (!keep.has(info.key) && isShardWorkOrShardKey(info.key)) doomed.push(info.key);
    }
  }
  for (const key of doomed) await output.delete(key);
}

/** Stores a plan for the fan-out's workers; leaves an identical plan untouched. */
export async function savePlan(rawInput: ShardInput, plan: ShardPlan, options: ShardJobOptions = {}): Promise<string> {
  const output = openOutput(parseShardInput(rawInput), options);
  const current = await loadPlan(rawInput, options).catch(() => undefined);
  if (current?.fingerprint !== plan.fingerprint) await output.publish(PLAN_KEY, plan);
  return output.uriOf(PLAN_KEY);
}

/** The stored plan, or undefined when none is stored. */
export async function loadPlan(rawInput: ShardInput, options: ShardJobOptions = {}): Promise<ShardPlan | undefined> {
  const output = openOutput(parseShardInput(rawInput), options);
  if (!(await output.head(PLAN_KEY))) return undefined;
  const parsed = ShardPlanSchema.safeParse(await getJson(output, PLAN_KEY));
  if (!parsed.success)
    throw new CorruptDataError(output.uriOf(PLAN_KEY), "not a valid shard plan", "run the plan step again");
  return parsed.data;
}

/** The stored plan; NotFoundError telling to run the plan step when there is none. */
export async function requirePlan(rawInput: ShardInput, options: ShardJobOptions = {}): Promise<ShardPlan> {
  const plan = await loadPlan(rawInput, options);
  if (!plan)
    throw new NotFoundError(openOutput(parseShardInput(rawInput), options).uriOf(PLAN_KEY), "run the plan step first");
  return plan;
}

function defaultName(output: ObjectStore): string {
  const segments = output.baseUri.replace(/\/+$/, "").split(/[/\\]/);
  return segments[segments.length - 1] || "dataset";
}
