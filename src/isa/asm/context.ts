/**
 * The state of one assembly run, shared by the dialect parsers and the directives: the
 * instructions so far, labels, pending references, declared maps and the errors found.
 */

import type { Instruction } from "../insn.js";
import { slotWord } from "../slot.js";
import { AsmError, type SourcePosition } from "./errors.js";
import type { Lexer } from "./lexer.js";
import type { AsmFunction, AsmMapSpec, LineInfo } from "./program.js";

/** How a pending name is filled in once every label is known. */
export const Fix = {
  /** jump target in `off` */
  JUMP_OFF: 1,
  /** jump target in `imm` (gotol) */
  JUMP_IMM: 2,
  /** `call name`: a local function, else a helper */
  CALL: 3,
  /** `call local name` / `call pc+N` form with a label: a local function only */
  CALL_LOCAL: 4,
  /** `rN = name`: a function pointer, a map or a read-only data symbol */
  NAME_LOAD: 5,
  /** `map_fd(name)` / `map_value(name)`: a declared map or read-only data symbol */
  MAP: 6,
} as const;

export interface Fixup {
  kind: number;
  index: number;
  name: string;
  /** map value offset for MAP/NAME_LOAD */
  offset: number;
  file: string;
  line: number;
  column: number;
  text: string;
}

export interface LabelDef {
  index: number;
  slot: number;
  line: number;
}

/** Thrown inside a line's parser; caught by the driver and recorded. */
export class LineError extends Error {
  constructor(
    readonly reason: string,
    readonly column: number,
  ) {
    super(reason);
  }
}

/** The assembly state. */
export class AsmContext {
  /** number of instructions so far */
  count = 0;
  /**
   * Fields of each instruction (only the first `count` entries count). Instructions are kept as
   * columns, not objects, so that a big program leaves no long-lived garbage behind; Float64Array
   * keeps every number as the parser made it, `-0` included.
   */
  codes: Float64Array;
  dsts: Float64Array;
  srcs: Float64Array;
  offs: Float64Array;
  imms: Float64Array;
  /**
   * Instructions kept whole, by index: those with more than the five plain fields (`imm2`,
   * `ref`) and those a pending name will change. Their columns are not used.
   */
  readonly kept = new Map<number, Instruction>();
  /** 1 where an instruction is kept whole */
  keptFlags: Uint8Array;
  /** 1 where the fast path (fast.ts) has checked the instruction already */
  checked: Uint8Array;
  /** the last instruction emitted as an object */
  private last: Instruction | undefined;
  private lastIndex = -1;
  /**
   * The program's bytes as they will be written, two little-endian 32-bit words a slot, filled as
   * instructions come (the second slot of an ld_imm64 and the kept instructions are written at
   * the end, by `encodeAssembled`, since names can still change them).
   */
  words: Int32Array;
  /** indexes of the calls and ld_imm64 made by the general path (the only ones a name can turn into a bpf-to-bpf call or a function pointer) */
  readonly callSites: number[] = [];
  /** slot of each instruction */
  slots: Int32Array;
  slot = 0;
  /** where each instruction's source line starts and ends in the source, its line and column */
  insnLineStart: Int32Array;
  insnLineEnd: Int32Array;
  insnLine: Int32Array;
  insnColumn: Int32Array;
  readonly labels = new Map<string, LabelDef>();
  readonly fixups: Fixup[] = [];
  readonly errors: AsmError[] = [];
  readonly functions: AsmFunction[] = [];
  readonly maps: AsmMapSpec[] = [];
  readonly mapNames = new Map<string, AsmMapSpec>();
  readonly rodataParts: { name: string; bytes: Uint8Array; line: number }[] = [];
  programType: string | undefined;
  /** the names `.type` and `.map type=` are checked against, when the caller gave them */
  knownTypes: { programTypes?: readonly string[]; mapTypes?: readonly string[] } = {};
  license: string | undefined;
  /** uBPF: name of the implicit `exit` label (the first exit instruction) once seen */
  firstExit = -1;

  // the current line
  file: string;
  line = 0;
  lineStart = 0;
  lineEnd = 0;

  /** The current source line (without its newline). */
  get lineText(): string {
    return this.lx.src.slice(this.lineStart, this.lineEnd);
  }

  /** The source line of instruction `index`. */
  insnText(index: number): string {
    return this.lx.src.slice(this.insnLineStart[index], this.insnLineEnd[index]);
  }

