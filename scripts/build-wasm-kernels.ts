// Assembles the hand-written WebAssembly kernels (trainer/kernels/*.wat) with wabt and writes each binary, base64, into
// a generated TypeScript module beside it, so the runtime (CLI, Lambda bundle, GPU image) needs no assembler.
//
//   node bin/run-ts.js scripts/build-wasm-kernels.ts          rewrite the generated modules
//   node bin/run-ts.js scripts/build-wasm-kernels.ts --check  exit 1 if a generated module is out of date
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import wabtInit from "wabt";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * One kernel module: its WAT source, the generated TypeScript file, and the name of the base64 constant in it. With
 * `relaxedConstantName`, the WAT uses relaxed SIMD: that constant holds it as written, and `constantName` a standard-SIMD
 * build in which every f32x4.relaxed_madd(a, b, c) became f32x4.add(f32x4.mul(a, b), c).
 */
export interface WasmKernelSource {
  watPath: string;
  generatedPath: string;
  constantName: string;
  relaxedConstantName?: string;
}

export const WASM_KERNELS: readonly WasmKernelSource[] = [
  {
    watPath: join(REPO_ROOT, "trainer/kernels/batch_matmul.wat"),
    generatedPath: join(REPO_ROOT, "trainer/kernels/batch_matmul_wasm.ts"),
    constantName: "BATCH_MATMUL_WASM_BASE64",
  },
  {
    watPath: join(REPO_ROOT, "trainer/kernels/gemm.wat"),
    generatedPath: join(REPO_ROOT, "trainer/kernels/gemm_wasm.ts"),
    constantName: "GEMM_WASM_BASE64",
    relaxedConstantName: "GEMM_RELAXED_WASM_BASE64",
  },
  {
    watPath: join(REPO_ROOT, "trainer/kernels/elementwise.wat"),
    generatedPath: join(REPO_ROOT, "trainer/kernels/elementwise_wasm.ts"),
    constantName: "ELEMENTWISE_WASM_BASE64",
  },
  {
    watPath: join(REPO_ROOT, "trainer/optim/adamw_update.wat"),
    generatedPath: join(REPO_ROOT, "trainer/optim/adamw_update_wasm.ts"),
    constantName: "ADAMW_UPDATE_WASM_BASE64",
  },
];

/** The WAT text with each `(f32x4.relaxed_madd a b c)` written as `(f32x4.add (f32x4.mul a b) c)`. */
export function withoutRelaxedSimd(watText: string): string {
  const head = "(f32x4.relaxed_madd";
  let out = "";
  let at = 0;
  for (let start = watText.indexOf(head); start >= 0; start = watText.indexOf(head, at)) {
    out += watText.slice(at, start);
    let i = start + head.length;
    const args: string[] = [];
    while (args.length < 3) {
      while (/\s/.test(watText[i])) i++;
      if (watText[i] !== "(") throw new Error(`relaxed_madd at ${start}: its operands must be parenthesised`);
      let depth = 0;
      const from = i;
      do {
        if (watText[i] === "(") depth++;
        else if (watText[i] === ")") depth--;
        i++;
      } while (depth > 0 && i < watText.length);
      args.push(watText.slice(from, i));
    }
    while (/\s/.test(watText[i])) i++;
    if (watText[i] !== ")") throw new Error(`relaxed_madd at ${start}: expected three operands`);
    out += `(f32x4.add (f32x4.mul ${args[0]} ${args[1]}) ${args[2]})`;
    at = i + 1;
  }
  return out + watText.slice(at);
}

/**
 * The binary for a WAT text: SIMD, bulk memory and threads (plus relaxed SIMD when `relaxed`), no name section (so it depends on
 * nothing but the text).
 */
export async function assembleWat(fileName: string, watText: string, relaxed = false): Promise<Uint8Array> {
  const wabt = await wabtInit();
  // threads: shared memories (the replicas' AdamW update, optim/adamw_update.wat); validate() needs the features too.
  const features = { simd: true, bulk_memory: true, threads: true, relaxed_simd: relaxed };
  const module = wabt.parseWat(fileName, watText, features);
  try {
    // wabt's typings leave out validate's features argument, which it does take.
    (module as unknown as { validate(features: object): void }).validate(features);
    return module.toBinary({ write_debug_names: false }).buffer;
  } finally {
    module.destroy();
  }
}

/** The binaries of a kernel: standard SIMD, and (for relaxed-SIMD sources) as written. */
export async function assembleKernel(
  kernel: WasmKernelSource,
  watText: string,
): Promise<{ plain: Uint8Array; relaxed?: Uint8Array }> {
  if (!kernel.relaxedConstantName) return { plain: await assembleWat(kernel.watPath, watText) };
  return {
    plain: await assembleWat(kernel.watPath, withoutRelaxedSimd(watText)),
    relaxed: await assembleWat(kernel.watPath, watText, true),
  };
}

function renderConstant(source: string, name: string, what: string, bytes: Uint8Array): string[] {
  const lines = Buffer.from(bytes)
    .toString("base64")
    .match(/.{1,100}/g) ?? [""];
  return [
    ``,
    `/** ${source} assembled${what} (${bytes.length} bytes of WebAssembly), base64. */`,
    `export const ${name} =`,
    lines.map((line) => `  "${line}"`).join(" +\n") + ";",
  ];
}

/** The text of the generated module for `bytes` (and `relaxedBytes`, for relaxed-SIMD sources). */
export function renderGeneratedModule(kernel: WasmKernelSource, bytes: Uint8Array, relaxedBytes?: Uint8Array): string {
  const source = relative(REPO_ROOT, kernel.watPath);
  const plainWhat = kernel.relaxedConstantName ? ", relaxed_madd as mul + add (standard SIMD)" : "";
  const lines = [
    `// GENERATED by scripts/build-wasm-kernels.ts from ${source}: do not edit; change the .wat and rerun`,
    `// \`node bin/run-ts.js scripts/build-wasm-kernels.ts\` (test/kernels checks the two agree).`,
    ...renderConstant(source, kernel.constantName, plainWhat, bytes),
  ];
  if (kernel.relaxedConstantName && relaxedBytes) {
    lines.push(...renderConstant(source, kernel.relaxedConstantName, " as written (relaxed SIMD)", relaxedBytes));
  }
  return [...lines, ``].join("\n");
}

async function main(check: boolean): Promise<void> {
  let stale = 0;
  for (const kernel of WASM_KERNELS) {
    const { plain: bytes, relaxed } = await assembleKernel(kernel, await readFile(kernel.watPath, "utf8"));
    const text = renderGeneratedModule(kernel, bytes, relaxed);
    const current = await readFile(kernel.generatedPath, "utf8").catch(() => "");
    const where = relative(REPO_ROOT, kernel.generatedPath);
    if (current === text) {
      console.log(`${where}: up to date (${bytes.length} bytes)`);
    } else if (check) {
      console.error(
        `${where}: out of date with ${relative(REPO_ROOT, kernel.watPath)}; run node bin/run-ts.js scripts/build-wasm-kernels.ts`,
      );
      stale++;
    } else {
      await writeFile(kernel.generatedPath, text);
      console.log(`${where}: written (${bytes.length} bytes)`);
    }
  }
  if (stale > 0) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main(process.argv.includes("--check"));
}
