// Times tfjs-wasm's own BatchMatMul against our SIMD kernels (trainer/kernels) and, where built, the native tier
// (native/) on the ViT attention's products and on the linear layers' 2-D products, alternating them run by run so
// a busy machine slows all alike; then our fused GELU and LayerNorm against tfjs's composed ops
// (bench/elementwise.ts).
//
//   node bin/run-ts.js bench/kernels.ts [--runs 7] [--clock wall|cpu]
// --clock cpu times by this process's CPU time instead of the wall clock: steadier where other jobs share the cores.
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { describeBackend, initBackend } from "../trainer/backend.js";
import { nativeKernels, suspendNativeKernels } from "../trainer/kernels/native_kernels.js";
import { registerFastWasmKernels, unregisterFastWasmKernels } from "../trainer/kernels/register_wasm_kernels.js";
import { benchElementwise } from "./elementwise.js";

interface Product {
  /** Where the product occurs. */
  label: string;
  outer: number[];
  m: number;
  k: number;
  n: number;
  transposeA: boolean;
  transposeB: boolean;
}

const { values } = parseArgs({
  options: { runs: { type: "string", default: "7" }, clock: { type: "string", default: "wall" } },
});
if (values.clock !== "wall" && values.clock !== "cpu")
  throw new Error(`--clock must be wall or cpu, got "${values.clock}"`);
