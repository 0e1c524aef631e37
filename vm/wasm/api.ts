/**
 * The slice of the JavaScript WebAssembly API this VM uses, typed locally: the project compiles
 * without the DOM library, and @types/node does not declare the WebAssembly namespace.
 */
export interface WasmModule {
  readonly __brand?: 'WebAssembly.Module';
}
export interface WasmGlobal {
  value: bigint | number;
}
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
export type WasmImports = Record<string, Record<string, (...args: number[]) => unknown>>;

interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: WasmImports) => WasmInstance;
  Memory: abstract new (...args: never[]) => WasmMemory;
  Global: abstract new (...args: never[]) => WasmGlobal;
  CompileError: abstract new (...args: never[]) => Error;
  LinkError: abstract new (...args: never[]) => Error;
  RuntimeError: abstract new (...args: never[]) => Error;
}

export const WA: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
