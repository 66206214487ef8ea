// The fused AdamW + EMA pass gives the same bits as the op-by-op tfjs float32 sequence it replaced, on wasm and cpu.
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { adamWStepConstants, adamWUpdate, emaUpdate } from "../../trainer/optim/fused_update.js";
import { Rng } from "../../trainer/utils/rng.js";

/** The former AdamW.apply for one parameter (tfjs ops, float32), with the replicas' mean taken as the engine did. */
function tfjsStep(
  p: tf.Variable,
  m: tf.Variable,
  v: tf.Variable,
  grads: Float32Array[],
  decay: boolean,
  t: number,
  lr: number,
  wd: number,
): void {
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  tf.tidy(() => {
    let g: tf.Tensor = tf.tensor(grads[0]);
    if (grads.length > 1) {
      for (const other of grads.slice(1)) g = tf.add(g, tf.tensor(other));
      g = tf.div(g, grads.length);
    }
    const stepSize = lr / (1 - beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    let q: tf.Tensor = p;
    if (decay && wd !== 0) q = tf.mul(q, 1 - lr * wd);
    const mNew = tf.add(m, tf.mul(tf.sub(g, m), 1 - beta1));
    const vNew = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
    const denom = tf.add(tf.div(tf.sqrt(vNew), bc2Sqrt), eps);
    p.assign(tf.sub(q, tf.mul(tf.div(mNew, denom), stepSize)));
    m.assign(mNew);
    v.assign(vNew);
  });
}

/** Float32 values as their bit patterns, so that equality is exact (and -0 ≠ 0). */
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));

describe.each(["wasm", "cpu"])("the fused AdamW + EMA pass on %s", (backend) => {
  it.each([1, 2, 3])("gives the tfjs sequence's exact bits over 6 steps with %i replica gradient(s)", async (replicas) => {
    await initBackend(backend);
    const rng = Rng.fromSeed(11 + replicas);
    const n = 4099; // not a multiple of any SIMD width
    const init = Float32Array.from({ length: n }, () => rng.normal() * 0.1);
    for (const decay of [true, false]) {
      const p = init.slice();
      const m = new Float32Array(n);
      const v = new Float32Array(n);
      const target = init.slice();
      const pT = tf.variable(tf.tensor(init));
      const mT = tf.variable(tf.zeros([n]));
      const vT = tf.variable(tf.zeros([n]));
      const targetT = tf.variable(tf.tensor(init));
      for (let t = 1; t <= 6; t++) {
        // Gradients spanning many magnitudes, and a weight decay of 0 at one step (the multiply is skipped).
        const grads = Array.from({ length: replicas }, () =>
          Float32Array.from({ length: n }, () => rng.normal() * 10 ** (rng.float() * 8 - 6)),
        );
        const lr = 1e-3 * (1 + t / 3);
        const wd = t === 3 ? 0 : 0.04 * t;
        const momentum = 0.996 + t * 1e-4;
        adamWUpdate(p, m, v, grads, decay, adamWStepConstants([0.9, 0.999], 1e-8, t, lr, wd));
        emaUpdate(target, p, momentum);
        tfjsStep(pT, mT, vT, grads, decay, t, lr, wd);
        tf.tidy(() => targetT.assign(tf.add(tf.mul(targetT, momentum), tf.mul(pT, 1 - momentum))));
      }
      expect(bits(p)).toEqual(bits(pT.dataSync() as Float32Array));
      expect(bits(m)).toEqual(bits(mT.dataSync() as Float32Array));
      expect(bits(v)).toEqual(bits(vT.dataSync() as Float32Array));
      expect(bits(target)).toEqual(bits(targetT.dataSync() as Float32Array));
      tf.dispose([pT, mT, vT, targetT]);
    }
  });
});
