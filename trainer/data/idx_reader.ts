// Reader for MNIST-style IDX files (raw or .gz): the images/labels pair of each split, as uint8 NHWC + int labels.
import { constants as zlibConstants, gunzipSync } from "node:zlib";
import { DataError, NotFoundError } from "../errors.js";
import { LocalObjectStore } from "../storage/local_store.js";
import type { ObjectStore } from "../storage/object_store.js";
import type { SplitName } from "./split_name.js";

const IDX_IMAGES_MAGIC = 0x00000803;
const IDX_LABELS_MAGIC = 0x00000801;

/** One split of an IDX dataset, decoded. */
export interface IdxSplit {
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: 1;
}

/** Where the two files of one split live, as keys of the store they were found in. */
export interface IdxSplitKeys {
  images: string;
  labels: string;
}

/** File-name stem of each split in the MNIST layout ("t10k" is the test split). */
const SPLIT_STEM: Record<SplitName, string> = { train: "train", test: "t10k" };

/**
 * The names a split's file may have: the canonical `train-images-idx3-ubyte(.gz)` and the
 * `train-images.idx3-ubyte` spelling some mirrors use.
 */
export function idxFileNames(split: SplitName, kind: "images" | "labels"): string[] {
  const stem = SPLIT_STEM[split];
  const dims = kind === "images" ? 3 : 1;
  const names = [`${stem}-${kind}-idx${dims}-ubyte`, `${stem}-${kind}.idx${dims}-ubyte`];
  return names.flatMap((n) => [`${n}.gz`, n]);
}

/** Every name any of the four files may have (for recognising an IDX folder). */
export const IDX_REQUIRED_FILES: ReadonlyArray<{ split: SplitName; kind: "images" | "labels"; names: string[] }> = (
  ["train", "test"] as const
).flatMap((split) =>
  (["images", "labels"] as const).map((kind) => ({ split, kind, names: idxFileNames(split, kind) })),
);

/**
 * Finds a split's two files among `keys` (a listing of the source), matching by base name so the
 * files may sit in a subfolder (e.g. `fashion/raw/`). Undefined when either is missing.
 */
export function findIdxSplitKeys(keys: readonly string[], split: SplitName): IdxSplitKeys | undefined {
  const pick = (kind: "images" | "labels"): string | undefined => {
    const names = idxFileNames(split, kind);
    const matches = keys.filter((k) => names.includes(baseName(k)));
    // Prefer the shallowest match, then the .gz, so a stray copy deeper down does not win.
    matches.sort(
      (a, b) => a.split("/").length - b.split("/").length || names.indexOf(baseName(a)) - names.indexOf(baseName(b)),
    );
    return matches[0];
  };
  const images = pick("images");
  const labels = pick("labels");
  return images && labels ? { images, labels } : undefined;
}

/** The most bytes one IDX file may hold once inflated (Fashion-MNIST's largest is 47 MB). */
export const MAX_IDX_BYTES = 2 * 1024 ** 3;
/** Deflate cannot shrink data by more than ~1032:1, so a .gz that declares more than this per byte lies (a bomb). */
const MAX_DEFLATE_RATIO = 1032;

/**
 * Decompresses gzip bytes (recognised by their magic); returns other bytes as they are. The IDX header
 * is inflated first and its declared size checked against MAX_IDX_BYTES and what the compressed size
 * can hold; the whole file is then inflated with that size as a hard cap, so a gzip bomb stops there.
 */
