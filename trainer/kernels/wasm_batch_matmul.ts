// The SIMD batched matmul of batch_matmul.wat as a BatchMatMul kernel function for tfjs's wasm backend, run on that backend's heap.
import type { DataType, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from "@tensorflow/tfjs-core";
import { IjepaError } from "../errors.js";
import { BATCH_MATMUL_WASM_BASE64 } from "./batch_matmul_wasm.js";
import { instancePerMemory, isUnsharedMemory, type WasmMemory } from "./webassembly_api.js";
import { nativeKernels } from "./native_kernels.js";

/** What batch_matmul.wat exports. Pointers are byte offsets into the memory the instance was given. */
export interface BatchMatMulExports {
  /** C[b] = op(A[b])·op(B[b]) for b < batch; op(A) is m×k, op(B) is k×n; transposeA/B are 0 or 1. */
  batch_matmul(
    a: number,
    b: number,
    c: number,
    scratch: number,
    batch: number,
    m: number,
    k: number,
    n: number,
    transposeA: number,
    transposeB: number,
  ): void;
  /** Bytes of scratch batch_matmul needs for these dimensions (0: pass any pointer). */
  scratch_bytes(m: number, k: number, n: number, transposeA: number, transposeB: number): number;
}

/** batch_matmul.wat instantiated on `memory` (tfjs's own heap in production; any memory in tests), made once per memory. */
export const instantiateBatchMatMul: (memory: WasmMemory) => BatchMatMulExports = instancePerMemory(
  () => BATCH_MATMUL_WASM_BASE64,
);

/** The parts of tfjs-backend-wasm's BackendWasm this kernel touches (its typings are not exported as such). */
export interface WasmBackendInternals {
  wasm: EmscriptenModule;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** The Emscripten module of the wasm backend: where the heap's Memory hangs depends on the Emscripten version and build. */
interface EmscriptenModule {
  wasmMemory?: unknown;
  asm?: { memory?: unknown };
  _malloc(bytes: number): number;
  _free(pointer: number): void;
}

/** The backend's heap, or undefined when it cannot be shared with our module (a threaded build's shared memory). */
export function backendMemory(backend: WasmBackendInternals): WasmMemory | undefined {
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  // Our module imports an unshared memory; tfjs's threaded build (browsers only) has a shared one.
  return isUnsharedMemory(memory) ? memory : undefined;
}

/** The dimensions of a product our kernel takes over; undefined where the backend's own kernel should run it. */
export interface BatchMatMulPlan {
  batch: number;
  m: number;
  k: number;
  n: number;
  outShape: number[];
}

/**
 * Decides who runs a BatchMatMul. Ours: float32 operands with identical batch dimensions (no broadcasting) in every
 * case the backend runs in its scalar loop, i.e. any transpose or a batch above 1. The backend's: batch 1 without
 * transposes (XNNPACK), broadcasting batches, other dtypes and malformed shapes (so its errors stay the same).
 */
export function planBatchMatMul(
  aShape: readonly number[],
  bShape: readonly number[],
  aDtype: DataType,
  bDtype: DataType,
  transposeA: boolean,
  transposeB: boolean,
): BatchMatMulPlan | undefined {
  if (aDtype !== "float32" || bDtype !== "float32") return undefined;
  const rank = aShape.length;
  if (rank < 2 || bShape.length !== rank) return undefined;
  const outer = aShape.slice(0, -2);
  if (outer.some((size, axis) => size !== bShape[axis])) return undefined;
  const m = transposeA ? aShape[rank - 1] : aShape[rank - 2];
  const k = transposeA ? aShape[rank - 2] : aShape[rank - 1];
  const kOfB = transposeB ? bShape[rank - 1] : bShape[rank - 2];
  const n = transposeB ? bShape[rank - 2] : bShape[rank - 1];
  if (k !== kOfB) return undefined;
  const batch = outer.reduce((product, size) => product * size, 1);
  if (batch === 1 && !transposeA && !transposeB) return undefined;
  return { batch, m, k, n, outShape: [...outer, m, n] };
}

interface BatchMatMulArgs {
  inputs: NamedTensorInfoMap;
  backend: unknown;
  attrs?: NamedAttrMap;
}

/** The smallest m·k·n per product that the native tier runs (smaller ones stay in batch_matmul.wat). */
const NATIVE_MIN_PRODUCT = 8192;

/**
 * A BatchMatMul kernelFunc that runs our kernel (the native addon's batchGemm where loaded, else batch_matmul.wat)
 * where planBatchMatMul says so and `original` everywhere else.
 */
export function makeFastBatchMatMul(original: KernelFunc): KernelFunc {
  const fastBatchMatMul = (args: BatchMatMulArgs): TensorInfo | TensorInfo[] => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA = false, transposeB = false } = (args.attrs ?? {}) as {
      transposeA?: boolean;
      transposeB?: boolean;
    };
    const plan = planBatchMatMul(a.shape, b.shape, a.dtype, b.dtype, transposeA, transposeB);
    const backend = args.backend as WasmBackendInternals;
    const memory = plan && backendMemory(backend);
    if (!plan || !memory) return original(args as Parameters<KernelFunc>[0]);
    const kernel = instantiateBatchMatMul(memory);
    const ta = transposeA ? 1 : 0;
    const tb = transposeB ? 1 : 0;
    const out = backend.makeOutput(plan.outShape, "float32");
    // Native where each product is big enough to win (measured: 1.1–1.3× batch_matmul.wat's CPU time at 17×32×17
    // and 49×64×49, 0.7× at 8×64×8, where per-product overheads dominate); a rule of the shape alone, so one
    // machine always picks the same kernel for a product.
    const native = plan.m * plan.k * plan.n >= NATIVE_MIN_PRODUCT ? nativeKernels() : undefined;
    if (native) {
      // The heap's buffer after makeOutput, which may have grown (and so detached) it.
      const [pa, pb, pc] = [offsetOf(backend, a), offsetOf(backend, b), offsetOf(backend, out)];
      native.batchGemm(backendMemory(backend)!.buffer, pa, pb, pc, plan.batch, plan.m, plan.k, plan.n, ta, tb);
      return out;
    }
    const scratchBytes = kernel.scratch_bytes(plan.m, plan.k, plan.n, ta, tb) >>> 0;
    const scratch = scratchBytes > 0 ? backend.wasm._malloc(scratchBytes) >>> 0 : 0;
    if (scratchBytes > 0 && scratch === 0) {
      backend.disposeData(out.dataId, true);
      throw new IjepaError(
        `BatchMatMul ${a.shape}×${b.shape}: the wasm heap has no room for ${scratchBytes} bytes of scratch`,
        "lower data.batch_size, or use a native backend (--backend node / node-gpu)",
      );
    }
    try {
      // Offsets are stable across heap growth (only JS views of the old buffer go stale), so reading them now is safe.
      kernel.batch_matmul(
        offsetOf(backend, a),
        offsetOf(backend, b),
        offsetOf(backend, out),
        scratch,
        plan.batch,
        plan.m,
        plan.k,
        plan.n,
        ta,
        tb,
      );
    } finally {
      if (scratch !== 0) backend.wasm._free(scratch);
    }
    return out;
  };
  return fastBatchMatMul as unknown as KernelFunc;
}

function offsetOf(backend: WasmBackendInternals, tensor: TensorInfo): number {
  const data = backend.dataIdMap.get(tensor.dataId);
  if (data === undefined) throw new IjepaError(`BatchMatMul: tensor ${tensor.shape} has no data on the wasm backend`);
  return data.memoryOffset;
}
