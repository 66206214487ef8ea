// Tiny generated datasets for the data tests: IDX folders, CIFAR binary folders and image folders in temp dirs.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import sharp from "sharp";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import type { ObjectInfo } from "../../trainer/storage/object_store.js";

/** Pixel value of image `i` at byte `j`: distinct per image so order mix-ups show. */
export function pixelOf(i: number, j: number): number {
  return (i * 31 + j * 7) % 256;
}

export function idxImagesBytes(count: number, height: number, width: number, magic = 0x00000803): Uint8Array {
  const out = new Uint8Array(16 + count * height * width);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic, false);
  view.setUint32(4, count, false);
  view.setUint32(8, height, false);
  view.setUint32(12, width, false);
  for (let i = 0; i < count; i++)
    for (let j = 0; j < height * width; j++) out[16 + i * height * width + j] = pixelOf(i, j);
  return out;
}

export function idxLabelsBytes(count: number, classes = 10): Uint8Array {
  const out = new Uint8Array(8 + count);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x00000801, false);
  view.setUint32(4, count, false);
  for (let i = 0; i < count; i++) out[8 + i] = i % classes;
  return out;
}

export interface IdxFolderOptions {
  train?: number;
  test?: number;
  height?: number;
  width?: number;
  gzip?: boolean;
}

/** Writes the four MNIST-layout files into `dir`. */
export async function writeIdxFolder(dir: string, options: IdxFolderOptions = {}): Promise<string> {
  const { train = 50, test = 20, height = 6, width = 5, gzip = true } = options;
  await fs.mkdir(dir, { recursive: true });
  const ext = gzip ? ".gz" : "";
  const enc = (b: Uint8Array) => (gzip ? gzipSync(b) : b);
  await fs.writeFile(path.join(dir, `train-images-idx3-ubyte${ext}`), enc(idxImagesBytes(train, height, width)));
  await fs.writeFile(path.join(dir, `train-labels-idx1-ubyte${ext}`), enc(idxLabelsBytes(train)));
  await fs.writeFile(path.join(dir, `t10k-images-idx3-ubyte${ext}`), enc(idxImagesBytes(test, height, width)));
  await fs.writeFile(path.join(dir, `t10k-labels-idx1-ubyte${ext}`), enc(idxLabelsBytes(test)));
  return dir;
}

/** One CIFAR record: label byte(s) then R, G, B planes where pixel p of plane c is (seed + p + 100c) mod 256. */
export function cifarRecord(labels: number[], seed: number): Uint8Array {
  const rec = new Uint8Array(labels.length + 3072);
  rec.set(labels, 0);
  for (let c = 0; c < 3; c++)
    for (let p = 0; p < 1024; p++) rec[labels.length + c * 1024 + p] = (seed + p + 100 * c) % 256;
  return rec;
}

/** A CIFAR-10 binary folder with `perBatch` records in each of `batches` train files and `test` test records. */
export async function writeCifar10Folder(
  dir: string,
  perBatch: number,
  batches: number,
  test: number,
): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  let seed = 0;
  const file = (n: number) => Buffer.concat(Array.from({ length: n }, () => cifarRecord([seed % 10], seed++)));
  for (let b = 1; b <= batches; b++) await fs.writeFile(path.join(dir, `data_batch_${b}.bin`), file(perBatch));
  await fs.writeFile(path.join(dir, "test_batch.bin"), file(test));
  await fs.writeFile(
    path.join(dir, "batches.meta.txt"),
    "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n",
  );
  return dir;
}

/** A solid-ish test image (a colour ramp with a per-image offset) encoded as `format`. */
export async function makeImage(
  format: "jpeg" | "png" | "webp",
  width: number,
  height: number,
  seed: number,
): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      raw[o] = (x * 4 + seed * 17) % 256;
      raw[o + 1] = (y * 4 + seed * 29) % 256;
      raw[o + 2] = (seed * 53) % 256;
    }
  }
  const img = sharp(raw, { raw: { width, height, channels: 3 } });
  return format === "jpeg"
    ? img.jpeg({ quality: 90 }).toBuffer()
    : format === "png"
      ? img.png().toBuffer()
      : img.webp({ quality: 90 }).toBuffer();
}

/** Writes `perClass` images for each class folder (formats cycling JPEG, PNG, WebP). */
export async function writeImageFolder(dir: string, classes: string[], perClass: number, side = 20): Promise<string> {
  const formats = ["jpeg", "png", "webp"] as const;
  let seed = 0;
  for (const cls of classes) {
    await fs.mkdir(path.join(dir, cls), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const format = formats[seed % 3];
      const ext = format === "jpeg" ? "jpg" : format;
      await fs.writeFile(
        path.join(dir, cls, `img-${String(i).padStart(3, "0")}.${ext}`),
        await makeImage(format, side + (seed % 5), side, seed),
      );
      seed++;
    }
  }
  return dir;
}

/** key → etag of every object under `dir`, to show that a second run rewrote nothing. */
export async function snapshotEtags(dir: string): Promise<Map<string, string>> {
  const store = new LocalObjectStore(dir);
  const out = new Map<string, string>();
  for await (const info of store.list("") as AsyncIterable<ObjectInfo>) out.set(info.key, info.etag);
  return out;
}

export async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

let numpyChecked: boolean | undefined;

/** Whether `python3 -c "import numpy"` works here (checked once). */
export function numpyAvailable(): boolean {
  if (numpyChecked === undefined) {
    try {
      execFileSync("python3", ["-c", "import numpy"], { stdio: "ignore" });
      numpyChecked = true;
    } catch {
      numpyChecked = false;
    }
  }
  return numpyChecked;
}