export function gunzipIfNeeded(bytes: Uint8Array, name: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const declared = declaredIdxBytes(bytes, name);
  try {
    return new Uint8Array(gunzipSync(bytes, declared === undefined ? {} : { maxOutputLength: declared + 1 }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) {
      throw new DataError(
        `${name}: inflates to more than the ${declared} bytes its IDX header declares (a gzip bomb?)`,
        "download the file again from its source",
      );
    }
    throw new DataError(
      `${name}: gzip data is damaged (${(err as Error).message})`,
      "download the file again; `gzip -t` on it should report no error",
    );
  }
}

/** Header + data bytes the IDX header of a .gz declares; DataError when over the limits, undefined when unreadable. */
function declaredIdxBytes(gz: Uint8Array, name: string): number | undefined {
  let head: Uint8Array;
  try {
    // Only the first compressed bytes, flushed without the end of the stream: at most a few MB come out.
    head = gunzipSync(gz.subarray(0, 4096), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch {
    return undefined; // damaged: the full inflate below names the problem
  }
  if (head.length < 4) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const magic = view.getUint32(0, false);
  const ndims = magic & 0xff;
  // Not one of ours (a wrong magic): parseIdx names the problem after the full inflate.
  if ((magic !== IDX_IMAGES_MAGIC && magic !== IDX_LABELS_MAGIC) || head.length < 4 + 4 * ndims) return undefined;
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const total = 4 + 4 * ndims + dims.reduce((a, b) => a * b, 1);
  const hint =
    "this is not the dataset it claims to be: download the file again; IDX files over 2 GiB are not supported " +
    "(use an image folder)";
  if (total > MAX_IDX_BYTES) {
    throw new DataError(
      `${name}: its IDX header declares dims [${dims.join(", ")}] = ${total} bytes, ` +
        `over the ${MAX_IDX_BYTES}-byte limit`,
      hint,
    );
  }
  if (total > gz.length * MAX_DEFLATE_RATIO) {
    throw new DataError(
      `${name}: its IDX header declares dims [${dims.join(", ")}] = ${total} bytes, ` +
        `but ${gz.length} gzip bytes inflate to at most ${gz.length * MAX_DEFLATE_RATIO}`,
      hint,
    );
  }
  return total;
}

/** A decoded IDX array of unsigned bytes: its dimensions and its data (a view into the input). */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Parses an IDX ubyte file (already decompressed), checking its magic and its length. */
export function parseIdx(bytes: Uint8Array, name: string, kind: "images" | "labels"): IdxArray {
  const magic = kind === "images" ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
  const hint = `${name} should be an MNIST-format ${kind} file (train-${kind}-idx${kind === "images" ? 3 : 1}-ubyte)`;
  if (bytes.length < 4)
    throw new DataError(`${name}: truncated: ${bytes.length} bytes, too short for an IDX header`, hint);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found = view.getUint32(0, false);
  if (found !== magic) {
    throw new DataError(`${name}: wrong IDX magic 0x${hex8(found)}, expected 0x${hex8(magic)} (${kind})`, hint);
  }
  const ndims = magic & 0xff;
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes)
    throw new DataError(`${name}: truncated: ${bytes.length} bytes, header needs ${headerBytes}`, hint);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const dataBytes = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + dataBytes;
  if (bytes.length < expected) {
    throw new DataError(
      `${name}: truncated: ${bytes.length} bytes, dims [${dims.join(", ")}] need ${expected}`,
      "download the file again",
    );
  }
  if (bytes.length > expected) {
    throw new DataError(
      `${name}: ${bytes.length - expected} unexpected bytes after the data for dims [${dims.join(", ")}]`,
      hint,
    );
  }
  return { dims, data: bytes.subarray(headerBytes, expected) };
}

/** Decodes a split from its two files' bytes; a count mismatch between them is a DataError naming both. */
export function decodeIdxSplit(imageBytes: Uint8Array, labelBytes: Uint8Array, names: IdxSplitKeys): IdxSplit {
  const images = parseIdx(gunzipIfNeeded(imageBytes, names.images), names.images, "images");
  const labels = parseIdx(gunzipIfNeeded(labelBytes, names.labels), names.labels, "labels");
  const [count, height, width] = images.dims;
  if (labels.dims[0] !== count) {
    throw new DataError(
      `${names.images} holds ${count} images but ${names.labels} holds ${labels.dims[0]} labels; expected the same count`,
      "the two files must come from the same split and release; download them again together",
    );
  }
  if (count > 0 && (height === 0 || width === 0))
    throw new DataError(`${names.images}: images of size ${height}x${width}`);
  return { images: images.data, labels: Int32Array.from(labels.data), count, height, width, channels: 1 };
}

/** Reads one split of an IDX dataset from a store (local folder or s3:// prefix). */
export async function readIdxSplit(store: ObjectStore, split: SplitName, keys?: IdxSplitKeys): Promise<IdxSplit> {
  const found = keys ?? (await locateIdxSplit(store, split));
  const [imageBytes, labelBytes] = await Promise.all([store.get(found.images), store.get(found.labels)]);
  return decodeIdxSplit(imageBytes, labelBytes, {
    images: store.uriOf(found.images),
    labels: store.uriOf(found.labels),
  });
}

/** Finds a split's files under a store; NotFoundError naming the store and the expected file names. */
export async function locateIdxSplit(store: ObjectStore, split: SplitName): Promise<IdxSplitKeys> {
  const keys: string[] = [];
  for await (const info of store.list("")) keys.push(info.key);
  const found = findIdxSplitKeys(keys, split);
  if (!found) {
    throw new NotFoundError(
      `${store.baseUri} (${idxFileNames(split, "images")[0]} and ${idxFileNames(split, "labels")[0]}, raw or .gz)`,
      "point at a folder holding the MNIST-layout IDX files",
    );
  }
  return found;
}

/** Loads one split of the IDX dataset in a local folder. */
export async function loadIdxSplit(dir: string, split: SplitName): Promise<IdxSplit> {
  return readIdxSplit(new LocalObjectStore(dir), split);
}

function baseName(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1);
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}
