/**
 * What the assembler produces: plain data that a loader turns into a live program.
 */

import type { Instruction } from "../insn.js";
import type { AsmBtfOption } from "./names.js";

/** A map declared with `.map` (or the read-only data map made from `.rodata`). */
export interface AsmMapSpec {
  /** the name instructions refer to (`map_fd(name)`, `map_value(name)`) */
  name: string;
  /** map type in the kernel's lower-case spelling (`"array"`, `"hash"`, `"ringbuf"` ...) */
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** value of entry 0, written before the program is loaded (read-only data) */
  initialValue?: Uint8Array;
  /** true when the map must be frozen after it is filled (read-only data) */
  freeze?: boolean;
}

/** A function of the program: the main program, a subprogram or a callback. */
export interface AsmFunction {
  name: string;
  /** index in `insns` of its first instruction */
  index: number;
  /** slot (8-byte unit) of its first instruction, as BTF func_info counts */
  slot: number;
  kind: "main" | "func" | "callback";
  /** 1-based source line of its declaration */
  line: number;
}

/** Read-only data gathered from `.rodata` directives into one frozen array map. */
export interface AsmRodata {
  /** name of the map holding it (`.rodata`) */
  mapName: string;
  bytes: Uint8Array;
  /** each symbol's byte offset and length in `bytes` */
  symbols: Record<string, { offset: number; size: number }>;
}

/** Where an instruction came from, for BTF line_info and for messages. */
export interface LineInfo {
  /** index in `insns` */
  index: number;
  /** slot (8-byte unit) of the instruction */
  slot: number;
  file: string;
  /** 1-based line */
  line: number;
  /** 1-based column of the instruction's first character */
  column: number;
  /** the source line, without leading and trailing blanks */
  text: string;
}

/** The result of assembling one source: everything a loader needs, as plain data. */
export interface AsmProgram {
  insns: Instruction[];
  functions: AsmFunction[];
  maps: AsmMapSpec[];
  rodata?: AsmRodata;
  /** program type from `.type`, in the kernel's lower-case spelling (`"xdp"`) */
  programType?: string;
  /** licence from `.license` */
  license?: string;
  lineInfo: LineInfo[];
}

/** Which assembly syntax a source is written in. */
export type Dialect = "kernel" | "ubpf";

/** Options of `assemble`. */
export interface AssembleOptions {
  /** file name for messages (default `<input>`) */
  file?: string;
  /** syntax, or `"auto"` (default) to detect it from `%r` registers */
  dialect?: Dialect | "auto";
  /**
   * Maps defined outside the source (the template's `${map}`), by name; instructions may refer
   * to them like maps declared with `.map`. The value travels in the reference's `map` field.
   */
  externalMaps?: Record<string, unknown>;
  /**
   * The program type names `.type` may give (`programTypes` of the public API): with it, an
   * unknown name is an error at its line, with the nearest known name. Without it, any word.
   */
  programTypes?: readonly string[];
  /** The map type names `.map type=` may give (`MAP_TYPE_NAMES`), checked the same way. */
  mapTypes?: readonly string[];
  /**
   * The BTF that `offsetof(...)`, `sizeof(...)` and enumerators by name are read from: a `Btf`
   * (from `rawbpf`), or a function giving one, called only when the text first needs it. Default:
   * the one set with `setDefaultAsmBtf` (the public API and the command line set the running
   * kernel's /sys/kernel/btf/vmlinux).
   */
  btf?: AsmBtfOption;
}
