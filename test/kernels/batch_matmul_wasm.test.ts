// The committed binaries are exactly what wabt makes of the committed WAT, so the two can never drift apart.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { BATCH_MATMUL_WASM_BASE64 } from "../../trainer/kernels/batch_matmul_wasm.js";
import { GEMM_RELAXED_WASM_BASE64, GEMM_WASM_BASE64 } from "../../trainer/kernels/gemm_wasm.js";
import { webAssembly } from "../../trainer/kernels/webassembly_api.js";
import {
  WASM_KERNELS,
  assembleKernel,
  renderGeneratedModule,
  withoutRelaxedSimd,
} from "../../scripts/build-wasm-kernels.js";

describe("generated kernel modules", () => {
  for (const kernel of WASM_KERNELS) {
    it(`${kernel.constantName} holds the bytes wabt assembles from its .wat (rerun scripts/build-wasm-kernels.ts if not)`, async () => {
      const { plain, relaxed } = await assembleKernel(kernel, await readFile(kernel.watPath, "utf8"));
      expect(await readFile(kernel.generatedPath, "utf8")).toBe(renderGeneratedModule(kernel, plain, relaxed));
    });
  }

  it("has standard builds that WebAssembly without relaxed SIMD or flags accepts", () => {
    for (const base64 of [BATCH_MATMUL_WASM_BASE64, GEMM_WASM_BASE64]) {
      expect(webAssembly.validate(Buffer.from(base64, "base64"))).toBe(true);
    }
  });

  it("keeps the relaxed-SIMD build apart from the standard one", () => {
    expect(GEMM_RELAXED_WASM_BASE64).not.toBe(GEMM_WASM_BASE64);
  });

  it("rewrites relaxed_madd(a, b, c) as mul then add, nested operands included", () => {
    const text =
      "(local.set $c (f32x4.relaxed_madd (local.get $a) (v128.load (i32.add (local.get $p) (i32.const 4))) (local.get $c)))";
    expect(withoutRelaxedSimd(text)).toBe(
      "(local.set $c (f32x4.add (f32x4.mul (local.get $a) (v128.load (i32.add (local.get $p) (i32.const 4)))) (local.get $c)))",
    );
  });
});
