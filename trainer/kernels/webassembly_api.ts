// The slice of the WebAssembly JS API the kernels use, typed here because this project's libs leave it out (TypeScript
// declares it in lib.dom, and @types/emscripten's stub namespace is empty).

/** A linear memory (WebAssembly.Memory). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Grows by `deltaPages` 64 KiB pages; returns the old size in pages. */
  grow(deltaPages: number): number;
}

interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { readonly exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}

export const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** Whether `value` is an unshared WebAssembly.Memory (what our modules import). */
export function isUnsharedMemory(value: unknown): value is WasmMemory {
  const memory = value as Partial<WasmMemory> | undefined;
  return typeof memory?.grow === "function" && memory.buffer instanceof ArrayBuffer;
}