/** Milliseconds now, on the chosen clock. */
const now =
  values.clock === "cpu"
    ? () => {
        const { user, system } = process.cpuUsage();
        return (user + system) / 1000;
      }
    : () => performance.now();
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got "${values.runs}"`);

/** The six products one attention layer runs per step (forward and backward), for B·H sequences of T tokens, head dim d. */
function attentionProducts(bh: number, t: number, d: number): Product[] {
  const at = (label: string, m: number, k: number, n: number, transposeA: boolean, transposeB: boolean): Product => ({
    label: `${label} [${bh}·${t}×${d}]`,
    outer: [bh],
    m,
    k,
    n,
    transposeA,
    transposeB,
  });
  return [
    at("S = Q·Kᵀ", t, d, t, false, true),
    at("O = P·V", t, t, d, false, false),
    at("dP = dO·Vᵀ", t, d, t, false, true),
    at("dV = Pᵀ·dO", t, t, d, true, false),
    at("dQ = dS·K", t, t, d, false, false),
    at("dK = dSᵀ·Q", t, t, d, true, false),
  ];
}

/** Median milliseconds of `run` over the samples. */
function median(samples: number[]): number {
  const sorted = [...samples].sort((x, y) => x - y);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function timeOnce(a: tf.Tensor, b: tf.Tensor, p: Product): number {
  const start = now();
  // The wasm backend computes synchronously inside matMul; no read-back needed.
  const c = tf.matMul(a, b, p.transposeA, p.transposeB);
  const elapsed = now() - start;
  c.dispose();
  return elapsed;
}

/** The same product with the transposes done first, so the matMul is batch-1 untransposed: XNNPACK (what trainer/models/layers.ts does). */
function timeTransposedFirst(a: tf.Tensor, b: tf.Tensor, p: Product): number {
  const start = now();
  const c = tf.tidy(() => tf.matMul(p.transposeA ? tf.transpose(a) : a, p.transposeB ? tf.transpose(b) : b));
  const elapsed = now() - start;
  c.dispose();
  return elapsed;
}

/**
 * Median ms of the backend's kernel, of ours in wasm, of ours native (where built) and, for transposed 2-D products,
 * of transposing first; measured in turn (A, B, C, A, B, C, …) after one warm-up each.
 */
function compare(p: Product): { originalMs: number; oursMs: number; nativeMs?: number; transposedFirstMs?: number } {
  const a = tf.randomNormal([...p.outer, ...(p.transposeA ? [p.k, p.m] : [p.m, p.k])]);
  const b = tf.randomNormal([...p.outer, ...(p.transposeB ? [p.n, p.k] : [p.k, p.n])]);
  const twoD = p.outer.length === 0;
  const original: number[] = [];
  const ours: number[] = [];
  const native: number[] = [];
  const transposedFirst: number[] = [];
  for (let run = -1; run < runs; run++) {
    unregisterFastWasmKernels();
    const originalMs = timeOnce(a, b, p);
    // tfjs's own path for a transposed 2-D product: transpose, then XNNPACK.
    const transposedFirstMs = twoD && (p.transposeA || p.transposeB) ? timeTransposedFirst(a, b, p) : 0;
    registerFastWasmKernels();
    suspendNativeKernels(true);
    const oursMs = timeOnce(a, b, p);
    suspendNativeKernels(false);
    const nativeMs = nativeKernels() ? timeOnce(a, b, p) : 0;
    if (run >= 0) {
      original.push(originalMs);
      ours.push(oursMs);
      native.push(nativeMs);
      transposedFirst.push(transposedFirstMs);
    }
  }
  tf.dispose([a, b]);
  const transposed = twoD && (p.transposeA || p.transposeB);
  return {
    originalMs: median(original),
    oursMs: median(ours),
    nativeMs: nativeKernels() ? median(native) : undefined,
    transposedFirstMs: transposed ? median(transposedFirst) : undefined,
  };
}

function gflops(p: Product, ms: number): string {
  const flops = 2 * p.outer.reduce((x, y) => x * y, 1) * p.m * p.k * p.n;
  return (flops / (ms * 1e6)).toFixed(2);
}

const backend = await initBackend("wasm");
if (!registerFastWasmKernels()) throw new Error("the fast wasm kernels could not be registered on this backend");
console.log(`${describeBackend(backend)}; ${runs} alternating runs per kernel, medians of ${values.clock} time`);
console.log(
  "product".padEnd(30) +
    "layout".padEnd(8) +
    "original ms  GFLOP/s".padStart(22) +
    "ours ms  GFLOP/s".padStart(20) +
    "speedup".padStart(10) +
    (nativeKernels() ? "native ms  GFLOP/s".padStart(22) + "vs tfjs".padStart(9) : "  (native tier not loaded)"),
);

const groups: { title: string; products: Product[] }[] = [
  { title: "attention, B·H = 384, T = 49, d = 64", products: attentionProducts(384, 49, 64) },
  { title: "attention, B·H = 1536, T = 17, d = 32", products: attentionProducts(1536, 17, 32) },
  { title: "attention, B·H = 384, T = 8, d = 64", products: attentionProducts(384, 8, 64) },
  {
    title:
      "linear layers (gemm.wat vs XNNPACK): config A's target-encoder mlp.fc1, 192 → 768 over one replica's 3136 tokens",
    products: [{ label: "Y = X·W", outer: [], m: 3136, k: 192, n: 768, transposeA: false, transposeB: false }],
  },
  {
    title: "linear layers: config A's predictor mlp.fc1, 96 → 384 over one replica's ~4350 predictor tokens",
    products: [
      { label: "Y = X·W", outer: [], m: 4352, k: 96, n: 384, transposeA: false, transposeB: false },
      { label: "dX = dY·Wᵀ", outer: [], m: 4352, k: 384, n: 96, transposeA: false, transposeB: true },
      { label: "dW = Xᵀ·dY", outer: [], m: 96, k: 4352, n: 384, transposeA: true, transposeB: false },
    ],
  },
];

for (const group of groups) {
  console.log(`\n${group.title}`);
  let originalTotal = 0;
  let oursTotal = 0;
  let nativeTotal = 0;
  for (const p of group.products) {
    const { originalMs, oursMs, nativeMs, transposedFirstMs } = compare(p);
    originalTotal += originalMs;
    oursTotal += oursMs;
    nativeTotal += nativeMs ?? 0;
    const layout = `${p.transposeA ? "T" : "N"}${p.transposeB ? "T" : "N"}`;
    console.log(
      p.label.padEnd(30) +
        layout.padEnd(8) +
        `${originalMs.toFixed(2)}  ${gflops(p, originalMs).padStart(7)}`.padStart(22) +
        `${oursMs.toFixed(2)}  ${gflops(p, oursMs).padStart(7)}`.padStart(20) +
        `${(originalMs / oursMs).toFixed(1)}×`.padStart(10) +
        (nativeMs === undefined
          ? ""
          : `${nativeMs.toFixed(2)}  ${gflops(p, nativeMs).padStart(7)}`.padStart(22) +
            `${(originalMs / nativeMs).toFixed(1)}×`.padStart(9)),
    );
    if (transposedFirstMs !== undefined) {
      console.log(
        `  transposing first, then XNNPACK: ${transposedFirstMs.toFixed(2)} ms, ${gflops(p, transposedFirstMs)} GFLOP/s`,
      );
    }
  }
  console.log(
    "all of the above".padEnd(38) +
      `${originalTotal.toFixed(2)}`.padStart(13) +
      `${oursTotal.toFixed(2)}`.padStart(20) +
      `${(originalTotal / oursTotal).toFixed(1)}×`.padStart(19) +
      (nativeTotal > 0
        ? `${nativeTotal.toFixed(2)}`.padStart(13) + `${(originalTotal / nativeTotal).toFixed(1)}×`.padStart(18)
        : ""),
  );
}
// GELU and LayerNorm: our fused kernels against tfjs's composed ops (bench/elementwise.ts).
await benchElementwise(runs);
unregisterFastWasmKernels();
