// Tests of the safetensors encoder/decoder: the byte layout of the spec, round trips of every dtype, and rejection of every kind of damage.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CorruptDataError, DataError } from "../../trainer/errors.js";
import {
  DTYPE_BYTES,
  type Dtype,
  type NamedTensor,
  decodeSafetensors,
  encodeSafetensors,
} from "../../trainer/checkpoint/safetensors.js";

const URI = "/runs/r1/checkpoints/00000010/model.safetensors";

/** A file assembled by hand from the spec: u64 LE header length, header text, data bytes. */
function rawFile(header: string, data: number[] = []): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectCorrupt(bytes: Uint8Array, fragment: string | RegExp): void {
  let error: unknown;
  try {
    decodeSafetensors(bytes, URI);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(CorruptDataError);
  expect((error as CorruptDataError).uri).toBe(URI);
  expect((error as Error).message).toContain(URI);
  expect((error as Error).message).toMatch(fragment);
}

/** One tensor of each dtype, with the awkward values of that type. */
function oneOfEachDtype(): NamedTensor[] {
  return [
    { name: "bool", dtype: "BOOL", shape: [4], data: Uint8Array.of(1, 0, 0, 1) },
    { name: "u8", dtype: "U8", shape: [2, 2], data: Uint8Array.of(0, 1, 254, 255) },
    { name: "i8", dtype: "I8", shape: [3], data: Int8Array.of(-128, 0, 127) },
    { name: "f8e5m2", dtype: "F8_E5M2", shape: [2], data: Uint8Array.of(0x3c, 0x7c) },
    { name: "f8e4m3", dtype: "F8_E4M3", shape: [2], data: Uint8Array.of(0x38, 0x7e) },
    { name: "i16", dtype: "I16", shape: [3], data: Int16Array.of(-32768, 1, 32767) },
    { name: "u16", dtype: "U16", shape: [1, 2], data: Uint16Array.of(0, 65535) },
    { name: "f16", dtype: "F16", shape: [2], data: Uint16Array.of(0x3c00, 0xfc00) },
    { name: "bf16", dtype: "BF16", shape: [2], data: Uint16Array.of(0x3f80, 0x7fc0) },
    { name: "i32", dtype: "I32", shape: [2], data: Int32Array.of(-2147483648, 2147483647) },
    { name: "u32", dtype: "U32", shape: [2], data: Uint32Array.of(0, 4294967295) },
    { name: "f32", dtype: "F32", shape: [2, 3], data: Float32Array.of(0, -0, 1.5, NaN, Infinity, -3.4e38) },
    { name: "f64", dtype: "F64", shape: [3], data: Float64Array.of(Math.PI, -Number.MAX_VALUE, Number.MIN_VALUE) },
    { name: "i64", dtype: "I64", shape: [2], data: BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n) },
    { name: "u64", dtype: "U64", shape: [2], data: BigUint64Array.of(0n, 2n ** 64n - 1n) },
    { name: "scalar", dtype: "F32", shape: [], data: Float32Array.of(42) },
    { name: "empty", dtype: "F32", shape: [0, 3], data: new Float32Array(0) },
  ];
}