  /** Where instruction `index` came from (its line without leading and trailing blanks). */
  lineInfoOf(index: number): LineInfo {
    const src = this.lx.src;
    let a = this.insnLineStart[index] as number;
    let b = this.insnLineEnd[index] as number;
    while (a < b && src.charCodeAt(a) <= 32) a++;
    while (b > a && src.charCodeAt(b - 1) <= 32) b--;
    return {
      index,
      slot: this.slots[index] as number,
      file: this.file,
      line: this.insnLine[index] as number,
      column: this.insnColumn[index] as number,
      text: src.slice(a, b),
    };
  }

  /** Where every instruction came from. */
  lineInfoList(): LineInfo[] {
    const out = new Array<LineInfo>(this.count);
    for (let k = 0; k < out.length; k++) out[k] = this.lineInfoOf(k);
    return out;
  }

  constructor(
    file: string,
    readonly lx: Lexer,
    readonly externalMaps: Record<string, unknown> | undefined,
    capacity = 1024,
  ) {
    this.file = file;
    const n = Math.max(capacity, 16);
    this.codes = new Float64Array(n);
    this.dsts = new Float64Array(n);
    this.srcs = new Float64Array(n);
    this.offs = new Float64Array(n);
    this.imms = new Float64Array(n);
    this.keptFlags = new Uint8Array(n);
    this.checked = new Uint8Array(n);
    this.slots = new Int32Array(n);
    this.words = new Int32Array(2 * n + 4);
    this.insnLineStart = new Int32Array(n);
    this.insnLineEnd = new Int32Array(n);
    this.insnLine = new Int32Array(n);
    this.insnColumn = new Int32Array(n);
  }

  /** Appends an instruction made on the current line; returns its index. */
  emit(insn: Instruction, column: number): number {
    const index = this.place(insn.code, insn.dst, insn.src, insn.off, insn.imm, column);
    if ("imm2" in insn || "ref" in insn) this.keep(index, insn);
    if (insn.code === 0x85 || insn.code === 0x18) this.callSites.push(index);
    this.last = insn;
    this.lastIndex = index;
    return index;
  }

  /**
   * Appends an instruction that the fast path read and checked on the current line (an ld_imm64
   * is kept whole, as `emit` keeps it, for its second half).
   */
  emitChecked(
    code: number,
    dst: number,
    src: number,
    off: number,
    imm: number,
    imm2: number,
    column: number,
  ): void {
    const index = this.place(code, dst, src, off, imm, column);
    this.checked[index] = 1;
    if (code === 0x18) this.keep(index, { code, dst, src, off, imm, imm2 });
  }

  /** bytes of data directives not yet making a whole instruction slot */
  readonly raw: number[] = [];
  /** column of the data directive that started the pending bytes */
  rawColumn = 0;
  /** line of the data directive that started the pending bytes */
  rawLine = 0;
  rawText = "";
  private rawEmitting = false;

  /** Appends an instruction made of raw data words, taken as it is (never checked). */
  emitRaw(
    code: number,
    dst: number,
    src: number,
    off: number,
    imm: number,
    imm2: number,
    column: number,
  ): void {
    this.rawEmitting = true;
    this.emitChecked(code, dst, src, off, imm, imm2, column);
    this.rawEmitting = false;
  }

  /** Records that an instruction came while data bytes did not fill a slot. */
  private rawCut(column: number): void {
    this.fail(
      `an instruction after ${this.raw.length} byte${this.raw.length === 1 ? "" : "s"} of data: data directives (.byte, .2byte, .4byte, .8byte) must fill whole 8-byte instruction slots`,
      column,
    );
    this.raw.length = 0;
  }

  private place(code: number, dst: number, src: number, off: number, imm: number, column: number): number {
    if (this.raw.length !== 0 && !this.rawEmitting) this.rawCut(column);
    const index = this.count;
    if (index === this.slots.length) this.grow();
    this.codes[index] = code;
    this.dsts[index] = dst;
    this.srcs[index] = src;
    this.offs[index] = off;
    this.imms[index] = imm;
    this.slots[index] = this.slot;
    this.insnLineStart[index] = this.lineStart;
    this.insnLineEnd[index] = this.lineEnd;
    this.insnLine[index] = this.line;
    this.insnColumn[index] = column;
    const w = 2 * this.slot;
    if (w + 4 > this.words.length) this.growWords();
    this.words[w] = slotWord(code, dst, src, off);
    this.words[w + 1] = imm;
    this.slot += code === 0x18 ? 2 : 1;
    this.count = index + 1;
    return index;
  }

  private keep(index: number, insn: Instruction): void {
    this.kept.set(index, insn);
    this.keptFlags[index] = 1;
  }

