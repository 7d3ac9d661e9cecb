/** The TypeScript-subset compiler: source to programs (instructions, functions, line info). */
export {
  type CompiledLine,
  type CompiledMap,
  type CompiledModule,
  type CompiledProgram,
  type CompileOptions,
  type ConfigField,
  compile,
  configValue,
  STRINGS_MAP,
} from "./compile.js";
export { CompileError } from "./errors.js";
export { CONTEXTS, type ContextSpec, KERNEL_CONSTANTS } from "./kernel.js";
export { listing } from "./listing.js";
export * from "./prelude.js";
