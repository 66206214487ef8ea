// The SIMD BatchMatMul inside tfjs's wasm backend: same answers as a reference and as the backend's own kernel,
// gradients intact, the backend's kernel still used where it is fast, no leaks, and a growing heap is harmless.
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import {
  fastWasmKernelsRegistered,
  registerFastWasmKernels,
  unregisterFastWasmKernels,
} from "../../trainer/kernels/register_wasm_kernels.js";
import { backendMemory, planBatchMatMul, type WasmBackendInternals } from "../../trainer/kernels/wasm_batch_matmul.js";
import { Rng } from "../../trainer/utils/rng.js";
import { LAYOUTS, maxRelativeError, randomValues, referenceProduct } from "./matmul_reference.js";

const TOLERANCE = 1e-5;

interface Operands {
  a: tf.Tensor;
  b: tf.Tensor;
  aValues: Float32Array;
  bValues: Float32Array;
}

/** Random operands for op(A) m×k and op(B) k×n with leading batch dimensions `outer`. */
function operands(
  outer: number[],
  m: number,
  k: number,
  n: number,
  transposeA: boolean,
  transposeB: boolean,
  rng: Rng,
): Operands {
  const batch = outer.reduce((p, s) => p * s, 1);
  const aValues = randomValues(batch * m * k, rng);
  const bValues = randomValues(batch * k * n, rng);
  const a = tf.tensor(aValues, [...outer, ...(transposeA ? [k, m] : [m, k])]);
  const b = tf.tensor(bValues, [...outer, ...(transposeB ? [n, k] : [k, n])]);
  return { a, b, aValues, bValues };
}

function wasmBackend(): WasmBackendInternals {
  return tf.backend() as unknown as WasmBackendInternals;
}

function heapBytes(): number {
  return backendMemory(wasmBackend())!.buffer.byteLength;
}

