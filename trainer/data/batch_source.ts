// What the training loop reads images from: random access to batch i of epoch e, deterministic from the seed.

/** Shape and statistics of the images a source yields. */
export interface ImageSourceInfo {
  /** Human-readable origin, e.g. "/usr/share/datasets/fashion-mnist" or "s3://ds/fmnist/manifest.json". */
  origin: string;
  height: number;
  width: number;
  channels: number;
  /** Examples in the training split. */
  numExamples: number;
  classNames?: string[];
  /** Per-channel mean and std of pixel values scaled to [0, 1]; used to normalise inputs. */
  mean: number[];
  std: number[];
}

/** One batch of raw images: uint8, NHWC, row-major, `batchSize * height * width * channels` bytes. */
export interface RawBatch {
  images: Uint8Array;
  /** Class index per image, or -1 where the source has no label. */
  labels: Int32Array;
  /** Index of each image in the source's training split (for debugging and for tests of the order). */
  indices: Int32Array;
}

/**
 * A training split that can hand out batch `index` of `epoch` in any order (so a resumed run reads
 * exactly what an uninterrupted one would), shuffled per epoch from the seed, dropping the last partial batch.
 */
export interface TrainBatchSource {
  readonly info: ImageSourceInfo;
  batchesPerEpoch(batchSize: number): number;
  batch(epoch: number, index: number, batchSize: number): Promise<RawBatch>;
  /** Releases caches, prefetches and open handles. */
  close(): Promise<void>;
}
