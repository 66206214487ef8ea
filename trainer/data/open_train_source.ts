// Turns a --data argument (dataset name, IDX folder, sharded folder or manifest URI) into a training source or an eval split.
import { NotFoundError } from "../errors.js";
import type { ObjectStore } from "../storage/object_store.js";
import { openParent, openStore } from "../storage/open_store.js";
import { LocalObjectStore } from "../storage/local_store.js";
import type { TrainBatchSource } from "./batch_source.js";
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_NAME,
  type ResolveDatasetOptions,
  resolveDatasetDir,
} from "./fashion_mnist.js";
import { InMemoryTrainSource, imageStats } from "./in_memory_source.js";
import { findIdxSplitKeys, type IdxSplitKeys, readIdxSplit } from "./idx_reader.js";
import { MANIFEST_KEY, readManifest } from "./manifest.js";
import { readShard } from "./shard_format.js";
import { ShardedTrainSource, type ShardedSourceOptions } from "./sharded_source.js";
import type { SplitName } from "./split_name.js";

export interface OpenTrainSourceOptions extends Omit<ShardedSourceOptions, "seed"> {
  seed: number;
  /** How `fashion-mnist` is looked up or downloaded. */
  datasetResolution?: ResolveDatasetOptions;
}

/** Every image and label of one split, in stored order (for the linear probe and kNN). */
export interface EvalSplit {
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  classNames?: string[];
  origin: string;
}

/** Where a --data argument points, once looked at. */
type DataLocation =
  | { kind: "sharded"; store: ObjectStore; manifestKey: string }
  | { kind: "idx"; store: ObjectStore; classNames?: string[]; keys: Record<SplitName, IdxSplitKeys> };

/**
 * Opens the training split of `data`: `fashion-mnist`, a folder of IDX files (in memory, reshuffled
 * each epoch), a folder holding manifest.json, or a manifest URI (…/manifest.json, local or s3://).
 */
export async function openTrainSource(data: string, options: OpenTrainSourceOptions): Promise<TrainBatchSource> {
  const location = await locate(data, options.datasetResolution);
  if (location.kind === "sharded") return ShardedTrainSource.open(location.store, location.manifestKey, options);
  const split = await readIdxSplit(location.store, "train", location.keys.train);
  const stats = await idxStats(location.store, location.keys.train, split.images);
  return new InMemoryTrainSource(
    { ...split, origin: location.store.baseUri, classNames: location.classNames, ...stats },
    { seed: options.seed, limit: options.limit },
  );
}

/** Reads every example of a split of `data` (up to `limit`) into memory, shards verified against the manifest. */
export async function openEvalSplit(
  data: string,
  split: SplitName,
  options: { limit?: number; datasetResolution?: ResolveDatasetOptions } = {},
): Promise<EvalSplit> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const location = await locate(data, options.datasetResolution);
  if (location.kind === "idx") {
    const s = await readIdxSplit(location.store, split, location.keys[split]);
    const count = Math.min(s.count, limit);
    const bytes = s.height * s.width;
    return {
      images: s.images.slice(0, count * bytes),
      labels: s.labels.slice(0, count),
      count,
      height: s.height,
      width: s.width,
      channels: 1,
      classNames: location.classNames,
      origin: location.store.baseUri,
    };
  }
  const manifest = await readManifest(location.store, location.manifestKey);
  const prefix = location.manifestKey.slice(0, location.manifestKey.lastIndexOf("/") + 1);
  const [height, width, channels] = manifest.imageShape;
  const bytesPerImage = height * width * channels;
  const count = Math.min(manifest.splits[split].count, limit);
  const images = new Uint8Array(count * bytesPerImage);
  const labels = new Int32Array(count);
  let at = 0;
  for (const entry of manifest.splits[split].shards) {
    if (at >= count) break;
    const shard = await readShard(
      location.store,
      prefix,
      entry,
      manifest.imageShape,
      manifest.classNames?.length ?? null,
    );
    const take = Math.min(shard.count, count - at);
    images.set(shard.images.subarray(0, take * bytesPerImage), at * bytesPerImage);
    labels.set(shard.labels.subarray(0, take), at);
    at += take;
  }
  return {
    images,
    labels,
    count,
    height,
    width,
    channels,
    classNames: manifest.classNames ?? undefined,
    origin: location.store.uriOf(location.manifestKey),
  };
}

async function locate(data: string, resolution?: ResolveDatasetOptions): Promise<DataLocation> {
  if (data === FASHION_MNIST_NAME) {
    const store = new LocalObjectStore(await resolveDatasetDir(FASHION_MNIST_NAME, resolution));
    return { kind: "idx", store, classNames: [...FASHION_MNIST_CLASSES], keys: await idxKeys(store) };
  }
  if (/(^|[/\\])manifest\.json$/.test(data)) {
    const { store, key } = openParent(data);
    return { kind: "sharded", store, manifestKey: key };
  }
  const store = openStore(data);
  if (await store.head(MANIFEST_KEY)) return { kind: "sharded", store, manifestKey: MANIFEST_KEY };
  return { kind: "idx", store, keys: await idxKeys(store) };
}

async function idxKeys(store: ObjectStore): Promise<Record<SplitName, IdxSplitKeys>> {
  const keys: string[] = [];
  for await (const info of store.list("")) keys.push(info.key);
  const train = findIdxSplitKeys(keys, "train");
  const test = findIdxSplitKeys(keys, "test");
  if (!train || !test) {
    throw new NotFoundError(
      `${store.baseUri} (manifest.json, or the IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte)`,
      `--data takes "${FASHION_MNIST_NAME}", a folder of IDX files, a folder made by \`ijepa shard\`, or the URI of its manifest.json`,
    );
  }
  return { train, test };
}

/** IDX statistics are computed once per file version and process. */
const statsCache = new Map<string, { mean: number[]; std: number[] }>();

async function idxStats(
  store: ObjectStore,
  keys: IdxSplitKeys,
  images: Uint8Array,
): Promise<{ mean: number[]; std: number[] }> {
  const info = await store.head(keys.images);
  const id = `${store.uriOf(keys.images)}|${info?.etag ?? ""}`;
  let stats = statsCache.get(id);
  if (!stats) {
    stats = imageStats(images, 1);
    statsCache.set(id, stats);
  }
  return stats;
}
