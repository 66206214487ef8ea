// Identity (tf.clone, and every tensor a gradient saves for its backward) for tfjs's wasm backend as a second
// reference to the same heap data, as its Reshape already does, instead of a copy.
import type { KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from "@tensorflow/tfjs-core";

interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: unknown;
  attrs?: NamedAttrMap;
}

/**
 * tfjs tensors are immutable (a Variable's assign swaps in new data rather than writing over the old), so a clone can
 * share its source's data: the backend frees it when the last reference is disposed. The backend's own kernel copies,
 * which cost a step ~440 copies of activations and weights kept alive until the backward. Strings go to `original`.
 */
export function makeSharedIdentity(original: KernelFunc): KernelFunc {
  const sharedIdentity = (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const { x } = args.inputs as { x: TensorInfo };
    const backend = args.backend as { incRef(dataId: object): void };
    if (x.dtype === "string") return original(args as Parameters<KernelFunc>[0]);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return sharedIdentity as unknown as KernelFunc;
}
