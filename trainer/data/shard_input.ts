// What a sharding job is asked to do (source, format, output and options), validated with zod, and its defaults.
import { describeZodIssues } from "../errors.js";
import { z } from "zod";
import { ConfigError } from "../errors.js";

export const SOURCE_FORMATS = ["idx", "cifar", "imagefolder"] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

/** Image side an image folder is resized and cropped to when no resolution is given (I-JEPA's 224). */
export const DEFAULT_IMAGE_FOLDER_RESOLUTION = 224;
/** Shards aim at this many image bytes when no shardSize is given. */
export const TARGET_SHARD_BYTES = 32 * 1024 * 1024;
export const DEFAULT_TEST_FRACTION = 0.1;

export const ShardInputSchema = z
  .object({
    /** Where the raw dataset is: a local folder, `file://…`, `s3://bucket/prefix`, or `fashion-mnist` (format idx). */
    source: z.string().min(1),
    format: z.enum(SOURCE_FORMATS),
    /** Folder or prefix that receives manifest.json and shards/. */
    output: z.string().min(1),
    /** Side of the square images (image folders only; IDX and CIFAR keep their native size). */
    resolution: z.number().int().min(8).max(4096).optional(),
    /** Images per shard; default: as many as fit in ~32 MiB. */
    shardSize: z.number().int().min(1).max(10_000_000).optional(),
    /** Decode image folders to one channel instead of three. */
    grayscale: z.boolean().optional(),
    /** Share of each class held out for test when the source has no train/test folders. */
    testFraction: z.number().min(0).lt(1).optional(),
    seed: z.number().int().min(0).max(0xffffffff).optional(),
    /** Dataset name recorded in the manifest; default: the output folder's last segment. */
    name: z.string().min(1).max(200).optional(),
  })
  .strict();

export type ShardInput = z.infer<typeof ShardInputSchema>;

/** Validates a job description; a bad field becomes a ConfigError naming the field and what it accepts. */
export function parseShardInput(raw: unknown, what = "shard input"): ShardInput {
  const parsed = ShardInputSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new ConfigError(`invalid ${what}: ${describeZodIssues(parsed.error)}`, shardInputHint);
}

const shardInputHint =
  `pass {source, format: ${SOURCE_FORMATS.map((f) => JSON.stringify(f)).join("|")}, output} ` +
  "plus optional resolution, shardSize, grayscale, testFraction, seed, name";

/** Every setting that changes the bytes a job writes, with defaults filled in; part of the fingerprint. */
export interface ShardParameters {
  format: SourceFormat;
  /** Output side for image folders; null where the native size is kept. */
  resolution: number | null;
  grayscale: boolean;
  shardSize: number;
  /** Null where the source's own split is used (it changes nothing then). */
  testFraction: number | null;
  /** Null where nothing random happens (IDX and CIFAR keep their published order). */
  seed: number | null;
}

/** Images per shard so one shard holds about TARGET_SHARD_BYTES of pixels. */
export function defaultShardSize(imageShape: readonly [number, number, number]): number {
  const bytesPerImage = imageShape[0] * imageShape[1] * imageShape[2];
  return Math.max(1, Math.floor(TARGET_SHARD_BYTES / bytesPerImage));
}
