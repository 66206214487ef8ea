// The assembled batch_matmul.wat on a memory of its own: every layout and awkward size against a float64 reference,
// and not one byte written outside C and the scratch it asked for.
import { describe, expect, it } from "vitest";
import { instantiateBatchMatMul, type BatchMatMulExports } from "../../trainer/kernels/wasm_batch_matmul.js";
import { webAssembly, type WasmMemory } from "../../trainer/kernels/webassembly_api.js";
import { Rng } from "../../trainer/utils/rng.js";
import { LAYOUTS, maxRelativeError, randomValues, referenceProduct, type ProductCase } from "./matmul_reference.js";

const SIZES = [1, 2, 3, 4, 5, 7, 8, 17, 49, 64, 65];
const TOLERANCE = 1e-5;
const GUARD_BYTES = 64;
// A quiet NaN with a payload no computation produces, so any stray write shows.
const SENTINEL_BITS = 0x7fc0dead;

/** One product laid out in a wasm memory with guard bands between and after the operands, result and scratch. */
class GuardedProduct {
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly scratch: number;
  readonly end: number;

  constructor(
    private readonly memory: WasmMemory,
    readonly product: ProductCase,
    readonly scratchBytes: number,
    readonly aValues: Float32Array,
    readonly bValues: Float32Array,
  ) {
    const { batch, m, n } = product;
    // Offsets ≡ 4 (mod 16): only 4-byte aligned, the least any float32 tensor can be.
    let next = 4 + GUARD_BYTES;
    const place = (bytes: number) => {
      const at = next;
      next = roundUp(at + bytes, 16) + 4 + GUARD_BYTES;
      return at;
    };
    this.a = place(aValues.byteLength);
    this.b = place(bValues.byteLength);
    this.c = place(batch * m * n * 4);
    // With no scratch asked for, point it into a guard band so any use of it is caught.
    this.scratch = scratchBytes > 0 ? place(scratchBytes) : next - GUARD_BYTES / 2;
    this.end = next;
    const bytesNeeded = this.end + GUARD_BYTES;
    if (memory.buffer.byteLength < bytesNeeded)
      memory.grow(Math.ceil((bytesNeeded - memory.buffer.byteLength) / 65536));
    new Uint32Array(memory.buffer, 0, bytesNeeded / 4).fill(SENTINEL_BITS);
    new Float32Array(memory.buffer, this.a, aValues.length).set(aValues);
    new Float32Array(memory.buffer, this.b, bValues.length).set(bValues);
  }

  result(): Float32Array {
    const { batch, m, n } = this.product;
    return new Float32Array(this.memory.buffer, this.c, batch * m * n).slice();
  }

