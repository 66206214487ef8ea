// gemm.wat (or the native addon where loaded) as tfjs wasm kernels: 2-D products in every transpose (BatchMatMul,
// _FusedMatMul with a bias) and column sums (Sum over axis 0, the bias gradient), run on the backend's heap in place.
import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from "@tensorflow/tfjs-core";
import { IjepaError } from "../errors.js";
import { instantiateGemm, type GemmExports } from "./gemm_kernel.js";
import { nativeKernels } from "./native_kernels.js";
import { backendMemory, type WasmBackendInternals } from "./wasm_batch_matmul.js";

interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: unknown;
  attrs?: NamedAttrMap;
}

/** The dimensions of a single (batch 1) float32 product op(A)·op(B), or undefined where another kernel should run it. */
export interface GemmPlan {
  m: number;
  k: number;
  n: number;
  outShape: number[];
}

export function planGemm(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): GemmPlan | undefined {
  if (a.dtype !== "float32" || b.dtype !== "float32") return undefined;
  const rank = a.shape.length;
  if (rank < 2 || b.shape.length !== rank) return undefined;
  const outer = a.shape.slice(0, -2);
  if (outer.some((size) => size !== 1) || b.shape.slice(0, -2).some((size) => size !== 1)) return undefined;
  const m = transposeA ? a.shape[rank - 1] : a.shape[rank - 2];
  const k = transposeA ? a.shape[rank - 2] : a.shape[rank - 1];
  const kOfB = transposeB ? b.shape[rank - 1] : b.shape[rank - 2];
  const n = transposeB ? b.shape[rank - 2] : b.shape[rank - 1];
  if (k !== kOfB || m === 0 || k === 0 || n === 0) return undefined;
  return { m, k, n, outShape: [...outer, m, n] };
}

function offsetOf(backend: WasmBackendInternals, tensor: TensorInfo, what: string): number {
  const data = backend.dataIdMap.get(tensor.dataId);
  if (data === undefined) throw new IjepaError(`${what}: tensor ${tensor.shape} has no data on the wasm backend`);
  return data.memoryOffset;
}

function gemmOn(backend: WasmBackendInternals): GemmExports | undefined {
  const memory = backendMemory(backend);
  return memory && instantiateGemm(memory);
}

/** C = op(A)·op(B) (+ bias) on the backend's heap; A and B are stored as tfjs holds them, transposes become strides. */
function runGemm(
  backend: WasmBackendInternals,
  kernel: GemmExports,
  a: TensorInfo,
  b: TensorInfo,
  bias: TensorInfo | undefined,
  plan: GemmPlan,
  transposeA: boolean,
  transposeB: boolean,
): TensorInfo {
  const { m, k, n } = plan;
  const out = backend.makeOutput(plan.outShape, "float32");
  // A stored m×k (row stride k) or, transposed, k×m; B stored k×n or, transposed, n×k. Offsets are stable across
  // heap growth, so reading them now is safe.
  const [aRs, aCs] = transposeA ? [4, m * 4] : [k * 4, 4];
  const [bRs, bCs] = transposeB ? [4, k * 4] : [n * 4, 4];
  const pbias = bias ? offsetOf(backend, bias, "MatMul bias") : 0;
  const [pa, pb] = [offsetOf(backend, a, "MatMul"), offsetOf(backend, b, "MatMul")];
  const pc = offsetOf(backend, out, "MatMul");
  const native = nativeKernels();
  if (native) {
    // The heap's buffer now: makeOutput may have grown the memory, which detaches the buffer read before.
    native.gemm(backendMemory(backend)!.buffer, pa, aRs, aCs, pb, bRs, bCs, pc, pbias, m, k, n, 0);
    return out;
  }
  const scratchBytes = kernel.gemm_scratch_bytes(m, k, n) >>> 0;
  const scratch = backend.wasm._malloc(scratchBytes) >>> 0;
  if (scratch === 0) {
    backend.disposeData(out.dataId, true);
    throw new IjepaError(
      `MatMul ${a.shape}×${b.shape}: the wasm heap has no room for ${scratchBytes} bytes of scratch`,
      "lower data.batch_size, or use a native backend (--backend node / node-gpu)",
    );
  }
  try {
    kernel.gemm(pa, aRs, aCs, pb, bRs, bCs, pc, pbias, m, k, n, scratch, 0);
  } finally {
    backend.wasm._free(scratch);
  }
  return out;
}

