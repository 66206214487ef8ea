// elementwise.wat's fused GELU and LayerNorm passes against float64 references, and the layers that use them against
// the composed tfjs ops they replace (values and gradients).
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { instantiateElementwise } from "../../trainer/kernels/wasm_elementwise.js";
import { registerFastWasmKernels, unregisterFastWasmKernels } from "../../trainer/kernels/register_wasm_kernels.js";
import { webAssembly } from "../../trainer/kernels/webassembly_api.js";
import { gelu, layerNorm } from "../../trainer/models/layers.js";
import { Rng } from "../../trainer/utils/rng.js";
import { randomValues } from "./matmul_reference.js";

/** Φ(x) in float64: erf's Taylor series near 0, erfc's continued fraction in the tails. */
function phi(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  let halfErfc: number;
  if (z < 3) {
    let term = z;
    let sum = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    halfErfc = 0.5 * (1 - (2 / Math.sqrt(Math.PI)) * sum);
  } else {
    let f = z;
    for (let n = 60; n >= 1; n--) f = z + n / 2 / f;
    halfErfc = (0.5 * Math.exp(-z * z)) / (Math.sqrt(Math.PI) * f);
  }
  return x > 0 ? 1 - halfErfc : halfErfc;
}

describe("elementwise.wat", () => {
  const memory = new webAssembly.Memory({ initial: 8 });
  const kernel = instantiateElementwise(memory);
  const f32 = () => new Float32Array(memory.buffer);

  it("computes exact GELU and its gradient to float32 precision, deep into both tails", () => {
    // 4003 points: not a whole number of the kernel's 16-float blocks, so the last block is a partial one.
    const xs = Float32Array.from({ length: 4003 }, (_, i) => -12 + (24 * i) / 4002);
    const dys = randomValues(xs.length, Rng.fromSeed(1, "gelu"));
    const at = { x: 0, dy: 8192, y: 16384, dx: 24576 };
    f32().set(xs, at.x);
    f32().set(dys, at.dy);
    kernel.gelu_forward(at.x * 4, at.y * 4, xs.length);
    kernel.gelu_backward(at.x * 4, at.dy * 4, at.dx * 4, xs.length);
    const y = f32().slice(at.y, at.y + xs.length);
    const dx = f32().slice(at.dx, at.dx + xs.length);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      const want = x * phi(x);
      const wantGrad = dys[i] * (phi(x) + (x * Math.exp((-x * x) / 2)) / Math.sqrt(2 * Math.PI));
      // Relative error ~1e-7 near 0; in the tails e^(−x²/2) inherits float32's rounding of x² (2^-24·x² relative).
      const rel = 2e-6 + 1e-7 * x * x;
      expect(Math.abs(y[i] - want), `gelu(${x})`).toBeLessThanOrEqual(rel * Math.abs(want) + 1e-37);
      expect(Math.abs(dx[i] - wantGrad), `gelu'(${x})`).toBeLessThanOrEqual(
        rel * Math.abs(dys[i]) * (phi(x) + Math.abs(x) * 0.4) + 1e-37,
      );
    }
  });

  it("gives every element of a short or ragged array the same value, and writes nothing past its end", () => {
    const xs = randomValues(64, Rng.fromSeed(4, "gelu-tail")).map((v) => v * 4);
    const dys = randomValues(64, Rng.fromSeed(5, "gelu-tail"));
    const at = { x: 0, dy: 1024, y: 2048, dx: 4096 };
    f32().set(xs, at.x);
    f32().set(dys, at.dy);
    kernel.gelu_forward(at.x * 4, at.y * 4, 64);
    kernel.gelu_backward(at.x * 4, at.dy * 4, at.dx * 4, 64);
    const y = f32().slice(at.y, at.y + 64);
    const dx = f32().slice(at.dx, at.dx + 64);
    for (let count = 1; count <= 40; count++) {
      f32().fill(-7, at.y, at.y + 64);
      f32().fill(-7, at.dx, at.dx + 64);
      kernel.gelu_forward(at.x * 4, at.y * 4, count);
      kernel.gelu_backward(at.x * 4, at.dy * 4, at.dx * 4, count);
      expect(Array.from(f32().slice(at.y, at.y + 64)), `forward, ${count}`).toEqual([
        ...y.slice(0, count),
        ...new Array(64 - count).fill(-7),
      ]);
      expect(Array.from(f32().slice(at.dx, at.dx + 64)), `backward, ${count}`).toEqual([
        ...dx.slice(0, count),
        ...new Array(64 - count).fill(-7),
      ]);
    }
  });

  it("runs in place, output over input, with the same values", () => {
    const xs = randomValues(37, Rng.fromSeed(6, "gelu-in-place")).map((v) => v * 4);
    const dys = randomValues(37, Rng.fromSeed(7, "gelu-in-place"));
    f32().set(xs, 0);
    f32().set(dys, 1024);
    kernel.gelu_forward(0, 8192, 37);
    kernel.gelu_backward(0, 4096, 12288, 37);
    const y = f32().slice(2048, 2048 + 37);
    const dx = f32().slice(3072, 3072 + 37);
    kernel.gelu_backward(0, 4096, 4096, 37);
    expect(f32().slice(1024, 1024 + 37)).toEqual(dx);
    kernel.gelu_forward(0, 0, 37);
    expect(f32().slice(0, 37)).toEqual(y);
  });

  it("maps −∞ to 0, ∞ to ∞ and NaN to NaN", () => {
    f32().set([-Infinity, Infinity, Number.NaN, -1e30, 1e30, -0, 0], 0);
    kernel.gelu_forward(0, 4096, 7);
    expect(Array.from(f32().slice(1024, 1031))).toEqual([0, Infinity, Number.NaN, 0, Math.fround(1e30), -0, 0]);
  });

  it("normalises rows (affine and not) and back-propagates like float64 LayerNorm, for widths that are not multiples of 4", () => {
    const rng = Rng.fromSeed(2, "ln");
    for (const [rows, cols] of [
      [130, 7],
      [3, 96],
      [70, 1],
    ]) {
      const x = randomValues(rows * cols, rng).map((v, i) => v * 3 + (i % cols));
      const gamma = randomValues(cols, rng);
      const beta = randomValues(cols, rng);
      const dy = randomValues(rows * cols, rng);
      const at = {
        x: 0,
        g: 65536,
        b: 66560,
        y: 67584,
        st: 131072,
        dy: 196608,
        dx: 262144,
        dg: 327680,
        db: 331776,
        s: 335872,
      };
      const mem = f32();
      mem.set(x, at.x / 4);
      mem.set(gamma, at.g / 4);
      mem.set(beta, at.b / 4);
      mem.set(dy, at.dy / 4);
      kernel.layer_norm_forward(at.x, at.g, at.b, at.y, at.st, rows, cols, 1e-6);
      kernel.layer_norm_backward(at.x, at.g, at.dy, at.st, at.dx, at.dg, at.db, at.s, rows, cols);
      const y = f32().slice(at.y / 4, at.y / 4 + rows * cols);
      const dx = f32().slice(at.dx / 4, at.dx / 4 + rows * cols);
      const dg = f32().slice(at.dg / 4, at.dg / 4 + cols);
      const db = f32().slice(at.db / 4, at.db / 4 + cols);
      const wantDg = new Float64Array(cols);
      const wantDb = new Float64Array(cols);
      let worst = 0;
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
        const mean = row.reduce((a, b) => a + b, 0) / cols;
        const rstd = 1 / Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / cols + 1e-6);
        const xh = row.map((v) => (v - mean) * rstd);
        const g = xh.map((_, j) => dy[r * cols + j] * gamma[j]);
        const mg = g.reduce((a, b) => a + b, 0) / cols;
        const mgx = g.reduce((a, b, j) => a + b * xh[j], 0) / cols;
        for (let j = 0; j < cols; j++) {
          worst = Math.max(worst, Math.abs(y[r * cols + j] - (xh[j] * gamma[j] + beta[j])));
          worst = Math.max(worst, Math.abs(dx[r * cols + j] - rstd * (g[j] - mg - xh[j] * mgx)) / Math.max(rstd, 1));
          wantDg[j] += dy[r * cols + j] * xh[j];
          wantDb[j] += dy[r * cols + j];
        }
      }
      expect(worst, `${rows}×${cols}`).toBeLessThan(2e-5);
      for (let j = 0; j < cols; j++) {
        expect(Math.abs(dg[j] - wantDg[j]), `dγ ${rows}×${cols}`).toBeLessThan(1e-5 * rows);
        expect(Math.abs(db[j] - wantDb[j]), `dβ ${rows}×${cols}`).toBeLessThan(1e-5 * rows);
      }
    }
  });
});

