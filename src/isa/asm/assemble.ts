/**
 * The assembler driver: reads a source line by line in either dialect, then resolves labels,
 * local calls, helper names, maps and read-only data, and validates every instruction.
 * Every problem of the file is collected and thrown at once as {@link AsmErrors}.
 */

import { encode } from "../encode.js";
import { closestHelperNames, findHelper } from "../helpers.js";
import { INSN_SIZE, type Instruction, LD_IMM64 } from "../insn.js";
import { PseudoCall, PseudoLoad } from "../opcode.js";
import { slotWord, writeSlot } from "../slot.js";
import { instructionProblem } from "../validate.js";
import { AsmContext, Fix, type Fixup, type LabelDef, LineError } from "./context.js";
import { DATA_DIRECTIVES, dataDirective } from "./data.js";
import { BPF_F_RDONLY_PROG, directive, RODATA_MAP } from "./directives.js";
import { AsmError, AsmErrors } from "./errors.js";
import { FastKernel } from "./fast.js";
import { KernelParser } from "./kernel.js";
import { Lexer, Op, Tok } from "./lexer.js";
import { KernelNames } from "./names.js";
import type { AsmProgram, AssembleOptions, Dialect, LineInfo } from "./program.js";
import { UbpfParser } from "./ubpf.js";

/**
 * A first guess of how many instructions a source holds, to size the columns (they grow when it
 * is short): a line of the kernel dialect is rarely under 16 characters. Counting the lines
 * exactly costs a pass over the source.
 */
function capacityFor(source: string): number {
  return (source.length >> 4) + 16;
}

/** Guesses the dialect: uBPF sources name registers `%rN`. */
export function detectDialect(source: string): Dialect {
  const at = source.indexOf("%r");
  if (at >= 0) {
    const c = source.charCodeAt(at + 2);
    if (c >= 48 && c <= 57) return "ubpf";
  }
  return "kernel";
}

/**
 * Assembles a source into plain data: instructions (labels resolved, helpers by id, maps as
 * references), functions, maps, read-only data, program type, licence and line info.
 * @throws AsmErrors listing every problem, each with file:line:column, the line and a caret
 */
export function assemble(source: string, options: AssembleOptions = {}): AsmProgram {
  return assembleSource(source, options, true);
}

/**
 * {@link assemble}, with the fast path of the kernel dialect (fast.ts) or without it: the tests
 * compare both.
 */
