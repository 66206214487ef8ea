// The trainer's entry to the GPU checks: in a GPU job, assert the GPU backend and return the device to size for.
import * as tf from "@tensorflow/tfjs-core";
import type { BackendInfo } from "../backend.js";
import { assertGpuBackend, gpuRequired, listGpus, type NativeBackendFlags } from "./gpu_guard.js";

/** undefined outside GPU jobs; in one, the GPU (name, memory) or a GpuUnavailableError naming what is missing. */
export async function requireGpuWhenAsked(
  backend: BackendInfo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ name: string; memoryBytes: number } | undefined> {
  if (!gpuRequired(env)) return undefined;
  const device = assertGpuBackend(backend, tf.backend() as unknown as NativeBackendFlags, await listGpus(), env);
  return device ? { name: device.name, memoryBytes: device.memoryMiB * 1024 * 1024 } : undefined;
}
