// Times our fused GELU and LayerNorm kernels (trainer/kernels/elementwise.wat) against the composed tfjs ops they
// replace, on config A's shapes, in ns per element; `npm run bench:kernels` prints it after the matmuls.
//
//   node bin/run-ts.js bench/elementwise.ts [--runs 7]     this section alone (the wasm backend must be active)
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { describeBackend, initBackend } from "../trainer/backend.js";
import { registerFusedKernels, unregisterFusedKernels } from "../trainer/kernels/wasm_elementwise.js";
import { gelu, layerNorm } from "../trainer/models/layers.js";

/** One op: its forward on the inputs, and its forward and backward with a given output gradient. */
interface ElementwiseCase {
  label: string;
  elements: number;
  forward: () => tf.Tensor;
  forwardBackward: () => tf.Tensor[];
  dispose: () => void;
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((x, y) => x - y);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The kernels `run` ran, with their milliseconds (tf.profile; the wasm backend computes inside each kernel). */
async function profileKernels(run: () => tf.Tensor | tf.Tensor[]): Promise<{ name: string; ms: number }[]> {
  const info = await tf.profile(run);
  // tf.customGrad's forward is listed too, around the kernels it runs: only registered kernels count.
  return info.kernels
    .filter((k) => tf.getKernel(k.name, tf.getBackend()) !== undefined)
    .map((k) => ({ name: k.name, ms: Number(k.kernelTimeMs) }));
}

/**
 * Milliseconds in the forward's kernels and in the backward's: a gradient's kernels after those of its forward pass
 * (matched in order; a gradient also runs clones around them). Kernel time rather than wall time, because tf.grad
 * adds time of its own around the kernels, for ours and tfjs's alike.
 */
async function forwardBackwardMs(c: ElementwiseCase): Promise<[number, number]> {
  const forward = await profileKernels(c.forward);
  const both = await profileKernels(c.forwardBackward);
  let matched = 0;
  let backwardMs = 0;
  for (const k of both) {
    if (matched < forward.length) {
      if (k.name === forward[matched].name) matched++;
    } else {
      backwardMs += k.ms;
    }
  }
  if (matched < forward.length) throw new Error(`${c.label}: the gradient did not run the forward's kernels`);
  return [forward.reduce((sum, k) => sum + k.ms, 0), backwardMs];
}

function geluCase(rows: number, cols: number): ElementwiseCase {
  const x = tf.randomNormal([rows, cols]) as tf.Tensor2D;
  const dy = tf.randomNormal([rows, cols]) as tf.Tensor2D;
  const grad = tf.grad((t: tf.Tensor) => gelu(t as tf.Tensor2D));
  return {
    label: `GELU [${rows}, ${cols}]`,
    elements: rows * cols,
    forward: () => gelu(x),
    forwardBackward: () => [grad(x, dy)],
    dispose: () => tf.dispose([x, dy]),
  };
}

function layerNormCase(rows: number, cols: number): ElementwiseCase {
  const x = tf.randomNormal([rows, cols]) as tf.Tensor2D;
  const gamma = tf.randomNormal([cols]) as tf.Tensor1D;
  const beta = tf.randomNormal([cols]) as tf.Tensor1D;
  const dy = tf.randomNormal([rows, cols]) as tf.Tensor2D;
  const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
    layerNorm(a as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-6);
  const grads = tf.grads(f);
  return {
    label: `LayerNorm [${rows}, ${cols}]`,
    elements: rows * cols,
    forward: () => f(x, gamma, beta),
    forwardBackward: () => grads([x, gamma, beta], dy),
    dispose: () => tf.dispose([x, gamma, beta, dy]),
  };
}

/**
 * Prints, per op, the median ns per element in kernels of the forward and of the backward (the kernels a gradient
 * runs after the forward's), with our kernels and with tfjs's composed ops, measured in turn (ours, composed, ours,
 * …) after one warm-up each. Leaves our kernels registered.
 */
export async function benchElementwise(runs: number): Promise<void> {
  console.log(
    `\nelement-wise: config A's GELU (mlp.fc1 output) and LayerNorm inputs, one replica; ns per element in kernels, ` +
      `medians of ${runs}\n` +
      "op".padEnd(26) +
      "ours fwd".padStart(10) +
      "tfjs fwd".padStart(10) +
      "ours bwd".padStart(10) +
      "tfjs bwd".padStart(10) +
      "speedup fwd / bwd".padStart(20),
  );
  for (const make of [() => geluCase(3136, 768), () => layerNormCase(3136, 192)]) {
    const c = make();
    const samples = { oursF: [] as number[], oursB: [] as number[], tfjsF: [] as number[], tfjsB: [] as number[] };
    for (let run = -1; run < runs; run++) {
      for (const ours of [true, false]) {
        if (ours) registerFusedKernels();
        else unregisterFusedKernels();
        const [forwardMs, backwardMs] = await forwardBackwardMs(c);
        if (run < 0) continue;
        samples[ours ? "oursF" : "tfjsF"].push(forwardMs);
        samples[ours ? "oursB" : "tfjsB"].push(backwardMs);
      }
    }
    registerFusedKernels();
    c.dispose();
    const ns = (ms: number[]) => (median(ms) * 1e6) / c.elements;
    const [oursF, tfjsF, oursB, tfjsB] = [ns(samples.oursF), ns(samples.tfjsF), ns(samples.oursB), ns(samples.tfjsB)];
    console.log(
      c.label.padEnd(26) +
        [oursF, tfjsF, oursB, tfjsB].map((v) => v.toFixed(2).padStart(10)).join("") +
        `${(tfjsF / oursF).toFixed(1)}× / ${(tfjsB / oursB).toFixed(1)}×`.padStart(20),
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "7" } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got "${values.runs}"`);
  const backend = await initBackend("wasm");
  console.log(describeBackend(backend));
  await benchElementwise(runs);
}
