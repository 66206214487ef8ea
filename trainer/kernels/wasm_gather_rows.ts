// GatherV2 of whole rows (axis 0 of a float32 matrix: token gathers) for tfjs's wasm backend as one memory copy per
// row, where the backend's kernel computes every element's source index separately.
import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from "@tensorflow/tfjs-core";
import { backendMemory, type WasmBackendInternals } from "./wasm_batch_matmul.js";

interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: unknown;
  attrs?: NamedAttrMap;
}

/** A GatherV2 kernelFunc that copies rows of a float32 matrix itself and leaves every other gather to `original`. */
export function makeGatherRows(original: KernelFunc): KernelFunc {
  const gatherRows = (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
    const { axis = 0, batchDims = 0 } = (args.attrs ?? {}) as { axis?: number; batchDims?: number };
    const backend = args.backend as WasmBackendInternals;
    const rows = x.shape[0];
    const fits =
      x.dtype === "float32" &&
      x.shape.length === 2 &&
      (axis === 0 || axis === -2) &&
      batchDims === 0 &&
      indices.dtype === "int32" &&
      indices.shape.length === 1;
    const memory = fits ? backendMemory(backend) : undefined;
    const xData = memory && backend.dataIdMap.get(x.dataId);
    const iData = memory && backend.dataIdMap.get(indices.dataId);
    if (!memory || !xData || !iData) return original(args as Parameters<KernelFunc>[0]);
    const count = indices.shape[0];
    const idx = new Int32Array(memory.buffer, iData.memoryOffset, count);
    // Out-of-range indices: the backend's kernel decides what happens, as it would without us.
    for (let i = 0; i < count; i++)
      if (idx[i] < 0 || idx[i] >= rows) return original(args as Parameters<KernelFunc>[0]);
    const cols = x.shape[1];
    const out = backend.makeOutput([count, cols], "float32");
    // makeOutput may grow the heap: views are taken after it.
    const heap = new Float32Array(memory.buffer);
    const from = xData.memoryOffset / 4;
    const to = backend.dataIdMap.get(out.dataId)!.memoryOffset / 4;
    const index = new Int32Array(memory.buffer, iData.memoryOffset, count);
    for (let i = 0; i < count; i++) {
      const src = from + index[i] * cols;
      heap.copyWithin(to + i * cols, src, src + cols);
    }
    return out;
  };
  return gatherRows as unknown as KernelFunc;
}
