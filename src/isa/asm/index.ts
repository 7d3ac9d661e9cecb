/** The text assembler: kernel and uBPF dialects, directives, diagnostics. */

export { assemble, detectDialect } from "./assemble.js";
export { BPF_F_RDONLY_PROG, RODATA_MAP } from "./directives.js";
export { AsmError, AsmErrors, type SourcePosition } from "./errors.js";
export {
  type AsmBtf,
  type AsmBtfOption,
  type AsmBtfType,
  setDefaultAsmBtf,
  UAPI_CONSTANTS,
} from "./names.js";
export type {
  AsmFunction,
  AsmMapSpec,
  AsmProgram,
  AsmRodata,
  AssembleOptions,
  Dialect,
  LineInfo,
} from "./program.js";
