// Finds the Fashion-MNIST IDX files (env var, Debian package, user cache) or downloads them into the cache, MD5-checked.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { CorruptDataError, NotFoundError } from "../errors.js";
import { IDX_REQUIRED_FILES, idxFileNames } from "./idx_reader.js";

export { loadIdxSplit } from "./idx_reader.js";

export const FASHION_MNIST_NAME = "fashion-mnist";

/** Label i of Fashion-MNIST (zalandoresearch/fashion-mnist README). */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** The official mirror zalando's README and torchvision download from. */
export const FASHION_MNIST_MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

/**
 * MD5 of each published .gz file, as torchvision's FashionMNIST.resources lists them. Checked only
 * on download: the Debian package recompresses the files, so its .gz bytes differ (same contents).
 */
export const FASHION_MNIST_MD5: Readonly<Record<string, string>> = {
  "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
  "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
  "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
  "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
};

/** Where the Debian package dataset-fashion-mnist installs the files. */
export const DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Setting this environment variable to 1 forbids the download (offline machines, CI). */
export const NO_DOWNLOAD_ENV = "IJEPA_NO_DOWNLOAD";

export interface ResolveDatasetOptions {
  /** Environment to read FASHION_MNIST_DIR, XDG_CACHE_HOME, HOME and IJEPA_NO_DOWNLOAD from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The system-wide folder to try (default the Debian package's). */
  systemDir?: string;
  /** Download when no folder holds the files (default true unless IJEPA_NO_DOWNLOAD=1). */
  download?: boolean;
  /** Base URL of the mirror (default the official one); tests point it at a local server. */
  mirrorUrl?: string;
  /** Expected MD5 per file name (default FASHION_MNIST_MD5). */
  checksums?: Readonly<Record<string, string>>;
  /** Per-file download limit in milliseconds (default 10 minutes). */
  downloadTimeoutMs?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** The folders searched for `fashion-mnist`, in order. */
export function fashionMnistSearchDirs(options: ResolveDatasetOptions = {}): string[] {
  const env = options.env ?? process.env;
  const dirs: string[] = [];
  if (env.FASHION_MNIST_DIR) dirs.push(path.resolve(env.FASHION_MNIST_DIR));
  dirs.push(options.systemDir ?? DEBIAN_FASHION_MNIST_DIR);
  dirs.push(fashionMnistCacheDir(env));
  return dirs;
}

/** ($XDG_CACHE_HOME or ~/.cache)/ijepa/fashion-mnist */
export function fashionMnistCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const cacheRoot = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), ".cache");
  return path.join(cacheRoot, "ijepa", FASHION_MNIST_NAME);
}

/**
 * Turns a dataset name or a folder path into a local folder holding the four IDX files.
 * `fashion-mnist` is looked up in fashionMnistSearchDirs(), then downloaded into the cache.
 */
export async function resolveDatasetDir(nameOrPath: string, options: ResolveDatasetOptions = {}): Promise<string> {
  if (nameOrPath !== FASHION_MNIST_NAME) {
    const dir = path.resolve(nameOrPath);
    if (await holdsIdxFiles(dir)) return dir;
    throw new NotFoundError(
      `${dir} (an IDX dataset folder: ${IDX_REQUIRED_FILES.map((f) => f.names[0]).join(", ")})`,
      `pass a folder holding those four files (raw or .gz), or the dataset name "${FASHION_MNIST_NAME}"`,
    );
  }
  const searched = fashionMnistSearchDirs(options);
  for (const dir of searched) {
    if (await holdsIdxFiles(dir)) return dir;
  }
  const env = options.env ?? process.env;
  const cacheDir = fashionMnistCacheDir(env);
  const allowed = options.download ?? env[NO_DOWNLOAD_ENV] !== "1";
  const fixes =
    `install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist), ` +
    `or set FASHION_MNIST_DIR to a folder holding the four IDX files, ` +
    `or allow the download (unset ${NO_DOWNLOAD_ENV}) so they are fetched into ${cacheDir}`;
  const missing = (why: string) => new NotFoundError(`Fashion-MNIST (searched ${searched.join(", ")}; ${why})`, fixes);
  if (!allowed) throw missing(`download disabled${env[NO_DOWNLOAD_ENV] === "1" ? ` by ${NO_DOWNLOAD_ENV}=1` : ""}`);
  try {
    await downloadFashionMnist(cacheDir, options);
  } catch (err) {
    if (err instanceof CorruptDataError) throw err;
    throw missing(`download from ${options.mirrorUrl ?? FASHION_MNIST_MIRROR} failed: ${(err as Error).message}`);
  }
  return cacheDir;
}

/** True when `dir` holds all four IDX files under one of their accepted names. */
export async function holdsIdxFiles(dir: string): Promise<boolean> {
  for (const file of IDX_REQUIRED_FILES) {
    let present = false;
    for (const name of file.names) {
      const st = await fs.stat(path.join(dir, name)).catch(() => undefined);
      if (st?.isFile()) {
        present = true;
        break;
      }
    }
    if (!present) return false;
  }
  return true;
}

/**
 * Downloads the four .gz files into `dir`, skipping those already there with the right MD5.
 * A file whose MD5 does not match is deleted and raises CorruptDataError naming the URL.
 */
export async function downloadFashionMnist(dir: string, options: ResolveDatasetOptions = {}): Promise<void> {
  const mirror = (options.mirrorUrl ?? FASHION_MNIST_MIRROR).replace(/\/?$/, "/");
  const checksums = options.checksums ?? FASHION_MNIST_MD5;
  const log = options.log ?? ((line: string) => process.stderr.write(line + "\n"));
  await fs.mkdir(dir, { recursive: true });
  for (const file of IDX_REQUIRED_FILES) {
    const name = idxFileNames(file.split, file.kind)[0]; // the canonical .gz name
    const expected = checksums[name];
    if (!expected) throw new Error(`no MD5 known for ${name}`);
    const target = path.join(dir, name);
    if ((await md5OfFile(target)) === expected) continue;
    const url = mirror + name;
    log(`downloading ${url} → ${target}`);
    const temp = `${target}.download-${process.pid}`;
    try {
      const actual = await fetchToFile(url, temp, options.downloadTimeoutMs ?? 600_000);
      if (actual !== expected) {
        throw new CorruptDataError(
          url,
          `MD5 ${actual}, expected ${expected}; the downloaded file was deleted`,
          "retry later, or download the file by hand into FASHION_MNIST_DIR",
        );
      }
      await fs.rename(temp, target);
    } finally {
      await fs.rm(temp, { force: true });
    }
  }
}

async function fetchToFile(url: string, file: string, timeoutMs: number): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status} ${response.statusText} for ${url}`);
  const md5 = createHash("md5");
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      md5.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), hashing, createWriteStream(file));
  return md5.digest("hex");
}

async function md5OfFile(file: string): Promise<string | undefined> {
  try {
    return createHash("md5")
      .update(await fs.readFile(file))
      .digest("hex");
  } catch {
    return undefined;
  }
}
