/**
 * rawbpf: eBPF the hard way, from TypeScript. This module is the public API; nothing else is
 * promised to users.
 *
 * - Instructions: the builder (`mov`, `exit`, `ProgramBuilder`...), `encode`/`decode`, the text
 *   assembler (`assemble`, the `asm` tagged template) and `disassemble`.
 * - Kernel objects: `Program`, `BpfMap` (with typed codecs `u32`, `u64`, `struct`...), socket
 *   filters (`attachFilter`, `socketPair`), links to kernel hooks (`attachTracepoint`,
 *   `attachRawTracepoint`, `attachTracing`, `attachUprobe`, `attachXdp`, `attachTcx`,
 *   `attachCgroup`: a `Link`), the ring buffer reader (`RingBuffer`), the perf event array reader
 *   (`PerfBuffer`) and feature probes (`probeAll`...).
 * - BTF: `BtfBuilder`, `Btf.parse`, `formatC`, `loadBtf`.
 * - Verifier logs: `parseVerifierLog`, `explain`, `VerifierError`, the terminal and HTML views.
 * - Errors: `RawbpfError` (base), `BpfError` (the kernel refused), `InputError` (bad input
 *   caught before the kernel), `ClosedError` (use after close), `NativeUnavailableError` (koffi
 *   could not load: the kernel back end is out, the memory one still works).
 */

/** A bpf_line_info record as the kernel takes it. */
export type { LineInfo as BtfLineInfo } from "./btf/index.js";
// BTF
export * from "./btf/index.js";
// maps and codecs
export * from "./codec/index.js";
export { decode as decodeValue, encode as encodeValue } from "./codec/index.js";
// ELF files and clang-compiled objects
export {
  ElfError,
  type ElfFile,
  ElfFormatError,
  type ElfSection,
  type ElfSymbol,
  parseElf,
} from "./elf/index.js";
// what this kernel supports
export * from "./feature/index.js";
/** A source line of an assembled program (instruction index, file, line, column, text). */
export type { LineInfo } from "./isa/asm/index.js";
export * from "./isa/asm/index.js";
export { disassemble, disassembleRecords, formatInstruction } from "./isa/disasm.js";
// instructions
export * from "./isa/index.js";
/** `encode`/`decode` are the instruction codec's; the value codecs' are these. */
export { decode, encode } from "./isa/index.js";
export { asm } from "./isa/template.js";
// eBPF programs written in TypeScript (docs/language.md): the compiler and what programs import
export * from "./lang/index.js";

