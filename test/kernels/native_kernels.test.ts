// The native kernel tier (native/, built by `npm run build:native`): every transpose, edge and blocked sizes, bias and
// accumulation against float64; the same bits twice, wherever a row lies, in both micro-kernels and as gemm.wat's
// relaxed build; GELU and LayerNorm with elementwise.wat's bits; bad offsets refused; and through tfjs's registered kernels
// against tfjs's own.
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { gemmFlavour, instantiateGemm } from "../../trainer/kernels/gemm_kernel.js";
import { type NativeKernels, nativeKernelsStatus, selfCheck, whyNotUse } from "../../trainer/kernels/native_kernels.js";
import { instantiateElementwise } from "../../trainer/kernels/wasm_elementwise.js";
import { registerFastWasmKernels, unregisterFastWasmKernels } from "../../trainer/kernels/register_wasm_kernels.js";
import { webAssembly } from "../../trainer/kernels/webassembly_api.js";
import { Rng } from "../../trainer/utils/rng.js";
import { LAYOUTS, maxRelativeError, randomValues, referenceProduct } from "./matmul_reference.js";

const TOLERANCE = 1e-5;
const SENTINEL_BITS = 0x7fc0dead;
const { kernels, reason } = nativeKernelsStatus();
// CI builds the addon on x86-64 Linux (.ci/run checks it loads); anywhere else a missing build skips these tests.
const mustLoad =
  Boolean(process.env.CI) &&
  process.platform === "linux" &&
  process.arch === "x64" &&
  process.env.IJEPA_NATIVE_KERNELS !== "off" &&
  process.env.IJEPA_WASM_KERNELS !== "tfjs";

interface Layout {
  transposeA: boolean;
  transposeB: boolean;
}

interface Operands {
  a: Float32Array;
  b: Float32Array;
  bias: Float32Array;
  c0: Float32Array;
}

function operands(m: number, k: number, n: number, rng: Rng): Operands {
  return {
    a: randomValues(m * k, rng),
    b: randomValues(k * n, rng),
    bias: randomValues(n, rng),
    c0: randomValues(m * n, rng),
  };
}

/**
 * Runs C = op(A)·op(B) (+ bias) (+ C0) on a heap of its own with every region at an odd 4-byte offset and sentinels
 * everywhere else; returns C and how many words outside the inputs and C changed.
 */
function runProduct(
  native: NativeKernels,
  m: number,
  k: number,
  n: number,
  layout: Layout,
  values: Operands,
  options: { bias?: boolean; accumulate?: boolean; portable?: boolean } = {},
) {
  const regions = [values.a.byteLength, values.b.byteLength, values.bias.byteLength, m * n * 4];
  const offsets: number[] = [];
  let next = 68;
  for (const bytes of regions) {
    offsets.push(next);
    next += Math.ceil(bytes / 16) * 16 + 68;
  }
  const heap = new ArrayBuffer(next);
  new Uint32Array(heap).fill(SENTINEL_BITS);
  const f32 = new Float32Array(heap);
  const [pa, pb, pbias, pc] = offsets;
  f32.set(values.a, pa / 4);
  f32.set(values.b, pb / 4);
  f32.set(values.bias, pbias / 4);
  if (options.accumulate) f32.set(values.c0, pc / 4);
  const [aRs, aCs] = layout.transposeA ? [4, m * 4] : [k * 4, 4];
  const [bRs, bCs] = layout.transposeB ? [4, k * 4] : [n * 4, 4];
  const accumulate = options.accumulate ? 1 : 0;
  native.gemm(heap, pa, aRs, aCs, pb, bRs, bCs, pc, options.bias ? pbias : 0, m, k, n, accumulate, options.portable);
  const got = new Float32Array(heap, pc, m * n).slice();
  const words = new Uint32Array(heap);
  const inside = (byte: number, at: number, bytes: number) => byte >= at && byte < at + bytes;
  let stray = 0;
  for (let w = 0; w < words.length; w++) {
    if (offsets.some((at, r) => inside(w * 4, at, regions[r]))) continue;
    if (words[w] !== SENTINEL_BITS) stray++;
  }
  return { got, stray };
}

