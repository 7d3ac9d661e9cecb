/**
 * A loaded program as the kernel holds it, for reading: the instructions after the verifier's
 * rewrites (xlated), with the source lines of its line_info and the names of its functions (from
 * the program's BTF, read back from the kernel), map references by id and name, and helper calls
 * named from /proc/kallsyms; and the JIT-compiled machine code (jited) with its functions.
 */
import { readFileSync } from "node:fs";
import type { Btf } from "../btf/decode.js";
import { parseKernelBtf, readBtfById } from "../btf/kernel.js";
import { decode } from "../isa/decode.js";
import { disassembleRecords } from "../isa/disasm.js";
import { type Instruction, LD_IMM64 } from "../isa/insn.js";
import { mapById } from "../map/list.js";
import { putPtr, putU32 } from "../sys/bpf.js";
import { PROG_INFO } from "../sys/layout.js";
import { objGetInfoByFd } from "../sys/obj.js";
import { programXlated } from "./info.js";

/** A source line of a program's line_info. */
export interface SourceLine {
  /** the file name recorded at load (may be empty) */
  file: string;
  /** the line's text as recorded at load */
  text: string;
  /** line number (1-based; 0 when unknown) */
  line: number;
  /** column (1-based; 0 when unknown) */
  column: number;
}

/** One instruction of a translated program. */
export interface XlatedInstruction {
  /** its slot (8-byte unit) in the translated program */
  slot: number;
  /** the raw instruction (helper calls keep the kernel's relative address in `imm`) */
  insn: Instruction;
  /** kernel syntax, maps as `map[id:N]`, helper calls by their kernel symbol */
  text: string;
  /** the function that starts here (from func_info), if one does */
  function?: string;
  /** the source line that starts here (from line_info), if one does */
  source?: SourceLine;
  /** the map an `ld_imm64` refers to, by id and name */
  map?: { id: number; name: string };
}

/** A translated program: its instructions, or none when the kernel withholds them. */
export interface XlatedProgram {
  /** the program's BTF id (0 without BTF) */
  btfId: number;
  instructions: XlatedInstruction[];
}

/** The JIT-compiled code of a program. */
export interface JitedProgram {
  /** the machine code of every function, back to back (empty when not JIT-compiled or hidden) */
  code: Uint8Array;
  /** its functions: name (from BTF, else `fN`), kernel address (0n when hidden), byte offset, length */
  functions: { name: string; address: bigint; offset: number; length: number }[];
}

interface Records {
  btfId: number;
  funcInfo: Buffer;
  funcRec: number;
  funcCount: number;
  lineInfo: Buffer;
  lineRec: number;
  lineCount: number;
  ksyms: Buffer;
  funcLens: Buffer;
  ksymCount: number;
  jited: Buffer;
}

