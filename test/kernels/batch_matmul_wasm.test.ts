// The committed binary is exactly what wabt makes of the committed WAT, so the two can never drift apart.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { BATCH_MATMUL_WASM_BASE64 } from "../../trainer/kernels/batch_matmul_wasm.js";
import { webAssembly } from "../../trainer/kernels/webassembly_api.js";
import { WASM_KERNELS, assembleWat, renderGeneratedModule } from "../../scripts/build-wasm-kernels.js";

describe("trainer/kernels/batch_matmul_wasm.ts", () => {
  const kernel = WASM_KERNELS.find((k) => k.constantName === "BATCH_MATMUL_WASM_BASE64");

  it("holds the bytes wabt assembles from batch_matmul.wat (rerun scripts/build-wasm-kernels.ts if not)", async () => {
    expect(kernel).toBeDefined();
    const assembled = await assembleWat(kernel!.watPath, await readFile(kernel!.watPath, "utf8"));
    expect(Buffer.from(BATCH_MATMUL_WASM_BASE64, "base64").equals(Buffer.from(assembled))).toBe(true);
    expect(await readFile(kernel!.generatedPath, "utf8")).toBe(renderGeneratedModule(kernel!, assembled));
  });

  it("is a module that standard WebAssembly (no relaxed SIMD, no flags) accepts", () => {
    expect(webAssembly.validate(Buffer.from(BATCH_MATMUL_WASM_BASE64, "base64"))).toBe(true);
  });
});
