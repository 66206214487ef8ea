// gemm.wat instantiated on a wasm memory, in its relaxed-SIMD build where the runtime has relaxed SIMD, else standard.
import v8 from "node:v8";
import { GEMM_RELAXED_WASM_BASE64, GEMM_WASM_BASE64 } from "./gemm_wasm.js";
import { instancePerMemory, webAssembly, type WasmMemory } from "./webassembly_api.js";

/** What gemm.wat exports. Pointers and strides are in bytes, into the memory the instance was given. */
export interface GemmExports {
  /** C[m×n] = op(A)·op(B) + (C when accumulate = 1, else the bias row when pbias ≠ 0); A[i,k] at pa + i·aRs + k·aCs. */
  gemm(
    pa: number,
    aRs: number,
    aCs: number,
    pb: number,
    bRs: number,
    bCs: number,
    pc: number,
    pbias: number,
    m: number,
    k: number,
    n: number,
    scratch: number,
    accumulate: number,
  ): void;
  /** Bytes of scratch gemm needs for these dimensions. */
  gemm_scratch_bytes(m: number, k: number, n: number): number;
  /** out[j] = Σ_i x[i, j] for x rows×cols, row-major. */
  column_sums(px: number, rows: number, cols: number, pout: number): void;
}

/**
 * Which build runs: "relaxed" (f32x4.relaxed_madd, a fused multiply-add on CPUs with FMA) or "plain" (mul then add).
 * Chosen once per thread: relaxed where the runtime accepts it (Node 22 by default; Node 20 after turning on V8's
 * flag, which must happen before the first compile and in every worker thread), plain where it does not or where
 * IJEPA_WASM_SIMD=plain asks for it (the same bits as a machine without relaxed SIMD).
 */
export type GemmFlavour = "relaxed" | "plain";

let flavour: GemmFlavour | undefined;

export function gemmFlavour(): GemmFlavour {
  if (flavour) return flavour;
  const relaxed = Buffer.from(GEMM_RELAXED_WASM_BASE64, "base64");
  if (process.env.IJEPA_WASM_SIMD === "plain") flavour = "plain";
  else if (webAssembly.validate(relaxed)) flavour = "relaxed";
  else {
    // V8 11.3 (Node 20) has relaxed SIMD behind this flag; NODE_OPTIONS refuses it, setFlagsFromString does not.
    v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
    flavour = webAssembly.validate(relaxed) ? "relaxed" : "plain";
  }
  return flavour;
}

/** gemm.wat instantiated on `memory` (tfjs's heap in production; any memory in tests), made once per memory. */
export const instantiateGemm: (memory: WasmMemory) => GemmExports = instancePerMemory(() =>
  gemmFlavour() === "relaxed" ? GEMM_RELAXED_WASM_BASE64 : GEMM_WASM_BASE64,
);