/** Reads the func_info, line_info (and, with `jited`, the machine code and its functions) of `fd`. */
function records(fd: number, jited: boolean): Records {
  const o = PROG_INFO.offset;
  const info = Buffer.alloc(PROG_INFO.size);
  objGetInfoByFd(fd, info, { what: "program" });
  const funcCount = info.readUInt32LE(o.nr_func_info);
  const funcRec = info.readUInt32LE(o.func_info_rec_size) || 8;
  const lineCount = info.readUInt32LE(o.nr_line_info);
  const lineRec = info.readUInt32LE(o.line_info_rec_size) || 16;
  const ksymCount = jited ? info.readUInt32LE(o.nr_jited_ksyms) : 0;
  const lensCount = jited ? info.readUInt32LE(o.nr_jited_func_lens) : 0;
  const jitedLen = jited ? info.readUInt32LE(o.jited_prog_len) : 0;
  const r: Records = {
    btfId: info.readUInt32LE(o.btf_id),
    funcInfo: Buffer.alloc(funcCount * funcRec),
    funcRec,
    funcCount,
    lineInfo: Buffer.alloc(lineCount * lineRec),
    lineRec,
    lineCount,
    ksyms: Buffer.alloc(ksymCount * 8),
    funcLens: Buffer.alloc(lensCount * 4),
    ksymCount: Math.min(ksymCount, lensCount),
    jited: Buffer.alloc(jitedLen),
  };
  const again = Buffer.alloc(PROG_INFO.size);
  if (funcCount > 0) {
    putU32(again, o.nr_func_info, funcCount, "func_info count");
    putU32(again, o.func_info_rec_size, funcRec, "func_info record size");
    putPtr(again, o.func_info, r.funcInfo);
  }
  if (lineCount > 0) {
    putU32(again, o.nr_line_info, lineCount, "line_info count");
    putU32(again, o.line_info_rec_size, lineRec, "line_info record size");
    putPtr(again, o.line_info, r.lineInfo);
  }
  if (ksymCount > 0 && lensCount > 0) {
    putU32(again, o.nr_jited_ksyms, ksymCount, "jited ksyms count");
    putPtr(again, o.jited_ksyms, r.ksyms);
    putU32(again, o.nr_jited_func_lens, lensCount, "jited function lengths count");
    putPtr(again, o.jited_func_lens, r.funcLens);
  }
  if (jitedLen > 0) {
    putU32(again, o.jited_prog_len, jitedLen, "jited length");
    putPtr(again, o.jited_prog_insns, r.jited);
  }
  if (funcCount + lineCount + ksymCount + jitedLen > 0) {
    objGetInfoByFd(fd, again, { what: "program" });
    r.funcCount = Math.min(funcCount, again.readUInt32LE(o.nr_func_info));
    r.lineCount = Math.min(lineCount, again.readUInt32LE(o.nr_line_info));
    if (jitedLen > 0 && again.readBigUInt64LE(o.jited_prog_insns) === 0n) r.jited = Buffer.alloc(0);
    else if (jitedLen > 0)
      r.jited = r.jited.subarray(0, Math.min(jitedLen, again.readUInt32LE(o.jited_prog_len)));
  }
  return r;
}

/** Function names by their first slot, from func_info. */
function functionNames(r: Records, btf: Btf | undefined): Map<number, string> {
  const names = new Map<number, string>();
  if (!btf) return names;
  for (let i = 0; i < r.funcCount; i++) {
    const at = r.funcInfo.readUInt32LE(i * r.funcRec);
    const t = btf.type(r.funcInfo.readUInt32LE(i * r.funcRec + 4));
    if (t.kind === "func") names.set(at, t.name);
  }
  return names;
}

/**
 * The kernel symbols at these addresses (hex, 16 digits, as /proc/kallsyms prints them), found by
 * a text search: far cheaper than parsing the whole file for a few addresses.
 */
function kernelSymbols(text: string, addresses: Iterable<bigint>): Map<bigint, string> {
  const out = new Map<bigint, string>();
  for (const a of addresses) {
    const at = text.indexOf(`\n${a.toString(16).padStart(16, "0")} `);
    if (at < 0) continue;
    const end = text.indexOf("\n", at + 1);
    const fields = text.slice(at + 1, end < 0 ? undefined : end).split(/\s+/);
    if (fields[2]) out.set(a, fields[2]);
  }
  return out;
}

/** `__bpf_call_base` and the kallsyms text, or undefined when addresses are hidden. */
function callBase(): { base: bigint; text: string } | undefined {
  let text: string;
  try {
    text = `\n${readFileSync("/proc/kallsyms", "latin1")}`;
  } catch {
    return undefined;
  }
  const m = /\n([0-9a-f]{16}) [tT] __bpf_call_base\n/.exec(text);
  if (!m || /^0+$/.test(m[1]!)) return undefined;
  return { base: BigInt(`0x${m[1]}`), text };
}

/**
 * rawbpf's instruction text in the spelling of the kernel's own printer (kernel/bpf/disasm.c,
 * which bpftool prints): memory offsets as `(r1 +0)`, jumps as `goto pc+1`, jump immediates in
 * hex, ALU immediates in decimal.
 */
