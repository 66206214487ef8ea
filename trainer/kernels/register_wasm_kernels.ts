// Swaps our SIMD kernels into the tfjs wasm backend's kernel registry (and back), keeping the backend's own kernels for the cases they run well.
import * as tf from "@tensorflow/tfjs-core";
import {
  backendMemory,
  instantiateBatchMatMul,
  makeFastBatchMatMul,
  type WasmBackendInternals,
} from "./wasm_batch_matmul.js";
import { instantiateGemm } from "./gemm_kernel.js";
import { instantiateElementwise, registerFusedKernels, unregisterFusedKernels } from "./wasm_elementwise.js";
import { makeColumnSum, makeGemmBatchMatMul, makeGemmFusedMatMul } from "./wasm_gemm.js";
import { makeGatherRows } from "./wasm_gather_rows.js";
import { makeSharedIdentity } from "./wasm_identity.js";

const BACKEND_NAME = "wasm";

/**
 * Ours, by kernel name, as functions of the backend's own (which each delegates the cases it does not take):
 *   BatchMatMul   single products in every transpose → gemm.wat; batched ones (attention) → batch_matmul.wat
 *   _FusedMatMul  single products with a per-column bias and no activation (linear layers) → gemm.wat
 *   Sum           a matrix summed over its rows (bias gradients) → gemm.wat's column_sums
 *   GatherV2      whole rows of a matrix (token gathers) → one copy per row
 *   Identity      clones (what gradients save) → a second reference to the same data, not a copy
 */
const OURS: Record<string, (original: tf.KernelFunc) => tf.KernelFunc> = {
  BatchMatMul: (original) => makeGemmBatchMatMul(makeFastBatchMatMul(original)),
  _FusedMatMul: (original) => makeGemmFusedMatMul(original),
  Sum: (original) => makeColumnSum(original),
  GatherV2: (original) => makeGatherRows(original),
  Identity: (original) => makeSharedIdentity(original),
};

/** The backend's own kernels while ours are registered in their place. */
let replaced: tf.KernelConfig[] | undefined;

/**
 * Registers our kernels in place of the wasm backend's. Returns true when they are registered (also on a second call,
 * which changes nothing), false when the active backend is not wasm or its heap cannot be shared (tfjs's threaded
 * build, browsers only).
 */
export function registerFastWasmKernels(): boolean {
  if (tf.getBackend() !== BACKEND_NAME) return false;
  if (replaced) return true;
  const originals = Object.keys(OURS).map((name) => tf.getKernel(name, BACKEND_NAME));
  if (originals.some((k) => !k)) return false;
  const memory = backendMemory(tf.backend() as unknown as WasmBackendInternals);
  if (!memory) return false;
  // Instantiating now surfaces a broken module here rather than inside the first training step.
  instantiateBatchMatMul(memory);
  instantiateGemm(memory);
  instantiateElementwise(memory);
  // Fused GELU and LayerNorm passes under names of their own (trainer/models/layers.ts uses them where registered).
  registerFusedKernels();
  for (const original of originals as tf.KernelConfig[]) {
    tf.unregisterKernel(original.kernelName, BACKEND_NAME);
    tf.registerKernel({
      kernelName: original.kernelName,
      backendName: BACKEND_NAME,
      // The original's setup binds its C++ entry point; it must run again if the backend is ever re-initialised,
      // since ours delegates to it.
      setupFunc: original.setupFunc,
      disposeFunc: original.disposeFunc,
      kernelFunc: OURS[original.kernelName](original.kernelFunc),
    });
  }
  replaced = originals as tf.KernelConfig[];
  return true;
}

/** Puts the backend's own kernels back (for comparisons in tests and benchmarks). No-op when ours are not registered. */
export function unregisterFastWasmKernels(): void {
  if (!replaced) return;
  unregisterFusedKernels();
  for (const original of replaced) {
    tf.unregisterKernel(original.kernelName, BACKEND_NAME);
    tf.registerKernel(original);
  }
  replaced = undefined;
}

/** Whether registerFastWasmKernels' kernels are the registered ones now. */
export function fastWasmKernelsRegistered(): boolean {
  return replaced !== undefined;
}
