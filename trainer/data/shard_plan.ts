// Planning a sharding job: list and check the source, fix every shard's contents as a chunk, and fingerprint it all.
import { createHash } from "node:crypto";
import { z } from "zod";
import { ConfigError, DataError, NotFoundError } from "../errors.js";
import { LocalObjectStore } from "../storage/local_store.js";
import type { ObjectInfo, ObjectStore } from "../storage/object_store.js";
import { openStore as openStoreFromUri } from "../storage/open_store.js";
import { CIFAR_SIDE, cifarRecordCount, findCifarLayout, parseCifarClassNames } from "./cifar_reader.js";
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_NAME,
  type ResolveDatasetOptions,
  resolveDatasetDir,
} from "./fashion_mnist.js";
import { findIdxSplitKeys, idxFileNames } from "./idx_reader.js";
import { layOutImageFolder } from "./image_folder_layout.js";
import { type Rejection, RejectionSchema, readManifestIfPresent } from "./manifest.js";
import { readIdxPair, type SourceReadCache } from "./source_read_cache.js";
import { MANIFEST_KEY, MAX_SHARDS_PER_SPLIT } from "../run/dataset_layout.js";
import {
  DEFAULT_IMAGE_FOLDER_RESOLUTION,
  DEFAULT_TEST_FRACTION,
  type ShardInput,
  type ShardParameters,
  SOURCE_FORMATS,
  defaultShardSize,
  parseShardInput,
} from "./shard_input.js";
import { SPLIT_NAMES, type SplitName } from "./split_name.js";
import { requireFolderLocation } from "../storage/folder_location.js";
import { refuseForeignFiles, refuseOverlappingSourceAndOutput } from "./shard_output_guard.js";

/** Recorded in every manifest and part of the fingerprint: bump `version` whenever the same input would give other bytes. */
export const SHARDER = { name: "ijepa-aws shard", version: "1" } as const;

const imageShape = z.tuple([
  z.number().int().positive(),
  z.number().int().positive(),
  z.union([z.literal(1), z.literal(3)]),
]);

/** One unit of work: the source records that make up one shard. Self-contained, so a worker needs only it and the job input. */
export const ShardChunkSchema = z.object({
  chunkIndex: z.number().int().nonnegative(),
  fingerprint: z.string(),
  split: z.enum(["train", "test"]),
  shardIndex: z.number().int().nonnegative(),
  imageShape,
  /** Images the chunk is planned to hold (fewer end up in the shard when some fail to decode). */
  count: z.number().int().positive(),
  /** Source keys the chunk reads: [images, labels] for IDX, the data files it spans for CIFAR, the image files for a folder. */
  sourceKeys: z.array(z.string()).min(1),
  /** IDX and CIFAR: records [start, start + count) of sourceKeys' records laid end to end. */
  records: z.object({ start: z.number().int().nonnegative(), count: z.number().int().positive() }).optional(),
  /** CIFAR: records in each of sourceKeys, and which release's record layout they use. */
  fileRecords: z.array(z.number().int().nonnegative()).optional(),
  cifarVariant: z.union([z.literal(10), z.literal(100)]).optional(),
  /** Image folder: label of each of sourceKeys. */
  labels: z.array(z.number().int().min(-1)).optional(),
});
export type ShardChunk = z.infer<typeof ShardChunkSchema>;

export const ShardPlanSchema = z.object({
  fingerprint: z.string(),
  source: z.string(),
  format: z.enum(SOURCE_FORMATS),
  parameters: z.object({
    format: z.enum(SOURCE_FORMATS),
    resolution: z.number().int().nullable(),
    grayscale: z.boolean(),
    shardSize: z.number().int().positive(),
    testFraction: z.number().nullable(),
    seed: z.number().int().nullable(),
  }),
  imageShape,
  classNames: z.array(z.string()).nullable(),
  /** Images planned per split, before decode failures. */
  counts: z.object({ train: z.number().int(), test: z.number().int() }),
  /** Files left out while planning (not images by name, outside the split folders). */
  rejected: z.array(RejectionSchema),
  chunks: z.array(ShardChunkSchema),
  /** True when the output already holds a manifest with this fingerprint: nothing is left to do. */
  alreadyPublished: z.boolean(),
});
export type ShardPlan = z.infer<typeof ShardPlanSchema>;

