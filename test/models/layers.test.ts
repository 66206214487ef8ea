import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { attention, gatherRows, gelu, layerNorm, linear, regressionLoss } from "../../trainer/models/layers.js";
import { Rng } from "../../trainer/utils/rng.js";

beforeAll(async () => {
  await initBackend("wasm");
});

const rng = Rng.fromSeed(7, "layers-test");
const randn = (shape: number[]) =>
  tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    shape,
  );

function expectClose(a: tf.Tensor, b: tf.Tensor, tol = 1e-4) {
  expect(a.shape).toEqual(b.shape);
  const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
  const scale = Math.max(1, tf.max(tf.abs(b)).dataSync()[0]);
  expect(diff / scale).toBeLessThan(tol);
}

/** Gradients of sum(f(xs) * w) for a fixed random w, via tf.grads. */
function gradsOf(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], weight: tf.Tensor) {
  return tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(f(...args), weight)))(xs);
}

describe("hand-written gradients agree with tfjs autodiff of the same maths", () => {
  it("linear: values and gradients for x, W and b", () => {
    const x = randn([6, 5]);
    const w = randn([5, 4]);
    const b = randn([4]);
    const weight = randn([6, 4]);
    const reference = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) =>
      tf.add(tf.matMul(xi as tf.Tensor2D, wi as tf.Tensor2D), bi);
    expectClose(linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), reference(x, w, b));
    const ours = gradsOf(
      (xi, wi, bi) => linear(xi as tf.Tensor2D, wi as tf.Tensor2D, bi as tf.Tensor1D),
      [x, w, b],
      weight,
    );
    const theirs = gradsOf(reference, [x, w, b], weight);
    for (const [i, g] of ours.entries()) expectClose(g, theirs[i]);
  });

  it("layerNorm: PyTorch's biased-variance normalisation, and its gradients", () => {
    const x = tf.add(tf.mul(randn([7, 8]), 3), 2);
    const g = randn([8]);
    const b = randn([8]);
    const weight = randn([7, 8]);
    const eps = 1e-6;
    const reference = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => {
      const { mean, variance } = tf.moments(xi, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(xi, mean), tf.sqrt(tf.add(variance, eps))), gi), bi);
    };
    expectClose(layerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, eps), reference(x, g, b));
    const ours = gradsOf(
      (xi, gi, bi) => layerNorm(xi as tf.Tensor2D, gi as tf.Tensor1D, bi as tf.Tensor1D, eps),
      [x, g, b],
      weight,
    );
    const theirs = gradsOf(reference, [x, g, b], weight);
    for (const [i, gr] of ours.entries()) expectClose(gr, theirs[i], 2e-4);
  });

  it("gelu: exact erf GELU and its derivative Φ(x) + xφ(x)", () => {
    const x = tf.mul(randn([5, 6]), 2);
    const weight = randn([5, 6]);
    const reference = (xi: tf.Tensor) => tf.mul(tf.mul(xi, 0.5), tf.add(1, tf.erf(tf.div(xi, Math.SQRT2))));
    expectClose(gelu(x as tf.Tensor2D), reference(x));
    // Spot value: GELU(1) = 0.8413447...
    expect(gelu(tf.tensor2d([[1]])).dataSync()[0]).toBeCloseTo(0.8413447, 5);
    expectClose(gradsOf((xi) => gelu(xi as tf.Tensor2D), [x], weight)[0], gradsOf(reference, [x], weight)[0]);
  });

  it("gatherRows: gradient scatters back and sums rows gathered twice", () => {
    const x = randn([5, 3]);
    const rows = tf.tensor1d([4, 0, 4, 2], "int32");
    const weight = randn([4, 3]);
    const [g] = gradsOf((xi) => gatherRows(xi as tf.Tensor2D, rows), [x], weight);
    const w = weight.arraySync() as number[][];
    const expected = [w[1], [0, 0, 0], w[3], [0, 0, 0], w[0].map((v, j) => v + w[2][j])];
    expectClose(g, tf.tensor2d(expected));
  });

  it("attention matches a per-sequence reference of softmax(q·kᵀ/√d)·v", () => {
    const [B, T, D, H] = [2, 3, 8, 2];
    const x = randn([B * T, D]);
    const p = {
      qkvW: randn([D, 3 * D]) as tf.Tensor2D,
      qkvB: randn([3 * D]) as tf.Tensor1D,
      projW: randn([D, D]) as tf.Tensor2D,
      projB: randn([D]) as tf.Tensor1D,
    };
    const out = attention(x as tf.Tensor2D, p, B, T, H).arraySync();
    const xs = x.arraySync() as number[][];
    const W = p.qkvW.arraySync() as number[][];
    const bq = p.qkvB.arraySync() as number[];
    const P = p.projW.arraySync() as number[][];
    const pb = p.projB.arraySync() as number[];
    const dh = D / H;
    for (let b = 0; b < B; b++) {
      const qkv = Array.from({ length: T }, (_, t) =>
        Array.from({ length: 3 * D }, (_, j) => bq[j] + xs[b * T + t].reduce((s, v, i) => s + v * W[i][j], 0)),
      );
      const merged = Array.from({ length: T }, () => new Array<number>(D).fill(0));
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T; i++) {
          const scores = Array.from({ length: T }, (_, j) => {
            let s = 0;
            for (let k = 0; k < dh; k++) s += qkv[i][h * dh + k] * qkv[j][D + h * dh + k];
            return s / Math.sqrt(dh);
          });
          const m = Math.max(...scores);
          const e = scores.map((s) => Math.exp(s - m));
          const z = e.reduce((a, c) => a + c, 0);
          for (let k = 0; k < dh; k++)
            merged[i][h * dh + k] = e.reduce((s, ej, j) => s + (ej / z) * qkv[j][2 * D + h * dh + k], 0);
        }
      }
      for (let t = 0; t < T; t++) {
        for (let j = 0; j < D; j++) {
          const expected = pb[j] + merged[t].reduce((s, v, i) => s + v * P[i][j], 0);
          expect(out[b * T + t][j]).toBeCloseTo(expected, 4);
        }
      }
    }
  });
});