export function assembleSource(source: string, options: AssembleOptions, fastPath: boolean): AsmProgram {
  const file = options.file ?? "<input>";
  const dialect =
    options.dialect === undefined || options.dialect === "auto" ? detectDialect(source) : options.dialect;
  const lx = new Lexer();
  const ctx = new AsmContext(file, lx, options.externalMaps, capacityFor(source));
  ctx.knownTypes = options;
  const kernel = new KernelParser(ctx, new KernelNames(options.btf));
  const ubpf = new UbpfParser(ctx);
  const length = source.length;
  lx.src = source;
  const fast = fastPath && dialect === "kernel" ? new FastKernel() : undefined;
  lx.semicolonSeparates = dialect === "kernel";
  let lineStart = 0;
  let from = 0;
  while (lineStart <= length) {
    if (from === lineStart) ctx.line++;
    if (fast !== undefined && !lx.inBlockComment) {
      const end = fast.line(source, from, from === lineStart);
      if (end >= 0) {
        if (fast.column > 0) {
          ctx.lineStart = lineStart;
          const eol = end < length && source.charCodeAt(end) === 59 ? lineEndAt(source, end) : end;
          ctx.lineEnd = eol > lineStart && source.charCodeAt(eol - 1) === 13 ? eol - 1 : eol;
          ctx.emitChecked(
            fast.code,
            fast.dst,
            fast.src,
            fast.off,
            fast.imm,
            fast.imm2,
            fast.column + from - lineStart,
          );
        }
        if (end < length && source.charCodeAt(end) === 59) from = end + 1;
        else lineStart = from = end + 1;
        continue;
      }
    }
    const lineEnd = lineEndAt(source, from);
    const n = lx.lex(source, lineStart, lineEnd, from);
    if (n > 0 || lx.badAt >= 0) {
      ctx.lineStart = lineStart;
      ctx.lineEnd = lineEnd > lineStart && source.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd;
      if (lx.badAt >= 0) {
        ctx.fail(
          lx.unterminated
            ? "this string has no closing quote"
            : `unexpected character '${source[lineStart + lx.badAt]}'`,
          lx.badAt + 1,
        );
      } else {
        try {
          line(ctx, dialect, kernel, ubpf);
        } catch (e) {
          if (!(e instanceof LineError)) throw e;
          ctx.fail(e.reason, e.column);
        }
      }
    }
    if (lx.more >= 0 && lx.badAt < 0) from = lx.more;
    else lineStart = from = lineEnd + 1;
  }
  if (ctx.raw.length !== 0) {
    ctx.errors.push(
      new AsmError(
        `the file ends ${ctx.raw.length} byte${ctx.raw.length === 1 ? "" : "s"} into an instruction slot: data directives must fill whole 8-byte slots (16 for an ld_imm64)`,
        { file: ctx.file, line: ctx.rawLine, column: ctx.rawColumn, text: ctx.rawText },
      ),
    );
  }
  if (lx.inBlockComment) {
    const at = lx.blockCommentAt;
    const start = source.lastIndexOf("\n", at - 1) + 1;
    let line = 1;
    for (let i = source.indexOf("\n"); i >= 0 && i < at; i = source.indexOf("\n", i + 1)) line++;
    ctx.errors.push(
      new AsmError("this /* comment is never closed (no */ before the end of the file)", {
        file: ctx.file,
        line,
        column: at - start + 1,
        text: source.slice(start, lineEndAt(source, at)).replace(/\r$/, ""),
      }),
    );
  }
  return finish(ctx, dialect);
}

function isDigits(text: string): boolean {
  return /^[0-9]+$/.test(text);
}

/** Where the line holding `at` ends (its `\n`, or the source's length). */
function lineEndAt(source: string, at: number): number {
  const nl = source.indexOf("\n", at);
  return nl < 0 ? source.length : nl;
}

