// Reader for the CIFAR-10/100 binary release: fixed-size records of label byte(s) + 3 CHW colour planes.
import { DataError } from "../errors.js";
import type { SplitName } from "./split_name.js";

export const CIFAR_SIDE = 32;
const PLANE_BYTES = CIFAR_SIDE * CIFAR_SIDE;
const PIXEL_BYTES = 3 * PLANE_BYTES;

/** How one release lays out a record. */
export interface CifarRecordFormat {
  variant: 10 | 100;
  /** 3073 for CIFAR-10 (label + pixels), 3074 for CIFAR-100 (coarse label + fine label + pixels). */
  recordBytes: number;
  /** Byte of the record holding the label we use: CIFAR-100's fine label is the second byte. */
  labelOffset: number;
  numClasses: number;
}

export function cifarRecordFormat(variant: 10 | 100): CifarRecordFormat {
  return variant === 10
    ? { variant, recordBytes: 1 + PIXEL_BYTES, labelOffset: 0, numClasses: 10 }
    : { variant, recordBytes: 2 + PIXEL_BYTES, labelOffset: 1, numClasses: 100 };
}

/** Which release a folder holds and where its files are (keys of the source store). */
export interface CifarLayout extends CifarRecordFormat {
  /** Data files of each split, in record order. */
  files: Record<SplitName, string[]>;
  /** batches.meta.txt / fine_label_names.txt when present. */
  classNamesKey?: string;
}

/**
 * Recognises a CIFAR binary folder from a listing: CIFAR-10's data_batch_N.bin + test_batch.bin or
 * CIFAR-100's train.bin + test.bin, all in one folder (the tarball's cifar-10-batches-bin/ or
 * cifar-100-binary/ may be the source itself or sit inside it).
 */
export function findCifarLayout(keys: readonly string[]): CifarLayout | undefined {
  const byDir = new Map<string, string[]>();
  for (const key of keys) {
    const dir = key.includes("/") ? key.slice(0, key.lastIndexOf("/") + 1) : "";
    const names = byDir.get(dir);
    if (names) names.push(key.slice(dir.length));
    else byDir.set(dir, [key.slice(dir.length)]);
  }
  // Shallowest folder first, so a nested copy never shadows the top-level one.
  const dirs = [...byDir.keys()].sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b));
  for (const dir of dirs) {
    const names = new Set(byDir.get(dir));
    const batches = [...names]
      .map((n) => /^data_batch_(\d+)\.bin$/.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(a[1]) - Number(b[1]))
      .map((m) => dir + m[0]);
    if (batches.length > 0 && names.has("test_batch.bin")) {
      return {
        ...cifarRecordFormat(10),
        files: { train: batches, test: [dir + "test_batch.bin"] },
        classNamesKey: names.has("batches.meta.txt") ? dir + "batches.meta.txt" : undefined,
      };
    }
    if (names.has("train.bin") && names.has("test.bin")) {
      return {
        ...cifarRecordFormat(100),
        files: { train: [dir + "train.bin"], test: [dir + "test.bin"] },
        classNamesKey: names.has("fine_label_names.txt") ? dir + "fine_label_names.txt" : undefined,
      };
    }
  }
  return undefined;
}

/** Records in a data file of `sizeBytes`; a partial last record is a DataError naming the file. */
export function cifarRecordCount(sizeBytes: number, layout: CifarRecordFormat, uri: string): number {
  const partial = sizeBytes % layout.recordBytes;
  if (partial !== 0) {
    throw new DataError(
      `${uri}: truncated record: ${sizeBytes} bytes is not a whole number of ${layout.recordBytes}-byte CIFAR-${layout.variant} records (last record has ${partial} bytes)`,
      "download and extract the CIFAR binary release again",
    );
  }
  return sizeBytes / layout.recordBytes;
}

/**
 * Decodes `count` records starting at record `first` of one file into HWC images and labels,
 * writing at image `at` of the output arrays.
 */
export function decodeCifarRecords(
  bytes: Uint8Array,
  layout: CifarRecordFormat,
  uri: string,
  first: number,
  count: number,
  out: { images: Uint8Array; labels: Int32Array; at: number },
): void {
  const needed = (first + count) * layout.recordBytes;
  if (bytes.length < needed) {
    throw new DataError(
      `${uri}: truncated record: ${bytes.length} bytes, records ${first}..${first + count - 1} need ${needed}`,
    );
  }
  const pixelStart = layout.recordBytes - PIXEL_BYTES;
  for (let r = 0; r < count; r++) {
    const rec = (first + r) * layout.recordBytes;
    const label = bytes[rec + layout.labelOffset];
    if (label >= layout.numClasses) {
      throw new DataError(
        `${uri}: record ${first + r} has label ${label}, CIFAR-${layout.variant} labels are 0..${layout.numClasses - 1}`,
      );
    }
    const dst = (out.at + r) * PIXEL_BYTES;
    out.labels[out.at + r] = label;
    // CHW planes (all reds, all greens, all blues) → interleaved HWC.
    const red = rec + pixelStart;
    for (let p = 0; p < PLANE_BYTES; p++) {
      out.images[dst + 3 * p] = bytes[red + p];
      out.images[dst + 3 * p + 1] = bytes[red + PLANE_BYTES + p];
      out.images[dst + 3 * p + 2] = bytes[red + 2 * PLANE_BYTES + p];
    }
  }
}

/** Class names from batches.meta.txt / fine_label_names.txt: one per non-empty line. */
export function parseCifarClassNames(text: string, layout: CifarRecordFormat, uri: string): string[] {
  const names = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (names.length !== layout.numClasses) {
    throw new DataError(`${uri}: lists ${names.length} class names, CIFAR-${layout.variant} has ${layout.numClasses}`);
  }
  return names;
}