/** How a job reaches its stores; tests and handlers may inject their own opener. */
export interface ShardJobOptions {
  openStore?: (uri: string) => ObjectStore;
  /** Options for resolving the `fashion-mnist` source name. */
  datasetResolution?: ResolveDatasetOptions;
  /** Keeps the last decoded IDX split / CIFAR file between planning and chunks of one process. */
  sourceCache?: SourceReadCache;
}

/** The opened source: its store and the URI shown in messages and manifests. */
export interface OpenedSource {
  store: ObjectStore;
  uri: string;
  /** Set when the source was a dataset name rather than a location. */
  datasetName?: string;
}

export async function openSource(input: ShardInput, options: ShardJobOptions = {}): Promise<OpenedSource> {
  if (input.source === FASHION_MNIST_NAME && input.format === "idx") {
    const dir = await resolveDatasetDir(FASHION_MNIST_NAME, options.datasetResolution);
    return { store: new LocalObjectStore(dir), uri: dir, datasetName: FASHION_MNIST_NAME };
  }
  const store = (options.openStore ?? openStoreFromUri)(input.source);
  return { store, uri: store.baseUri };
}

export function openOutput(input: ShardInput, options: ShardJobOptions = {}): ObjectStore {
  return (options.openStore ?? openStoreFromUri)(input.output);
}

/**
 * Plans a job without writing anything: lists the source, checks it (IDX magic and counts, CIFAR
 * record sizes, at least one image), decides what goes into every shard, and computes the
 * fingerprint. Refuses an output whose manifest has another fingerprint.
 */
export async function planShards(rawInput: ShardInput, options: ShardJobOptions = {}): Promise<ShardPlan> {
  const input = parseShardInput(rawInput);
  const source = await openSource(input, options);
  requireFolderLocation(input.output, "--out");
  const output = openOutput(input, options);
  refuseOverlappingSourceAndOutput(source.store, output);
  await refuseForeignFiles(output);
  const listing: ObjectInfo[] = [];
  for await (const info of source.store.list("")) listing.push(info);
  if (listing.length === 0) {
    throw new NotFoundError(
      source.uri,
      `no files there; --source must be a folder or prefix holding the ${input.format} dataset (check the path and spelling)`,
    );
  }
  const layout =
    input.format === "idx"
      ? await planIdx(input, source, listing, options)
      : input.format === "cifar"
        ? await planCifar(input, source, listing)
        : planImageFolder(input, source, listing);

  const fingerprint = fingerprintOf(layout.parameters, layout.fingerprintObjects, layout.classNames);
  const chunks: ShardChunk[] = [];
  for (const split of SPLIT_NAMES) {
    const units = layout.units[split];
    if (units.length > MAX_SHARDS_PER_SPLIT) {
      throw new ConfigError(
        `the ${split} split needs ${units.length} shards, more than the ${MAX_SHARDS_PER_SPLIT} shard names allow`,
        "raise shardSize",
      );
    }
    units.forEach((unit, shardIndex) => {
      chunks.push({
        ...unit,
        chunkIndex: chunks.length,
        fingerprint,
        split,
        shardIndex,
        imageShape: layout.imageShape,
      });
    });
  }
  const existing = await readManifestIfPresent(output);
  if (existing && existing.fingerprint !== fingerprint)
    throw outputTakenError(output, existing.fingerprint, fingerprint);
  return {
    fingerprint,
    source: source.uri,
    format: input.format,
    parameters: layout.parameters,
    imageShape: layout.imageShape,
    classNames: layout.classNames,
    counts: { train: sumCounts(layout.units.train), test: sumCounts(layout.units.test) },
    rejected: layout.rejected,
    chunks,
    alreadyPublished: existing !== undefined,
  };
}

/** The error for an output that already holds a different dataset: never overwrite half of it. */
export function outputTakenError(output: ObjectStore, existing: string, wanted: string): ConfigError {
  return new ConfigError(
    `${output.uriOf(MANIFEST_KEY)} already holds a dataset with fingerprint ${existing.slice(0, 12)}…, but this source and these options give ${wanted.slice(0, 12)}…`,
    `choose another output, or delete ${output.baseUri} first if the old dataset is no longer needed`,
  );
}

type ChunkUnit = Pick<ShardChunk, "count" | "sourceKeys" | "records" | "fileRecords" | "cifarVariant" | "labels">;

