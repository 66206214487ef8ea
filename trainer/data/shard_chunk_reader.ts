// Reads the source records of one planned chunk (IDX slice, CIFAR records, or image files) into uint8 NHWC + labels.
import { NotFoundError } from "../errors.js";
import type { ObjectStore } from "../storage/object_store.js";
import { cifarRecordFormat, decodeCifarRecords } from "./cifar_reader.js";
import { decodeSquareImage } from "./image_decode.js";
import type { Rejection } from "./manifest.js";
import type { SourceFormat } from "./shard_input.js";
import type { ShardChunk } from "./shard_plan.js";
import { type SourceReadCache, readIdxPair, readSourceBytes } from "./source_read_cache.js";

/** The images of one chunk that could be used, and the files that could not. */
export interface ChunkExamples {
  /** `count` images, uint8 NHWC. */
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  rejected: Rejection[];
}

export interface ChunkReadOptions {
  cache?: SourceReadCache;
  /** Image files fetched and decoded at once (image folders only). */
  concurrency?: number;
}

export async function readChunkExamples(
  store: ObjectStore,
  format: SourceFormat,
  chunk: ShardChunk,
  options: ChunkReadOptions = {},
): Promise<ChunkExamples> {
  if (format === "idx") return readIdxChunk(store, chunk, options.cache);
  if (format === "cifar") return readCifarChunk(store, chunk, options.cache);
  return readImageFolderChunk(store, chunk, options.concurrency ?? 8);
}

async function readIdxChunk(store: ObjectStore, chunk: ShardChunk, cache?: SourceReadCache): Promise<ChunkExamples> {
  const [imagesKey, labelsKey] = chunk.sourceKeys;
  const split = await readIdxPair(store, imagesKey, labelsKey, cache);
  const { start, count } = chunk.records!;
  const bytesPerImage = split.height * split.width;
  if (start + count > split.count) {
    throw new Error(
      `chunk ${chunk.chunkIndex} wants records ${start}..${start + count - 1} of ${store.uriOf(imagesKey)}, which holds ${split.count}; the source changed since planning, plan again`,
    );
  }
  return {
    images: split.images.slice(start * bytesPerImage, (start + count) * bytesPerImage),
    labels: split.labels.slice(start, start + count),
    count,
    rejected: [],
  };
}

async function readCifarChunk(store: ObjectStore, chunk: ShardChunk, cache?: SourceReadCache): Promise<ChunkExamples> {
  const layout = cifarRecordFormat(chunk.cifarVariant!);
  const { start, count } = chunk.records!;
  const [h, w, c] = chunk.imageShape;
  const out = { images: new Uint8Array(count * h * w * c), labels: new Int32Array(count), at: 0 };
  let fileStart = 0;
  for (let i = 0; i < chunk.sourceKeys.length && out.at < count; i++) {
    const fileRecords = chunk.fileRecords![i];
    const first = Math.max(0, start + out.at - fileStart);
    const take = Math.min(fileRecords - first, count - out.at);
    if (take > 0) {
      const key = chunk.sourceKeys[i];
      decodeCifarRecords(await readSourceBytes(store, key, cache), layout, store.uriOf(key), first, take, out);
      out.at += take;
    }
    fileStart += fileRecords;
  }
  return { images: out.images, labels: out.labels, count, rejected: [] };
}

async function readImageFolderChunk(
  store: ObjectStore,
  chunk: ShardChunk,
  concurrency: number,
): Promise<ChunkExamples> {
  const [resolution, , channels] = chunk.imageShape;
  const bytesPerImage = resolution * resolution * channels;
  const slots = chunk.sourceKeys.length;
  const images = new Uint8Array(slots * bytesPerImage);
  const reasons: Array<string | undefined> = new Array(slots);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < slots; i = next++) {
      const key = chunk.sourceKeys[i];
      let bytes: Uint8Array;
      try {
        bytes = await store.get(key);
      } catch (err) {
        // A file gone since planning is skipped like a bad one. Anything else (throttling that outlasted
        // the retries, access denied, a dropped connection) fails the chunk so it is retried: recording
        // it as rejected would drop the image from the dataset for good, under an unchanged fingerprint.
        if (!(err instanceof NotFoundError)) throw err;
        reasons[i] = `cannot read: ${(err as Error).message.split("\n")[0]}`;
        continue;
      }
      const decoded = await decodeSquareImage(bytes, { resolution, channels });
      if ("reason" in decoded) reasons[i] = decoded.reason;
      else images.set(decoded.pixels, i * bytesPerImage);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, slots) }, worker));

  // Close the gaps the rejected files left, in place, keeping the planned order.
  const labels = new Int32Array(slots);
  const rejected: Rejection[] = [];
  let kept = 0;
  for (let i = 0; i < slots; i++) {
    if (reasons[i] !== undefined) {
      rejected.push({ source: chunk.sourceKeys[i], reason: reasons[i]! });
      continue;
    }
    if (kept !== i) images.copyWithin(kept * bytesPerImage, i * bytesPerImage, (i + 1) * bytesPerImage);
    labels[kept] = chunk.labels![i];
    kept++;
  }
  return { images: images.subarray(0, kept * bytesPerImage), labels: labels.slice(0, kept), count: kept, rejected };
}