describe("safetensors byte layout", () => {
  // Header text written out from the spec: u64 LE length, compact JSON (dtype, shape, data_offsets),
  // "__metadata__" first, padded with spaces to a multiple of 8, then the data little-endian.
  const header =
    '{"__metadata__":{"format":"pt"},' +
    '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}';
  const expected = Uint8Array.from([
    0x90,
    0,
    0,
    0,
    0,
    0,
    0,
    0, // 144: the 139-byte header plus 5 spaces of padding
    ...new TextEncoder().encode(header),
    0x20,
    0x20,
    0x20,
    0x20,
    0x20,
    0x00,
    0x00,
    0x80,
    0x3f, // a[0] = 1.0f
    0x00,
    0x00,
    0x00,
    0xc0, // a[1] = -2.0f
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff, // b[0] = -1
  ]);

  it("writes a 2-tensor file byte for byte as the spec lays it out", () => {
    const bytes = encodeSafetensors(
      [
        { name: "a", dtype: "F32", shape: [2], data: Float32Array.of(1, -2) },
        { name: "b", dtype: "I64", shape: [1], data: BigInt64Array.of(-1n) },
      ],
      { format: "pt" },
    );
    expect(header.length).toBe(139);
    expect([...bytes]).toEqual([...expected]);
  });

  it("reads the hand-built file back", () => {
    const { tensors, metadata } = decodeSafetensors(expected, URI);
    expect(metadata).toEqual({ format: "pt" });
    expect([...tensors.keys()]).toEqual(["a", "b"]);
    expect(tensors.get("a")).toEqual({ name: "a", dtype: "F32", shape: [2], data: Float32Array.of(1, -2) });
    expect(tensors.get("b")).toEqual({ name: "b", dtype: "I64", shape: [1], data: BigInt64Array.of(-1n) });
  });

  it("matches the reference writer's single-tensor output, where no padding is needed", () => {
    // {"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}} is exactly 64 bytes.
    const bytes = encodeSafetensors([
      { name: "attn.0", dtype: "F32", shape: [1, 2, 3], data: Float32Array.of(0, 1, 2, 3, 4, 5) },
    ]);
    expect(new DataView(bytes.buffer).getBigUint64(0, true)).toBe(64n);
    expect(new TextDecoder().decode(bytes.subarray(8, 72))).toBe(
      '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}',
    );
    expect(bytes.length).toBe(8 + 64 + 24);
  });

  it("writes an empty file as {} padded to 8 bytes, and omits __metadata__ when there is none", () => {
    expect([...encodeSafetensors([])]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 32, 32, 32, 32, 32, 32]);
    expect(decodeSafetensors(encodeSafetensors([]), URI)).toEqual({ tensors: new Map(), metadata: {} });
  });

  it("starts the data buffer 8-byte aligned whatever the header length", () => {
    for (const name of ["a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh"]) {
      const bytes = encodeSafetensors([{ name, dtype: "F64", shape: [1], data: Float64Array.of(1) }]);
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect(headerLength % 8).toBe(0);
      expect(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))).toMatch(/^\{.*\} *$/);
    }
  });

  it("counts the header in UTF-8 bytes, not characters", () => {
    const bytes = encodeSafetensors([{ name: "größe·重み", dtype: "U8", shape: [1], data: Uint8Array.of(7) }], {
      note: "é",
    });
    const { tensors, metadata } = decodeSafetensors(bytes, URI);
    expect(tensors.get("größe·重み")?.data).toEqual(Uint8Array.of(7));
    expect(metadata).toEqual({ note: "é" });
  });
});