interface SourceLayout {
  parameters: ShardParameters;
  imageShape: [number, number, 1 | 3];
  classNames: string[] | null;
  units: Record<SplitName, ChunkUnit[]>;
  fingerprintObjects: ObjectInfo[];
  rejected: Rejection[];
}

async function planIdx(
  input: ShardInput,
  source: OpenedSource,
  listing: ObjectInfo[],
  options: ShardJobOptions,
): Promise<SourceLayout> {
  const keys = listing.map((o) => o.key);
  const units: Record<SplitName, ChunkUnit[]> = { train: [], test: [] };
  const objects: ObjectInfo[] = [];
  let shape: [number, number, 1] | undefined;
  let shardSize = 0;
  for (const split of SPLIT_NAMES) {
    const found = findIdxSplitKeys(keys, split);
    if (!found) {
      throw new NotFoundError(
        `${source.uri} (${idxFileNames(split, "images")[0]} and ${idxFileNames(split, "labels")[0]}, raw or .gz)`,
        "an IDX source is a folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each raw or .gz)",
      );
    }
    const decoded = await readIdxPair(source.store, found.images, found.labels, options.sourceCache);
    objects.push(...listing.filter((o) => o.key === found.images || o.key === found.labels));
    const splitShape: [number, number, 1] = [decoded.height, decoded.width, 1];
    if (shape && (shape[0] !== splitShape[0] || shape[1] !== splitShape[1])) {
      throw new DataError(
        `${source.store.uriOf(found.images)} holds ${splitShape[0]}x${splitShape[1]} images, the train split ${shape[0]}x${shape[1]}`,
      );
    }
    shape = splitShape;
    shardSize = input.shardSize ?? defaultShardSize(shape);
    for (let start = 0; start < decoded.count; start += shardSize) {
      const count = Math.min(shardSize, decoded.count - start);
      units[split].push({ count, sourceKeys: [found.images, found.labels], records: { start, count } });
    }
  }
  refuseResolution(input, shape!);
  if (units.train.length === 0)
    throw new DataError(`${source.uri}: the train split holds no images`, "an empty dataset cannot be sharded");
  return {
    parameters: { format: "idx", resolution: null, grayscale: false, shardSize, testFraction: null, seed: null },
    imageShape: shape!,
    classNames: source.datasetName === FASHION_MNIST_NAME ? [...FASHION_MNIST_CLASSES] : null,
    units,
    fingerprintObjects: objects,
    rejected: [],
  };
}

async function planCifar(input: ShardInput, source: OpenedSource, listing: ObjectInfo[]): Promise<SourceLayout> {
  refuseOption(input, "grayscale", input.grayscale !== true, "CIFAR is stored in colour; shard it as it is");
  refuseResolution(input, [CIFAR_SIDE, CIFAR_SIDE]);
  const layout = findCifarLayout(listing.map((o) => o.key));
  if (!layout) {
    throw new NotFoundError(
      `${source.uri} (CIFAR binary files)`,
      "a CIFAR source holds data_batch_1.bin … data_batch_5.bin + test_batch.bin (CIFAR-10) or train.bin + test.bin (CIFAR-100), as in the *-binary.tar.gz releases",
    );
  }
  const infoOf = new Map(listing.map((o) => [o.key, o]));
  const shape: [number, number, 3] = [CIFAR_SIDE, CIFAR_SIDE, 3];
  const shardSize = input.shardSize ?? defaultShardSize(shape);
  const units: Record<SplitName, ChunkUnit[]> = { train: [], test: [] };
  for (const split of SPLIT_NAMES) {
    const files = layout.files[split];
    const perFile = files.map((key) => cifarRecordCount(infoOf.get(key)!.sizeBytes, layout, source.store.uriOf(key)));
    const fileStart = perFile.map((_, i) => perFile.slice(0, i).reduce((a, b) => a + b, 0));
    const total = perFile.reduce((a, b) => a + b, 0);
    for (let start = 0; start < total; start += shardSize) {
      const end = Math.min(total, start + shardSize);
      const spanned = files.map((_, i) => i).filter((i) => fileStart[i] < end && fileStart[i] + perFile[i] > start);
      const first = spanned[0];
      units[split].push({
        count: end - start,
        sourceKeys: spanned.map((i) => files[i]),
        fileRecords: spanned.map((i) => perFile[i]),
        cifarVariant: layout.variant,
        records: { start: start - fileStart[first], count: end - start },
      });
    }
  }
  if (units.train.length === 0)
    throw new DataError(`${source.uri}: the CIFAR train files hold no records`, "an empty dataset cannot be sharded");
  let classNames: string[] | null = null;
  if (layout.classNamesKey) {
    const text = new TextDecoder().decode(await source.store.get(layout.classNamesKey));
    classNames = parseCifarClassNames(text, layout, source.store.uriOf(layout.classNamesKey));
  }
  const used = new Set([
    ...layout.files.train,
    ...layout.files.test,
    ...(layout.classNamesKey ? [layout.classNamesKey] : []),
  ]);
  return {
    parameters: { format: "cifar", resolution: null, grayscale: false, shardSize, testFraction: null, seed: null },
    imageShape: shape,
    classNames,
    units,
    fingerprintObjects: listing.filter((o) => used.has(o.key)),
    rejected: [],
  };
}

