// The GPU job's start check: which missing piece is named, and what passes.
import { describe, expect, it } from "vitest";
import type { BackendInfo } from "../../trainer/backend.js";
import {
  assertGpuBackend,
  gpuRequired,
  GpuUnavailableError,
  listGpus,
  parseNvidiaSmi,
} from "../../trainer/train/gpu_guard.js";

const gpuBackend: BackendInfo = { name: "node-gpu", tfjsName: "tensorflow", threads: 0, skipped: [] };
const a10g = [{ name: "NVIDIA A10G", memoryMiB: 23028 }];

describe("assertGpuBackend", () => {
  it("passes node-gpu on a GPU device that nvidia-smi also lists, and returns that device", () => {
    expect(assertGpuBackend(gpuBackend, { isGPUPackage: true, isUsingGpuDevice: true }, a10g, {})).toEqual(a10g[0]);
  });

  it("names the backend that runs instead, and why node-gpu was skipped", () => {
    const wasm: BackendInfo = {
      name: "wasm",
      tfjsName: "wasm",
      threads: 1,
      skipped: ["node-gpu: Cannot find module '@tensorflow/tfjs-node-gpu'"],
    };
    expect(() => assertGpuBackend(wasm, {}, a10g, {})).toThrow(/backend is wasm \(node-gpu: Cannot find module/);
  });

  it("catches tfjs-node-gpu's silent fall-back to the CPU when a CUDA library is missing", () => {
    expect(() => assertGpuBackend(gpuBackend, { isGPUPackage: true, isUsingGpuDevice: false }, a10g, {})).toThrow(
      /fell back to the CPU[\s\S]*libcudnn\.so\.8/,
    );
  });

  it("names a hidden or absent GPU", () => {
    expect(() =>
      assertGpuBackend(gpuBackend, { isUsingGpuDevice: true }, a10g, { CUDA_VISIBLE_DEVICES: "-1" }),
    ).toThrow(/CUDA_VISIBLE_DEVICES/);
    expect(() => assertGpuBackend(gpuBackend, { isUsingGpuDevice: true }, [], {})).toThrow(/nvidia-smi lists no GPU/);
    expect(() => assertGpuBackend(gpuBackend, { isUsingGpuDevice: true }, [], {})).toThrow(GpuUnavailableError);
  });

  it("is asked for by IJEPA_REQUIRE_GPU only", () => {
    expect(gpuRequired({ IJEPA_REQUIRE_GPU: "1" })).toBe(true);
    expect(gpuRequired({ AWS_BATCH_JOB_ID: "abc" })).toBe(false);
  });
});

describe("nvidia-smi", () => {
  it("parses name and memory, names with commas included", () => {
    expect(parseNvidiaSmi("NVIDIA A10G, 23028\nNVIDIA L4, 23034\n")).toEqual([
      { name: "NVIDIA A10G", memoryMiB: 23028 },
      { name: "NVIDIA L4", memoryMiB: 23034 },
    ]);
    expect(parseNvidiaSmi("Tesla, Inc. GPU, 1024")).toEqual([{ name: "Tesla, Inc. GPU", memoryMiB: 1024 }]);
  });

  it("reports undefined, not 'no GPU', when nvidia-smi cannot run", async () => {
    expect(
      await listGpus(async () => {
        throw new Error("ENOENT");
      }),
    ).toBeUndefined();
    expect(await listGpus(async () => ({ stdout: "NVIDIA L4, 23034\n", stderr: "" }))).toEqual([
      { name: "NVIDIA L4", memoryMiB: 23034 },
    ]);
  });
});