describe("registerFastWasmKernels", () => {
  beforeAll(async () => {
    await initBackend("wasm");
    // initBackend registers our kernel; these tests start from tfjs's own.
    unregisterFastWasmKernels();
  });
  afterAll(() => {
    unregisterFastWasmKernels();
  });

  it("does nothing while the active backend is not wasm", async () => {
    await tf.setBackend("cpu");
    try {
      expect(registerFastWasmKernels()).toBe(false);
      expect(fastWasmKernelsRegistered()).toBe(false);
    } finally {
      await tf.setBackend("wasm");
    }
  });

  it("replaces the wasm BatchMatMul once; a second call changes nothing; unregistering restores the original", () => {
    const original = tf.getKernel("BatchMatMul", "wasm")!;
    expect(registerFastWasmKernels()).toBe(true);
    const ours = tf.getKernel("BatchMatMul", "wasm")!;
    expect(ours.kernelFunc).not.toBe(original.kernelFunc);
    expect(registerFastWasmKernels()).toBe(true);
    expect(tf.getKernel("BatchMatMul", "wasm")!.kernelFunc).toBe(ours.kernelFunc);
    unregisterFastWasmKernels();
    expect(tf.getKernel("BatchMatMul", "wasm")!.kernelFunc).toBe(original.kernelFunc);
    expect(fastWasmKernelsRegistered()).toBe(false);
    expect(registerFastWasmKernels()).toBe(true);
  });

  describe("with the fast kernel registered", () => {
    beforeAll(() => {
      expect(registerFastWasmKernels()).toBe(true);
    });

    const shapes: { outer: number[]; m: number; k: number; n: number }[] = [
      { outer: [6], m: 49, k: 64, n: 49 },
      { outer: [6], m: 49, k: 49, n: 64 },
      { outer: [2, 3], m: 17, k: 32, n: 17 },
      { outer: [5], m: 8, k: 64, n: 8 },
      { outer: [3], m: 5, k: 7, n: 3 },
      { outer: [2], m: 1, k: 1, n: 1 },
      { outer: [], m: 33, k: 65, n: 19 },
    ];

    for (const layout of LAYOUTS) {
      it(`tf.matMul in ${layout.name} matches a float64 reference for ranks 2–4 and odd sizes`, () => {
        const rng = Rng.fromSeed(21, layout.name);
        for (const { outer, m, k, n } of shapes) {
          const batch = outer.reduce((p, s) => p * s, 1);
          if (batch === 1 && !layout.transposeA && !layout.transposeB) continue; // XNNPACK's case, not ours
          const { a, b, aValues, bValues } = operands(outer, m, k, n, layout.transposeA, layout.transposeB, rng);
          const c = tf.matMul(a, b, layout.transposeA, layout.transposeB);
          expect(c.shape).toEqual([...outer, m, n]);
          const want = referenceProduct({ batch, m, k, n, ...layout }, aValues, bValues);
          expect(maxRelativeError(c.dataSync(), want), `${outer} ${m}×${k}×${n}`).toBeLessThanOrEqual(TOLERANCE);
          tf.dispose([a, b, c]);
        }
      });
    }

    it("agrees with the backend's own kernel on attention-shaped products in all four layouts", () => {
      const rng = Rng.fromSeed(22, "original");
      for (const layout of LAYOUTS) {
        for (const [bh, t, d] of [
          [12, 49, 64],
          [24, 17, 32],
          [12, 8, 64],
        ]) {
          const { a, b } = operands([bh], t, d, t, layout.transposeA, layout.transposeB, rng);
          const ours = tf.matMul(a, b, layout.transposeA, layout.transposeB);
          unregisterFastWasmKernels();
          const theirs = tf.matMul(a, b, layout.transposeA, layout.transposeB);
          registerFastWasmKernels();
          const diff = tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0];
          const scale = tf.max(tf.abs(theirs)).dataSync()[0];
          expect(diff, `${layout.name} ${bh}×${t}×${d}`).toBeLessThanOrEqual(TOLERANCE * scale);
          tf.dispose([a, b, ours, theirs]);
        }
      }
    });

    it("keeps tf.grad of matMul correct in all four layouts", () => {
      const rng = Rng.fromSeed(23, "grad");
      const [batch, m, k, n] = [3, 9, 13, 6];
      for (const layout of LAYOUTS) {
        const { a, b, aValues, bValues } = operands([batch], m, k, n, layout.transposeA, layout.transposeB, rng);
        const gValues = randomValues(batch * m * n, rng);
        const g = tf.tensor(gValues, [batch, m, n]);
        const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
          tf.sum(tf.mul(tf.matMul(x, y, layout.transposeA, layout.transposeB), g)),
        )([a, b]);
        // loss = Σ C⊙G with C = op(A)·op(B): d op(A) = G·op(B)ᵀ, d op(B) = op(A)ᵀ·G, mapped back through op.
        const wantA = new Float64Array(batch * m * k);
        const wantB = new Float64Array(batch * k * n);
        for (let p = 0; p < batch; p++) {
          const opA = (i: number, q: number) => aValues[p * m * k + (layout.transposeA ? q * m + i : i * k + q)];
          const opB = (q: number, j: number) => bValues[p * k * n + (layout.transposeB ? j * k + q : q * n + j)];
          for (let i = 0; i < m; i++) {
            for (let q = 0; q < k; q++) {
              let sum = 0;
              for (let j = 0; j < n; j++) sum += gValues[p * m * n + i * n + j] * opB(q, j);
              wantA[p * m * k + (layout.transposeA ? q * m + i : i * k + q)] = sum;
            }
          }
          for (let q = 0; q < k; q++) {
            for (let j = 0; j < n; j++) {
              let sum = 0;
              for (let i = 0; i < m; i++) sum += opA(i, q) * gValues[p * m * n + i * n + j];
              wantB[p * k * n + (layout.transposeB ? j * k + q : q * n + j)] = sum;
            }
          }
        }
        expect(da.shape).toEqual(a.shape);
        expect(db.shape).toEqual(b.shape);
        const close = (got: Float32Array | Int32Array | Uint8Array, want: Float64Array) =>
          Math.max(...Array.from(want, (w, i) => Math.abs(got[i] - w)));
        expect(close(da.dataSync(), wantA), layout.name).toBeLessThanOrEqual(1e-4);
        expect(close(db.dataSync(), wantB), layout.name).toBeLessThanOrEqual(1e-4);
        tf.dispose([a, b, g, da, db]);
      }
    });

    it("leaves batch-1 untransposed, broadcasting and non-float32 products to the backend's own kernel, which still works", () => {
      expect(planBatchMatMul([1, 7, 5], [1, 5, 3], "float32", "float32", false, false)).toBeUndefined();
      expect(planBatchMatMul([7, 5], [5, 3], "float32", "float32", false, false)).toBeUndefined();
      expect(planBatchMatMul([1, 7, 5], [3, 5, 3], "float32", "float32", false, false)).toBeUndefined();
      expect(planBatchMatMul([3, 7, 5], [5, 3], "float32", "float32", false, true)).toBeUndefined();
      expect(planBatchMatMul([3, 7, 5], [3, 5, 3], "int32", "int32", true, false)).toBeUndefined();
      expect(planBatchMatMul([7, 5], [3, 5], "float32", "float32", false, true)).toEqual({
        batch: 1,
        m: 7,
        k: 5,
        n: 3,
        outShape: [7, 3],
      });

      const rng = Rng.fromSeed(24, "delegate");
      const check = (aShape: number[], bShape: number[], ta: boolean, tb: boolean) => {
        const aValues = randomValues(
          aShape.reduce((p, s) => p * s, 1),
          rng,
        );
        const bValues = randomValues(
          bShape.reduce((p, s) => p * s, 1),
          rng,
        );
        const c = tf.matMul(tf.tensor(aValues, aShape), tf.tensor(bValues, bShape), ta, tb);
        // the reference, with a batch of one repeated the way broadcasting does
        const batch = c.shape.slice(0, -2).reduce((p, s) => p * s, 1);
        const [m, n] = c.shape.slice(-2);
        const k = ta ? aShape[aShape.length - 2] : aShape[aShape.length - 1];
        const broadcast = (values: Float32Array, perMatrix: number) =>
          values.length === batch * perMatrix
            ? values
            : Float32Array.from({ length: batch * perMatrix }, (_, i) => values[i % perMatrix]);
        const want = referenceProduct(
          { batch, m, k, n, transposeA: ta, transposeB: tb },
          broadcast(aValues, m * k),
          broadcast(bValues, k * n),
        );
        expect(maxRelativeError(c.dataSync(), want), `${aShape} · ${bShape}`).toBeLessThanOrEqual(TOLERANCE);
      };
      tf.tidy(() => {
        check([1, 7, 5], [1, 5, 3], false, false);
        check([7, 5], [5, 3], false, false);
        check([1, 7, 5], [3, 5, 3], false, false);
        check([3, 7, 5], [1, 5, 3], false, false);
        check([3, 7, 5], [1, 3, 5], false, true);
      });
      const ints = [
        tf.tensor(
          [
            [
              [1, 2],
              [3, 4],
            ],
          ],
          [1, 2, 2],
          "int32",
        ),
        tf.tensor(
          [
            [
              [1, 0],
              [0, 1],
            ],
          ],
          [1, 2, 2],
          "int32",
        ),
      ];
      expect(() => tf.matMul(ints[0], ints[1], true, false)).toThrow(/float32/);
      tf.dispose(ints);
    });

    it("runs linear layers (fused bias, every transpose) and bias-gradient sums through gemm.wat, matching float64", () => {
      const rng = Rng.fromSeed(25, "gemm");
      const [m, k, n] = [37, 70, 45];
      for (const layout of LAYOUTS) {
        const { a, b, aValues, bValues } = operands([], m, k, n, layout.transposeA, layout.transposeB, rng);
        const biasValues = randomValues(n, rng);
        const bias = tf.tensor1d(biasValues);
        const c = tf.fused.matMul({
          a: a as tf.Tensor2D,
          b: b as tf.Tensor2D,
          transposeA: layout.transposeA,
          transposeB: layout.transposeB,
          bias,
        });
        const want = referenceProduct({ batch: 1, m, k, n, ...layout }, aValues, bValues);
        want.value.forEach((_, i) => {
          want.value[i] += biasValues[i % n];
          want.scale[i] += Math.abs(biasValues[i % n]);
        });
        expect(maxRelativeError(c.dataSync(), want), layout.name).toBeLessThanOrEqual(TOLERANCE);
        tf.dispose([a, b, bias, c]);
      }
      const xValues = randomValues(300 * 13, rng);
      const x = tf.tensor2d(xValues, [300, 13]);
      for (const keepDims of [false, true]) {
        const sums = tf.sum(x, 0, keepDims);
        expect(sums.shape).toEqual(keepDims ? [1, 13] : [13]);
        const got = sums.dataSync();
        for (let j = 0; j < 13; j++) {
          let want = 0;
          for (let i = 0; i < 300; i++) want += xValues[i * 13 + j];
          expect(Math.abs(got[j] - want)).toBeLessThan(1e-4);
        }
        sums.dispose();
      }
      // Other reductions still reach the backend's own Sum.
      expect(
        Array.from(
          tf
            .sum(
              tf.tensor2d([
                [1, 2],
                [3, 4],
              ]),
              1,
            )
            .dataSync(),
        ),
      ).toEqual([3, 7]);
      x.dispose();
    });

    it("gathers whole rows (repeats included) by copying them, and leaves other gathers to the backend", () => {
      const values = Float32Array.from({ length: 7 * 5 }, (_, i) => i * 0.5 - 3);
      const x = tf.tensor2d(values, [7, 5]);
      const rows = [6, 0, 3, 3, 1];
      const got = tf.gather(x, tf.tensor1d(rows, "int32"), 0);
      expect(got.shape).toEqual([5, 5]);
      expect(Array.from(got.dataSync())).toEqual(rows.flatMap((r) => Array.from(values.subarray(r * 5, r * 5 + 5))));
      const columns = tf.gather(x, tf.tensor1d([4, 0], "int32"), 1);
      expect(Array.from(columns.dataSync())).toEqual(
        [0, 1, 2, 3, 4, 5, 6].flatMap((r) => [values[r * 5 + 4], values[r * 5]]),
      );
      const ints = tf.gather(
        tf.tensor2d(
          [
            [1, 2],
            [3, 4],
          ],
          [2, 2],
          "int32",
        ),
        tf.tensor1d([1], "int32"),
        0,
      );
      expect(Array.from(ints.dataSync())).toEqual([3, 4]);
      tf.dispose([x, got, columns, ints]);
    });

    it("clones by sharing data: the clone outlives its source, and a variable's assign leaves earlier clones intact", () => {
      const x = tf.tensor1d([1, 2, 3]);
      const copy = tf.clone(x);
      x.dispose();
      expect(Array.from(copy.dataSync())).toEqual([1, 2, 3]);
      const v = tf.variable(tf.tensor1d([4, 5]));
      const snapshot = tf.clone(v);
      v.assign(tf.tensor1d([6, 7]));
      expect(Array.from(snapshot.dataSync())).toEqual([4, 5]);
      expect(Array.from(v.dataSync())).toEqual([6, 7]);
      const before = tf.memory().numBytes;
      tf.dispose([copy, snapshot, v]);
      expect(tf.memory().numBytes).toBeLessThan(before);
    });

    it("leaks no tensors and frees every heap byte it allocates, scratch included", () => {
      const rng = Rng.fromSeed(25, "leaks");
      const inputs = LAYOUTS.flatMap((layout) => [
        { layout, ...operands([4], 17, 32, 17, layout.transposeA, layout.transposeB, rng) },
        // K > 512: NT transposes B into scratch
        { layout, ...operands([2], 5, 600, 9, layout.transposeA, layout.transposeB, rng) },
      ]);
      const tensorsBefore = tf.memory().numTensors;
      const wasm = wasmBackend().wasm;
      const malloc = wasm._malloc;
      const free = wasm._free;
      let allocations = 0;
      let frees = 0;
      wasm._malloc = (bytes: number) => {
        allocations++;
        return malloc(bytes);
      };
      wasm._free = (pointer: number) => {
        frees++;
        return free(pointer);
      };
      try {
        for (const { layout, a, b } of inputs) {
          tf.matMul(a, b, layout.transposeA, layout.transposeB).dispose();
          tf.dispose(
            tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.matMul(x, y, layout.transposeA, layout.transposeB)))([
              a,
              b,
            ]),
          );
        }
      } finally {
        wasm._malloc = malloc;
        wasm._free = free;
      }
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      expect(allocations).toBeGreaterThan(0);
      expect(frees).toBe(allocations);
      tf.dispose(inputs.flatMap(({ a, b }) => [a, b]));
    });

    it("stays correct when the heap grows, also while allocating its own output", () => {
      const rng = Rng.fromSeed(26, "growth");
      const { a, b, aValues, bValues } = operands([4], 17, 32, 17, false, true, rng);
      const want = referenceProduct(
        { batch: 4, m: 17, k: 32, n: 17, transposeA: false, transposeB: true },
        aValues,
        bValues,
      );
      const before = tf.matMul(a, b, false, true);
      expect(maxRelativeError(before.dataSync(), want)).toBeLessThanOrEqual(TOLERANCE);

      // An allocation larger than the whole heap must grow it.
      const heapBefore = heapBytes();
      const filler = tf.zeros([heapBefore / 4 + 1]);
      expect(heapBytes()).toBeGreaterThan(heapBefore);
      const after = tf.matMul(a, b, false, true);
      expect(maxRelativeError(after.dataSync(), want)).toBeLessThanOrEqual(TOLERANCE);

      // An output larger than the heap: it grows inside makeOutput, between reading the inputs and running.
      const heapBeforeOutput = heapBytes();
      const [batch, m, n] = [Math.ceil(heapBeforeOutput / 4 / (64 * 64)) + 1, 64, 64];
      const wide = operands([batch], m, 2, n, true, false, rng);
      const big = tf.matMul(wide.a, wide.b, true, false);
      expect(heapBytes()).toBeGreaterThan(heapBeforeOutput);
      const wantBig = referenceProduct(
        { batch, m, k: 2, n, transposeA: true, transposeB: false },
        wide.aValues,
        wide.bValues,
      );
      expect(maxRelativeError(big.dataSync(), wantBig)).toBeLessThanOrEqual(TOLERANCE);
      tf.dispose([a, b, before, filler, after, wide.a, wide.b, big]);
    });
  });
});
