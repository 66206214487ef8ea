// Keeps the last few decoded source files of one job in memory, so planning and each chunk do not re-read a 30 MB IDX or CIFAR file.
import type { ObjectStore } from "../storage/object_store.js";
import { DataError } from "../errors.js";
import { MAX_IDX_BYTES, decodeIdxSplit, type IdxSplit } from "./idx_reader.js";

/**
 * A tiny LRU keyed by source URI, for the life of one job (sources are not expected to change
 * under a running job; the fingerprint catches changes between jobs).
 */
export class SourceReadCache {
  private readonly entries = new Map<string, Promise<unknown>>();

  constructor(private readonly maxEntries = 2) {}

  async getOrLoad<T>(id: string, load: () => Promise<T>): Promise<T> {
    let entry = this.entries.get(id) as Promise<T> | undefined;
    if (entry) {
      this.entries.delete(id); // re-insert: Map order is the LRU order
    } else {
      entry = load();
      entry.catch(() => this.entries.delete(id));
    }
    this.entries.set(id, entry);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return entry;
  }
}

/** Reads and decodes an IDX images/labels pair (checking magic, length and counts), through the cache when given. */
export async function readIdxPair(
  store: ObjectStore,
  imagesKey: string,
  labelsKey: string,
  cache?: SourceReadCache,
): Promise<IdxSplit> {
  const load = async (): Promise<IdxSplit> => {
    for (const key of [imagesKey, labelsKey]) {
      const size = (await store.head(key))?.sizeBytes ?? 0;
      if (size > MAX_IDX_BYTES) {
        throw new DataError(
          `${store.uriOf(key)} is ${size} bytes, over the ${MAX_IDX_BYTES}-byte limit for one IDX file`,
          "use an image folder for datasets this large",
        );
      }
    }
    const [imageBytes, labelBytes] = await Promise.all([store.get(imagesKey), store.get(labelsKey)]);
    return decodeIdxSplit(imageBytes, labelBytes, { images: store.uriOf(imagesKey), labels: store.uriOf(labelsKey) });
  };
  return cache ? cache.getOrLoad(`idx:${store.uriOf(imagesKey)}|${store.uriOf(labelsKey)}`, load) : load();
}

/** Reads a whole source object, through the cache when given. */
export async function readSourceBytes(store: ObjectStore, key: string, cache?: SourceReadCache): Promise<Uint8Array> {
  return cache ? cache.getOrLoad(`bytes:${store.uriOf(key)}`, () => store.get(key)) : store.get(key);
}
