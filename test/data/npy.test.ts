// .npy encoding: headers match the NPY v1.0 spec byte for byte, NumPy loads the files, and damaged files are refused.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { CorruptDataError } from "../../trainer/errors.js";
import { decodeNpy, encodeNpy, encodeNpyHeader, parseNpyHeader } from "../../trainer/data/npy.js";
import { numpyAvailable } from "./fixtures.js";
import { tempDir } from "../support/temp_dir.js";

describe("npy", () => {
  it("writes the v1.0 header the spec describes: magic, version, little-endian length, dict padded to 64 bytes", () => {
    const header = encodeNpyHeader("|u1", [3, 28, 28, 1]);
    const dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 28, 28, 1), }";
    const textLength = 128 - 10;
    const expected = Buffer.concat([
      Buffer.from([0x93]),
      Buffer.from("NUMPY", "latin1"),
      Buffer.from([1, 0, textLength & 0xff, textLength >> 8]),
      Buffer.from(dict + " ".repeat(textLength - dict.length - 1) + "\n", "latin1"),
    ]);
    expect(Buffer.from(header)).toEqual(expected);
    expect(header.length % 64).toBe(0);
  });

  it("writes a one-element shape as Python does, with a trailing comma", () => {
    const text = Buffer.from(encodeNpyHeader("<i4", [7])).toString("latin1");
    expect(text).toContain("'shape': (7,), }");
    expect(text).toContain("'descr': '<i4'");
  });

  it("round-trips uint8 images and int32 labels, including negative labels", () => {
    const images = Uint8Array.from({ length: 2 * 3 * 2 * 1 }, (_, i) => i * 9);
    const labels = Int32Array.from([-1, 2147483647]);
    const a = decodeNpy(encodeNpy("|u1", [2, 3, 2, 1], images), "mem://images");
    expect(a.header.shape).toEqual([2, 3, 2, 1]);
    expect(Array.from(a.data)).toEqual(Array.from(images));
    const b = decodeNpy(encodeNpy("<i4", [2], labels), "mem://labels");
    expect(b.data).toBeInstanceOf(Int32Array);
    expect(Array.from(b.data)).toEqual([-1, 2147483647]);
  });

  it("reads <i8 labels written by NumPy into int32", () => {
    const header = encodeNpyHeader("<i8", [2]);
    const body = new Uint8Array(16);
    new DataView(body.buffer).setBigInt64(0, 5n, true);
    new DataView(body.buffer).setBigInt64(8, -1n, true);
    const file = new Uint8Array([...header, ...body]);
    expect(Array.from(decodeNpy(file, "mem://l").data)).toEqual([5, -1]);
  });

  it("refuses a truncated file, a file with trailing bytes, a wrong magic and Fortran order, naming the file", () => {
    const good = encodeNpy("|u1", [4, 2, 2, 1], new Uint8Array(16));
    expect(() => decodeNpy(good.subarray(0, good.length - 1), "s3://b/x.npy")).toThrow(/s3:\/\/b\/x\.npy.*truncated/);
    expect(() => decodeNpy(new Uint8Array([...good, 0]), "f")).toThrow(/trailing bytes/);
    expect(() => decodeNpy(new Uint8Array(64), "f")).toThrow(CorruptDataError);
    const fortran = Buffer.from(encodeNpyHeader("|u1", [2]))
      .toString("latin1")
      .replace("False", "True ");
    expect(() => parseNpyHeader(Buffer.from(fortran, "latin1"), "f")).toThrow(/Fortran/);
  });

  // NumPy is the reader that matters; machines without it still run the byte-for-byte header test above.
  it.skipIf(!numpyAvailable())(
    "gives files np.load reads with the right dtype, shape and values, and headers identical to np.save's",
    async () => {
      const dir = tempDir();
      const images = Uint8Array.from({ length: 3 * 4 * 5 * 3 }, (_, i) => (i * 13) % 256);
      const labels = Int32Array.from([0, -1, 9]);
      await fs.writeFile(path.join(dir, "x.images.npy"), encodeNpy("|u1", [3, 4, 5, 3], images));
      await fs.writeFile(path.join(dir, "x.labels.npy"), encodeNpy("<i4", [3], labels));
      const script = [
        "import numpy as np, sys, io",
        "d = sys.argv[1]",
        "a = np.load(d + '/x.images.npy'); l = np.load(d + '/x.labels.npy')",
        "buf = io.BytesIO(); np.save(buf, a); ours = open(d + '/x.images.npy', 'rb').read()",
        "print(a.dtype, a.shape, int(a.sum()), l.dtype, l.tolist(), buf.getvalue() == ours)",
      ].join("\n");
      const out = execFileSync("python3", ["-c", script, dir], { encoding: "utf8" }).trim();
      const sum = images.reduce((s, v) => s + v, 0);
      expect(out).toBe(`uint8 (3, 4, 5, 3) ${sum} int32 [0, -1, 9] True`);
    },
  );
});