function errorOf(got: Float32Array, m: number, k: number, n: number, layout: Layout, values: Operands, bias = false) {
  const want = referenceProduct({ batch: 1, m, k, n, ...layout }, values.a, values.b);
  if (bias) {
    want.value.forEach((_, i) => {
      want.value[i] += values.bias[i % n];
      want.scale[i] += Math.abs(values.bias[i % n]);
    });
  }
  return maxRelativeError(got, want);
}

function sameBits(x: Float32Array, y: Float32Array): boolean {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}

describe("native kernels", () => {
  it("runs the portable path on arm64 but not on an x86 without AVX2+FMA, unless asked for", () => {
    expect(whyNotUse("x64", "avx2-fma", undefined)).toBeUndefined();
    expect(whyNotUse("arm64", "portable", undefined)).toBeUndefined();
    expect(whyNotUse("x64", "portable", undefined)).toMatch(/no AVX2\+FMA.*IJEPA_NATIVE_KERNELS=on/);
    expect(whyNotUse("x64", "portable", "on")).toBeUndefined();
  });

  it.runIf(mustLoad)("load on CI's x86-64 Linux, where the addon must build", () => {
    expect(reason).toBeUndefined();
    expect(kernels?.tier()).toBe("avx2-fma");
  });

  describe.skipIf(!kernels)(`gemm (${kernels ? kernels.tier() : `skipped: native kernels ${reason}`})`, () => {
    const native = kernels as NativeKernels;

    for (const layout of LAYOUTS) {
      it(`matches a float64 reference for ${layout.name} products of every edge size`, () => {
        const rng = Rng.fromSeed(11, `native/${layout.name}`);
        for (const [m, k, n] of [
          [1, 1, 1],
          [5, 17, 1],
          [1, 5, 17],
          [17, 1, 5],
          [6, 16, 16],
          [7, 513, 17],
          [513, 5, 17],
          [17, 17, 513],
        ]) {
          const values = operands(m, k, n, rng);
          for (const portable of [false, true]) {
            const { got, stray } = runProduct(native, m, k, n, layout, values, { portable });
            const ok = errorOf(got, m, k, n, layout, values) <= TOLERANCE;
            expect({ m, k, n, portable, stray, ok }).toEqual({ m, k, n, portable, stray: 0, ok: true });
          }
        }
      });

      it(`blocks ${layout.name} products over K > 256, M > 168 and N > 4080 without losing a term`, () => {
        const rng = Rng.fromSeed(12, `native/blocked/${layout.name}`);
        for (const [m, k, n] of [
          [173, 517, 37],
          [7, 300, 4097],
        ]) {
          const values = operands(m, k, n, rng);
          const { got, stray } = runProduct(native, m, k, n, layout, values);
          expect(stray).toBe(0);
          expect(errorOf(got, m, k, n, layout, values)).toBeLessThanOrEqual(TOLERANCE);
        }
      });
    }

    it("adds the bias row, or adds onto C when accumulating", () => {
      const rng = Rng.fromSeed(13, "native/bias");
      for (const [m, k, n] of [
        [9, 300, 13],
        [12, 16, 32],
      ]) {
        const values = operands(m, k, n, rng);
        const withBias = runProduct(native, m, k, n, LAYOUTS[1], values, { bias: true });
        expect(withBias.stray).toBe(0);
        expect(errorOf(withBias.got, m, k, n, LAYOUTS[1], values, true)).toBeLessThanOrEqual(TOLERANCE);
        const accumulated = runProduct(native, m, k, n, LAYOUTS[1], values, { accumulate: true });
        const plain = runProduct(native, m, k, n, LAYOUTS[1], values).got;
        for (let i = 0; i < m * n; i++) {
          const want = plain[i] + values.c0[i];
          expect(Math.abs(accumulated.got[i] - want)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want)));
        }
      }
    });

    it("gives the same bits on every run, in both micro-kernels, and for a row whatever tile it lies in", () => {
      const [m, k, n] = [37, 300, 45];
      const values = operands(m, k, n, Rng.fromSeed(14, "native/bits"));
      for (const layout of LAYOUTS) {
        const first = runProduct(native, m, k, n, layout, values, { bias: true }).got;
        const second = runProduct(native, m, k, n, layout, values, { bias: true }).got;
        const portable = runProduct(native, m, k, n, layout, values, { bias: true, portable: true }).got;
        expect(sameBits(second, first), layout.name).toBe(true);
        expect(sameBits(portable, first), `${layout.name} portable`).toBe(true);
      }
      // Small products take another path (no packing, B read in place); its bits are those of the packed one.
      for (const [sm, sk, sn] of [
        [49, 64, 49],
        [17, 32, 17],
        [8, 64, 8],
      ]) {
        const small = operands(sm, sk, sn, Rng.fromSeed(18, `native/small/${sm}`));
        for (const layout of LAYOUTS) {
          const best = runProduct(native, sm, sk, sn, layout, small, { bias: true }).got;
          const portable = runProduct(native, sm, sk, sn, layout, small, { bias: true, portable: true }).got;
          expect(sameBits(best, portable), `${sm}×${sk}×${sn} ${layout.name}`).toBe(true);
        }
      }
      // Row 13 alone (a 1-row product at an edge tile) against row 13 of the whole (inside a full 6×16 tile).
      const row = 13;
      const whole = runProduct(native, m, k, n, LAYOUTS[0], values, { bias: true }).got;
      const alone = { ...values, a: values.a.slice(row * k, (row + 1) * k) };
      const single = runProduct(native, 1, k, n, LAYOUTS[0], alone, { bias: true }).got;
      expect(sameBits(single, whole.subarray(row * n, (row + 1) * n))).toBe(true);
    });

    it("runs batches of products (the attention's) in every transpose, matching float64", () => {
      const rng = Rng.fromSeed(19, "native/batch");
      for (const [batch, m, k, n] of [
        [5, 49, 64, 49],
        [3, 17, 32, 17],
        [2, 7, 300, 5],
      ]) {
        for (const layout of LAYOUTS) {
          const a = randomValues(batch * m * k, rng);
          const b = randomValues(batch * k * n, rng);
          const heap = new ArrayBuffer(4 * (a.length + b.length + batch * m * n));
          const f32 = new Float32Array(heap);
          f32.set(a, 0);
          f32.set(b, a.length);
          const pc = a.length + b.length;
          const [ta, tb] = [layout.transposeA ? 1 : 0, layout.transposeB ? 1 : 0];
          native.batchGemm(heap, 0, 4 * a.length, 4 * pc, batch, m, k, n, ta, tb);
          const want = referenceProduct({ batch, m, k, n, ...layout }, a, b);
          const error = maxRelativeError(f32.subarray(pc), want);
          expect({ batch, m, layout: layout.name, ok: error <= TOLERANCE }).toEqual({
            batch,
            m,
            layout: layout.name,
            ok: true,
          });
        }
      }
      expect(() => native.batchGemm(new ArrayBuffer(1024), 0, 0, 0, 5, 8, 8, 8, 0, 0)).toThrow(/larger than the heap/);
    });

    it.runIf(gemmFlavour() === "relaxed")("agrees bit for bit with gemm.wat's relaxed-SIMD build", () => {
      const [m, k, n] = [29, 600, 41];
      const values = operands(m, k, n, Rng.fromSeed(15, "native/wasm"));
      const memory = new webAssembly.Memory({ initial: 16 });
      const wasm = instantiateGemm(memory);
      for (const layout of LAYOUTS) {
        const f32 = new Float32Array(memory.buffer);
        const [pa, pb, pbias, pc] = [0, m * k, m * k + k * n, m * k + k * n + n];
        f32.set(values.a, pa);
        f32.set(values.b, pb);
        f32.set(values.bias, pbias);
        const scratch = 4 * (pc + m * n);
        const [aRs, aCs] = layout.transposeA ? [4, m * 4] : [k * 4, 4];
        const [bRs, bCs] = layout.transposeB ? [4, k * 4] : [n * 4, 4];
        wasm.gemm(4 * pa, aRs, aCs, 4 * pb, bRs, bCs, 4 * pc, 4 * pbias, m, k, n, scratch, 0);
        const fromWasm = f32.slice(pc, pc + m * n);
        const fromNative = runProduct(native, m, k, n, layout, values, { bias: true }).got;
        expect(sameBits(fromNative, fromWasm), layout.name).toBe(true);
      }
    });

    it("sums columns with the same bits as gemm.wat's column_sums", () => {
      const [rows, cols] = [1000, 23];
      const values = randomValues(rows * cols, Rng.fromSeed(16, "native/colsum"));
      const memory = new webAssembly.Memory({ initial: 2 });
      const f32 = new Float32Array(memory.buffer);
      f32.set(values, 0);
      instantiateGemm(memory).column_sums(0, rows, cols, 4 * rows * cols);
      native.columnSums(memory.buffer, 0, rows, cols, 4 * (rows * cols + cols));
      const fromWasm = f32.slice(rows * cols, rows * cols + cols);
      const fromNative = f32.slice(rows * cols + cols, rows * cols + 2 * cols);
      expect(sameBits(fromNative, fromWasm)).toBe(true);
      let worst = 0;
      for (let j = 0; j < cols; j++) {
        let sum = 0;
        for (let i = 0; i < rows; i++) sum += values[i * cols + j];
        worst = Math.max(worst, Math.abs(fromNative[j] - sum));
      }
      expect(worst).toBeLessThan(1e-4);
    });

    it("computes GELU and its gradient with the same bits as elementwise.wat, tails and extremes included", () => {
      const count = 4099;
      const x = new Float32Array(count);
      const dy = randomValues(count, Rng.fromSeed(20, "native/gelu"));
      for (let i = 0; i < count; i++) x[i] = ((i * 7919) % 4001) / 100 - 20;
      x.set([0, -0, 1e-30, -1e-30, 88, -88, 200, -200, 3.4e38, -3.4e38, 0.5, -0.5], 0);
      const memory = new webAssembly.Memory({ initial: 2 });
      const f32 = new Float32Array(memory.buffer);
      const [px, pdy, py, pdx, qy, qdx] = [0, 1, 2, 3, 4, 5].map((i) => i * count);
      f32.set(x, px);
      f32.set(dy, pdy);
      const wasm = instantiateElementwise(memory);
      wasm.gelu_forward(4 * px, 4 * py, count);
      wasm.gelu_backward(4 * px, 4 * pdy, 4 * pdx, count);
      native.geluForward(memory.buffer, 4 * px, 4 * qy, count);
      native.geluBackward(memory.buffer, 4 * px, 4 * pdy, 4 * qdx, count);
      expect(sameBits(f32.subarray(qy, qy + count), f32.subarray(py, py + count))).toBe(true);
      expect(sameBits(f32.subarray(qdx, qdx + count), f32.subarray(pdx, pdx + count))).toBe(true);
      // And it is GELU: x·Φ(x) at a few points (Φ(1) = 0.8413447, Φ(−2) = 0.0227501).
      const at = (value: number) => {
        f32[px] = value;
        native.geluForward(memory.buffer, 4 * px, 4 * qy, 1);
        return f32[qy];
      };
      expect(at(1)).toBeCloseTo(0.8413447, 6);
      expect(at(-2)).toBeCloseTo(-2 * 0.0227501, 6);
      expect(() => native.geluForward(memory.buffer, 0, memory.buffer.byteLength - 8, 4)).toThrow(/past the heap/);
    });

    it("computes LayerNorm forward and backward with the same bits as elementwise.wat, over blocks and tails", () => {
      const rng = Rng.fromSeed(21, "native/layernorm");
      for (const [rows, cols, affine] of [
        [130, 192, true],
        [67, 13, true],
        [5, 3, false],
        [64, 4, true],
      ] as const) {
        const memory = new webAssembly.Memory({ initial: 16 });
        const f32 = new Float32Array(memory.buffer);
        const n = rows * cols;
        // x, γ, β, dy | wasm: y, stats, dx, dγ, dβ, scratch | native: y, stats, dx, dγ, dβ
        const sizes = [n, cols, cols, n, n, 2 * rows, n, cols, cols, 2 * cols, n, 2 * rows, n, cols, cols];
        const at: number[] = [];
        let next = 16;
        for (const size of sizes) {
          at.push(next);
          next += size + 4;
        }
        const [x, gamma, beta, dy, wy, ws, wdx, wdg, wdb, scratch, ny, ns, ndx, ndg, ndb] = at;
        f32.set(
          randomValues(n, rng).map((v) => v * 3 + 0.5),
          x,
        );
        f32.set(randomValues(cols, rng), gamma);
        f32.set(randomValues(cols, rng), beta);
        f32.set(randomValues(n, rng), dy);
        const [g, b] = affine ? [4 * gamma, 4 * beta] : [0, 0];
        const wasm = instantiateElementwise(memory);
        wasm.layer_norm_forward(4 * x, g, b, 4 * wy, 4 * ws, rows, cols, 1e-6);
        native.layerNormForward(memory.buffer, 4 * x, g, b, 4 * ny, 4 * ns, rows, cols, 1e-6);
        wasm.layer_norm_backward(4 * x, 4 * gamma, 4 * dy, 4 * ws, 4 * wdx, 4 * wdg, 4 * wdb, 4 * scratch, rows, cols);
        native.layerNormBackward(
          memory.buffer,
          4 * x,
          4 * gamma,
          4 * dy,
          4 * ns,
          4 * ndx,
          4 * ndg,
          4 * ndb,
          rows,
          cols,
        );
        const region = (start: number, size: number) => f32.subarray(start, start + size);
        const label = `${rows}×${cols}${affine ? "" : " no affine"}`;
        expect(sameBits(region(ny, n), region(wy, n)), `${label} y`).toBe(true);
        expect(sameBits(region(ns, 2 * rows), region(ws, 2 * rows)), `${label} stats`).toBe(true);
        expect(sameBits(region(ndx, n), region(wdx, n)), `${label} dx`).toBe(true);
        expect(sameBits(region(ndg, cols), region(wdg, cols)), `${label} dγ`).toBe(true);
        expect(sameBits(region(ndb, cols), region(wdb, cols)), `${label} dβ`).toBe(true);
        // And it normalises: row 0 of x̂ (no affine) has mean ≈ 0 and variance ≈ 1.
        native.layerNormForward(memory.buffer, 4 * x, 0, 0, 4 * ny, 0, 1, cols, 1e-6);
        const row = Array.from(region(ny, cols));
        const mean = row.reduce((s, v) => s + v, 0) / cols;
        expect(Math.abs(mean)).toBeLessThan(1e-5);
        expect(Math.abs(row.reduce((s, v) => s + (v - mean) ** 2, 0) / cols - 1)).toBeLessThan(1e-4);
      }
    });

    it("passes its load-time self-check, which a wrong GEMM, batched product, GELU or LayerNorm fails", () => {
      expect(selfCheck(native)).toBeUndefined();
      // Each kernel in turn runs, then has the first float of its output (at the given argument) made wrong.
      const corrupt = (name: keyof NativeKernels, output: number) =>
        selfCheck({
          ...native,
          [name]: (...args: unknown[]) => {
            (native[name] as (...a: unknown[]) => void)(...args);
            new Float32Array(args[0] as ArrayBuffer)[(args[output] as number) / 4] += 0.5;
          },
        } as NativeKernels);
      expect(corrupt("gemm", 7)).toMatch(/C\[0, 0\]/);
      expect(corrupt("columnSums", 4)).toMatch(/column sum 0/);
      expect(corrupt("batchGemm", 3)).toMatch(/batch 0 C\[0, 0\]/);
      expect(corrupt("geluForward", 2)).toMatch(/GELU/);
      expect(corrupt("layerNormForward", 4)).toMatch(/LayerNorm/);
    });

    it("refuses operands outside the heap or misaligned with a RangeError, writing nothing", () => {
      const heap = new ArrayBuffer(4096);
      expect(() => native.gemm(heap, 0, 64, 4, 0, 64, 4, 3076, 0, 16, 16, 16, 0)).toThrow(RangeError);
      expect(() => native.gemm(heap, 0, 64, 4, 0, 64, 4, 3076, 0, 16, 16, 16, 0)).toThrow(/past the heap/);
      expect(() => native.gemm(heap, 0, 64, 4, 0, 64, 4, 1024, 4092, 16, 16, 16, 0)).toThrow(/bias: ends at/);
      expect(() => native.gemm(heap, 2, 64, 4, 0, 64, 4, 1024, 0, 16, 16, 16, 0)).toThrow(/multiples of 4/);
      expect(() => native.gemm(heap, 0, 64, 4, 0, 64, 4, 1024, 0, 0, 16, 16, 0)).toThrow(/at least 1/);
      expect(() => native.columnSums(heap, 0, 100, 16, 0)).toThrow(/past the heap/);
      expect(() =>
        native.gemm(new SharedArrayBuffer(64) as unknown as ArrayBuffer, 0, 4, 4, 0, 4, 4, 0, 0, 1, 1, 1, 0),
      ).toThrow(/ArrayBuffer/);
      expect(new Uint8Array(heap).every((byte) => byte === 0)).toBe(true);
    });
  });

  describe.skipIf(!kernels)("through tfjs's registered kernels", () => {
    beforeAll(async () => {
      await initBackend("wasm");
    });
    afterAll(() => {
      registerFastWasmKernels();
    });

    it("gives linear layers (bias, every transpose) and bias-gradient sums within rounding of tfjs's own", () => {
      const rng = Rng.fromSeed(17, "native/tfjs");
      const [m, k, n] = [50, 200, 70];
      const cases = LAYOUTS.map((layout) => ({
        layout,
        a: tf.tensor2d(randomValues(m * k, rng), layout.transposeA ? [k, m] : [m, k]),
        b: tf.tensor2d(randomValues(k * n, rng), layout.transposeB ? [n, k] : [k, n]),
        bias: tf.tensor1d(randomValues(n, rng)),
      }));
      // tfjs's own _FusedMatMul adds the bias wrongly in NT on the wasm backend (tfjs 4.22: errors of 2 on this
      // case), so its side is a plain matMul plus the bias.
      const run = (fused: boolean) =>
        cases.map(({ layout, a, b, bias }) => {
          const c = fused
            ? tf.fused.matMul({ a, b, bias, ...layout })
            : tf.tidy(() => tf.add(tf.matMul(a, b, layout.transposeA, layout.transposeB), bias));
          const sums = tf.sum(c, 0);
          const out = { c: c.dataSync().slice(), sums: sums.dataSync().slice() };
          tf.dispose([c, sums]);
          return out;
        });
      expect(registerFastWasmKernels()).toBe(true);
      const ours = run(true);
      unregisterFastWasmKernels();
      const theirs = run(false);
      registerFastWasmKernels();
      for (let i = 0; i < cases.length; i++) {
        let worst = 0;
        for (let e = 0; e < m * n; e++) worst = Math.max(worst, Math.abs(ours[i].c[e] - theirs[i].c[e]));
        expect(worst, cases[i].layout.name).toBeLessThan(1e-4);
        for (let j = 0; j < n; j++) expect(Math.abs(ours[i].sums[j] - theirs[i].sums[j])).toBeLessThan(1e-3);
      }
      tf.dispose(cases.flatMap(({ a, b, bias }) => [a, b, bias]));
    });
  });
});