  private growWords(): void {
    const words = new Int32Array(this.words.length * 2);
    words.set(this.words);
    this.words = words;
  }

  private grow(): void {
    const n = this.slots.length * 2;
    const wider = <T extends Float64Array | Int32Array | Uint8Array>(a: T, b: T): T => {
      b.set(a);
      return b;
    };
    this.codes = wider(this.codes, new Float64Array(n));
    this.dsts = wider(this.dsts, new Float64Array(n));
    this.srcs = wider(this.srcs, new Float64Array(n));
    this.offs = wider(this.offs, new Float64Array(n));
    this.imms = wider(this.imms, new Float64Array(n));
    this.keptFlags = wider(this.keptFlags, new Uint8Array(n));
    this.checked = wider(this.checked, new Uint8Array(n));
    this.slots = wider(this.slots, new Int32Array(n));
    this.insnLineStart = wider(this.insnLineStart, new Int32Array(n));
    this.insnLineEnd = wider(this.insnLineEnd, new Int32Array(n));
    this.insnLine = wider(this.insnLine, new Int32Array(n));
    this.insnColumn = wider(this.insnColumn, new Int32Array(n));
  }

  /** Instruction `index` as an object: the kept one, or a new one made from the columns. */
  instruction(index: number): Instruction {
    if (this.keptFlags[index] === 1) return this.kept.get(index) as Instruction;
    return {
      code: this.codes[index] as number,
      dst: this.dsts[index] as number,
      src: this.srcs[index] as number,
      off: this.offs[index] as number,
      imm: this.imms[index] as number,
    };
  }

  /** Every instruction, as objects. */
  instructions(): Instruction[] {
    const out = new Array<Instruction>(this.count);
    for (let k = 0; k < out.length; k++) out[k] = this.instruction(k);
    return out;
  }

  /**
   * Instruction `index` for reading only: the kept one, or `scratch` filled from the columns
   * (so that reading every instruction allocates nothing).
   */
  view(index: number, scratch: Instruction): Instruction {
    if (this.keptFlags[index] === 1) return this.kept.get(index) as Instruction;
    scratch.code = this.codes[index] as number;
    scratch.dst = this.dsts[index] as number;
    scratch.src = this.srcs[index] as number;
    scratch.off = this.offs[index] as number;
    scratch.imm = this.imms[index] as number;
    return scratch;
  }

  /** Records that instruction `index` refers to `name`, resolved at the end. */
  refer(kind: number, index: number, name: string, column: number, offset = 0): void {
    if (index !== this.lastIndex || this.last === undefined)
      throw new Error(`internal error: a name refers to instruction ${index}, not the one just made`);
    this.keep(index, this.last);
    this.fixups.push({
      kind,
      index,
      name,
      offset,
      file: this.file,
      line: this.line,
      column,
      text: this.lineText,
    });
  }

  /** kernel constants used by name, to refuse a label or map of the same name */
  readonly constantNames: { name: string; line: number; column: number; text: string }[] = [];
  /** how many times each numeric local label (`1:`) has been defined so far */
  private readonly localCounts = new Map<string, number>();

  /** Defines the numeric local label `digits:` at the next instruction (it may repeat). */
  defineLocal(digits: string, column: number): void {
    const k = this.localCounts.get(digits) ?? 0;
    this.localCounts.set(digits, k + 1);
    this.defineLabel(`${digits}:${k}`, column);
  }

  /**
   * The label a `1f` / `1b` reference names: the next definition of `1:` after this line, or the
   * last one before it (on this line included, as llvm-mc reads it).
   */
  localLabel(digits: string, forward: boolean, column: number): string {
    const k = this.localCounts.get(digits) ?? 0;
    if (forward) return `${digits}:${k}`;
    if (k === 0)
      throw new LineError(
        `'${digits}b' refers back to a label '${digits}:', and there is none before`,
        column,
      );
    return `${digits}:${k - 1}`;
  }

  /** Defines a label at the next instruction. */
  defineLabel(name: string, column: number): void {
    const prev = this.labels.get(name);
    if (prev !== undefined)
      throw new LineError(
        `label '${name}' is already defined on line ${prev.line}; pick another name`,
        column,
      );
    this.labels.set(name, { index: this.count, slot: this.slot, line: this.line });
  }

  /** A position on the current line. */
  at(column: number): SourcePosition {
    return { file: this.file, line: this.line, column, text: this.lineText };
  }

  /** Records an error on the current line. */
  fail(reason: string, column: number): void {
    this.errors.push(new AsmError(reason, this.at(column)));
  }
}
