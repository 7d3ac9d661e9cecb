/**
 * The part of the WebAssembly JavaScript API that rawbpf uses (the C printer, src/btf/c.ts).
 * Node has it as a global, but @types/node 20 does not declare it, and TypeScript declares it
 * only in its DOM libraries, which this project leaves out.
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
  }
  class Global {
    readonly value: number;
  }
}
