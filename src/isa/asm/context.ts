/**
 * The state of one assembly run, shared by the dialect parsers and the directives: the
 * instructions so far, labels, pending references, declared maps and the errors found.
 */

import type { Instruction } from "../insn.js";
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
  readonly insns: Instruction[] = [];
  /** slot of each instruction (only the first `insns.length` entries count) */
  slots = new Int32Array(1024);
  slot = 0;
  /** where each instruction's source line starts and ends in the source, its line and column */
  insnLineStart = new Int32Array(1024);
  insnLineEnd = new Int32Array(1024);
  insnLine = new Int32Array(1024);
  insnColumn = new Int32Array(1024);
  readonly labels = new Map<string, LabelDef>();
  readonly fixups: Fixup[] = [];
  readonly errors: AsmError[] = [];
  readonly functions: AsmFunction[] = [];
  readonly maps: AsmMapSpec[] = [];
  readonly mapNames = new Map<string, AsmMapSpec>();
  readonly rodataParts: { name: string; bytes: Uint8Array; line: number }[] = [];
  programType: string | undefined;
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
    const out = new Array<LineInfo>(this.insns.length);
    for (let k = 0; k < out.length; k++) out[k] = this.lineInfoOf(k);
    return out;
  }

  constructor(
    file: string,
    readonly lx: Lexer,
    readonly externalMaps: Record<string, unknown> | undefined,
  ) {
    this.file = file;
  }

  /** Appends an instruction made on the current line. */
  emit(insn: Instruction, column: number): number {
    const index = this.insns.length;
    if (index === this.slots.length) this.grow();
    this.insns.push(insn);
    this.slots[index] = this.slot;
    this.insnLineStart[index] = this.lineStart;
    this.insnLineEnd[index] = this.lineEnd;
    this.insnLine[index] = this.line;
    this.insnColumn[index] = column;
    this.slot += insn.code === 0x18 ? 2 : 1;
    return index;
  }

  private grow(): void {
    const twice = (a: Int32Array) => {
      const b = new Int32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.slots = twice(this.slots);
    this.insnLineStart = twice(this.insnLineStart);
    this.insnLineEnd = twice(this.insnLineEnd);
    this.insnLine = twice(this.insnLine);
    this.insnColumn = twice(this.insnColumn);
  }

  /** Records that instruction `index` refers to `name`, resolved at the end. */
  refer(kind: number, index: number, name: string, column: number, offset = 0): void {
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

  /** Defines a label at the next instruction. */
  defineLabel(name: string, column: number): void {
    const prev = this.labels.get(name);
    if (prev !== undefined)
      throw new LineError(
        `label '${name}' is already defined on line ${prev.line}; pick another name`,
        column,
      );
    this.labels.set(name, { index: this.insns.length, slot: this.slot, line: this.line });
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