describe("attention's gradients", () => {
  it("equal tfjs autodiff of the same maths, for the input and every weight", () => {
    const [B, T, D, H] = [3, 5, 8, 2];
    const dh = D / H;
    const x = randn([B * T, D]);
    const qkvW = randn([D, 3 * D]);
    const qkvB = randn([3 * D]);
    const projW = randn([D, D]);
    const projB = randn([D]);
    const weight = randn([B * T, D]);
    const ours = gradsOf(
      (xi, w1, b1, w2, b2) =>
        attention(
          xi as tf.Tensor2D,
          { qkvW: w1 as tf.Tensor2D, qkvB: b1 as tf.Tensor1D, projW: w2 as tf.Tensor2D, projB: b2 as tf.Tensor1D },
          B,
          T,
          H,
        ),
      [x, qkvW, qkvB, projW, projB],
      weight,
    );
    const reference = (xi: tf.Tensor, w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor) => {
      const qkv = tf.add(tf.matMul(xi as tf.Tensor2D, w1 as tf.Tensor2D), b1);
      const heads = (i: number) =>
        tf.transpose(tf.reshape(tf.slice(qkv, [0, i * D], [B * T, D]), [B, T, H, dh]), [0, 2, 1, 3]) as tf.Tensor4D;
      const att = tf.softmax(tf.mul(tf.matMul(heads(0), heads(1), false, true), dh ** -0.5));
      const merged = tf.reshape(tf.transpose(tf.matMul(att, heads(2)), [0, 2, 1, 3]), [B * T, D]);
      return tf.add(tf.matMul(merged as tf.Tensor2D, w2 as tf.Tensor2D), b2);
    };
    const theirs = gradsOf(reference, [x, qkvW, qkvB, projW, projB], weight);
    for (const [i, g] of ours.entries()) expectClose(g, theirs[i]);
  });
});

describe("regressionLoss", () => {
  it("smooth-L1 is quadratic below 1 and linear above, averaged over elements (PyTorch beta=1)", () => {
    const pred = tf.tensor([0, 0.5, 3, -2]);
    const target = tf.zeros([4]);
    // 0, 0.125, 2.5, 1.5 → mean 1.03125
    expect(regressionLoss(pred, target, "smooth_l1").dataSync()[0]).toBeCloseTo(1.03125, 6);
    expect(regressionLoss(pred, target, "l2").dataSync()[0]).toBeCloseTo((0 + 0.25 + 9 + 4) / 4, 6);
  });
});
