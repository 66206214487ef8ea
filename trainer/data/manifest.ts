// The dataset manifest (manifest.json beside shards/): its zod schema, type, and validated reading.
import { z } from "zod";
import { CorruptDataError } from "../errors.js";
import { type ObjectStore, getJson } from "../storage/object_store.js";
import { SOURCE_FORMATS } from "./shard_input.js";
import { describeZodIssues } from "../errors.js";

import { MANIFEST_KEY } from "../run/dataset_layout.js";

export { MANIFEST_KEY };
export const MANIFEST_FORMAT_VERSION = 1;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits");
const count = z.number().int().nonnegative();

/** One stored .npy file: key relative to the manifest's folder, its SHA-256 and length. */
/** A key inside the dataset's folder: relative, no "..", "." or empty segments (a tampered manifest stays inside). */
const insideKey = z
  .string()
  .min(1)
  .refine(
    (k) =>
      !k.startsWith("/") && !/^[a-z][a-z0-9+.-]*:/i.test(k) && k.split("/").every((s) => ![".", ".."].includes(s) && s),
    { message: 'expected a relative key inside the dataset folder, like "shards/train-00000.images.npy" (no "..")' },
  );
export const ShardFileSchema = z.object({ key: insideKey, sha256: sha256Hex, sizeBytes: count });
export type ShardFile = z.infer<typeof ShardFileSchema>;

/** One shard: an images .npy of shape (count, H, W, C) and a labels .npy of shape (count,). */
export const ShardEntrySchema = z.object({
  images: ShardFileSchema,
  labels: ShardFileSchema,
  count: z.number().int().positive(),
});
export type ShardEntry = z.infer<typeof ShardEntrySchema>;

const SplitEntrySchema = z
  .object({ count, shards: z.array(ShardEntrySchema) })
  .refine(
    (s) => s.shards.reduce((n, sh) => n + sh.count, 0) === s.count,
    "count must equal the sum of its shards' counts",
  );

/** A source file left out of the dataset, and why (unreadable, not an image, …). */
export const RejectionSchema = z.object({ source: z.string(), reason: z.string() });
export type Rejection = z.infer<typeof RejectionSchema>;

export const DatasetManifestSchema = z
  .object({
    formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
    name: z.string().min(1),
    /** [height, width, channels] of every image. */
    imageShape: z.tuple([
      z.number().int().positive(),
      z.number().int().positive(),
      z.union([z.literal(1), z.literal(3)]),
    ]),
    /** Label i names classNames[i]; null when the source has no class names (labels may still exist, or be -1). */
    classNames: z.array(z.string()).nullable(),
    splits: z.object({ train: SplitEntrySchema, test: SplitEntrySchema }),
    /** SHA-256 over the source listing (keys, sizes, etags) and every parameter that changes the output. */
    fingerprint: sha256Hex,
    /** Per-channel mean and standard deviation over the train split, pixels scaled to [0, 1]. */
    mean: z.array(z.number().min(0).max(1)),
    std: z.array(z.number().min(0).max(1)),
    rejected: z.array(RejectionSchema),
    createdAt: z.iso.datetime(),
    tool: z.object({ name: z.string(), version: z.string() }),
    /** The source URI as given to the job (informational; not part of the fingerprint). */
    source: z.string(),
    format: z.enum(SOURCE_FORMATS),
    parameters: z.object({
      resolution: z.number().int().positive().nullable(),
      grayscale: z.boolean(),
      shardSize: z.number().int().positive(),
      testFraction: z.number().nullable(),
      seed: z.number().int().nullable(),
    }),
  })
  .superRefine((m, ctx) => {
    const channels = m.imageShape[2];
    if (m.mean.length !== channels)
      ctx.addIssue({ code: "custom", path: ["mean"], message: `needs ${channels} values (one per channel)` });
    if (m.std.length !== channels)
      ctx.addIssue({ code: "custom", path: ["std"], message: `needs ${channels} values (one per channel)` });
    const keys = new Set<string>();
    for (const split of ["train", "test"] as const) {
      for (const shard of m.splits[split].shards) {
        for (const key of [shard.images.key, shard.labels.key]) {
          if (keys.has(key))
            ctx.addIssue({ code: "custom", path: ["splits", split], message: `file ${key} is listed twice` });
          keys.add(key);
        }
      }
    }
  });

export type DatasetManifest = z.infer<typeof DatasetManifestSchema>;

/** Validates a manifest document; `uri` names it in the CorruptDataError raised when it does not match. */
export function parseManifest(document: unknown, uri: string): DatasetManifest {
  const parsed = DatasetManifestSchema.safeParse(document);
  if (parsed.success) return parsed.data;
  throw new CorruptDataError(
    uri,
    `not a valid dataset manifest: ${describeZodIssues(parsed.error)}`,
    "re-create the dataset with `ijepa shard` (into a fresh output folder)",
  );
}

/** Reads and validates a manifest; NotFoundError when absent. */
export async function readManifest(store: ObjectStore, key = MANIFEST_KEY): Promise<DatasetManifest> {
  return parseManifest(await getJson(store, key), store.uriOf(key));
}

/** Reads a manifest when one exists, undefined otherwise (still an error when present but invalid). */
export async function readManifestIfPresent(
  store: ObjectStore,
  key = MANIFEST_KEY,
): Promise<DatasetManifest | undefined> {
  if (!(await store.head(key))) return undefined;
  return readManifest(store, key);
}
