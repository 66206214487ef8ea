// Fashion-MNIST resolution: env var, Debian folder, cache, then an MD5-checked download (served here from 127.0.0.1).
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CorruptDataError, NotFoundError } from "../../trainer/errors.js";
import {
  DEBIAN_FASHION_MNIST_DIR,
  fashionMnistCacheDir,
  loadIdxSplit,
  resolveDatasetDir,
} from "../../trainer/data/fashion_mnist.js";
import { exists, idxImagesBytes, idxLabelsBytes, writeIdxFolder } from "./fixtures.js";
import { tempDir } from "../support/temp_dir.js";

/** The four .gz files a fake mirror serves, and their MD5s. */
const served = new Map<string, Buffer>([
  ["train-images-idx3-ubyte.gz", gzipSync(idxImagesBytes(12, 28, 28))],
  ["train-labels-idx1-ubyte.gz", gzipSync(idxLabelsBytes(12))],
  ["t10k-images-idx3-ubyte.gz", gzipSync(idxImagesBytes(4, 28, 28))],
  ["t10k-labels-idx1-ubyte.gz", gzipSync(idxLabelsBytes(4))],
]);
const md5s = Object.fromEntries(
  [...served].map(([name, bytes]) => [name, createHash("md5").update(bytes).digest("hex")]),
);

let server: http.Server;
let mirrorUrl: string;
const requests: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const name = /^\/fashion\/([^/]+)$/.exec(req.url ?? "")?.[1] ?? "";
    requests.push(name);
    const body = served.get(name);
    if (!body) {
      res.writeHead(404).end("no such file");
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  mirrorUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fashion/`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Options with a fresh cache and no real folders in the way. */
async function isolated(extra: Record<string, string> = {}) {
  const home = tempDir("home");
  return {
    env: { XDG_CACHE_HOME: path.join(home, "cache"), HOME: home, ...extra },
    systemDir: path.join(home, "no-such-system-dir"),
    mirrorUrl,
    checksums: md5s,
    log: () => {},
  };
}

describe("Fashion-MNIST resolution", () => {
  it("prefers FASHION_MNIST_DIR, then the Debian folder, then the cache", async () => {
    const own = await writeIdxFolder(tempDir());
    const opts = await isolated({ FASHION_MNIST_DIR: own });
    expect(await resolveDatasetDir("fashion-mnist", opts)).toBe(own);
    expect(await resolveDatasetDir("fashion-mnist", { ...opts, env: {}, systemDir: DEBIAN_FASHION_MNIST_DIR })).toBe(
      DEBIAN_FASHION_MNIST_DIR,
    );
    const cached = await writeIdxFolder(fashionMnistCacheDir(opts.env));
    expect(
      await resolveDatasetDir("fashion-mnist", { ...opts, env: { XDG_CACHE_HOME: opts.env.XDG_CACHE_HOME } }),
    ).toBe(cached);
  });

  it("downloads the four files into the cache once, checking each MD5", async () => {
    const opts = await isolated();
    requests.length = 0;
    const dir = await resolveDatasetDir("fashion-mnist", opts);
    expect(dir).toBe(path.join(opts.env.XDG_CACHE_HOME, "ijepa", "fashion-mnist"));
    expect(requests.sort()).toEqual([...served.keys()].sort());
    const train = await loadIdxSplit(dir, "train");
    expect(train.count).toBe(12);
    await resolveDatasetDir("fashion-mnist", opts);
    expect(requests).toHaveLength(4);
  });

  it("deletes a download whose MD5 does not match and raises CorruptDataError naming the URL", async () => {
    const opts = await isolated();
    const checksums = { ...md5s, "t10k-images-idx3-ubyte.gz": "0".repeat(32) };
    const err = await resolveDatasetDir("fashion-mnist", { ...opts, checksums }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptDataError);
    expect((err as CorruptDataError).uri).toBe(`${mirrorUrl}t10k-images-idx3-ubyte.gz`);
    expect((err as Error).message).toMatch(/MD5 [0-9a-f]{32}, expected 0{32}/);
    const cache = fashionMnistCacheDir(opts.env);
    expect(await exists(path.join(cache, "t10k-images-idx3-ubyte.gz"))).toBe(false);
    expect((await fs.readdir(cache)).filter((n) => n.includes("download"))).toEqual([]);
  });

  it("without a folder and without download, lists the places searched and the three fixes", async () => {
    const opts = await isolated({ IJEPA_NO_DOWNLOAD: "1" });
    const err = await resolveDatasetDir("fashion-mnist", opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    const message = (err as Error).message;
    expect(message).toContain(opts.systemDir);
    expect(message).toContain(fashionMnistCacheDir(opts.env));
    expect(message).toMatch(/download disabled by IJEPA_NO_DOWNLOAD=1/);
    expect(message).toMatch(/dataset-fashion-mnist.*FASHION_MNIST_DIR.*allow the download/);
  });

  it("reports a mirror that does not serve the files as not found, with the HTTP status", async () => {
    const opts = await isolated();
    const err = await resolveDatasetDir("fashion-mnist", { ...opts, mirrorUrl: mirrorUrl + "missing/" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toMatch(/download from .* failed: HTTP 404/);
  });

  it("accepts a folder path holding IDX files and refuses one that does not", async () => {
    const dir = await writeIdxFolder(tempDir(), { gzip: false });
    expect(await resolveDatasetDir(dir)).toBe(dir);
    await expect(resolveDatasetDir(tempDir())).rejects.toThrow(/an IDX dataset folder/);
  });
});