  /** Byte offsets outside C and the scratch whose contents changed (the operands included). */
  strayWrites(): number[] {
    const words = new Uint32Array(this.memory.buffer, 0, (this.end + GUARD_BYTES) / 4);
    const { batch, m, n } = this.product;
    const cEnd = this.c + batch * m * n * 4;
    const scratchEnd = this.scratch + this.scratchBytes;
    const aWords = new Uint32Array(this.aValues.buffer, this.aValues.byteOffset, this.aValues.length);
    const bWords = new Uint32Array(this.bValues.buffer, this.bValues.byteOffset, this.bValues.length);
    const stray: number[] = [];
    for (let word = 0; word < words.length; word++) {
      const at = word * 4;
      if (at >= this.c && at < cEnd) continue;
      if (this.scratchBytes > 0 && at >= this.scratch && at < scratchEnd) continue;
      let expected = SENTINEL_BITS;
      if (at >= this.a && at < this.a + this.aValues.byteLength) expected = aWords[(at - this.a) / 4];
      if (at >= this.b && at < this.b + this.bValues.byteLength) expected = bWords[(at - this.b) / 4];
      if (words[word] !== expected) stray.push(at);
    }
    return stray;
  }
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/** Runs one product through the kernel; returns its worst relative error and any stray writes. */
function runProduct(kernel: BatchMatMulExports, memory: WasmMemory, product: ProductCase, rng: Rng) {
  const { batch, m, k, n, transposeA, transposeB } = product;
  const aValues = randomValues(batch * m * k, rng);
  const bValues = randomValues(batch * k * n, rng);
  const ta = transposeA ? 1 : 0;
  const tb = transposeB ? 1 : 0;
  const layout = new GuardedProduct(memory, product, kernel.scratch_bytes(m, k, n, ta, tb), aValues, bValues);
  kernel.batch_matmul(layout.a, layout.b, layout.c, layout.scratch, batch, m, k, n, ta, tb);
  return {
    error: maxRelativeError(layout.result(), referenceProduct(product, aValues, bValues)),
    stray: layout.strayWrites(),
  };
}

function describeProduct(p: ProductCase): string {
  return `${p.batch}×[${p.m}×${p.k}]·[${p.k}×${p.n}] ${p.transposeA ? "T" : "N"}${p.transposeB ? "T" : "N"}`;
}

describe("batch_matmul.wat", () => {
  const memory = new webAssembly.Memory({ initial: 64 });
  const kernel = instantiateBatchMatMul(memory);

  for (const layout of LAYOUTS) {
    it(`matches a float64 reference in ${layout.name} for every M, K, N in {${SIZES.join(", ")}} and batches 1–5`, () => {
      const rng = Rng.fromSeed(11, layout.name);
      const failures: string[] = [];
      let index = 0;
      for (const m of SIZES) {
        for (const k of SIZES) {
          for (const n of SIZES) {
            const product = { batch: 1 + (index++ % 5), m, k, n, ...layout };
            const { error, stray } = runProduct(kernel, memory, product, rng);
            if (!(error <= TOLERANCE)) failures.push(`${describeProduct(product)}: relative error ${error}`);
            if (stray.length > 0)
              failures.push(`${describeProduct(product)}: wrote outside C at bytes ${stray.slice(0, 4).join(", ")}…`);
          }
        }
      }
      expect(failures).toEqual([]);
    });
  }

  it("blocks long K (chunks that add onto C), wide N, and NT products too long for dot tiles, in every layout", () => {
    const rng = Rng.fromSeed(12, "blocking");
    const failures: string[] = [];
    const shapes = [
      [9, 600, 300],
      [5, 513, 7],
      [6, 257, 263],
      [3, 1000, 5],
      [4, 512, 8],
      [2, 700, 4],
      [13, 256, 257],
    ];
    for (const [m, k, n] of shapes) {
      for (const layout of LAYOUTS) {
        const product = { batch: 2, m, k, n, ...layout };
        const { error, stray } = runProduct(kernel, memory, product, rng);
        if (!(error <= TOLERANCE)) failures.push(`${describeProduct(product)}: relative error ${error}`);
        if (stray.length > 0)
          failures.push(`${describeProduct(product)}: wrote outside C at bytes ${stray.slice(0, 4).join(", ")}…`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("writes zeros for an empty sum (K = 0) and touches nothing when M, N or the batch is 0", () => {
    const rng = Rng.fromSeed(13, "empty");
    for (const layout of LAYOUTS) {
      for (const [batch, m, k, n] of [
        [3, 4, 0, 5],
        [2, 0, 3, 4],
        [2, 3, 4, 0],
        [0, 3, 4, 5],
      ]) {
        const product = { batch, m, k, n, ...layout };
        const { error, stray } = runProduct(kernel, memory, product, rng);
        expect(error, describeProduct(product)).toBe(0);
        expect(stray, describeProduct(product)).toEqual([]);
      }
    }
  });

  it("reads nothing past its operands: with A or B ending exactly where the memory ends, nothing traps", () => {
    const rng = Rng.fromSeed(14, "edge");
    const edgeMemory = new webAssembly.Memory({ initial: 4 });
    const edgeKernel = instantiateBatchMatMul(edgeMemory);
    const memoryEnd = edgeMemory.buffer.byteLength;
    for (const layout of LAYOUTS) {
      for (const [batch, m, k, n] of [
        [2, 5, 7, 3],
        [3, 49, 17, 49],
        [2, 17, 65, 17],
        [1, 9, 600, 13],
      ]) {
        const product = { batch, m, k, n, ...layout };
        const ta = layout.transposeA ? 1 : 0;
        const tb = layout.transposeB ? 1 : 0;
        const aValues = randomValues(batch * m * k, rng);
        const bValues = randomValues(batch * k * n, rng);
        const want = referenceProduct(product, aValues, bValues);
        for (const last of ["A", "B"]) {
          // scratch and C first, then the other operand, then `last` flush against the end of memory
          const scratch = 0;
          const c = roundUp(kernel.scratch_bytes(m, k, n, ta, tb), 16);
          const lastValues = last === "A" ? aValues : bValues;
          const otherValues = last === "A" ? bValues : aValues;
          const lastAt = memoryEnd - lastValues.byteLength;
          const otherAt = c + batch * m * n * 4;
          expect(otherAt + otherValues.byteLength, describeProduct(product)).toBeLessThanOrEqual(lastAt);
          new Float32Array(edgeMemory.buffer, lastAt, lastValues.length).set(lastValues);
          new Float32Array(edgeMemory.buffer, otherAt, otherValues.length).set(otherValues);
          const [aAt, bAt] = last === "A" ? [lastAt, otherAt] : [otherAt, lastAt];
          edgeKernel.batch_matmul(aAt, bAt, c, scratch, batch, m, k, n, ta, tb);
          const got = new Float32Array(edgeMemory.buffer, c, batch * m * n);
          expect(maxRelativeError(got, want), `${describeProduct(product)}, ${last} last`).toBeLessThanOrEqual(
            TOLERANCE,
          );
        }
      }
    }
  });

  it("asks for scratch (one transposed B) only where it transposes B", () => {
    expect(kernel.scratch_bytes(49, 64, 49, 0, 0)).toBe(0);
    expect(kernel.scratch_bytes(49, 64, 49, 1, 0)).toBe(0);
    // attention's Q·Kᵀ and dO·Vᵀ run as dot tiles straight from both operands
    expect(kernel.scratch_bytes(49, 64, 49, 0, 1)).toBe(0);
    expect(kernel.scratch_bytes(49, 64, 49, 1, 1)).toBe(64 * 49 * 4);
    expect(kernel.scratch_bytes(49, 600, 17, 0, 1)).toBe(600 * 17 * 4);
    expect(kernel.scratch_bytes(1, 64, 49, 0, 1)).toBe(64 * 49 * 4);
  });
});