function line(ctx: AsmContext, dialect: Dialect, kernel: KernelParser, ubpf: UbpfParser): void {
  const lx = ctx.lx;
  let p = 0;
  let ldImm64 = false;
  // the verifier log's `12: (bf) ` prefix
  if (
    lx.kind[0] === Tok.NUM &&
    lx.op[1] === Op.COLON &&
    lx.kind[1] === Tok.PUNCT &&
    lx.op[2] === Op.LPAREN &&
    lx.kind[2] === Tok.PUNCT &&
    lx.op[4] === Op.RPAREN &&
    lx.kind[4] === Tok.PUNCT
  ) {
    ldImm64 = lx.text(3) === "18";
    p = 5;
  }
  for (;;) {
    if (lx.kind[p + 1] !== Tok.PUNCT || lx.op[p + 1] !== Op.COLON) break;
    if (lx.kind[p] === Tok.IDENT) ctx.defineLabel(lx.text(p), lx.column(p));
    else if (lx.kind[p] === Tok.NUM && isDigits(lx.text(p))) ctx.defineLocal(lx.text(p), lx.column(p));
    else break;
    p += 2;
  }
  if (lx.kind[p] === Tok.END) return;
  if (lx.kind[p] === Tok.IDENT && lx.src.charCodeAt(lx.start[p] as number) === 46) {
    const size = dialect === "kernel" ? DATA_DIRECTIVES[lx.text(p)] : undefined;
    if (size !== undefined && Object.hasOwn(DATA_DIRECTIVES, lx.text(p))) dataDirective(ctx, kernel, p, size);
    else directive(ctx, p);
    return;
  }
  if (dialect === "ubpf") ubpf.parse(p);
  else kernel.parse(p, ldImm64);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Where each program's instructions still are in columns (until `insns` is first read). */
const columns = new WeakMap<AsmProgram, () => AsmContext | undefined>();

/**
 * The bytes of an assembled program, as `encode(program.insns)` gives them, without making the
 * instructions into objects when nobody has read `program.insns` yet.
 */
export function encodeAssembled(program: AsmProgram): Uint8Array {
  const ctx = columns.get(program)?.();
  if (ctx === undefined) return encode(program.insns, { check: false });
  if (LITTLE_ENDIAN) {
    // the words were written as the instructions came; only the kept ones can have changed
    const words = ctx.words;
    for (const [k, kept] of ctx.kept) {
      const w = 2 * (ctx.slots[k] as number);
      words[w] = slotWord(kept.code, kept.dst, kept.src, kept.off);
      words[w + 1] = kept.imm;
      if (kept.code === LD_IMM64) words[w + 3] = kept.imm2 ?? 0;
    }
    return new Uint8Array(words.buffer, 0, ctx.slot * INSN_SIZE).slice();
  }
  const out = new Uint8Array(ctx.slot * INSN_SIZE);
  let at = 0;
  for (let k = 0; k < ctx.count; k++) {
    if (ctx.keptFlags[k] === 1) {
      const kept = ctx.kept.get(k) as Instruction;
      writeSlot(out, at, kept.code, (kept.src << 4) | kept.dst, kept.off, kept.imm);
      at += INSN_SIZE;
      if (kept.code === LD_IMM64) {
        writeSlot(out, at, 0, 0, 0, kept.imm2 ?? 0);
        at += INSN_SIZE;
      }
      continue;
    }
    const code = ctx.codes[k] as number;
    writeSlot(
      out,
      at,
      code,
      ((ctx.srcs[k] as number) << 4) | (ctx.dsts[k] as number),
      ctx.offs[k] as number,
      ctx.imms[k] as number,
    );
    at += code === LD_IMM64 ? 2 * INSN_SIZE : INSN_SIZE;
  }
  return out;
}

function errorAt(f: Fixup, reason: string): AsmError {
  return new AsmError(reason, { file: f.file, line: f.line, column: f.column, text: f.text });
}

/** Records the problem of every instruction that the fast path has not checked. */
function validate(ctx: AsmContext): void {
  const scratch: Instruction = { code: 0, dst: 0, src: 0, off: 0, imm: 0 };
  const checked = ctx.checked;
  for (let k = 0; k < ctx.count; k++) {
    if (checked[k] === 1) continue;
    const problem = instructionProblem(ctx.view(k, scratch));
    if (problem !== undefined) {
      ctx.errors.push(
        new AsmError(problem, {
          file: ctx.file,
          line: ctx.insnLine[k] as number,
          column: ctx.insnColumn[k] as number,
          text: ctx.insnText(k),
        }),
      );
    }
  }
}

/** Indexes of the bpf-to-bpf calls and the function pointers (ld_imm64 of a function), in order. */
function callsAndPointers(ctx: AsmContext): number[] {
  const out: number[] = [];
  const { codes, srcs, keptFlags } = ctx;
  for (const k of ctx.callSites) {
    let code = codes[k] as number;
    let src = srcs[k] as number;
    if (keptFlags[k] === 1) {
      const i = ctx.kept.get(k) as Instruction;
      code = i.code;
      src = i.src;
    }
    if ((code === 0x85 && src === PseudoCall.CALL) || (code === LD_IMM64 && src === PseudoLoad.FUNC))
      out.push(k);
  }
  return out;
}

function finish(ctx: AsmContext, dialect: Dialect): AsmProgram {
  const { slots, count } = ctx;
  // read-only data: one frozen array map, each symbol 8-byte aligned
  const rodataSymbols: Record<string, { offset: number; size: number }> = {};
  let rodata: AsmProgram["rodata"];
  if (ctx.rodataParts.length > 0) {
    let size = 0;
    for (const part of ctx.rodataParts) {
      rodataSymbols[part.name] = { offset: size, size: part.bytes.length };
      size += (part.bytes.length + 7) & ~7;
    }
    const bytes = new Uint8Array(size);
    for (const part of ctx.rodataParts) bytes.set(part.bytes, rodataSymbols[part.name]?.offset);
    rodata = { mapName: RODATA_MAP, bytes, symbols: rodataSymbols };
    const spec = {
      name: RODATA_MAP,
      type: "array",
      keySize: 4,
      valueSize: size,
      maxEntries: 1,
      flags: BPF_F_RDONLY_PROG,
      initialValue: bytes,
      freeze: true,
    };
    ctx.maps.push(spec);
    ctx.mapNames.set(RODATA_MAP, spec);
  }
  const lookup = (name: string): LabelDef | undefined => {
    const l = ctx.labels.get(name);
    if (l !== undefined) return l;
    if (dialect === "ubpf" && name === "exit" && ctx.firstExit >= 0)
      return { index: ctx.firstExit, slot: slots[ctx.firstExit] as number, line: 0 };
    return undefined;
  };
  const isMap = (name: string): boolean =>
    ctx.mapNames.has(name) || (ctx.externalMaps !== undefined && Object.hasOwn(ctx.externalMaps, name));
  const mapRef = (name: string) => {
    const external = ctx.externalMaps?.[name];
    return external === undefined
      ? { kind: "map" as const, name }
      : { kind: "map" as const, name, map: external };
  };
  for (const f of ctx.fixups) {
    const i = ctx.kept.get(f.index);
    if (i === undefined) continue;
    const here = (slots[f.index] as number) + 1;
    const target = lookup(f.name);
    switch (f.kind) {
      case Fix.JUMP_OFF:
      case Fix.JUMP_IMM: {
        if (target === undefined) {
          ctx.errors.push(errorAt(f, undefinedLabel(ctx, f.name)));
          break;
        }
        const rel = target.slot - here;
        if (f.kind === Fix.JUMP_OFF) {
          if (rel < -0x8000 || rel > 0x7fff)
            ctx.errors.push(
              errorAt(
                f,
                `jump to '${f.name}' spans ${rel} instructions; goto reaches -32768..32767: use gotol`,
              ),
            );
          else i.off = rel;
        } else i.imm = rel;
        break;
      }
      case Fix.CALL:
      case Fix.CALL_LOCAL: {
        if (target !== undefined) {
          i.src = PseudoCall.CALL;
          i.imm = target.slot - here;
          break;
        }
        const helper = f.kind === Fix.CALL ? findHelper(f.name) : undefined;
        if (helper !== undefined) {
          i.imm = helper.id;
          i.ref = { kind: "helper", name: helper.name };
          break;
        }
        if (f.kind === Fix.CALL_LOCAL) {
          ctx.errors.push(errorAt(f, undefinedLabel(ctx, f.name)));
          break;
        }
        const near = closestHelperNames(f.name);
        ctx.errors.push(
          errorAt(
            f,
            `'${f.name}' is neither a function of this file nor a helper${near.length > 0 ? ` (did you mean ${near.join(", ")}?)` : ""}; for a kfunc write 'call kfunc ${f.name}'`,
          ),
        );
        break;
      }
      case Fix.NAME_LOAD:
      case Fix.MAP: {
        const sym = rodata?.symbols[f.name];
        if (f.kind === Fix.NAME_LOAD && target !== undefined) {
          i.src = PseudoLoad.FUNC;
          i.imm = target.slot - here;
          i.imm2 = 0;
        } else if (sym !== undefined) {
          i.src = PseudoLoad.MAP_VALUE;
          i.imm2 = sym.offset + f.offset;
          i.ref = mapRef(RODATA_MAP);
        } else if (isMap(f.name)) {
          if (f.kind === Fix.NAME_LOAD) i.src = PseudoLoad.MAP_FD;
          i.ref = mapRef(f.name);
        } else {
          ctx.errors.push(
            errorAt(
              f,
              f.kind === Fix.MAP
                ? `map '${f.name}' is not declared; declare it with .map ${f.name} type=... key=... value=... entries=...`
                : `'${f.name}' is not a function, a map or a read-only symbol of this file`,
            ),
          );
        }
        break;
      }
    }
  }
  for (const c of ctx.constantNames) {
    const kind = ctx.labels.has(c.name)
      ? "a label"
      : ctx.mapNames.has(c.name)
        ? "a map"
        : rodata?.symbols[c.name] !== undefined
          ? "a read-only symbol"
          : undefined;
    if (kind !== undefined)
      ctx.errors.push(
        new AsmError(
          `'${c.name}' is both a kernel constant and ${kind} of this file; rename the ${kind.slice(kind.indexOf(" ") + 1)}`,
          { file: ctx.file, line: c.line, column: c.column, text: c.text },
        ),
      );
  }
  validate(ctx);
  if (count === 0 && ctx.errors.length === 0)
    ctx.errors.push(
      new AsmError("the program has no instructions", { file: ctx.file, line: 1, column: 1, text: "" }),
    );
  if (ctx.errors.length > 0) throw new AsmErrors(ctx.errors);
  // the main program, the declared functions, and every other target of a call or function pointer
  const functions = ctx.functions.slice();
  const bySlot = new Map<number, string>();
  for (const [name, l] of ctx.labels) if (!bySlot.has(l.slot)) bySlot.set(l.slot, name);
  const declared = new Set(functions.map((f) => f.slot));
  let indexBySlot: Int32Array | undefined; // made at the first call or function pointer
  const scratch: Instruction = { code: 0, dst: 0, src: 0, off: 0, imm: 0 };
  for (const k of callsAndPointers(ctx)) {
    const i = ctx.view(k, scratch);
    const isCall = i.code === 0x85;
    if (indexBySlot === undefined) {
      indexBySlot = new Int32Array(ctx.slot).fill(-1);
      for (let j = 0; j < count; j++) indexBySlot[slots[j] as number] = j;
    }
    const slot = (slots[k] as number) + 1 + i.imm;
    const index = slot >= 0 && slot < indexBySlot.length ? (indexBySlot[slot] as number) : -1;
    if (index < 0 || slot === 0 || declared.has(slot)) continue;
    declared.add(slot);
    functions.push({
      name: bySlot.get(slot) ?? `fn${slot}`,
      index,
      slot,
      kind: isCall ? "func" : "callback",
      line: index < count ? (ctx.insnLine[index] as number) : 0,
    });
  }
  functions.sort((a, b) => a.slot - b.slot);
  if (!functions.some((f) => f.index === 0)) {
    let mainName = "main";
    for (const [name, l] of ctx.labels) {
      if (l.index === 0) {
        mainName = name;
        break;
      }
    }
    functions.unshift({
      name: mainName,
      index: 0,
      slot: 0,
      kind: "main",
      line: count > 0 ? (ctx.insnLine[0] as number) : 1,
    });
  } else {
    const first = functions.find((f) => f.index === 0);
    if (first !== undefined && first.kind === "func") first.kind = "main";
  }
  // instructions and line info are made into objects when first read: the command line turns a
  // big program into bytes (encodeAssembled) and never looks at them
  const program = {} as AsmProgram;
  let insns: Instruction[] | undefined;
  Object.defineProperty(program, "insns", {
    enumerable: true,
    configurable: true,
    get: () => {
      insns ??= ctx.instructions();
      return insns;
    },
    set: (value: Instruction[]) => {
      insns = value;
    },
  });
  program.functions = functions;
  program.maps = ctx.maps;
  columns.set(program, () => (insns === undefined ? ctx : undefined));
  let lineInfo: LineInfo[] | undefined;
  Object.defineProperty(program, "lineInfo", {
    enumerable: true,
    configurable: true,
    get: () => {
      lineInfo ??= ctx.lineInfoList();
      return lineInfo;
    },
    set: (value: LineInfo[]) => {
      lineInfo = value;
    },
  });
  if (rodata !== undefined) program.rodata = rodata;
  if (ctx.programType !== undefined) program.programType = ctx.programType;
  if (ctx.license !== undefined) program.license = ctx.license;
  return program;
}

function undefinedLabel(ctx: AsmContext, name: string): string {
  const colon = name.indexOf(":");
  if (colon > 0) {
    const digits = name.slice(0, colon);
    return `'${digits}f' refers forward to a label '${digits}:', and there is none after`;
  }
  let best = "";
  let bestScore = 3;
  for (const l of ctx.labels.keys()) {
    const d = distance(name, l);
    if (d < bestScore) {
      best = l;
      bestScore = d;
    }
  }
  return `label '${name}' is not defined${best ? ` (did you mean '${best}'?)` : ""}`;
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = cur;
  }
  return prev[b.length] as number;
}
