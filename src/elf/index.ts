/** One ELF64 model for everything that reads ELF: uprobes, USDT notes, clang-compiled objects. */
export * from "./constants.js";
export { AmbiguousSymbolError, ElfError, ElfFormatError, SymbolNotFoundError } from "./errors.js";
export {
  type ElfFile,
  type ElfNote,
  type ElfRelocation,
  type ElfSection,
  type ElfSegment,
  type ElfSymbol,
  elfNotes,
  elfSection,
  isElf,
  type ParseElfOptions,
  parseElf,
} from "./file.js";
export { nearestName } from "./names.js";
