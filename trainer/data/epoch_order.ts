// The order examples are visited in each epoch, computed from (seed, epoch) alone so any batch can be found without reading data.
import { Rng } from "../utils/rng.js";

/** A full shuffle of 0..n-1 for one epoch: Rng.fromSeed(seed, "epoch/<epoch>"). */
export function epochPermutation(n: number, seed: number, epoch: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  Rng.fromSeed(seed, `epoch/${epoch}`).shuffle(order);
  return order;
}

/** One window: a few consecutive shards (in the epoch's shard order) whose examples are shuffled together. */
export interface EpochWindow {
  shards: number[];
  /** Positions [start, end) of the epoch's sequence that this window fills. */
  start: number;
  end: number;
}

export interface WindowedEpochOrder {
  /** order[p] = index (in the train split, shards laid end to end) of the example at position p. */
  order: Int32Array;
  windows: EpochWindow[];
}

/**
 * Shards are permuted with Rng.fromSeed(seed, "shard-order/<epoch>"); window w takes the next
 * `windowShards` of them and shuffles their examples with Rng.fromSeed(seed, "window/<epoch>/<w>").
 * Reading positions in order therefore needs one window of shards at a time.
 */
export function windowedEpochOrder(
  shardCounts: readonly number[],
  seed: number,
  epoch: number,
  windowShards: number,
): WindowedEpochOrder {
  if (!Number.isInteger(windowShards) || windowShards < 1)
    throw new RangeError(`windowShards must be a positive integer, got ${windowShards}`);
  const starts = shardStarts(shardCounts);
  const total = starts[starts.length - 1];
  const shardOrder = Array.from(shardCounts, (_, i) => i);
  Rng.fromSeed(seed, `shard-order/${epoch}`).shuffle(shardOrder);
  const order = new Int32Array(total);
  const windows: EpochWindow[] = [];
  let position = 0;
  for (let w = 0; w * windowShards < shardOrder.length; w++) {
    const shards = shardOrder.slice(w * windowShards, (w + 1) * windowShards);
    const start = position;
    for (const s of shards) {
      for (let i = starts[s]; i < starts[s + 1]; i++) order[position++] = i;
    }
    Rng.fromSeed(seed, `window/${epoch}/${w}`).shuffle(order.subarray(start, position));
    windows.push({ shards, start, end: position });
  }
  return { order, windows };
}

/** Cumulative starts: shardStarts([3, 5]) = [0, 3, 8]. */
export function shardStarts(shardCounts: readonly number[]): number[] {
  const starts = [0];
  for (const c of shardCounts) starts.push(starts[starts.length - 1] + c);
  return starts;
}

/** Index of the shard holding example `index`, by binary search over shardStarts(). */
export function shardOfExample(starts: readonly number[], index: number): number {
  let lo = 0;
  let hi = starts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid] <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Rejects a batch request outside the epoch (the last partial batch is dropped, so it is outside too). */
export function checkBatchRequest(
  epoch: number,
  index: number,
  batchSize: number,
  examples: number,
  origin: string,
): void {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be a non-negative integer, got ${epoch}`);
  const batches = Math.floor(examples / batchSize);
  if (!Number.isInteger(index) || index < 0 || index >= batches) {
    throw new RangeError(
      `batch ${index} is outside 0..${batches - 1}: ${origin} has ${examples} training examples, ${batches} full batches of ${batchSize}`,
    );
  }
}
