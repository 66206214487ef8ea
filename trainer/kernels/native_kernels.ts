// The optional native kernel tier (native/, an N-API addon built at npm install): loaded once per thread if built,
// not switched off, and correct on a small product; otherwise undefined and gemm.wat runs.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** What the addon exports. Offsets and strides are in bytes into `heap`, tfjs-wasm's memory.buffer (an unshared
 * ArrayBuffer; the addon refuses a SharedArrayBuffer). */
export interface NativeKernels {
  /** As gemm.wat's gemm without scratch: C[m×n] = op(A)·op(B) + (C if accumulate, else the bias row if pbias ≠ 0). */
  gemm(
    heap: ArrayBufferLike,
    pa: number,
    aRs: number,
    aCs: number,
    pb: number,
    bRs: number,
    bCs: number,
    pc: number,
    pbias: number,
    m: number,
    k: number,
    n: number,
    accumulate: number,
    portable?: boolean,
  ): void;
  /**
   * C[b] = op(A[b])·op(B[b]) for `batch` row-major matrices packed one after another (A[b] m×k, or k×m when
   * transposed; B[b] k×n, or n×k): the attention products batch_matmul.wat runs otherwise.
   */
  batchGemm(
    heap: ArrayBufferLike,
    pa: number,
    pb: number,
    pc: number,
    batch: number,
    m: number,
    k: number,
    n: number,
    transposeA: number,
    transposeB: number,
  ): void;
  /** As elementwise.wat's gelu_forward, with the same bits: y = x·Φ(x) for `count` floats. */
  geluForward(heap: ArrayBufferLike, px: number, py: number, count: number): void;
  /** As elementwise.wat's gelu_backward, with the same bits: dx = dy·(Φ(x) + x·φ(x)). */
  geluBackward(heap: ArrayBufferLike, px: number, pdy: number, pdx: number, count: number): void;
  /** As elementwise.wat's layer_norm_forward, with the same bits (pgamma = pbeta = 0: no affine; pstats = 0: none). */
  layerNormForward(
    heap: ArrayBufferLike,
    px: number,
    pgamma: number,
    pbeta: number,
    py: number,
    pstats: number,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  /** As elementwise.wat's layer_norm_backward, with the same bits, and scratch of its own. */
  layerNormBackward(
    heap: ArrayBufferLike,
    px: number,
    pgamma: number,
    pdy: number,
    pstats: number,
    pdx: number,
    pdgamma: number,
    pdbeta: number,
    rows: number,
    cols: number,
  ): void;
  /** As gemm.wat's column_sums: out[j] = Σ_i x[i, j] for x rows×cols, row-major. */
  columnSums(heap: ArrayBufferLike, px: number, rows: number, cols: number, pout: number): void;
  /** The micro-kernel the CPU runs: "avx2-fma", or "portable" (plain C with one fmaf per multiply-add). */
  tier(): string;
}

/** Where scripts/build-native-kernels.js leaves the addon, from this file (trainer/kernels/). */
export const NATIVE_ADDON_PATH = fileURLToPath(
  new URL("../../native/build/Release/ijepa_kernels.node", import.meta.url),
);

/** Whether the native tier is loaded in this thread, and if not, why. */
export interface NativeKernelsStatus {
  kernels?: NativeKernels;
  /** Why it is not loaded (switched off, not built, failed its self-check). */
  reason?: string;
}

let status: NativeKernelsStatus | undefined;
let suspended = false;

/**
 * The native kernels, or undefined where IJEPA_NATIVE_KERNELS=off (or IJEPA_WASM_KERNELS=tfjs) switches them off,
 * the addon is not built (bundles, Windows, no compiler at install), or it fails the self-check. Loaded once per
 * thread: the addon is context-aware, so each replica worker gets its own instance.
 */
export function nativeKernels(): NativeKernels | undefined {
  return suspended ? undefined : nativeKernelsStatus().kernels;
}

/** For benchmarks and tests in one thread: true runs the wasm kernels even where the native tier loaded; false undoes it. */
export function suspendNativeKernels(suspend: boolean): void {
  suspended = suspend;
}

export function nativeKernelsStatus(): NativeKernelsStatus {
  status ??= load();
  return status;
}

function load(): NativeKernelsStatus {
  if (process.env.IJEPA_NATIVE_KERNELS === "off") return { reason: "IJEPA_NATIVE_KERNELS=off" };
  if (process.env.IJEPA_WASM_KERNELS === "tfjs") return { reason: "IJEPA_WASM_KERNELS=tfjs" };
  let kernels: NativeKernels;
  try {
    // The path is a value, not a literal, so bundlers leave the .node file alone; a bundle simply has none.
    kernels = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeKernels;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { reason: code === "MODULE_NOT_FOUND" ? "not built" : `cannot load: ${(err as Error).message}` };
  }
  const wrong = selfCheck(kernels);
  if (wrong) return { reason: `self-check failed: ${wrong}` };
  const unwanted = whyNotUse(process.arch, kernels.tier(), process.env.IJEPA_NATIVE_KERNELS);
  return unwanted ? { reason: unwanted } : { kernels };
}

/**
 * Why a loaded addon should not run, or undefined. The portable path does one fmaf per multiply-add: a single
 * instruction on arm64, but on an x86-64 without AVX2+FMA a software routine in libm, far slower than the wasm
 * kernels, so there it runs only when IJEPA_NATIVE_KERNELS=on asks for it.
 */
export function whyNotUse(arch: string, tier: string, setting: string | undefined): string | undefined {
  if ((arch === "x64" || arch === "ia32") && tier !== "avx2-fma" && setting !== "on") {
    return "this x86 CPU has no AVX2+FMA (IJEPA_NATIVE_KERNELS=on forces the portable path)";
  }
  return undefined;
}

/**
 * Multiplies a 7×300 by a transposed 300×19 with a bias (an edge tile, two K chunks) and sums its columns, then
 * checks the batched products, GELU and LayerNorm; compares with float64. Returns what is wrong, or undefined.
 */
export function selfCheck(kernels: NativeKernels): string | undefined {
  const [m, k, n] = [7, 300, 19];
  const heap = new ArrayBuffer(4 * (m * k + n * k + n + m * n + n));
  const f = new Float32Array(heap);
  const [pa, pb, pbias, pc, psum] = [0, m * k, m * k + n * k, m * k + n * k + n, m * k + n * k + n + m * n];
  for (let i = 0; i < pc; i++) f[i] = Math.fround(((i * 7919) % 201) / 100 - 1);
  try {
    kernels.gemm(heap, 4 * pa, 4 * k, 4, 4 * pb, 4, 4 * k, 4 * pc, 4 * pbias, m, k, n, 0);
    kernels.columnSums(heap, 4 * pc, m, n, 4 * psum);
  } catch (err) {
    return (err as Error).message;
  }
  for (let j = 0; j < n; j++) {
    let column = 0;
    for (let i = 0; i < m; i++) {
      let want = f[pbias + j];
      for (let p = 0; p < k; p++) want += f[pa + i * k + p] * f[pb + j * k + p];
      const got = f[pc + i * n + j];
      if (!(Math.abs(got - want) <= 1e-4 * (1 + Math.abs(want)))) return `C[${i}, ${j}] = ${got}, want ${want}`;
      column += got;
    }
    if (!(Math.abs(f[psum + j] - column) <= 1e-4 * (1 + Math.abs(column)))) return `column sum ${j} off`;
  }
  return checkBatchAndElementwise(kernels);
}

/** Two 5×17·17×9 products batched (B transposed), GELU at 1 and −2, and LayerNorm of the row 1, 2, 3, 4. */
function checkBatchAndElementwise(kernels: NativeKernels): string | undefined {
  const [batch, m, k, n] = [2, 5, 17, 9];
  const heap = new ArrayBuffer(4 * (batch * (m * k + n * k + m * n) + 32));
  const f = new Float32Array(heap);
  const [pb, pc, pe] = [batch * m * k, batch * (m * k + n * k), batch * (m * k + n * k + m * n)];
  for (let i = 0; i < pc; i++) f[i] = Math.fround(((i * 7919) % 201) / 100 - 1);
  f.set([1, -2, 0, 0, 1, 2, 3, 4], pe);
  try {
    kernels.batchGemm(heap, 0, 4 * pb, 4 * pc, batch, m, k, n, 0, 1);
    kernels.geluForward(heap, 4 * pe, 4 * (pe + 2), 2);
    kernels.layerNormForward(heap, 4 * (pe + 4), 0, 0, 4 * (pe + 8), 0, 1, 4, 1e-6);
  } catch (err) {
    return (err as Error).message;
  }
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let want = 0;
        for (let p = 0; p < k; p++) want += f[b * m * k + i * k + p] * f[pb + b * n * k + j * k + p];
        const got = f[pc + b * m * n + i * n + j];
        if (!(Math.abs(got - want) <= 1e-4 * (1 + Math.abs(want)))) return `batch ${b} C[${i}, ${j}] = ${got}`;
      }
  // GELU(1) = Φ(1) = 0.8413447, GELU(−2) = −2·Φ(−2) = −0.0455003; LayerNorm(1, 2, 3, 4) = (k − 2.5)/√1.25.
  const want = [0.8413447, -0.0455003, ...[1, 2, 3, 4].map((v) => (v - 2.5) / Math.sqrt(1.25 + 1e-6))];
  const got = [f[pe + 2], f[pe + 3], ...f.subarray(pe + 8, pe + 12)];
  const wrong = want.findIndex((w, i) => !(Math.abs(got[i] - w) <= 1e-5));
  return wrong < 0 ? undefined : `${wrong < 2 ? "GELU" : "LayerNorm"} gives ${got[wrong]}, want ${want[wrong]}`;
}
