// The shard files: where they live (shards/<split>-<5 digits>.{images,labels}.npy), how they are encoded and verified.
import { CorruptDataError } from "../errors.js";
import { sha256Hex } from "../utils/sha256.js";
import type { ObjectStore } from "../storage/object_store.js";
import type { ShardEntry, ShardFile } from "./manifest.js";
import { decodeNpy, encodeNpy } from "./npy.js";
import type { SplitName } from "./split_name.js";

// The keys are the run contract's (trainer/run/dataset_layout.ts); re-exported for the readers that know them from here.
export { MAX_SHARDS_PER_SPLIT, SHARDS_PREFIX, shardKeys } from "../run/dataset_layout.js";

/** The two .npy files of a shard, ready to store. */
export interface EncodedShard {
  images: Uint8Array;
  labels: Uint8Array;
}

/** Encodes `count` images (uint8 NHWC) and their labels as .npy files NumPy can load. */
export function encodeShard(
  images: Uint8Array,
  labels: Int32Array,
  imageShape: readonly [number, number, number],
): EncodedShard {
  const count = labels.length;
  return {
    images: encodeNpy("|u1", [count, ...imageShape], images),
    labels: encodeNpy("<i4", [count], labels),
  };
}

/** A shard in memory after verification. */
export interface DecodedShard {
  images: Uint8Array;
  labels: Int32Array;
  count: number;
}

/**
 * Reads a shard listed in a manifest and checks it against the manifest: size, SHA-256, dtype and
 * shape of both files, and the label range. Any mismatch is a CorruptDataError naming the file's URI.
 * `prefix` is the manifest's folder relative to the store ("" when the store is opened on it).
 */
export async function readShard(
  store: ObjectStore,
  prefix: string,
  entry: ShardEntry,
  imageShape: readonly [number, number, number],
  numClasses: number | null,
): Promise<DecodedShard> {
  const [imageBytes, labelBytes] = await Promise.all([
    readVerified(store, prefix + entry.images.key, entry.images),
    readVerified(store, prefix + entry.labels.key, entry.labels),
  ]);
  const imagesUri = store.uriOf(prefix + entry.images.key);
  const labelsUri = store.uriOf(prefix + entry.labels.key);
  const images = decodeNpy(imageBytes, imagesUri);
  const labels = decodeNpy(labelBytes, labelsUri);
  const wantImages = [entry.count, ...imageShape];
  if (images.header.descr !== "|u1" || !sameShape(images.header.shape, wantImages)) {
    throw new CorruptDataError(
      imagesUri,
      `holds ${images.header.descr} (${images.header.shape.join(", ")}), the manifest says |u1 (${wantImages.join(", ")})`,
      reshardHint,
    );
  }
  if (labels.header.descr === "|u1" || !sameShape(labels.header.shape, [entry.count])) {
    throw new CorruptDataError(
      labelsUri,
      `holds ${labels.header.descr} (${labels.header.shape.join(", ")}), the manifest says <i4 (${entry.count},)`,
      reshardHint,
    );
  }
  const labelArray = labels.data as Int32Array;
  const limit = numClasses ?? Number.MAX_SAFE_INTEGER;
  for (let i = 0; i < labelArray.length; i++) {
    const label = labelArray[i];
    if (label < -1 || label >= limit) {
      throw new CorruptDataError(labelsUri, `label ${label} at index ${i} is outside -1..${limit - 1}`, reshardHint);
    }
  }
  return { images: images.data as Uint8Array, labels: labelArray, count: entry.count };
}

async function readVerified(store: ObjectStore, key: string, file: ShardFile): Promise<Uint8Array> {
  const bytes = await store.get(key);
  const uri = store.uriOf(key);
  if (bytes.length !== file.sizeBytes) {
    const what = bytes.length < file.sizeBytes ? "truncated" : "longer than recorded";
    throw new CorruptDataError(uri, `${what}: ${bytes.length} bytes, the manifest says ${file.sizeBytes}`, reshardHint);
  }
  const digest = sha256Hex(bytes);
  if (digest !== file.sha256) {
    throw new CorruptDataError(uri, `sha256 ${digest} does not match the manifest's ${file.sha256}`, reshardHint);
  }
  return bytes;
}

const reshardHint =
  "the shard was changed or damaged after it was written; re-create the dataset with `ijepa shard` into a fresh output";

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
