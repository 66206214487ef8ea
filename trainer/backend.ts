// Picks the TensorFlow.js backend at run time: tfjs-node-gpu → tfjs-node → wasm → cpu, and says which one runs.
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs-core";
// The full @tensorflow/tfjs package registers every op's gradient (tfjs-core alone has none) and the cpu backend.
import "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { ConfigError } from "./errors.js";
import { gemmFlavour } from "./kernels/gemm_kernel.js";
import { nativeKernels } from "./kernels/native_kernels.js";
import { registerFastWasmKernels } from "./kernels/register_wasm_kernels.js";

export const BACKEND_NAMES = ["node-gpu", "node", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendInfo {
  /** Our name for it (node-gpu, node, wasm, cpu). */
  name: BackendName;
  /** tfjs's registered backend name (tensorflow, wasm, cpu). */
  tfjsName: string;
  /** Compute threads the backend uses inside this process. */
  threads: number;
  /** Why earlier candidates were passed over, for the startup line. */
  skipped: string[];
  /**
   * wasm only: whose kernels run — ours, with the wasm build ("ijepa-simd-relaxed": fused multiply-adds where the CPU
   * has them; "ijepa-simd-plain") and, where the native addon loaded, its tier for the products, GELU and LayerNorm
   * ("ijepa-simd-relaxed with native-avx2-fma GEMM, GELU, LayerNorm"); or "tfjs" when IJEPA_WASM_KERNELS=tfjs.
   */
  kernels?: string;
}

const require = createRequire(import.meta.url);
let current: BackendInfo | undefined;

/**
 * Initialises a backend once per process. With `preferred` it uses exactly that one (or fails saying
 * why); otherwise it tries node-gpu, node, wasm and cpu in that order. All compute is float32.
 */
export async function initBackend(preferred?: string): Promise<BackendInfo> {
  if (current && (!preferred || preferred === current.name)) return current;
  if (preferred !== undefined && !(BACKEND_NAMES as readonly string[]).includes(preferred)) {
    throw new ConfigError(`unknown backend "${preferred}"`, `use one of: ${BACKEND_NAMES.join(", ")}`);
  }
  const candidates: BackendName[] = preferred ? [preferred as BackendName] : [...BACKEND_NAMES];
  const skipped: string[] = [];
  for (const name of candidates) {
    try {
      const info = await activate(name);
      current = { ...info, skipped };
      return current;
    } catch (err) {
      const reason = `${name}: ${firstLine((err as Error).message)}`;
      if (preferred) {
        throw new ConfigError(
          `backend "${name}" is not available here (${reason})`,
          name.startsWith("node")
            ? "install @tensorflow/tfjs-node(-gpu) where libtensorflow can be downloaded (the GPU image does), or use --backend wasm"
            : "use another --backend",
        );
      }
      skipped.push(reason);
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${skipped.join("; ")}`);
}

/** The backend initialised by initBackend (throws if none yet). */
export function currentBackend(): BackendInfo {
  if (!current) throw new Error("initBackend() has not run in this process");
  return current;
}

/** One line for logs: "backend wasm (1 thread; skipped node-gpu: …)". */
export function describeBackend(info: BackendInfo): string {
  const skipped = info.skipped.length ? `; skipped ${info.skipped.map((s) => s.split(":")[0]).join(", ")}` : "";
  const kernels = info.kernels ? `, kernels ${info.kernels}` : "";
  return `backend ${info.name} (tfjs ${info.tfjsName}, ${info.threads} thread${info.threads === 1 ? "" : "s"}, float32${kernels}${skipped})`;
}

async function activate(name: BackendName): Promise<Omit<BackendInfo, "skipped">> {
  switch (name) {
    case "node-gpu":
    case "node": {
      // Resolving through require() keeps a missing optional dependency a plain, catchable error.
      require(name === "node-gpu" ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node");
      if (!(await tf.setBackend("tensorflow"))) throw new Error("the tensorflow backend failed to initialise");
      await tf.ready();
      if (name === "node-gpu" && !gpuVisible()) throw new Error("tfjs-node-gpu loaded but no GPU is visible");
      return { name, tfjsName: "tensorflow", threads: 0 };
    }
    case "wasm": {
      if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend failed to initialise");
      await tf.ready();
      // tfjs-backend-wasm runs single-threaded under Node (its threaded build targets browsers).
      const wasm = tf.backend() as unknown as { getThreadsCount?: () => number };
      const threads = typeof wasm.getThreadsCount === "function" ? wasm.getThreadsCount() : 1;
      // Our SIMD kernels: every matmul (gemm.wat, batch_matmul.wat for attention) and bias-gradient sums.
      const fastKernels = process.env.IJEPA_WASM_KERNELS !== "tfjs" && registerFastWasmKernels();
      // Products, column sums, GELU and LayerNorm run natively where the addon loaded (kernels/native_kernels.ts).
      const native = fastKernels ? nativeKernels() : undefined;
      const gemmTier = native ? ` with native-${native.tier()} GEMM, GELU, LayerNorm` : "";
      const kernels = fastKernels ? `ijepa-simd-${gemmFlavour()}${gemmTier}` : "tfjs";
      return { name, tfjsName: "wasm", threads, kernels };
    }
    case "cpu": {
      if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend failed to initialise");
      await tf.ready();
      // We print our own backend line; silence tfjs's "install tfjs-node" banner.
      (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
      return { name, tfjsName: "cpu", threads: 1 };
    }
  }
}

function gpuVisible(): boolean {
  const env = process.env.CUDA_VISIBLE_DEVICES;
  return env === undefined || (env !== "" && env !== "-1");
}

function firstLine(text: string): string {
  return text.split("\n")[0].slice(0, 200);
}