import {
  i8 as i8Codec,
  i16 as i16Codec,
  i32 as i32Codec,
  i64 as i64Codec,
  u8 as u8Codec,
  u16 as u16Codec,
  u32 as u32Codec,
  u64 as u64Codec,
} from "./codec/index.js";
/* Each integer name is both a codec (a value: maps' keys and values) and, in programs, a type. */
/** The unsigned 8-bit integer codec (map keys and values), little-endian. */
export const u8 = u8Codec;
/** In a program written in TypeScript (docs/language.md): a unsigned 8-bit integer, with BPF's wrap-around. */
export type u8 = number;
/** The unsigned 16-bit integer codec (map keys and values), little-endian. */
export const u16 = u16Codec;
/** In a program written in TypeScript (docs/language.md): a unsigned 16-bit integer, with BPF's wrap-around. */
export type u16 = number;
/** The unsigned 32-bit integer codec (map keys and values), little-endian. */
export const u32 = u32Codec;
/** In a program written in TypeScript (docs/language.md): a unsigned 32-bit integer, with BPF's wrap-around. */
export type u32 = number;
/** The unsigned 64-bit integer codec (map keys and values), little-endian. */
export const u64 = u64Codec;
/** In a program written in TypeScript (docs/language.md): a unsigned 64-bit integer, with BPF's wrap-around. */
export type u64 = number;
/** The signed 8-bit integer codec (map keys and values), little-endian. */
export const i8 = i8Codec;
/** In a program written in TypeScript (docs/language.md): a signed 8-bit integer, with BPF's wrap-around. */
export type i8 = number;
/** The signed 16-bit integer codec (map keys and values), little-endian. */
export const i16 = i16Codec;
/** In a program written in TypeScript (docs/language.md): a signed 16-bit integer, with BPF's wrap-around. */
export type i16 = number;
/** The signed 32-bit integer codec (map keys and values), little-endian. */
export const i32 = i32Codec;
/** In a program written in TypeScript (docs/language.md): a signed 32-bit integer, with BPF's wrap-around. */
export type i32 = number;
/** The signed 64-bit integer codec (map keys and values), little-endian. */
export const i64 = i64Codec;
/** In a program written in TypeScript (docs/language.md): a signed 64-bit integer, with BPF's wrap-around. */
export type i64 = number;
/** The memory back end's run-time errors and its settable environment (`testRun({ env })`). */
export type { InterpEnvironment, ProbeMemory } from "./interp/env.js";
export {
  BudgetExceededError,
  CallDepthError,
  HelperError,
  InterpError,
  InterpInvalidProgramError,
  MemoryAccessError,
} from "./interp/errors.js";
// BPF iterators
export * from "./iter/index.js";
// links: programs attached to kernel hooks
export * from "./link/index.js";
export {
  attachNetfilter,
  type NetfilterFamily,
  type NetfilterHook,
  type NetfilterOptions,
} from "./link/netfilter.js";
export {
  attachNetkit,
  createNetkit,
  type NetkitAttachOptions,
  type NetkitEnd,
  type NetkitOptions,
  NetkitPair,
  NotANetkitError,
  setInterfaceUp,
} from "./link/netkit.js";
export {
  attachFlowDissector,
  attachSkLookup,
  type Netns,
  NotANetnsError,
} from "./link/sklookup.js";
export {
  addSocket,
  attachSockmap,
  attachSockmapProgram,
  ProgramAttachment,
  type SocketMapLike,
  type SockmapAttachType,
} from "./link/sockmap.js";
export {
  congestionControl,
  loadStructOpsProgram,
  registerStructOps,
  StructOps,
  type StructOpsOptions,
  type StructOpsProgramSpec,
  setCongestionControl,
  UnknownStructOpsError,
} from "./link/structops.js";
export {
  attachTc,
  removeClsact,
  type TcBpfFilter,
  TcFilter,
  type TcFilterInfo,
  type TcOptions,
  tcBpfFilters,
  tcFilters,
} from "./link/tc.js";
export * from "./map/index.js";
export { type ListedMap, listMaps, NoSuchObjectError } from "./map/list.js";
export {
  BpfObject,
  CorePoisonRejectedError,
  ExternError,
  type GenerateOptions,
  generateTypes,
  matchSection,
  type ObjectAttachOptions,
  type ObjectExtern,
  ObjectFormatError,
  type ObjectLoadOptions,
  type ObjectMap,
  type ObjectOptions,
  type ObjectPhaseTiming,
  type ObjectProgram,
  type ObjectSpec,
  ObjectUnsupportedError,
  ObjectVariableHandle,
  parseObject,
  sectionDef,
  UnknownObjectNameError,
  UnknownSectionError,
  UnsupportedSectionError,
} from "./object/index.js";
// perf event arrays (bpf_perf_event_output)
export * from "./perf/index.js";
// programs and sockets
export { type LoadedAssembly, loadAssembled } from "./program/assembled.js";
export type { ProgramBtfOption } from "./program/btf.js";
export { type LoadCompiledOptions, type LoadedModule, loadCompiled } from "./program/compiled.js";
export {
  EmptyProgramError,
  MissingMapError,
  ProgramTooLargeError,
  UnknownKfuncError,
} from "./program/errors.js";
export type { LoadedFunction, ProgramFunctions } from "./program/functions.js";
export type { ProgramInfo } from "./program/info.js";
export { type ListedProgram, listPrograms } from "./program/list.js";
export {
  Program,
  type ProgramSpec,
  type StatsHandle,
  type TestRunOptions,
  type TestRunResult,
} from "./program/program.js";
export { isVerifierRejection, ProgramRejectedError, refusalLog } from "./program/rejected.js";
export type { VerifierStatistics } from "./program/stats.js";
export {
  type AttachType,
  attachTypeName,
  attachTypeNumber,
  attachTypes,
  type ProgramType,
  programTypeName,
  programTypeNumber,
  programTypes,
  UnknownTypeError,
} from "./program/types.js";
export type {
  JitedProgram,
  SourceLine,
  XlatedInstruction,
  XlatedProgram,
  XlatedTextOptions,
} from "./program/xlated.js";
export { xlatedText } from "./program/xlated.js";
// ring buffers
export * from "./ringbuf/index.js";
export {
  attachFilter,
  detachFilter,
  type FilterProgram,
  NotASocketError,
  type SocketLike,
  SocketPair,
  socketFd,
  socketPair,
} from "./socket/socket.js";
// stack symbolisation and the sampling profiler
export * from "./symbolize/index.js";
// errors and capabilities from the native edge
export {
  effectiveCapabilities,
  hasCapability,
  missingCapability,
  unprivilegedBpfDisabled,
} from "./sys/caps.js";
export { errnoName } from "./sys/errno.js";
export { BpfError, ClosedError, InputError, NativeUnavailableError, RawbpfError } from "./sys/error.js";
export { Fd } from "./sys/fd.js";
// tracing conveniences: histograms, count tables, trace_pipe, library paths, stopped children
export * from "./trace/index.js";
// USDT probes
export * from "./usdt/index.js";
// the verifier's log
export * from "./verifier/index.js";

import { vmlinuxBtf as kernelBtfForAsm } from "./btf/kernel.js";
import { setDefaultAsmBtf as setAsmBtf } from "./isa/asm/names.js";

// the assembler and the `asm` template read offsetof/sizeof/enumerators from the running
// kernel's BTF unless given another (read only when a text first uses such a name)
setAsmBtf(kernelBtfForAsm);