export function kernelSpelling(text: string): string {
  return text
    .replace(/\((r\d+) ([+-]) (\d+)\)/g, "($1 $2$3)")
    .replace(/goto ([+-]\d+)$/, "goto pc$1")
    .replace(/^(if [rw]\d+ \S+ )(-?\d+|0x[0-9a-f]+)( goto)/, (_, a: string, n: string, b: string) => {
      const v = Number(n) >>> 0;
      return `${a}0x${v.toString(16)}${b}`;
    })
    .replace(
      /^([rw]\d+ (?:[-+*/%&|^]|<<|>>|s>>)= )(0x[0-9a-f]+)$/,
      (_, a: string, n: string) => `${a}${Number(n) | 0}`,
    );
}

/**
 * The translated instructions of the program behind `fd`, annotated. Empty when the kernel
 * withholds them (a process that may not see kernel addresses).
 */
export function programXlatedListing(fd: number): XlatedProgram {
  const bytes = programXlated(fd);
  const r = records(fd, false);
  if (bytes.byteLength === 0) return { btfId: r.btfId, instructions: [] };
  const btf =
    r.btfId !== 0 && (r.funcCount > 0 || r.lineCount > 0) ? parseKernelBtf(readBtfById(r.btfId)) : undefined;
  // the kernel's own encodings are shown as they are (a bpf-to-bpf call keeps its subprogram in off)
  const insns = decode(bytes, { check: false });
  const funcs = functionNames(r, btf);
  // slots of each decoded instruction, and the maps and helpers they refer to
  const slots: number[] = [];
  const mapIds = new Set<number>();
  const helperImms = new Set<number>();
  let slot = 0;
  for (const i of insns) {
    slots.push(slot);
    if (i.code === LD_IMM64 && (i.src === 1 || i.src === 2)) mapIds.add(i.imm >>> 0);
    if (i.code === 0x85 && i.src === 0) helperImms.add(i.imm);
    slot += i.code === LD_IMM64 ? 2 : 1;
  }
  const maps = new Map<number, string>();
  for (const id of mapIds) maps.set(id, mapById(id)?.name ?? "");
  const withRefs = insns.map((i) =>
    i.code === LD_IMM64 && (i.src === 1 || i.src === 2)
      ? { ...i, ref: { kind: "map" as const, name: `id:${i.imm >>> 0}` } }
      : i,
  );
  const recs = disassembleRecords(withRefs, { functionNames: funcs, helperNames: false, labels: false });
  let helpers = new Map<number, string>();
  let subprogs: string[] = [];
  const pseudoCalls = insns.some((i) => i.code === 0x85 && i.src === 1);
  if (helperImms.size > 0 || pseudoCalls) {
    const kallsyms = callBase();
    if (kallsyms) {
      const byAddress = new Map<number, bigint>();
      for (const imm of helperImms) byAddress.set(imm, kallsyms.base + BigInt(imm));
      const ksyms = pseudoCalls ? jitedAddresses(fd) : [];
      const syms = kernelSymbols(kallsyms.text, [...byAddress.values(), ...ksyms]);
      helpers = new Map([...byAddress].map(([imm, a]) => [imm, syms.get(a) ?? ""]));
      subprogs = ksyms.map((a) => syms.get(a) ?? "");
    }
  }
  const lines = new Map<number, SourceLine>();
  if (btf) {
    for (let k = 0; k < r.lineCount; k++) {
      const at = k * r.lineRec;
      const lineCol = r.lineInfo.readUInt32LE(at + 12);
      lines.set(r.lineInfo.readUInt32LE(at), {
        file: btf.string(r.lineInfo.readUInt32LE(at + 4)),
        text: btf.string(r.lineInfo.readUInt32LE(at + 8)),
        line: lineCol >>> 10,
        column: lineCol & 0x3ff,
      });
    }
  }
  const out: XlatedInstruction[] = [];
  for (let k = 0; k < insns.length; k++) {
    const i = insns[k]!;
    const s = slots[k]!;
    let text = kernelSpelling(recs[k]!.text);
    const helper = i.code === 0x85 && i.src === 0 ? helpers.get(i.imm) : undefined;
    if (helper) text = `call ${helper}#${i.imm}`;
    // a bpf-to-bpf call after JIT: off is the relative offset, imm the subprogram's index (the
    // kernel's jit_subprogs), printed as bpftool prints it
    if (i.code === 0x85 && i.src === 1)
      text = `call pc${i.off >= 0 ? "+" : ""}${i.off}${subprogs[i.imm] ? `#${subprogs[i.imm]}` : ""}`;
    const x: XlatedInstruction = { slot: s, insn: insns[k]!, text };
    const f = funcs.get(s);
    if (f !== undefined) x.function = f;
    const line = lines.get(s);
    if (line) x.source = line;
    if (i.code === LD_IMM64 && (i.src === 1 || i.src === 2)) {
      const id = i.imm >>> 0;
      x.map = { id, name: maps.get(id) ?? "" };
    }
    out.push(x);
  }
  return { btfId: r.btfId, instructions: out };
}

