// elementwise.wat's fused GELU and LayerNorm passes (or the native addon's, with the same bits, where loaded) as tfjs
// kernels of the wasm backend, under our own kernel names (trainer/models/layers.ts calls them where they are
// registered and composes tfjs ops elsewhere).
import * as tf from "@tensorflow/tfjs-core";
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from "@tensorflow/tfjs-core";
import { IjepaError } from "../errors.js";
import { ELEMENTWISE_WASM_BASE64 } from "./elementwise_wasm.js";
import { nativeKernels } from "./native_kernels.js";
import { backendMemory, type WasmBackendInternals } from "./wasm_batch_matmul.js";
import { instancePerMemory, type WasmMemory } from "./webassembly_api.js";

/** What elementwise.wat exports. Pointers are byte offsets into the memory the instance was given. */
export interface ElementwiseExports {
  gelu_forward(px: number, py: number, count: number): void;
  gelu_backward(px: number, pdy: number, pdx: number, count: number): void;
  layer_norm_forward(
    px: number,
    pgamma: number,
    pbeta: number,
    py: number,
    pstats: number,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  layer_norm_backward(
    px: number,
    pgamma: number,
    pdy: number,
    pstats: number,
    pdx: number,
    pdgamma: number,
    pdbeta: number,
    pscratch: number,
    rows: number,
    cols: number,
  ): void;
}

/** elementwise.wat instantiated on `memory`, once per memory. */
export const instantiateElementwise: (memory: WasmMemory) => ElementwiseExports = instancePerMemory(
  () => ELEMENTWISE_WASM_BASE64,
);

/** Our kernel names. */
export const FUSED = {
  gelu: "IjepaGelu",
  geluGrad: "IjepaGeluGrad",
  layerNorm: "IjepaLayerNorm",
  layerNormGrad: "IjepaLayerNormGrad",
} as const;

interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: unknown;
  attrs?: NamedAttrMap;
}

function context(args: KernelArgs, name: string) {
  const backend = args.backend as WasmBackendInternals;
  const memory = backendMemory(backend);
  if (!memory) throw new IjepaError(`${name}: the wasm backend's heap cannot be shared with our kernels`);
  const kernel = instantiateElementwise(memory);
  const offset = (t: TensorInfo) => {
    if (t.dtype !== "float32") throw new IjepaError(`${name}: expected float32, got ${t.dtype}`);
    const data = backend.dataIdMap.get(t.dataId);
    if (data === undefined) throw new IjepaError(`${name}: tensor ${t.shape} has no data on the wasm backend`);
    return data.memoryOffset;
  };
  return { backend, kernel, offset };
}

const size = (t: TensorInfo) => t.shape.reduce((p, s) => p * s, 1);

/** x → y = x·Φ(x). */
function gelu(args: KernelArgs): TensorInfo {
  const { backend, kernel, offset } = context(args, FUSED.gelu);
  const { x } = args.inputs as { x: TensorInfo };
  const y = backend.makeOutput(x.shape, "float32");
  // The native tier where loaded: the same operations in 256-bit vectors, the same bits.
  const native = nativeKernels();
  if (native) native.geluForward(backendMemory(backend)!.buffer, offset(x), offset(y), size(x));
  else kernel.gelu_forward(offset(x), offset(y), size(x));
  return y;
}

/** (x, dy) → dx. */
function geluGrad(args: KernelArgs): TensorInfo {
  const { backend, kernel, offset } = context(args, FUSED.geluGrad);
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const dx = backend.makeOutput(x.shape, "float32");
  const native = nativeKernels();
  if (native) native.geluBackward(backendMemory(backend)!.buffer, offset(x), offset(dy), offset(dx), size(x));
  else kernel.gelu_backward(offset(x), offset(dy), offset(dx), size(x));
  return dx;
}

/** (x [R, D], γ [D]?, β [D]?; eps) → [y [R, D], stats [R, 2] = (μ, rstd) per row]. Without γ, β: y = x̂. */
function layerNorm(args: KernelArgs): TensorInfo[] {
  const { backend, kernel, offset } = context(args, FUSED.layerNorm);
  const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma?: TensorInfo; beta?: TensorInfo };
  const { eps } = args.attrs as { eps: number };
  const [rows, cols] = x.shape;
  const y = backend.makeOutput(x.shape, "float32");
  const stats = backend.makeOutput([rows, 2], "float32");
  const [px, pgamma, pbeta, py] = [offset(x), gamma ? offset(gamma) : 0, beta ? offset(beta) : 0, offset(y)];
  const pstats = offset(stats);
  const native = nativeKernels();
  if (native) native.layerNormForward(backendMemory(backend)!.buffer, px, pgamma, pbeta, py, pstats, rows, cols, eps);
  else kernel.layer_norm_forward(px, pgamma, pbeta, py, pstats, rows, cols, eps);
  return [y, stats];
}

/** (x, γ, dy, stats) → [dx, dγ, dβ]. */
function layerNormGrad(args: KernelArgs): TensorInfo[] {
  const { backend, kernel, offset } = context(args, FUSED.layerNormGrad);
  const { x, gamma, dy, stats } = args.inputs as {
    x: TensorInfo;
    gamma: TensorInfo;
    dy: TensorInfo;
    stats: TensorInfo;
  };
  const [rows, cols] = x.shape;
  const dx = backend.makeOutput(x.shape, "float32");
  const dgamma = backend.makeOutput([cols], "float32");
  const dbeta = backend.makeOutput([cols], "float32");
  const native = nativeKernels();
  if (native) {
    const [px, pgamma, pdy, pstats] = [offset(x), offset(gamma), offset(dy), offset(stats)];
    const [pdx, pdgamma, pdbeta] = [offset(dx), offset(dgamma), offset(dbeta)];
    const heap = backendMemory(backend)!.buffer;
    native.layerNormBackward(heap, px, pgamma, pdy, pstats, pdx, pdgamma, pdbeta, rows, cols);
    return [dx, dgamma, dbeta];
  }
  const scratch = backend.wasm._malloc(cols * 8) >>> 0;
  if (scratch === 0)
    throw new IjepaError(`${FUSED.layerNormGrad}: the wasm heap has no room for ${cols * 8} bytes of scratch`);
  try {
    kernel.layer_norm_backward(
      offset(x),
      offset(gamma),
      offset(dy),
      offset(stats),
      offset(dx),
      offset(dgamma),
      offset(dbeta),
      scratch,
      rows,
      cols,
    );
  } finally {
    backend.wasm._free(scratch);
  }
  return [dx, dgamma, dbeta];
}

const KERNELS: Record<string, (args: KernelArgs) => TensorInfo | TensorInfo[]> = {
  [FUSED.gelu]: gelu,
  [FUSED.geluGrad]: geluGrad,
  [FUSED.layerNorm]: layerNorm,
  [FUSED.layerNormGrad]: layerNormGrad,
};

/** Registers the fused kernels for the wasm backend (idempotent). */
export function registerFusedKernels(): void {
  for (const [kernelName, kernelFunc] of Object.entries(KERNELS)) {
    if (tf.getKernel(kernelName, "wasm")) continue;
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}

/** Removes them again (tests and benchmarks compare against the composed tfjs ops). */
export function unregisterFusedKernels(): void {
  for (const kernelName of Object.keys(KERNELS)) {
    if (tf.getKernel(kernelName, "wasm")) tf.unregisterKernel(kernelName, "wasm");
  }
}

/** Whether the active backend has the fused kernels now. */
export function fusedKernelsActive(): boolean {
  return tf.getKernel(FUSED.gelu, tf.getBackend()) !== undefined;
}
