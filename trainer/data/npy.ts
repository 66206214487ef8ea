// NumPy .npy v1.0 encoding and decoding for the dtypes shards use: uint8 images and int32/int64 labels.
import { CorruptDataError } from "../errors.js";

/** The dtype strings we write and read (NumPy's `descr`): little-endian ints, byte-order-free uint8. */
export type NpyDtype = "|u1" | "<i4" | "<i8";

export interface NpyHeader {
  descr: NpyDtype;
  shape: number[];
  /** Byte offset of the first element (after magic, version, header length and header text). */
  dataOffset: number;
  /** Bytes the data takes: product(shape) * itemsize. */
  dataBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** NumPy pads the header so the data starts on a 64-byte boundary (format.py, ARRAY_ALIGN). */
const ALIGN = 64;
const ITEM_SIZE: Record<NpyDtype, number> = { "|u1": 1, "<i4": 4, "<i8": 8 };

/** Header bytes of a v1.0 file exactly as numpy.save writes them for a C-order array. */
export function encodeNpyHeader(descr: NpyDtype, shape: readonly number[]): Uint8Array {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid npy dimension ${d} in shape [${shape.join(", ")}]`);
  }
  // Python's repr of a tuple: "(3,)" for one element, "(3, 28, 28, 1)" otherwise.
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const preambleBytes = MAGIC.length + 2 + 2;
  const unpadded = preambleBytes + dict.length + 1; // + the terminating "\n"
  const padding = (ALIGN - (unpadded % ALIGN)) % ALIGN;
  const headerText = dict + " ".repeat(padding) + "\n";
  if (headerText.length > 0xffff) throw new Error(`npy header too long for format v1.0 (${headerText.length} bytes)`);
  const out = new Uint8Array(preambleBytes + headerText.length);
  out.set(MAGIC, 0);
  out[6] = 1; // major version
  out[7] = 0; // minor version
  out[8] = headerText.length & 0xff;
  out[9] = headerText.length >>> 8;
  for (let i = 0; i < headerText.length; i++) out[preambleBytes + i] = headerText.charCodeAt(i);
  return out;
}

/** A complete .npy file: header followed by the array's bytes in little-endian C order. */
export function encodeNpy(descr: "|u1" | "<i4", shape: readonly number[], data: Uint8Array | Int32Array): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new Error(`npy data has ${data.length} elements but shape [${shape.join(", ")}] needs ${count}`);
  }
  if ((descr === "|u1") !== data instanceof Uint8Array)
    throw new Error(`npy dtype ${descr} does not match ${data.constructor.name}`);
  const header = encodeNpyHeader(descr, shape);
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header, 0);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.length);
  return out;
}

/** Parses and checks a header; `uri` names the file in errors. Accepts format versions 1.x, 2.x and 3.x. */
export function parseNpyHeader(bytes: Uint8Array, uri: string): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new CorruptDataError(uri, "not a .npy file (missing the \\x93NUMPY magic)");
  }
  const major = bytes[6];
  let headerLength: number;
  let textStart: number;
  if (major === 1) {
    headerLength = bytes[8] | (bytes[9] << 8);
    textStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new CorruptDataError(uri, "truncated .npy header");
    headerLength = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (bytes[11] << 24)) >>> 0;
    textStart = 12;
  } else {
    throw new CorruptDataError(uri, `unsupported .npy format version ${major}.${bytes[7]}`);
  }
  const dataOffset = textStart + headerLength;
  if (bytes.length < dataOffset)
    throw new CorruptDataError(uri, `truncated .npy header (${bytes.length} of ${dataOffset} bytes)`);
  const text = new TextDecoder().decode(bytes.subarray(textStart, dataOffset));

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new CorruptDataError(uri, `unreadable .npy header ${JSON.stringify(text.trim())}`);
  }
  if (!(descr in ITEM_SIZE))
    throw new CorruptDataError(uri, `dtype ${descr} is not one of ${Object.keys(ITEM_SIZE).join(", ")}`);
  if (fortran !== "False") throw new CorruptDataError(uri, "array is in Fortran order; shards are C order");
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new CorruptDataError(uri, `invalid shape (${shapeText})`);
  const dtype = descr as NpyDtype;
  const dataBytes = shape.reduce((a, b) => a * b, 1) * ITEM_SIZE[dtype];
  return { descr: dtype, shape, dataOffset, dataBytes };
}

/** Decodes a whole .npy file. Labels come back as Int32Array whatever their stored width. */
export function decodeNpy(bytes: Uint8Array, uri: string): { header: NpyHeader; data: Uint8Array | Int32Array } {
  const header = parseNpyHeader(bytes, uri);
  const expected = header.dataOffset + header.dataBytes;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? "truncated" : "has trailing bytes";
    throw new CorruptDataError(
      uri,
      `${what}: ${bytes.length} bytes, shape (${header.shape.join(", ")}) needs ${expected}`,
    );
  }
  const body = bytes.subarray(header.dataOffset, expected);
  if (header.descr === "|u1") return { header, data: body };
  const count = header.dataBytes / ITEM_SIZE[header.descr];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out = new Int32Array(count);
  if (header.descr === "<i4") {
    for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
  } else {
    for (let i = 0; i < count; i++) {
      const v = view.getBigInt64(i * 8, true);
      if (v < -2147483648n || v > 2147483647n)
        throw new CorruptDataError(uri, `label ${v} at index ${i} does not fit in int32`);
      out[i] = Number(v);
    }
  }
  return { header, data: out };
}