/** Options of {@link xlatedText}. */
export interface XlatedTextOptions {
  /** the heading of each function by its first slot (a C prototype); default `NAME:` */
  readonly prototypes?: ReadonlyMap<number, string>;
  /** each source line followed by `[file:F line_num:N line_col:C]`, as `bpftool ... linum` prints it */
  readonly lineNumbers?: boolean;
  /** a map reference followed by `  # map 'NAME'` (default true) */
  readonly mapNames?: boolean;
}

/**
 * A translated program as `bpftool prog dump xlated` prints it: each function's heading, each
 * source line of its line_info as a `; ` comment above the instructions it starts (the
 * TypeScript lines of a compiled program, the C lines of a clang object built with -g), then
 * `slot: (opcode) instruction`.
 */
export function xlatedText(program: XlatedProgram, options: XlatedTextOptions = {}): string {
  const lines: string[] = [];
  for (const x of program.instructions) {
    const proto = options.prototypes?.get(x.slot) ?? x.function;
    if (proto !== undefined) lines.push(`${proto}:`);
    if (x.source) {
      const s = x.source;
      lines.push(
        options.lineNumbers
          ? `; ${s.text.trimStart()} [file:${s.file} line_num:${s.line} line_col:${s.column}]`
          : `; ${s.text.trimStart()}`,
      );
    }
    const text = options.mapNames !== false && x.map?.name ? `${x.text}  # map '${x.map.name}'` : x.text;
    lines.push(`${String(x.slot).padStart(4)}: (${x.insn.code.toString(16).padStart(2, "0")}) ${text}`);
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/** The kernel addresses of the JIT-compiled functions of `fd` (empty when hidden or not JIT-compiled). */
function jitedAddresses(fd: number): bigint[] {
  const r = records(fd, true);
  const out: bigint[] = [];
  for (let i = 0; i < r.ksymCount; i++) out.push(r.ksyms.readBigUInt64LE(i * 8));
  return out;
}

/** The JIT-compiled code of the program behind `fd` and its functions. */
export function programJited(fd: number): JitedProgram {
  const r = records(fd, true);
  const btf = r.btfId !== 0 && r.funcCount > 0 ? parseKernelBtf(readBtfById(r.btfId)) : undefined;
  const names = [...functionNames(r, btf).values()];
  const functions: JitedProgram["functions"] = [];
  let offset = 0;
  for (let i = 0; i < r.ksymCount; i++) {
    const length = r.funcLens.readUInt32LE(i * 4);
    functions.push({ name: names[i] ?? `f${i}`, address: r.ksyms.readBigUInt64LE(i * 8), offset, length });
    offset += length;
  }
  if (functions.length === 0 && r.jited.byteLength > 0)
    functions.push({ name: names[0] ?? "f0", address: 0n, offset: 0, length: r.jited.byteLength });
  return { code: new Uint8Array(r.jited.buffer, r.jited.byteOffset, r.jited.byteLength), functions };
}
