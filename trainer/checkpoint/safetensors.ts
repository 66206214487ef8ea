// The safetensors file format (huggingface/safetensors): named tensors to bytes and back, every header field validated.
import { CorruptDataError, DataError, IjepaError } from "../errors.js";

/** Bytes per element of every fixed-width dtype the format defines. */
export const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;

export type Dtype = keyof typeof DTYPE_BYTES;

/**
 * The typed array that holds each dtype's elements. JavaScript has no 16-bit or 8-bit floats, so
 * F16/BF16 hold their raw bit patterns in a Uint16Array and F8_* theirs in a Uint8Array; BOOL is 0/1 bytes.
 */
export interface TypedArrayOfDtype {
  BOOL: Uint8Array;
  U8: Uint8Array;
  I8: Int8Array;
  F8_E5M2: Uint8Array;
  F8_E4M3: Uint8Array;
  I16: Int16Array;
  U16: Uint16Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I32: Int32Array;
  U32: Uint32Array;
  F32: Float32Array;
  F64: Float64Array;
  I64: BigInt64Array;
  U64: BigUint64Array;
}

/** One tensor: row-major `data` of `shape`. A union over dtypes, so checking `dtype` narrows `data`. */
export type NamedTensor<D extends Dtype = Dtype> = D extends Dtype
  ? { name: string; dtype: D; shape: number[]; data: TypedArrayOfDtype[D] }
  : never;

export interface DecodedSafetensors {
  /**
   * Tensors in file order (by data offset), which is the order they were given to `encodeSafetensors`
   * — except among zero-size tensors sharing one offset, whose relative order is JSON.parse's property
   * order (integer-like names such as "0" come first): the file does not record it otherwise.
   */
  tensors: Map<string, NamedTensor>;
  /** The header's `__metadata__` map; empty when the file has none. */
  metadata: Record<string, string>;
}

type TypedArrayConstructorOf<D extends Dtype> = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArrayOfDtype[D];
};

const ARRAY_TYPE: { [D in Dtype]: TypedArrayConstructorOf<D> } = {
  BOOL: Uint8Array,
  U8: Uint8Array,
  I8: Int8Array,
  F8_E5M2: Uint8Array,
  F8_E4M3: Uint8Array,
  I16: Int16Array,
  U16: Uint16Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I32: Int32Array,
  U32: Uint32Array,
  F32: Float32Array,
  F64: Float64Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
};

/** The reference implementation refuses larger headers, so files that pass here also load there. */
export const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";
const HEADER_LENGTH_BYTES = 8;
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function isDtype(value: unknown): value is Dtype {
  return typeof value === "string" && Object.hasOwn(DTYPE_BYTES, value);
}

/**
 * Encodes tensors as one safetensors file. Tensors are stored contiguously in the order given (and the
 * header lists them in that order), unlike the reference writer, which sorts by dtype then name: a
 * PyTorch user diffing state dicts sees our module order. Mixing dtypes whose sizes do not keep later
 * tensors 8-byte aligned is valid but makes zero-copy readers copy; our checkpoints are all F32.
 */
export function encodeSafetensors(tensors: readonly NamedTensor[], metadata?: Record<string, string>): Uint8Array {
  requireLittleEndianHost();
  const entries: string[] = [];
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== "string") {
        throw new DataError(
          `safetensors metadata "${key}" is a ${typeof value}; the format only stores strings`,
          "convert it with String() or JSON.stringify()",
        );
      }
    }
    entries.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }

  const seen = new Set<string>();
  let offset = 0;
  const spans: Array<{ tensor: NamedTensor; begin: number }> = [];
  for (const tensor of tensors) {
    checkTensor(tensor, seen);
    const byteLength = tensor.data.byteLength;
    spans.push({ tensor, begin: offset });
    // Written by hand, not via JSON.stringify of an object, so that names like "0" keep their place.
    entries.push(
      `${JSON.stringify(tensor.name)}:{"dtype":${JSON.stringify(tensor.dtype)},"shape":${JSON.stringify(tensor.shape)},"data_offsets":[${offset},${offset + byteLength}]}`,
    );
    offset += byteLength;
  }

  const json = new TextEncoder().encode(`{${entries.join(",")}}`);
  // Pad with spaces (still valid JSON) so the data buffer starts 8-byte aligned, as the reference writer does.
  const headerLength = Math.ceil(json.length / 8) * 8;
  if (headerLength > MAX_HEADER_BYTES) {
    throw new DataError(
      `safetensors header would be ${headerLength} bytes, over the ${MAX_HEADER_BYTES}-byte limit readers enforce`,
      "split the tensors over several files",
    );
  }
  const dataStart = HEADER_LENGTH_BYTES + headerLength;
  // Every byte is written below, so skip zero-filling; a plain Uint8Array (not a Buffer) keeps slice() a copy for callers.
  const out = new Uint8Array(Buffer.allocUnsafeSlow(dataStart + offset).buffer, 0, dataStart + offset);
  new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, HEADER_LENGTH_BYTES);
  out.fill(0x20, HEADER_LENGTH_BYTES + json.length, dataStart);
  for (const { tensor, begin } of spans) {
    out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength), dataStart + begin);
  }
  return out;
}

