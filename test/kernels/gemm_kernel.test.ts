// The assembled gemm.wat (both builds) on a memory of its own: every transpose, awkward and blocked sizes, bias and
// accumulation against a float64 reference, bitwise-repeatable results, and nothing written outside C and scratch.
import { describe, expect, it } from "vitest";
import { GEMM_RELAXED_WASM_BASE64, GEMM_WASM_BASE64 } from "../../trainer/kernels/gemm_wasm.js";
import { gemmFlavour, instantiateGemm, type GemmExports } from "../../trainer/kernels/gemm_kernel.js";
import { webAssembly, type WasmMemory } from "../../trainer/kernels/webassembly_api.js";
import { Rng } from "../../trainer/utils/rng.js";
import { LAYOUTS, maxRelativeError, randomValues, referenceProduct } from "./matmul_reference.js";

const TOLERANCE = 1e-5;
const SENTINEL_BITS = 0x7fc0dead;

function build(base64: string, memory: WasmMemory): GemmExports {
  const module = new webAssembly.Module(Buffer.from(base64, "base64"));
  return new webAssembly.Instance(module, { env: { memory } }).exports as unknown as GemmExports;
}

interface Layout {
  transposeA: boolean;
  transposeB: boolean;
}

/** Runs C = op(A)·op(B) (+ bias) (+ C0) with every region at an odd 4-byte offset and sentinels everywhere else. */
function runProduct(
  kernel: GemmExports,
  memory: WasmMemory,
  m: number,
  k: number,
  n: number,
  layout: Layout,
  rng: Rng,
  options: { bias?: boolean; accumulate?: boolean } = {},
) {
  const aValues = randomValues(m * k, rng);
  const bValues = randomValues(k * n, rng);
  const biasValues = randomValues(n, rng);
  const c0Values = randomValues(m * n, rng);
  const scratchBytes = kernel.gemm_scratch_bytes(m, k, n);
  const regions = [aValues.byteLength, bValues.byteLength, biasValues.byteLength, m * n * 4, scratchBytes];
  const offsets: number[] = [];
  let next = 68;
  for (const bytes of regions) {
    offsets.push(next);
    next += Math.ceil(bytes / 16) * 16 + 68;
  }
  const needed = Math.ceil(next / 65536) - memory.buffer.byteLength / 65536;
  if (needed > 0) memory.grow(needed);
  const words = new Uint32Array(memory.buffer, 0, next / 4);
  words.fill(SENTINEL_BITS);
  const f32 = new Float32Array(memory.buffer);
  const [pa, pb, pbias, pc, scratch] = offsets;
  f32.set(aValues, pa / 4);
  f32.set(bValues, pb / 4);
  f32.set(biasValues, pbias / 4);
  if (options.accumulate) f32.set(c0Values, pc / 4);
  // A stored k×m when transposed: A[i, q] at q·m + i.
  const [aRs, aCs] = layout.transposeA ? [4, m * 4] : [k * 4, 4];
  const [bRs, bCs] = layout.transposeB ? [4, k * 4] : [n * 4, 4];
  kernel.gemm(pa, aRs, aCs, pb, bRs, bCs, pc, options.bias ? pbias : 0, m, k, n, scratch, options.accumulate ? 1 : 0);
  const got = new Float32Array(memory.buffer, pc, m * n).slice();
  // Everything outside C and scratch still holds its input or the sentinel.
  const after = new Uint32Array(memory.buffer, 0, next / 4);
  let stray = 0;
  const inside = (byte: number, at: number, bytes: number) => byte >= at && byte < at + bytes;
  for (let w = 0; w < after.length; w++) {
    const byte = w * 4;
    if (inside(byte, pc, m * n * 4) || inside(byte, scratch, scratchBytes)) continue;
    if (inside(byte, pa, aValues.byteLength) || inside(byte, pb, bValues.byteLength) || inside(byte, pbias, n * 4))
      continue;
    if (after[w] !== SENTINEL_BITS) stray++;
  }
  const want = referenceProduct({ batch: 1, m, k, n, ...layout }, aValues, bValues);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const extra = (options.bias ? biasValues[j] : 0) + (options.accumulate ? c0Values[i * n + j] : 0);
      want.value[i * n + j] += extra;
      want.scale[i * n + j] += Math.abs(extra);
    }
  }
  return { got, error: maxRelativeError(got, want), stray };
}

