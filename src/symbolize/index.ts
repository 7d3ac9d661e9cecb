/** Stack symbolisation (kernel frames from /proc/kallsyms, user frames from ELF symbols) and the sampling profiler. */
export { type ElfSymbol, ElfSymbols } from "./elf.js";
export { KERNEL_BASE, type KernelSymbol, KernelSymbols } from "./kernel.js";
export { foldStacks, Profiler, type ProfilerOptions, type ProfileStack } from "./profile.js";
export { type Frame, Symbolizer, type SymbolizerOptions } from "./symbolizer.js";