/**
 * Decodes and validates a safetensors file. Tensor data views `bytes` where it is aligned for its
 * element type (no copy) and is copied where it is not, so do not reuse `bytes` while the tensors live.
 * Any inconsistency throws CorruptDataError naming `uriForErrors`.
 */
export function decodeSafetensors(bytes: Uint8Array, uriForErrors: string): DecodedSafetensors {
  requireLittleEndianHost();
  const corrupt = (what: string): CorruptDataError =>
    new CorruptDataError(
      uriForErrors,
      what,
      "the file is truncated or not a safetensors file: write it again, or load an earlier copy",
    );

  if (bytes.byteLength < HEADER_LENGTH_BYTES) {
    throw corrupt(`file is ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  }
  const declaredHeaderLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (declaredHeaderLength > BigInt(MAX_HEADER_BYTES)) {
    throw corrupt(`header length ${declaredHeaderLength} is over the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const headerLength = Number(declaredHeaderLength);
  const dataStart = HEADER_LENGTH_BYTES + headerLength;
  if (dataStart > bytes.byteLength) {
    throw corrupt(`header length ${headerLength} runs past the end of the file (${bytes.byteLength} bytes)`);
  }

  let headerText: string;
  try {
    headerText = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(HEADER_LENGTH_BYTES, dataStart));
  } catch {
    throw corrupt("header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (err) {
    throw corrupt(`header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(header)) throw corrupt("header is not a JSON object");

  let metadata: Record<string, string> = {};
  const infos: Array<{ name: string; dtype: Dtype; shape: number[]; begin: number; end: number }> = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      metadata = checkMetadata(value, corrupt);
      continue;
    }
    infos.push({ name, ...checkTensorInfo(name, value, corrupt) });
  }

  const bufferLength = bytes.byteLength - dataStart;
  for (const info of infos) {
    if (info.end > bufferLength) {
      throw corrupt(
        `tensor "${info.name}" data_offsets [${info.begin}, ${info.end}] run past the data buffer (${bufferLength} bytes)`,
      );
    }
  }
  // Stable sort: zero-size tensors sharing an offset keep JSON.parse's property order (the header's
  // order, except that integer-like names come first).
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous = "";
  for (const info of infos) {
    if (info.begin < covered) {
      throw corrupt(
        `tensor "${info.name}" data_offsets [${info.begin}, ${info.end}] overlap tensor "${previous}" (which ends at ${covered})`,
      );
    }
    if (info.begin > covered) {
      throw corrupt(`data bytes [${covered}, ${info.begin}) before tensor "${info.name}" belong to no tensor`);
    }
    covered = info.end;
    previous = info.name;
  }
  if (covered !== bufferLength) {
    throw corrupt(
      `${bufferLength - covered} trailing bytes after the last tensor (tensors cover ${covered} of ${bufferLength} data bytes)`,
    );
  }

  const tensors = new Map<string, NamedTensor>();
  for (const info of infos) {
    tensors.set(info.name, {
      name: info.name,
      dtype: info.dtype,
      shape: info.shape,
      data: viewOrCopy(bytes, dataStart + info.begin, dataStart + info.end, info.dtype),
    } as NamedTensor);
  }
  return { tensors, metadata };
}

function viewOrCopy<D extends Dtype>(bytes: Uint8Array, begin: number, end: number, dtype: D): TypedArrayOfDtype[D] {
  const elementBytes = DTYPE_BYTES[dtype];
  const length = (end - begin) / elementBytes;
  const absoluteOffset = bytes.byteOffset + begin;
  if (absoluteOffset % elementBytes === 0) return new ARRAY_TYPE[dtype](bytes.buffer, absoluteOffset, length);
  const copy = bytes.slice(begin, end);
  return new ARRAY_TYPE[dtype](copy.buffer, 0, length);
}

function checkTensor(tensor: NamedTensor, seen: Set<string>): void {
  const { name, dtype, shape, data } = tensor;
  if (typeof name !== "string" || name.length === 0)
    throw new DataError(`tensor name ${JSON.stringify(name)} is not a non-empty string`, "give every tensor a name");
  if (name === METADATA_KEY)
    throw new DataError(`tensor name "${METADATA_KEY}" is reserved by the safetensors format`, "rename the tensor");
  if (seen.has(name)) throw new DataError(`tensor "${name}" appears twice`, "give every tensor a unique name");
  seen.add(name);
  if (!isDtype(dtype))
    throw new DataError(
      `tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`,
      `use one of ${Object.keys(DTYPE_BYTES).join(", ")}`,
    );
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new DataError(
      `tensor "${name}" has shape ${JSON.stringify(shape)}`,
      "a shape is a list of non-negative integers ([] for a scalar)",
    );
  }
  const arrayType = ARRAY_TYPE[dtype];
  if (!(data instanceof arrayType)) {
    throw new DataError(
      `tensor "${name}" (${dtype}) holds a ${data?.constructor?.name ?? typeof data}`,
      `pass its data as a ${arrayType.name}`,
    );
  }
  const elements = shape.reduce((a, b) => a * b, 1);
  if (data.length !== elements) {
    throw new DataError(
      `tensor "${name}" has shape [${shape.join(", ")}] (${elements} elements) but ${data.length} values`,
      "reshape or slice the data to match",
    );
  }
}

function checkMetadata(value: unknown, corrupt: (what: string) => CorruptDataError): Record<string, string> {
  if (!isPlainObject(value)) throw corrupt(`"${METADATA_KEY}" is not an object`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string") throw corrupt(`"${METADATA_KEY}" entry "${key}" is not a string`);
  }
  return value as Record<string, string>;
}

function checkTensorInfo(
  name: string,
  value: unknown,
  corrupt: (what: string) => CorruptDataError,
): { dtype: Dtype; shape: number[]; begin: number; end: number } {
  if (!isPlainObject(value)) throw corrupt(`tensor "${name}" entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isDtype(dtype))
    throw corrupt(
      `tensor "${name}" has unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(", ")})`,
    );
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw corrupt(`tensor "${name}" has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw corrupt(
      `tensor "${name}" has data_offsets ${JSON.stringify(offsets)}, not [begin, end] with 0 <= begin <= end`,
    );
  }
  let byteLength = DTYPE_BYTES[dtype];
  for (const dim of shape as number[]) {
    byteLength *= dim;
    if (!Number.isSafeInteger(byteLength)) throw corrupt(`tensor "${name}" shape ${JSON.stringify(shape)} overflows`);
  }
  const [begin, end] = offsets as [number, number];
  if (end - begin !== byteLength) {
    throw corrupt(
      `tensor "${name}" is ${dtype} [${(shape as number[]).join(", ")}], ${byteLength} bytes, but its data_offsets [${begin}, ${end}] span ${end - begin} bytes`,
    );
  }
  return { dtype, shape: shape as number[], begin, end };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function requireLittleEndianHost(): void {
  // The format is little-endian and we hand typed-array views over its bytes; every platform Node ships for is LE.
  if (!HOST_IS_LITTLE_ENDIAN)
    throw new IjepaError("safetensors I/O needs a little-endian host", "run on x86-64 or arm64");
}
