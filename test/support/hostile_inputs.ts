// Small generated hostile inputs: gzip bombs that declare huge sizes (they are not huge), oversized configs.
import { gzipSync } from "node:zlib";

/** An IDX header: magic (0x0803 images, 0x0801 labels) and its dims, big-endian. */
export function idxHeader(dims: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, dims.length === 3 ? 0x00000803 : 0x00000801, false);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d >>> 0, false);
  return out;
}

/** A .gz whose IDX header declares `dims` but which holds only `dataBytes` bytes after it: a lying header, a few KB. */
export function lyingIdxGz(dims: readonly number[], dataBytes = 1000): Uint8Array {
  return gzipSync(Buffer.concat([idxHeader(dims), new Uint8Array(dataBytes)]));
}

/** A real (small) gzip bomb: an honest-looking header for `dims`, then `inflatedBytes` zeros (~1000:1 compressed). */
export function idxGzBomb(dims: readonly number[], inflatedBytes: number): Uint8Array {
  return gzipSync(Buffer.concat([idxHeader(dims), new Uint8Array(inflatedBytes)]), { level: 9 });
}

/** YAML of one long list, `bytes` long: what a 50 MB config attack looks like (use a few MB in tests). */
export function longListYaml(bytes: number): string {
  const line = "- 0.123456789\n";
  return "data:\n  crop_scale:\n" + line.repeat(Math.ceil(bytes / line.length));
}
