// The slice of the WebAssembly JS API the kernels use, typed here because this project's libs leave it out (TypeScript
// declares it in lib.dom, and @types/emscripten's stub namespace is empty).

/** A linear memory (WebAssembly.Memory). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Grows by `deltaPages` 64 KiB pages; returns the old size in pages. */
  grow(deltaPages: number): number;
}

/** A shared linear memory (WebAssembly.Memory with shared: true), which worker threads read and write together. */
export interface SharedWasmMemory extends WasmMemory {
  readonly buffer: SharedArrayBuffer;
}

interface WebAssemblyApi {
  Memory: {
    new (descriptor: { initial: number; maximum: number; shared: true }): SharedWasmMemory;
    new (descriptor: { initial: number; maximum?: number }): WasmMemory;
  };
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

/**
 * A module of ours, imported memory as env.memory, instantiated once per memory: compiled on the first call, from
 * the base64 `source` returns then (so a choice between builds is made once), each memory's instance kept after.
 */
export function instancePerMemory<Exports>(source: () => string): (memory: WasmMemory) => Exports {
  let compiled: object | undefined;
  // One instance per heap: a re-initialised backend (new heap) gets its own, a re-registered kernel reuses it.
  const instances = new WeakMap<WasmMemory, Exports>();
  return (memory) => {
    let kernel = instances.get(memory);
    if (!kernel) {
      compiled ??= new webAssembly.Module(Buffer.from(source(), "base64"));
      kernel = new webAssembly.Instance(compiled, { env: { memory } }).exports as unknown as Exports;
      instances.set(memory, kernel);
    }
    return kernel;
  };
}
