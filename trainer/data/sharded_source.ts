// A TrainBatchSource streaming a sharded dataset: shuffled shard windows, an LRU of decoded shards, the next window prefetched.
import type { ObjectStore } from "../storage/object_store.js";
import { openParent } from "../storage/open_store.js";
import type { ImageSourceInfo, RawBatch, TrainBatchSource } from "./batch_source.js";
import {
  type WindowedEpochOrder,
  checkBatchRequest,
  shardOfExample,
  shardStarts,
  windowedEpochOrder,
} from "./epoch_order.js";
import { type DatasetManifest, readManifest } from "./manifest.js";
import { type DecodedShard, readShard } from "./shard_format.js";

export interface ShardedSourceOptions {
  seed: number;
  /** Use only the first `limit` examples of the train split (shards laid end to end); default: all. */
  limit?: number;
  /** Consecutive shards (in the epoch's shard order) whose examples are shuffled together. Default 2. */
  windowShards?: number;
  /** Windows of decoded shards kept in memory: the one being read and the one prefetched. Default 2. */
  cachedWindows?: number;
  /** Load the next window in the background while the current one is read. Default true. */
  prefetch?: boolean;
}

/** Counters for tests and benchmarks. */
export interface ShardedSourceStats {
  /** Shard loads started (prefetches included). */
  shardLoads: number;
}

export class ShardedTrainSource implements TrainBatchSource {
  readonly info: ImageSourceInfo;
  readonly manifest: DatasetManifest;
  readonly stats: ShardedSourceStats = { shardLoads: 0 };
  private readonly store: ObjectStore;
  private readonly prefix: string;
  private readonly seed: number;
  private readonly windowShards: number;
  private readonly capacity: number;
  private readonly prefetch: boolean;
  /** Examples used from each train shard: all, except past `limit` (trailing shards dropped, the last cut). */
  private readonly counts: number[];
  private readonly starts: number[];
  private readonly bytesPerImage: number;
  /** Decoded shards by index; Map order is recency (oldest first). */
  private readonly shards = new Map<number, Promise<DecodedShard>>();
  /** Shards an in-flight batch() is copying from: never evicted. */
  private readonly pinned = new Map<number, number>();
  private readonly orders = new Map<number, WindowedEpochOrder>();
  private closed = false;

  /** Opens the manifest at `manifestKey` of `store` (shard keys are relative to the manifest's folder). */
  static async open(
    store: ObjectStore,
    manifestKey: string,
    options: ShardedSourceOptions,
  ): Promise<ShardedTrainSource> {
    const manifest = await readManifest(store, manifestKey);
    return new ShardedTrainSource(store, manifestKey, manifest, options);
  }

  private constructor(
    store: ObjectStore,
    manifestKey: string,
    manifest: DatasetManifest,
    options: ShardedSourceOptions,
  ) {
    this.store = store;
    this.prefix = manifestKey.includes("/") ? manifestKey.slice(0, manifestKey.lastIndexOf("/") + 1) : "";
    this.manifest = manifest;
    this.seed = options.seed;
    this.windowShards = options.windowShards ?? 2;
    this.capacity = Math.max(1, (options.cachedWindows ?? 2) * this.windowShards);
    this.prefetch = options.prefetch ?? true;
    const [height, width, channels] = manifest.imageShape;
    this.bytesPerImage = height * width * channels;
    this.counts = limitedCounts(
      manifest.splits.train.shards.map((s) => s.count),
      options.limit ?? Number.POSITIVE_INFINITY,
    );
    this.starts = shardStarts(this.counts);
    this.info = {
      origin: store.uriOf(manifestKey),
      height,
      width,
      channels,
      numExamples: this.starts[this.starts.length - 1],
      classNames: manifest.classNames ?? undefined,
      mean: manifest.mean,
      std: manifest.std,
    };
  }

  batchesPerEpoch(batchSize: number): number {
    return Math.floor(this.info.numExamples / batchSize);
  }