function planImageFolder(input: ShardInput, source: OpenedSource, listing: ObjectInfo[]): SourceLayout {
  const resolution = input.resolution ?? DEFAULT_IMAGE_FOLDER_RESOLUTION;
  const grayscale = input.grayscale ?? false;
  const testFraction = input.testFraction ?? DEFAULT_TEST_FRACTION;
  const seed = input.seed ?? 0;
  const shape: [number, number, 1 | 3] = [resolution, resolution, grayscale ? 1 : 3];
  const shardSize = input.shardSize ?? defaultShardSize(shape);
  const layout = layOutImageFolder(
    listing.map((o) => o.key),
    { testFraction, seed },
  );
  if (layout.examples.train.length === 0) {
    const why =
      layout.rejected.length > 0
        ? `; ${layout.rejected.length} files were not usable, e.g. ${layout.rejected[0].source}: ${layout.rejected[0].reason}`
        : "";
    throw new DataError(
      `${source.uri}: empty dataset: no .jpg, .jpeg, .png or .webp images for the train split${why}`,
      "put images in <source>/<class>/ folders (or directly in <source>/ for unlabeled data)",
    );
  }
  const units: Record<SplitName, ChunkUnit[]> = { train: [], test: [] };
  for (const split of SPLIT_NAMES) {
    const examples = layout.examples[split];
    for (let start = 0; start < examples.length; start += shardSize) {
      const slice = examples.slice(start, start + shardSize);
      units[split].push({
        count: slice.length,
        sourceKeys: slice.map((e) => e.key),
        labels: slice.map((e) => e.label),
      });
    }
  }
  return {
    parameters: {
      format: "imagefolder",
      resolution,
      grayscale,
      shardSize,
      testFraction: layout.ownSplit ? null : testFraction,
      seed,
    },
    imageShape: shape,
    classNames: layout.classNames,
    units,
    fingerprintObjects: listing,
    rejected: layout.rejected,
  };
}

/** SHA-256 over the sharder version, the parameters, the class names and each source object's key, size and etag. */
export function fingerprintOf(
  parameters: ShardParameters,
  objects: readonly ObjectInfo[],
  classNames: string[] | null,
): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ sharder: SHARDER, parameters, classNames }));
  for (const o of [...objects].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    hash.update(`\n${JSON.stringify([o.key, o.sizeBytes, o.etag])}`);
  }
  return hash.digest("hex");
}

function refuseResolution(input: ShardInput, native: readonly [number, number] | readonly number[]): void {
  if (input.resolution !== undefined && (input.resolution !== native[0] || input.resolution !== native[1])) {
    throw new ConfigError(
      `resolution ${input.resolution} was asked for a ${input.format} source, whose images are ${native[0]}x${native[1]}`,
      `leave resolution out for ${input.format} sources (it applies to image folders); the trainer resizes as its config says`,
    );
  }
}

function refuseOption(input: ShardInput, field: "grayscale", ok: boolean, why: string): void {
  if (input[field] !== undefined && !ok)
    throw new ConfigError(
      `${field}: ${input[field]} does not apply to ${input.format} sources: ${why}`,
      `leave ${field} out`,
    );
}

function sumCounts(units: ChunkUnit[]): number {
  return units.reduce((n, u) => n + u.count, 0);
}