describe("gelu and layerNorm on the wasm backend", () => {
  beforeAll(async () => {
    await initBackend("wasm");
  });
  afterAll(() => {
    registerFastWasmKernels();
  });

  it("give the composed tfjs ops' values and gradients through the fused kernels", () => {
    const rng = Rng.fromSeed(3, "layers");
    const x = tf.tensor2d(
      randomValues(50 * 24, rng).map((v) => v * 4),
      [50, 24],
    );
    const gamma = tf.tensor1d(randomValues(24, rng));
    const beta = tf.tensor1d(randomValues(24, rng));
    const w = tf.tensor2d(randomValues(50 * 24, rng), [50, 24]);
    const run = () =>
      tf.tidy(() => {
        const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(gelu(layerNorm(a as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-6)), w));
        const { value, grads } = tf.valueAndGrads(f)([x, gamma, beta]);
        return [value, ...grads].map((t) => Array.from(t.dataSync()));
      });
    expect(registerFastWasmKernels()).toBe(true);
    const before = tf.memory().numTensors;
    const fused = run();
    expect(tf.memory().numTensors).toBe(before);
    unregisterFastWasmKernels();
    const composed = run();
    fused.forEach((values, i) => {
      const scale = Math.max(...composed[i].map(Math.abs));
      const diff = Math.max(...values.map((v, j) => Math.abs(v - composed[i][j])));
      expect(diff, `output ${i}`).toBeLessThanOrEqual(1e-5 * scale);
    });
    tf.dispose([x, gamma, beta, w]);
  });
});
