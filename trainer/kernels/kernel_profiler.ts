// Per-kernel wall time of the active tfjs backend (`bench:train --profile`): wraps every registered kernel of that
// backend in a timer, so a step's time can be split by op without a private script.
import * as tf from "@tensorflow/tfjs-core";

/** Milliseconds and calls per kernel name since the profile started or was last taken. */
export type KernelProfile = Record<string, { ms: number; calls: number }>;

let totals: KernelProfile | undefined;
// Nested kernels (a kernel that runs others through the engine) are charged to the outermost only.
let depth = 0;

/**
 * Wraps each kernel registered for the active backend (call after every kernel, ours included, is registered).
 * Idempotent. Timing adds two performance.now() calls per kernel, a few microseconds per step's thousands of kernels.
 */
export function startKernelProfile(): void {
  if (totals) return;
  totals = {};
  const backendName = tf.getBackend();
  for (const config of tf.getKernelsForBackend(backendName)) {
    const inner = config.kernelFunc;
    const name = config.kernelName;
    const timed = ((args: Parameters<tf.KernelFunc>[0]) => {
      if (depth > 0 || !totals) return inner(args);
      depth++;
      const start = performance.now();
      try {
        return inner(args);
      } finally {
        depth--;
        totals[name] ??= { ms: 0, calls: 0 };
        const entry = totals[name];
        entry.ms += performance.now() - start;
        entry.calls++;
      }
    }) as tf.KernelFunc;
    tf.unregisterKernel(name, backendName);
    tf.registerKernel({ ...config, kernelFunc: timed });
  }
}

/** The profile since the last take (empty when profiling is off), and a fresh start. */
export function takeKernelProfile(): KernelProfile {
  const taken = totals ?? {};
  if (totals) totals = {};
  return taken;
}

/** Whether this process (and its replica workers, which inherit the environment) profiles kernels: IJEPA_PROFILE=1. */
export function profilingRequested(): boolean {
  return process.env.IJEPA_PROFILE === "1";
}

/**
 * The wasm backend's heap in MB: its high-water mark, since a wasm memory only grows. Undefined on other backends.
 */
export function wasmHeapMb(): number | undefined {
  if (tf.getBackend() !== "wasm") return undefined;
  const wasm = (tf.backend() as unknown as { wasm?: { wasmMemory?: { buffer: ArrayBuffer }; HEAPU8?: Uint8Array } })
    .wasm;
  const bytes = wasm?.wasmMemory?.buffer.byteLength ?? wasm?.HEAPU8?.byteLength;
  return bytes === undefined ? undefined : bytes / 2 ** 20;
}
