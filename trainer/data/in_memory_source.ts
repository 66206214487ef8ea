// A TrainBatchSource over images already in memory (an IDX folder such as Fashion-MNIST), fully reshuffled every epoch.
import { addPixels, emptyPixelSums, meanStd } from "./channel_stats.js";
import type { ImageSourceInfo, RawBatch, TrainBatchSource } from "./batch_source.js";
import { checkBatchRequest, epochPermutation } from "./epoch_order.js";

export interface InMemoryImages {
  /** uint8 NHWC, `labels.length` images. */
  images: Uint8Array;
  labels: Int32Array;
  height: number;
  width: number;
  channels: number;
  origin: string;
  classNames?: string[];
  /** Per-channel statistics in [0, 1] units; computed from the images when absent. */
  mean?: number[];
  std?: number[];
}

export class InMemoryTrainSource implements TrainBatchSource {
  readonly info: ImageSourceInfo;
  private readonly data: InMemoryImages;
  private readonly seed: number;
  private readonly bytesPerImage: number;
  /** Images used: the first `count` of `data`. */
  private readonly count: number;
  /** The permutation of the last epoch asked for (training asks for one epoch at a time). */
  private cached: { epoch: number; order: Int32Array } | undefined;
  private closed = false;

  /**
   * `limit`: use only the first N images (stored order); the statistics stay those of all of `data` (or the given
   * mean/std), so a limited run normalizes like a full one.
   */
  constructor(data: InMemoryImages, options: { seed: number; limit?: number }) {
    this.bytesPerImage = data.height * data.width * data.channels;
    if (data.images.length !== data.labels.length * this.bytesPerImage) {
      throw new RangeError(
        `${data.origin}: ${data.images.length} image bytes do not make ${data.labels.length} images of ${data.height}x${data.width}x${data.channels}`,
      );
    }
    if (options.limit !== undefined && !(options.limit >= 1)) {
      throw new RangeError(`the train limit must be at least 1, got ${options.limit}`);
    }
    this.data = data;
    this.count = Math.min(data.labels.length, options.limit ?? Number.POSITIVE_INFINITY);
    this.seed = options.seed;
    const stats = data.mean && data.std ? { mean: data.mean, std: data.std } : imageStats(data.images, data.channels);
    this.info = {
      origin: data.origin,
      height: data.height,
      width: data.width,
      channels: data.channels,
      numExamples: this.count,
      classNames: data.classNames,
      mean: stats.mean,
      std: stats.std,
    };
  }

  batchesPerEpoch(batchSize: number): number {
    return Math.floor(this.info.numExamples / batchSize);
  }

  async batch(epoch: number, index: number, batchSize: number): Promise<RawBatch> {
    if (this.closed) throw new Error(`${this.info.origin}: batch() after close()`);
    checkBatchRequest(epoch, index, batchSize, this.info.numExamples, this.info.origin);
    if (this.cached?.epoch !== epoch)
      this.cached = { epoch, order: epochPermutation(this.info.numExamples, this.seed, epoch) };
    const indices = this.cached.order.slice(index * batchSize, (index + 1) * batchSize);
    const images = new Uint8Array(batchSize * this.bytesPerImage);
    const labels = new Int32Array(batchSize);
    for (let b = 0; b < batchSize; b++) {
      const i = indices[b];
      images.set(
        this.data.images.subarray(i * this.bytesPerImage, (i + 1) * this.bytesPerImage),
        b * this.bytesPerImage,
      );
      labels[b] = this.data.labels[i];
    }
    return { images, labels, indices };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cached = undefined;
  }
}

/** Per-channel mean/std in [0, 1] units of interleaved uint8 images. */
export function imageStats(images: Uint8Array, channels: number): { mean: number[]; std: number[] } {
  return meanStd(addPixels(emptyPixelSums(channels), images, channels));
}
