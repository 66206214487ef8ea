// In a GPU job, refuse to train unless TensorFlow really runs on a GPU: tfjs-node-gpu falls back to the CPU
// silently when a CUDA library is missing, and a GPU instance billed at CPU speed is the costliest failure.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { IjepaError } from "../errors.js";
import type { BackendInfo } from "../backend.js";

/** The trainer's job definition sets IJEPA_REQUIRE_GPU=1 (lib/gpu_batch.ts); anyone may set it locally too. */
export function gpuRequired(env: NodeJS.ProcessEnv): boolean {
  return env.IJEPA_REQUIRE_GPU === "1" || env.IJEPA_REQUIRE_GPU === "true";
}

/** What the native backend reports about itself (tfjs-node's NodeJSKernelBackend fields). */
export interface NativeBackendFlags {
  isGPUPackage?: boolean;
  isUsingGpuDevice?: boolean;
}

export interface GpuDevice {
  name: string;
  memoryMiB: number;
}

/** Thrown when a GPU job would run without its GPU: the message names the missing piece. */
export class GpuUnavailableError extends IjepaError {}

/**
 * Checks the initialised backend. `flags` is `tf.backend()`; `devices` what nvidia-smi lists (undefined when
 * nvidia-smi is not there to ask). Returns the device to train on.
 */
export function assertGpuBackend(
  backend: BackendInfo,
  flags: NativeBackendFlags,
  devices: GpuDevice[] | undefined,
  env: NodeJS.ProcessEnv,
): GpuDevice | undefined {
  if (backend.name !== "node-gpu") {
    const why = backend.skipped.find((s) => s.startsWith("node-gpu")) ?? "node-gpu was not tried";
    throw new GpuUnavailableError(
      `this job requires the GPU but the backend is ${backend.name} (${why})`,
      "use the trainer image built from trainer/Dockerfile (it installs @tensorflow/tfjs-node-gpu), or unset IJEPA_REQUIRE_GPU to train on CPU",
    );
  }
  if (env.CUDA_VISIBLE_DEVICES === "" || env.CUDA_VISIBLE_DEVICES === "-1") {
    throw new GpuUnavailableError(
      `CUDA_VISIBLE_DEVICES=${JSON.stringify(env.CUDA_VISIBLE_DEVICES)} hides every GPU`,
      "unset CUDA_VISIBLE_DEVICES",
    );
  }
  if (devices !== undefined && devices.length === 0) {
    throw new GpuUnavailableError(
      "nvidia-smi lists no GPU in this container",
      "run the job on a GPU instance type (g5, g6) with the job definition's GPU requirement of 1",
    );
  }
  if (flags.isGPUPackage === false || flags.isUsingGpuDevice !== true) {
    throw new GpuUnavailableError(
      "libtensorflow loaded without a GPU device (a CUDA or cuDNN library failed to load, so TensorFlow fell back to the CPU)",
      "check the log lines above from TensorFlow naming the library (libcudart.so.11.0, libcudnn.so.8 …); use the CUDA 11.8 + cuDNN 8 image from trainer/Dockerfile",
    );
  }
  return devices?.[0];
}

/** Runs a program and returns its stdout (injectable for tests). */
export type RunProgram = (file: string, args: string[]) => Promise<{ stdout: string }>;

const runProgram: RunProgram = (file, args) => promisify(execFile)(file, args, { timeout: 15_000, encoding: "utf8" });

/** Lists GPUs with nvidia-smi (mounted into the container by the NVIDIA runtime); undefined if it cannot run. */
export async function listGpus(run: RunProgram = runProgram): Promise<GpuDevice[] | undefined> {
  try {
    const { stdout } = await run("nvidia-smi", ["--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]);
    return parseNvidiaSmi(String(stdout));
  } catch {
    return undefined;
  }
}

export function parseNvidiaSmi(csv: string): GpuDevice[] {
  return csv
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const i = line.lastIndexOf(",");
      return { name: line.slice(0, i).trim(), memoryMiB: Number(line.slice(i + 1)) };
    })
    .filter((d) => d.name && Number.isFinite(d.memoryMiB));
}