describe("safetensors round trips", () => {
  it("round-trips every dtype, scalars and empty tensors exactly", () => {
    const tensors = oneOfEachDtype();
    const decoded = decodeSafetensors(encodeSafetensors(tensors, { step: "10" }), URI);
    expect([...decoded.tensors.values()]).toEqual(tensors);
    expect(decoded.metadata).toEqual({ step: "10" });
    expect(Object.keys(DTYPE_BYTES).sort()).toEqual([...new Set(tensors.map((t) => t.dtype))].sort());
  });

  it("keeps the order the tensors were given in, even for names that look like numbers", () => {
    const names = ["blocks.10.w", "10", "2", "blocks.2.w", "b", "a"];
    const tensors: NamedTensor[] = names.map((name, i) => ({
      name,
      dtype: "F32",
      shape: [1],
      data: Float32Array.of(i),
    }));
    const decoded = decodeSafetensors(encodeSafetensors(tensors), URI);
    expect([...decoded.tensors.keys()]).toEqual(names);
  });

  it("reads files whose header lists tensors in another order than their data", () => {
    const bytes = rawFile(
      '{"late":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"early":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
      [5, 6],
    );
    const decoded = decodeSafetensors(bytes, URI);
    expect([...decoded.tensors.keys()]).toEqual(["early", "late"]);
    expect(decoded.tensors.get("late")?.data).toEqual(Uint8Array.of(6));
  });

  it("reads headers that are not padded", () => {
    const bytes = rawFile('{"x":{"dtype":"I16","shape":[2],"data_offsets":[0,4]}}', [1, 0, 0xff, 0xff]);
    expect(decodeSafetensors(bytes, URI).tensors.get("x")?.data).toEqual(Int16Array.of(1, -1));
  });

  it("decodes correctly from a buffer at an odd byte offset (copying the misaligned tensors)", () => {
    const encoded = encodeSafetensors(oneOfEachDtype());
    const shifted = new Uint8Array(encoded.length + 1);
    shifted.set(encoded, 1);
    const decoded = decodeSafetensors(shifted.subarray(1), URI);
    expect([...decoded.tensors.values()]).toEqual(oneOfEachDtype());
  });

  it("round-trips zero-size tensors sharing an offset, including integer-like names", () => {
    const tensors: NamedTensor[] = [
      { name: " ", dtype: "BOOL", shape: [0], data: new Uint8Array(0) },
      { name: "0", dtype: "BOOL", shape: [0], data: new Uint8Array(0) },
      { name: "w", dtype: "F32", shape: [1], data: Float32Array.of(2) },
    ];
    const again = decodeSafetensors(encodeSafetensors(tensors), URI);
    expect(again.tensors).toEqual(new Map(tensors.map((t) => [t.name, t])));
    expect([...again.tensors.keys()].at(-1)).toBe("w");
  });

  it("round-trips random tensor sets", () => {
    const dtypes = Object.keys(DTYPE_BYTES) as Dtype[];
    const tensorArb = fc
      .record({
        dtype: fc.constantFrom(...dtypes),
        shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
        seed: fc.integer({ min: 0, max: 255 }),
      })
      .map(({ dtype, shape, seed }) => {
        const count = shape.reduce((a, b) => a * b, 1);
        const raw = Uint8Array.from({ length: count * DTYPE_BYTES[dtype] }, (_, i) => (seed + i * 37) & 0xff);
        return { dtype, shape, raw };
      });
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 6 }), tensorArb), {
          selector: ([n]) => n,
          maxLength: 6,
        }),
        (entries) => {
          const tensors = entries
            .filter(([name]) => name !== "__metadata__")
            .map(([name, { dtype, shape, raw }]) => {
              // Typed arrays of any dtype from raw bytes: a one-tensor file assembled by hand.
              const file = rawFile(
                `{${JSON.stringify(name)}:{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":[0,${raw.length}]}}`,
                [...raw],
              );
              return decodeSafetensors(file, URI).tensors.get(name)!;
            });
          const again = decodeSafetensors(encodeSafetensors(tensors), URI);
          // Same tensors by name; tensors with data keep their order (empty ones share an offset, so
          // the file cannot order them among themselves).
          expect(again.tensors).toEqual(new Map(tensors.map((t) => [t.name, t])));
          const nonEmpty = (list: Iterable<NamedTensor>) =>
            [...list].filter((t) => t.data.byteLength > 0).map((t) => t.name);
          expect(nonEmpty(again.tensors.values())).toEqual(nonEmpty(tensors));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("safetensors decoding rejects damage, naming the file", () => {
  const good = encodeSafetensors([
    { name: "w", dtype: "F32", shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
    { name: "b", dtype: "F32", shape: [2], data: Float32Array.of(5, 6) },
  ]);

  it("rejects every truncation of a valid file", () => {
    for (let length = 0; length < good.length; length++) {
      expect(() => decodeSafetensors(good.subarray(0, length), URI), `truncated to ${length}`).toThrow(
        CorruptDataError,
      );
    }
  });

  const cases: Array<[string, Uint8Array, string | RegExp]> = [
    ["a file shorter than the length field", Uint8Array.of(1, 2, 3), "too short"],
    [
      "a header length beyond the file",
      (() => {
        const b = good.slice();
        new DataView(b.buffer).setBigUint64(0, 10_000n, true);
        return b;
      })(),
      "runs past the end of the file",
    ],
    [
      "a header length over the 100 MB limit",
      (() => {
        const b = good.slice();
        new DataView(b.buffer).setBigUint64(0, 2n ** 62n, true);
        return b;
      })(),
      "over the 100000000-byte limit",
    ],
    [
      "a header that is not UTF-8",
      (() => {
        const b = rawFile('{"x":1}');
        b[9] = 0xff;
        return b;
      })(),
      "not valid UTF-8",
    ],
    ["a header that is not JSON", rawFile('{"w": {"dtype": "F32",'), "not valid JSON"],
    ["a header that is a JSON array", rawFile("[1, 2]"), "not a JSON object"],
    [
      "an unknown dtype",
      rawFile('{"x":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}', new Array(16).fill(0)),
      'unknown dtype "F128"',
    ],
    [
      "a negative dimension",
      rawFile('{"x":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}'),
      "not a list of non-negative integers",
    ],
    [
      "offsets with begin after end",
      rawFile('{"x":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}}', [0, 0, 0, 0]),
      "0 <= begin <= end",
    ],
    [
      "offsets that are not a pair",
      rawFile('{"x":{"dtype":"U8","shape":[1],"data_offsets":[0]}}', [0]),
      "data_offsets",
    ],
    [
      "offsets past the data buffer",
      rawFile('{"x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}', [1, 2]),
      "run past the data buffer (2 bytes)",
    ],
    [
      "overlapping tensors",
      rawFile(
        '{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"y":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}',
        [1, 2, 3],
      ),
      /"y".*overlap tensor "x"/,
    ],
    [
      "a gap between tensors",
      rawFile(
        '{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"y":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}',
        [1, 2, 3],
      ),
      'data bytes [1, 2) before tensor "y" belong to no tensor',
    ],
    [
      "trailing bytes after the last tensor",
      rawFile('{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [1, 2, 3]),
      "2 trailing bytes",
    ],
    [
      "a shape whose size differs from the offsets",
      rawFile('{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Array(8).fill(0)),
      "F32 [3], 12 bytes, but its data_offsets [0, 8] span 8 bytes",
    ],
    [
      "a shape so large it overflows",
      rawFile('{"x":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}', new Array(8).fill(0)),
      "overflows",
    ],
    [
      "metadata that is not a string map",
      rawFile('{"__metadata__":{"epoch":3}}'),
      '"__metadata__" entry "epoch" is not a string',
    ],
    ["a tensor entry that is not an object", rawFile('{"x":7}'), 'tensor "x" entry is not an object'],
  ];
  it.each(cases)("rejects %s", (_what, bytes, fragment) => {
    expectCorrupt(bytes, fragment);
  });

  it("tells the reader how to recover in the error's hint", () => {
    try {
      decodeSafetensors(good.subarray(0, 20), URI);
      expect.unreachable();
    } catch (err) {
      expect((err as CorruptDataError).hint).toMatch(/write it again|earlier/);
    }
  });
});

describe("safetensors encoding refuses tensors it cannot store faithfully", () => {
  const f32 = (name: string, n = 1): NamedTensor => ({ name, dtype: "F32", shape: [n], data: new Float32Array(n) });
  const cases: Array<[string, () => unknown, string]> = [
    ["two tensors with one name", () => encodeSafetensors([f32("w"), f32("w")]), 'tensor "w" appears twice'],
    ["the reserved name __metadata__", () => encodeSafetensors([f32("__metadata__")]), "reserved"],
    ["an empty name", () => encodeSafetensors([f32("")]), "not a non-empty string"],
    [
      "data of the wrong array type",
      () =>
        encodeSafetensors([
          { name: "w", dtype: "F32", shape: [1], data: Float64Array.of(1) } as unknown as NamedTensor,
        ]),
      "pass its data as a Float32Array",
    ],
    [
      "a shape that disagrees with the data length",
      () => encodeSafetensors([{ name: "w", dtype: "F32", shape: [2, 2], data: new Float32Array(3) }]),
      "(4 elements) but 3 values",
    ],
    [
      "a fractional dimension",
      () => encodeSafetensors([{ name: "w", dtype: "F32", shape: [1.5], data: new Float32Array(1) }]),
      "shape [1.5]",
    ],
    [
      "an unknown dtype",
      () =>
        encodeSafetensors([
          { name: "w", dtype: "F128", shape: [1], data: new Float32Array(1) } as unknown as NamedTensor,
        ]),
      'unknown dtype "F128"',
    ],
    [
      "metadata that is not a string",
      () => encodeSafetensors([], { epoch: 3 } as unknown as Record<string, string>),
      'metadata "epoch" is a number',
    ],
  ];
  it.each(cases)("rejects %s", (_what, encode, fragment) => {
    expect(encode).toThrow(DataError);
    expect(encode).toThrow(fragment);
  });

  it("writes only the bytes of a subarray view, not its whole backing buffer", () => {
    const backing = Float32Array.of(9, 1, 2, 9);
    const bytes = encodeSafetensors([{ name: "v", dtype: "F32", shape: [2], data: backing.subarray(1, 3) }]);
    expect(decodeSafetensors(bytes, URI).tensors.get("v")?.data).toEqual(Float32Array.of(1, 2));
  });
});