/** A BatchMatMul kernelFunc that runs single float32 products (any transpose) through gemm.wat (or the native
 * addon) and the rest through `next`. */
export function makeGemmBatchMatMul(next: KernelFunc): KernelFunc {
  const gemmBatchMatMul = (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA = false, transposeB = false } = (args.attrs ?? {}) as {
      transposeA?: boolean;
      transposeB?: boolean;
    };
    const backend = args.backend as WasmBackendInternals;
    const plan = planGemm(a, b, transposeA, transposeB);
    const kernel = plan && gemmOn(backend);
    if (!plan || !kernel) return next(args as Parameters<KernelFunc>[0]);
    return runGemm(backend, kernel, a, b, undefined, plan, transposeA, transposeB);
  };
  return gemmBatchMatMul as unknown as KernelFunc;
}

/**
 * A _FusedMatMul kernelFunc (tf.fused.matMul) that runs single float32 products with no activation and a bias of one
 * value per column (or none) through gemm.wat, the bias added as each tile's accumulators start; the rest through
 * `original`.
 */
export function makeGemmFusedMatMul(original: KernelFunc): KernelFunc {
  const gemmFusedMatMul = (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
    const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean; activation?: string };
    const { transposeA = false, transposeB = false } = attrs;
    const backend = args.backend as WasmBackendInternals;
    const plan = a && b ? planGemm(a, b, transposeA, transposeB) : undefined;
    const plainBias = !bias || (bias.dtype === "float32" && bias.shape.length === 1 && bias.shape[0] === plan?.n);
    const linear = (attrs.activation ?? "linear") === "linear" && !preluActivationWeights;
    const kernel = plan && plainBias && linear ? gemmOn(backend) : undefined;
    if (!plan || !kernel) return original(args as Parameters<KernelFunc>[0]);
    return runGemm(backend, kernel, a!, b!, bias, plan, transposeA, transposeB);
  };
  return gemmFusedMatMul as unknown as KernelFunc;
}

/**
 * A Sum kernelFunc that sums a float32 matrix over its rows (axis 0, the bias gradient) with gemm.wat's column_sums,
 * which the backend computes by transposing first; every other reduction goes to `original`.
 */
export function makeColumnSum(original: KernelFunc): KernelFunc {
  const columnSum = (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims = false } = (args.attrs ?? {}) as { axis?: number | number[]; keepDims?: boolean };
    const axes = Array.isArray(axis) ? axis : [axis];
    const overRows = x.shape.length === 2 && axes.length === 1 && (axes[0] === 0 || axes[0] === -2);
    const backend = args.backend as WasmBackendInternals;
    const kernel = overRows && x.dtype === "float32" && x.shape[0] > 0 ? gemmOn(backend) : undefined;
    if (!kernel) return original(args as Parameters<KernelFunc>[0]);
    const [rows, cols] = x.shape;
    const out = backend.makeOutput(keepDims ? [1, cols] : [cols], "float32");
    if (cols > 0) {
      const [px, pout] = [offsetOf(backend, x, "Sum"), offsetOf(backend, out, "Sum")];
      const native = nativeKernels();
      if (native) native.columnSums(backendMemory(backend)!.buffer, px, rows, cols, pout);
      else kernel.column_sums(px, rows, cols, pout);
    }
    return out;
  };
  return columnSum as unknown as KernelFunc;
}