  async batch(epoch: number, index: number, batchSize: number): Promise<RawBatch> {
    if (this.closed) throw new Error(`${this.info.origin}: batch() after close()`);
    checkBatchRequest(epoch, index, batchSize, this.info.numExamples, this.info.origin);
    const { order, windows } = this.epochOrder(epoch);
    const first = index * batchSize;
    const indices = order.slice(first, first + batchSize);
    const shardOf = Array.from(indices, (g) => shardOfExample(this.starts, g));
    const needed = [...new Set(shardOf)];
    for (const s of needed) this.pinned.set(s, (this.pinned.get(s) ?? 0) + 1);
    try {
      const loaded = new Map<number, DecodedShard>();
      await Promise.all(needed.map(async (s) => loaded.set(s, await this.shard(s))));
      if (this.prefetch) this.prefetchAfter(epoch, windows, first + batchSize - 1);
      const images = new Uint8Array(batchSize * this.bytesPerImage);
      const labels = new Int32Array(batchSize);
      for (let b = 0; b < batchSize; b++) {
        const s = shardOf[b];
        const shard = loaded.get(s)!;
        const local = indices[b] - this.starts[s];
        images.set(
          shard.images.subarray(local * this.bytesPerImage, (local + 1) * this.bytesPerImage),
          b * this.bytesPerImage,
        );
        labels[b] = shard.labels[local];
      }
      return { images, labels, indices };
    } finally {
      for (const s of needed) {
        const n = this.pinned.get(s)! - 1;
        if (n === 0) this.pinned.delete(s);
        else this.pinned.set(s, n);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.shards.clear();
    this.orders.clear();
  }

  /** Indices of the shards decoded or being decoded, oldest use first. */
  cachedShards(): number[] {
    return [...this.shards.keys()];
  }

  private epochOrder(epoch: number): WindowedEpochOrder {
    let order = this.orders.get(epoch);
    if (!order) {
      order = windowedEpochOrder(this.counts, this.seed, epoch, this.windowShards);
      this.orders.set(epoch, order);
      // The current and the next epoch are all a sequential reader needs.
      for (const e of this.orders.keys()) if (this.orders.size > 2 && e !== epoch) this.orders.delete(e);
    }
    return order;
  }

  /** Starts loading the window after the one holding `position` (the next epoch's first one at the end). */
  private prefetchAfter(epoch: number, windows: WindowedEpochOrder["windows"], position: number): void {
    const w = windows.findIndex((win) => position < win.end);
    const next = w + 1 < windows.length ? windows[w + 1].shards : this.epochOrder(epoch + 1).windows[0].shards;
    // Only when it fits beside what is pinned, so prefetching never pushes out what a batch needs.
    const room = this.capacity - new Set([...this.pinned.keys(), ...next]).size;
    if (room < 0) return;
    for (const s of next) void this.shard(s).catch(() => undefined); // a failure resurfaces when a batch needs the shard
  }

  private shard(index: number): Promise<DecodedShard> {
    const cached = this.shards.get(index);
    if (cached) {
      this.shards.delete(index);
      this.shards.set(index, cached);
      return cached;
    }
    this.stats.shardLoads++;
    const entry = this.manifest.splits.train.shards[index];
    const loading = readShard(
      this.store,
      this.prefix,
      entry,
      this.manifest.imageShape,
      this.manifest.classNames?.length ?? null,
    );
    loading.catch(() => {
      if (this.shards.get(index) === loading) this.shards.delete(index);
    });
    this.shards.set(index, loading);
    this.evict();
    return loading;
  }

  private evict(): void {
    for (const s of [...this.shards.keys()]) {
      if (this.shards.size <= this.capacity) break;
      if (!this.pinned.has(s)) this.shards.delete(s);
    }
  }
}

/** The first `limit` examples of shards laid end to end, as per-shard counts (shards past the limit dropped). */
export function limitedCounts(counts: readonly number[], limit: number): number[] {
  if (!(limit >= 1)) throw new RangeError(`the train limit must be at least 1, got ${limit}`);
  const out: number[] = [];
  let left = limit;
  for (const c of counts) {
    if (left <= 0) break;
    out.push(Math.min(c, left));
    left -= c;
  }
  return out;
}

/** Opens a ShardedTrainSource from the URI of its manifest.json (local path, file:// or s3://). */
export async function openShardedTrainSource(
  manifestUri: string,
  options: ShardedSourceOptions,
): Promise<ShardedTrainSource> {
  const { store, key } = openParent(manifestUri);
  return ShardedTrainSource.open(store, key, options);
}
