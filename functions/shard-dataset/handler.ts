// The shard-dataset Lambda's logic: the whole job in one call, or plan / work (one call per chunk, under a
// Distributed Map) / finalize; each a factory over the injected dependencies, each event validated by zod.
import { z } from "zod";
import { FASHION_MNIST_NAME } from "../../trainer/data/fashion_mnist.js";
import { type ShardInput, ShardInputSchema } from "../../trainer/data/shard_input.js";
import { type ShardJobOptions, openOutput, planShards } from "../../trainer/data/shard_plan.js";
import {
  type ShardChunkResult,
  type ShardResult,
  finalizeShards,
  loadPlan,
  requirePlan,
  savePlan,
  shardDataset,
  summarize,
  writeShardChunk,
} from "../../trainer/data/shard_writer.js";
import { ConfigError } from "../../trainer/errors.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import type { HandlerDeps } from "../handler_deps.js";
import { parseEvent } from "../parse_event.js";

const WorkEventSchema = ShardInputSchema.extend({ chunkIndex: z.number().int().nonnegative() });

const EXAMPLE_EVENT =
  '{"source": "s3://bucket/raw/cifar10", "format": "cifar", "output": "s3://bucket/datasets/cifar10"} ' +
  "(resolution, shardSize, grayscale, testFraction, seed, name optional)";
const EXAMPLE_WORK_EVENT =
  '{"source": …, "format": …, "output": …, "chunkIndex": 0} (the job input plus an index from the plan step)';

/** What travels back to the state machine: pointers and counts, never the data (rejections stay in the manifest). */
export interface ShardJobOutput {
  manifestUri: string;
  fingerprint: string;
  counts: ShardResult["counts"];
  shards: ShardResult["shards"];
  /** Files left out; the list with reasons is in the manifest. */
  rejected: number;
  reused: boolean;
}

/** The plan step's answer: the chunk indices the Map fans out over (none when the manifest is already published). */
export interface ShardPlanOutput {
  fingerprint: string;
  planUri: string | null;
  alreadyPublished: boolean;
  counts: { train: number; test: number };
  chunkIndices: number[];
}

/** A work step's answer: the one shard it wrote (or found written). */
export interface ShardWorkOutput {
  chunkIndex: number;
  split: ShardChunkResult["split"];
  shardKey: string | null;
  count: number;
  rejected: number;
  reused: ShardChunkResult["reused"];
}

const toOutput = (r: ShardResult): ShardJobOutput => ({
  manifestUri: r.manifestUri,
  fingerprint: r.fingerprint,
  counts: r.counts,
  shards: r.shards,
  rejected: r.rejected.length,
  reused: r.reused,
});

/**
 * The core opens stores synchronously, the injected opener may not: open the event's output and source
 * first (a dataset name such as fashion-mnist is found on disk by the core, not opened), then hand the core
 * those stores.
 */
async function jobOptions(deps: HandlerDeps, input: ShardInput): Promise<ShardJobOptions> {
  const opened = new Map<string, ObjectStore>();
  const sourceIsName = input.source === FASHION_MNIST_NAME && input.format === "idx";
  const locations = sourceIsName ? [input.output] : [input.output, input.source];
  for (const uri of locations) if (!opened.has(uri)) opened.set(uri, await deps.openStore(uri));
  return {
    openStore: (uri) => {
      const store = opened.get(uri);
      if (!store) throw new Error(`shard-dataset handler: ${uri} is neither the event's source nor its output`);
      return store;
    },
    datasetResolution: { env: deps.env },
  };
}

/** Whole job: {source, format, output, …} → manifest pointer. A repeat with the same input writes nothing. */
export function makeHandler(deps: HandlerDeps): (event: unknown) => Promise<ShardJobOutput> {
  return async (event) => {
    const input = parseEvent(ShardInputSchema, event, "shard-dataset", EXAMPLE_EVENT);
    return toOutput(await shardDataset(input, await jobOptions(deps, input)));
  };
}

/** Plans and stores the plan at <output>/parts/plan.json; returns the chunk indices for the Map to fan out over. */
export function makePlanHandler(deps: HandlerDeps): (event: unknown) => Promise<ShardPlanOutput> {
  return async (event) => {
    const input = parseEvent(ShardInputSchema, event, "shard-dataset plan", EXAMPLE_EVENT);
    const options = await jobOptions(deps, input);
    const plan = await planShards(input, options);
    const planUri = plan.alreadyPublished ? null : await savePlan(input, plan, options);
    return {
      fingerprint: plan.fingerprint,
      planUri,
      alreadyPublished: plan.alreadyPublished,
      counts: plan.counts,
      chunkIndices: plan.alreadyPublished ? [] : plan.chunks.map((c) => c.chunkIndex),
    };
  };
}

/** Writes chunk {chunkIndex} of the stored plan: one shard and its part file. */
export function makeWorkHandler(deps: HandlerDeps): (event: unknown) => Promise<ShardWorkOutput> {
  return async (event) => {
    const { chunkIndex, ...input } = parseEvent(WorkEventSchema, event, "shard-dataset work", EXAMPLE_WORK_EVENT);
    const options = await jobOptions(deps, input);
    const plan = await requirePlan(input, options);
    const chunk = plan.chunks[chunkIndex];
    if (!chunk) {
      throw new ConfigError(
        `chunkIndex: ${chunkIndex} is outside the plan's 0..${plan.chunks.length - 1}`,
        "use an index from the plan step's chunkIndices",
      );
    }
    const result = await writeShardChunk(input, chunk, options);
    return {
      chunkIndex,
      split: result.split,
      shardKey: result.shard?.images.key ?? null,
      count: result.shard?.count ?? 0,
      rejected: result.rejected.length,
      reused: result.reused,
    };
  };
}

/** Merges the parts into manifest.json (published last) and removes parts/; a repeat returns the manifest as it is. */
export function makeFinalizeHandler(deps: HandlerDeps): (event: unknown) => Promise<ShardJobOutput> {
  return async (event) => {
    const input = parseEvent(ShardInputSchema, event, "shard-dataset finalize", EXAMPLE_EVENT);
    const options = await jobOptions(deps, input);
    const stored = await loadPlan(input, options);
    const plan = stored ?? (await planShards(input, options));
    const manifest = await finalizeShards(input, plan, options);
    return toOutput(summarize(openOutput(input, options), manifest, stored === undefined && plan.alreadyPublished));
  };
}
