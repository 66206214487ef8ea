// Lambda handlers for ShardDataset: the whole job in one call, or plan / work (one per chunk, Distributed Map) / finalize.
import { z } from "zod";
import { ConfigError, describeZodIssues } from "../../trainer/errors.js";
import { ShardInputSchema, parseShardInput } from "../../trainer/data/shard_input.js";
import { type ShardJobOptions, planShards } from "../../trainer/data/shard_plan.js";
import {
  type ShardResult,
  finalizeShards,
  loadPlan,
  requirePlan,
  savePlan,
  shardDataset,
  summarize,
  writeShardChunk,
} from "../../trainer/data/shard_writer.js";
import { openOutput } from "../../trainer/data/shard_plan.js";

const WorkEventSchema = ShardInputSchema.extend({ chunkIndex: z.number().int().nonnegative() });

/** What travels back to the state machine: pointers and counts, never the data (the rejected list stays in the manifest). */
export interface ShardJobOutput {
  manifestUri: string;
  fingerprint: string;
  counts: ShardResult["counts"];
  shards: ShardResult["shards"];
  /** Files left out; the list with reasons is in the manifest. */
  rejected: number;
  reused: boolean;
}

export function makeShardHandlers(options: ShardJobOptions = {}) {
  const toOutput = (r: ShardResult): ShardJobOutput => ({
    manifestUri: r.manifestUri,
    fingerprint: r.fingerprint,
    counts: r.counts,
    shards: r.shards,
    rejected: r.rejected.length,
    reused: r.reused,
  });
  return {
    /** Whole job: {source, format, output, …} → manifest pointer. A repeat with the same input writes nothing. */
    handler: async (event: unknown): Promise<ShardJobOutput> => toOutput(await shardDataset(parseShardInput(event, "shard-dataset event"), options)),

    /** Plans, stores the plan at <output>/.ijepa-shard-work/plan.json, returns the chunk indices for the Map. */
    planHandler: async (event: unknown) => {
      const input = parseShardInput(event, "shard-dataset plan event");
      const plan = await planShards(input, options);
      const planUri = plan.alreadyPublished ? null : await savePlan(input, plan, options);
      return {
        fingerprint: plan.fingerprint,
        planUri,
        alreadyPublished: plan.alreadyPublished,
        counts: plan.counts,
        chunkIndices: plan.alreadyPublished ? [] : plan.chunks.map((c) => c.chunkIndex),
      };
    },

    /** Writes chunk {chunkIndex} of the stored plan: one shard and its part file. */
    workHandler: async (event: unknown) => {
      const parsed = WorkEventSchema.safeParse(event);
      if (!parsed.success) throw new ConfigError(`invalid shard-dataset work event: ${describeZodIssues(parsed.error)}`, "pass the job input plus chunkIndex from the plan step");
      const { chunkIndex, ...input } = parsed.data;
      const plan = await requirePlan(input, options);
      const chunk = plan.chunks[chunkIndex];
      if (!chunk) throw new ConfigError(`chunkIndex: ${chunkIndex} is outside the plan's 0..${plan.chunks.length - 1}`, "use an index from the plan step's chunkIndices");
      const result = await writeShardChunk(input, chunk, options);
      return { chunkIndex, split: result.split, shardKey: result.shard?.images.key ?? null, count: result.shard?.count ?? 0, rejected: result.rejected.length, reused: result.reused };
    },

    /** Merges the parts into manifest.json (published last), removes its work folder; a repeat returns the manifest. */
    finalizeHandler: async (event: unknown): Promise<ShardJobOutput> => {
      const input = parseShardInput(event, "shard-dataset finalize event");
      const stored = await loadPlan(input, options);
      const plan = stored ?? (await planShards(input, options));
      const manifest = await finalizeShards(input, plan, options);
      return toOutput(summarize(openOutput(input, options), manifest, stored === undefined && plan.alreadyPublished));
    },
  };
}

export const { handler, planHandler, workHandler, finalizeHandler } = makeShardHandlers();