describe("gemm.wat", () => {
  const builds = [
    { name: "standard SIMD", base64: GEMM_WASM_BASE64 },
    ...(gemmFlavour() === "relaxed" ? [{ name: "relaxed SIMD", base64: GEMM_RELAXED_WASM_BASE64 }] : []),
  ];

  for (const { name, base64 } of builds) {
    describe(name, () => {
      const memory = new webAssembly.Memory({ initial: 16 });
      const kernel = build(base64, memory);

      for (const layout of LAYOUTS) {
        it(`matches a float64 reference for ${layout.name} products of every edge size`, () => {
          const rng = Rng.fromSeed(7, `gemm/${layout.name}`);
          for (const [m, k, n] of [
            [1, 1, 1],
            [3, 5, 7],
            [4, 8, 8],
            [5, 3, 9],
            [13, 17, 23],
            [33, 64, 40],
          ]) {
            const { error, stray } = runProduct(kernel, memory, m, k, n, layout, rng);
            expect({ m, k, n, stray, ok: error <= TOLERANCE }).toEqual({ m, k, n, stray: 0, ok: true });
          }
        });

        it(`blocks ${layout.name} products over K > 512, N > 512 and M > 128 without losing a term`, () => {
          const rng = Rng.fromSeed(8, `gemm/blocked/${layout.name}`);
          const { error, stray } = runProduct(kernel, memory, 131, 517, 519, layout, rng);
          expect(stray).toBe(0);
          expect(error).toBeLessThanOrEqual(TOLERANCE);
        });
      }

      it("adds the bias row, or adds onto C when accumulating", () => {
        const rng = Rng.fromSeed(9, "gemm/bias");
        for (const options of [{ bias: true }, { accumulate: true }]) {
          for (const [m, k, n] of [
            [9, 300, 13],
            [8, 16, 16],
          ]) {
            const { error, stray } = runProduct(kernel, memory, m, k, n, LAYOUTS[0], rng, options);
            expect({ ...options, m, stray, ok: error <= TOLERANCE }).toEqual({ ...options, m, stray: 0, ok: true });
          }
        }
      });

      it("gives bitwise the same result on every run", () => {
        const first = runProduct(kernel, memory, 37, 300, 45, LAYOUTS[2], Rng.fromSeed(3, "gemm/repeat")).got;
        const second = runProduct(kernel, memory, 37, 300, 45, LAYOUTS[2], Rng.fromSeed(3, "gemm/repeat")).got;
        expect(Buffer.from(second.buffer).equals(Buffer.from(first.buffer))).toBe(true);
      });

      it("sums columns (the bias gradient) in float32 to within rounding of float64", () => {
        const rows = 1000;
        const cols = 11;
        const values = randomValues(rows * cols, Rng.fromSeed(4, "gemm/colsum"));
        const f32 = new Float32Array(memory.buffer);
        f32.set(values, 16);
        kernel.column_sums(64, rows, cols, 64 + rows * cols * 4);
        const got = new Float32Array(memory.buffer, 64 + rows * cols * 4, cols);
        for (let j = 0; j < cols; j++) {
          let sum = 0;
          let scale = 0;
          for (let i = 0; i < rows; i++) {
            sum += values[i * cols + j];
            scale += Math.abs(values[i * cols + j]);
          }
          expect(Math.abs(got[j] - sum) / scale).toBeLessThan(1e-6);
        }
      });
    });
  }

  it("instantiates the build this runtime supports, once per memory", () => {
    const memory = new webAssembly.Memory({ initial: 1 });
    expect(instantiateGemm(memory)).toBe(instantiateGemm(memory));
    expect(["relaxed", "plain"]).toContain(gemmFlavour());
  });
});
