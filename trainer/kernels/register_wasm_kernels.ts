// Swaps our SIMD kernels into the tfjs wasm backend's kernel registry (and back), keeping the backend's own kernels for the cases they run well.
import * as tf from "@tensorflow/tfjs-core";
import { backendMemory, instantiateBatchMatMul, makeFastBatchMatMul, type WasmBackendInternals } from "./wasm_batch_matmul.js";

const KERNEL_NAME = "BatchMatMul";
const BACKEND_NAME = "wasm";

/** The backend's own BatchMatMul while ours is registered in its place. */
let replaced: tf.KernelConfig | undefined;

/**
 * Registers the SIMD BatchMatMul (batched, transposed-A/B and TT products; attention's Q·Kᵀ, P·V and their
 * gradients) in place of the wasm backend's, which runs those cases in a scalar loop. Batch-1 untransposed products
 * (XNNPACK), broadcasting batches and non-float32 inputs still go to the backend's own kernel.
 *
 * Returns true when ours is registered (also on a second call, which changes nothing), false when the active
 * backend is not wasm or its heap cannot be shared (tfjs's threaded build, browsers only).
 */
export function registerFastWasmKernels(): boolean {
  if (tf.getBackend() !== BACKEND_NAME) return false;
  if (replaced) return true;
  const original = tf.getKernel(KERNEL_NAME, BACKEND_NAME);
  if (!original) return false;
  const memory = backendMemory(tf.backend() as unknown as WasmBackendInternals);
  if (!memory) return false;
  // Instantiating now surfaces a broken module here rather than inside the first training step.
  instantiateBatchMatMul(memory);
  tf.unregisterKernel(KERNEL_NAME, BACKEND_NAME);
  tf.registerKernel({
    kernelName: KERNEL_NAME,
    backendName: BACKEND_NAME,
    // The original's setup binds its C++ entry point; it must run again if the backend is ever re-initialised,
    // since ours delegates to it.
    setupFunc: original.setupFunc,
    disposeFunc: original.disposeFunc,
    kernelFunc: makeFastBatchMatMul(original.kernelFunc),
  });
  replaced = original;
  return true;
}

/** Puts the backend's own BatchMatMul back (for comparisons in tests and benchmarks). No-op when ours is not registered. */
export function unregisterFastWasmKernels(): void {
  if (!replaced) return;
  tf.unregisterKernel(KERNEL_NAME, BACKEND_NAME);
  tf.registerKernel(replaced);
  replaced = undefined;
}

/** Whether registerFastWasmKernels' kernels are the registered ones now. */
export function fastWasmKernelsRegistered(): boolean {
  return replaced !== undefined;
}
