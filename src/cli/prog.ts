/**
 * `rawbpf prog list | show ID | dump xlated ID | dump jited ID | pin ID PATH [--json]`: the
 * programs loaded in the kernel, as bpftool shows them (`--json` follows `bpftool -j` field for
 * field). Also the helpers the other inspection commands share (ids, JSON, load times).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Btf } from "../btf/decode.js";
import { NoSuchObjectError } from "../map/list.js";
import { type ListedProgram, listPrograms, programById } from "../program/list.js";
import { Program } from "../program/program.js";
import { type XlatedInstruction, xlatedText } from "../program/xlated.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";

const HELP = `usage: rawbpf prog list [--json]
       rawbpf prog show ID [--json]
       rawbpf prog dump xlated ID [linum] [--json]
       rawbpf prog dump jited ID [--json]
       rawbpf prog pin ID PATH

The programs loaded in the kernel, as bpftool prog shows them (needs CAP_SYS_ADMIN).
  list            every program: id, type, name, tag, sizes, maps, BTF
  show ID         one program ('show id ID' works too, as in bpftool)
  dump xlated ID  its instructions after the verifier's rewrites, with the source lines of its
                  line_info and the names of the maps it refers to; 'linum' adds each source
                  line's file, line and column (as bpftool's linum)
  dump jited ID   its JIT-compiled machine code: the bytes, and the disassembly when
                  llvm-objdump-19 (LLVM) is installed
  pin ID PATH     pins it at PATH in a bpffs
  --json          the output of bpftool -j (list, show, dump xlated); jited as {functions:[...]}
`;

/** An object id from the command line: `ID` or `id ID`; returns the id and the arguments after it. */
export function takeId(rest: readonly string[], what: string): [number, string[]] {
  let args = [...rest];
  if (args[0] === "id") args = args.slice(1);
  const text = args[0];
  if (text === undefined) throw new UsageError(`missing ${what} id`);
  const id = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(id) || id < 1 || id > 0xffffffff)
    throw new UsageError(`a ${what} id is an integer from 1 to 4294967295, not '${text}'`);
  return [id, args.slice(1)];
}

/** JSON with bigints as numbers where exact, else as strings. */
export function json(value: unknown): string {
  return JSON.stringify(value, (_, v) =>
    typeof v === "bigint" ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v,
  );
}

let bootSeconds: number | undefined;

/**
 * Wall-clock seconds of a time in nanoseconds since boot, as bpftool's `loaded_at`: now minus
 * the time since boot (/proc/uptime) plus the time.
 */
export function wallSeconds(nsSinceBoot: bigint): number {
  if (bootSeconds === undefined) {
    const up = Number(readFileSync("/proc/uptime", "latin1").split(" ")[0]);
    bootSeconds = Date.now() / 1000 - up;
  }
  return Math.floor(bootSeconds + Number(nsSinceBoot) / 1e9);
}

/** A program as `bpftool -j prog show` prints it, field for field and in its order. */
export function programJson(p: ListedProgram): Record<string, unknown> {
  const o: Record<string, unknown> = { id: p.id, type: p.type };
  if (p.name) o.name = p.fullName;
  o.tag = p.tag;
  o.gpl_compatible = p.gplCompatible;
  if (p.runTimeNs !== 0n) {
    o.run_time_ns = p.runTimeNs;
    o.run_cnt = p.runCount;
  }
  if (p.recursionMisses !== 0n) o.recursion_misses = p.recursionMisses;
  if (p.ifindex) o.dev = { ifindex: p.ifindex, ns_dev: p.netnsDev, ns_inode: p.netnsIno };
  if (p.loadTime !== 0n) {
    o.loaded_at = wallSeconds(p.loadTime);
    o.uid = p.createdByUid;
  }
  o.bytes_xlated = p.xlatedLength;
  o.jited = p.jitedLength !== 0;
  if (p.jitedLength !== 0) o.bytes_jited = p.jitedLength;
  if (p.memlock) o.bytes_memlock = p.memlock;
  if (p.mapIds.length > 0) o.map_ids = p.mapIds;
  if (p.btfId) o.btf_id = p.btfId;
  return o;
}

/** A program as `bpftool prog show` prints it in text. */
function programText(p: ListedProgram): string {
  const head = [`${p.id}: ${p.type}`];
  if (p.name) head.push(`name ${p.fullName}`);
  head.push(`tag ${p.tag}`);
  if (p.gplCompatible) head.push("gpl");
  if (p.runTimeNs !== 0n) head.push(`run_time_ns ${p.runTimeNs} run_cnt ${p.runCount}`);
  if (p.recursionMisses !== 0n) head.push(`recursion_misses ${p.recursionMisses}`);
  const lines = [head.join("  ")];
  if (p.loadTime !== 0n)
    lines.push(
      `\tloaded_at ${new Date(wallSeconds(p.loadTime) * 1000).toISOString()}  uid ${p.createdByUid}`,
    );
  const sizes = [`xlated ${p.xlatedLength}B`, p.jitedLength ? `jited ${p.jitedLength}B` : "not jited"];
  if (p.memlock) sizes.push(`memlock ${p.memlock}B`);
  if (p.mapIds.length > 0) sizes.push(`map_ids ${p.mapIds.join(",")}`);
  lines.push(`\t${sizes.join("  ")}`);
  if (p.btfId) lines.push(`\tbtf_id ${p.btfId}`);
  return `${lines.join("\n")}\n`;
}

/** The listing of program `id`, or a typed error saying there is none. */
function mustFind(id: number): ListedProgram {
  const p = programById(id);
  if (!p) throw new NoSuchObjectError("prog", id);
  return p;
}

/** Opens program `id`, or a typed error saying there is none. */
function openProgram(id: number): Program {
  try {
    return Program.fromId(id);
  } catch (e) {
    if ((e as { errnoName?: string }).errnoName === "ENOENT") throw new NoSuchObjectError("prog", id);
    throw e;
  }
}

/** A C type name of BTF type `id`, as bpftool writes it in a prototype (`void *`, `struct x *`). */
function cTypeName(btf: Btf, id: number, depth = 0): string {
  if (id === 0) return "void";
  if (depth > 32) return "?";
  const t = btf.type(id);
  switch (t.kind) {
    case "ptr":
      return `${cTypeName(btf, t.type, depth + 1)} *`;
    case "const":
    case "volatile":
    case "restrict":
      return `${t.kind} ${cTypeName(btf, t.type, depth + 1)}`;
    case "struct":
    case "union":
    case "enum":
      return `${t.kind} ${t.name}`;
    default:
      return "name" in t && t.name ? t.name : t.kind;
  }
}

/** `int main(void * ctx)`: a func's prototype from the program's BTF, as bpftool prints it. */
async function prototypes(btfId: number, xlated: readonly XlatedInstruction[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (btfId === 0 || !xlated.some((x) => x.function !== undefined)) return out;
  const { parseKernelBtf, readBtfById } = await import("../btf/kernel.js");
  const btf = parseKernelBtf(readBtfById(btfId));
  for (const x of xlated) {
    if (x.function === undefined) continue;
    const ids = btf.findIds(x.function, "func");
    const f = ids.length > 0 ? btf.type(ids[0]!) : undefined;
    const proto = f?.kind === "func" ? btf.type(f.type) : undefined;
    if (proto?.kind !== "func_proto") {
      out.set(x.slot, x.function);
      continue;
    }
    const params = proto.params.map((p) => `${cTypeName(btf, p.type)} ${p.name}`.trimEnd());
    out.set(x.slot, `${cTypeName(btf, proto.returnType)} ${x.function}(${params.join(", ")})`);
  }
  return out;
}

function opcode(x: XlatedInstruction): string {
  return `(${x.insn.code.toString(16).padStart(2, "0")})`;
}

async function dumpXlated(id: number, asJson: boolean, linum: boolean, io: CliIo): Promise<void> {
  using prog = openProgram(id);
  const { btfId, instructions } = prog.xlated();
  if (instructions.length === 0 && prog.info().xlatedLength > 0)
    throw new UsageError(
      `the kernel withholds program ${id}'s instructions from this process (kernel.kptr_restrict, or no CAP_SYSLOG)`,
    );
  const protos = await prototypes(btfId, instructions);
  if (asJson) {
    const out = instructions.map((x) => {
      const o: Record<string, unknown> = {};
      const proto = protos.get(x.slot);
      if (proto !== undefined) o.proto = proto;
      if (x.source) {
        o.src = x.source.text.trimStart();
        // as bpftool's linum: each part only when the record has it
        if (linum && x.source.file) o.file = x.source.file;
        if (linum && x.source.line) o.line_num = x.source.line;
        if (linum && x.source.column) o.line_col = x.source.column;
      }
      o.disasm = `${opcode(x)} ${x.text}`;
      if (x.map) o.map = x.map;
      return o;
    });
    io.stdout(`${json(out)}\n`);
    return;
  }
  io.stdout(xlatedText({ btfId, instructions }, { prototypes: protos, lineNumbers: linum }) || "\n");
}

/** The ELF machine of this process's architecture (the JIT writes its code), or undefined. */
function elfMachine(): number | undefined {
  return { x64: 62, arm64: 183, riscv64: 243, s390x: 22, ppc64: 21 }[process.arch as "x64"];
}

/**
 * `code` as the .text of a minimal ELF64 relocatable object (header, .text, .shstrtab, three
 * section headers), so llvm-objdump reads it as it reads any object.
 */
export function textObject(code: Uint8Array, machine: number): Buffer {
  const names = Buffer.from("\0.text\0.shstrtab\0", "latin1");
  const textAt = 64;
  const namesAt = textAt + code.byteLength;
  const shAt = (namesAt + names.length + 7) & ~7;
  const elf = Buffer.alloc(shAt + 3 * 64);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // ELF64, little-endian, version 1
  elf.writeUInt16LE(1, 16); // ET_REL
  elf.writeUInt16LE(machine, 18);
  elf.writeUInt32LE(1, 20);
  elf.writeBigUInt64LE(BigInt(shAt), 40); // e_shoff
  elf.writeUInt16LE(64, 52); // e_ehsize
  elf.writeUInt16LE(64, 58); // e_shentsize
  elf.writeUInt16LE(3, 60); // e_shnum
  elf.writeUInt16LE(2, 62); // e_shstrndx
  elf.set(code, textAt);
  names.copy(elf, namesAt);
  const section = (
    i: number,
    name: number,
    type: number,
    flags: number,
    at: number,
    size: number,
    align: number,
  ) => {
    const o = shAt + i * 64;
    elf.writeUInt32LE(name, o);
    elf.writeUInt32LE(type, o + 4);
    elf.writeBigUInt64LE(BigInt(flags), o + 8);
    elf.writeBigUInt64LE(BigInt(at), o + 24);
    elf.writeBigUInt64LE(BigInt(size), o + 32);
    elf.writeBigUInt64LE(BigInt(align), o + 48);
  };
  section(1, 1, 1 /* PROGBITS */, 0x6 /* ALLOC|EXECINSTR */, textAt, code.byteLength, 16);
  section(2, 7, 3 /* STRTAB */, 0, namesAt, names.length, 1);
  return elf;
}

/** What the disassembly needs of Node beyond fs: required only by `dump jited`, so `list` starts without them. */
interface JitedTools {
  execFileSync: typeof import("node:child_process").execFileSync;
  tmpdir: typeof import("node:os").tmpdir;
}

/** The disassembly of `code` by llvm-objdump-19 (`offset: bytes  instruction`), or undefined without it. */
function llvmDisassembly(
  code: Uint8Array,
  address: bigint,
  { execFileSync, tmpdir }: JitedTools,
): string[] | undefined {
  const machine = elfMachine();
  if (machine === undefined || code.byteLength === 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-jited-"));
  try {
    const file = join(dir, "jited.o");
    writeFileSync(file, textObject(code, machine));
    // at the function's kernel address, where the kernel shows it, so calls and jumps read as addresses
    const vma = address === 0n ? [] : [`--adjust-vma=0x${address.toString(16)}`];
    const out = execFileSync("llvm-objdump-19", ["-d", "--no-print-imm-hex", ...vma, file], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return out
      .split("\n")
      .filter((l) => /^\s*[0-9a-f]+:\s/.test(l))
      .map((l) =>
        l
          .trim()
          .replace(/ <\.text[^>]*>/, "")
          .replace(/\s+/g, " "),
      );
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function dumpJited(id: number, asJson: boolean, io: CliIo): void {
  // required here, not imported (the bundle runs in a vm.Script, where import() needs a callback)
  const require = createRequire(import.meta.url);
  const tools: JitedTools = {
    execFileSync: (require("node:child_process") as typeof import("node:child_process")).execFileSync,
    tmpdir: (require("node:os") as typeof import("node:os")).tmpdir,
  };
  using prog = openProgram(id);
  const { code, functions } = prog.jited();
  if (code.byteLength === 0)
    throw new UsageError(`program ${id} has no JIT-compiled code to show (not JIT-compiled, or withheld)`);
  const out = functions.map((f) => {
    const bytes = code.subarray(f.offset, f.offset + f.length);
    const disasm = llvmDisassembly(bytes, f.address, tools);
    return { ...f, bytes: Buffer.from(bytes).toString("hex"), ...(disasm ? { disassembly: disasm } : {}) };
  });
  if (asJson) {
    io.stdout(`${json({ functions: out })}\n`);
    return;
  }
  const lines: string[] = [];
  for (const f of out) {
    lines.push(`${f.name}:${f.address ? `  (0x${f.address.toString(16)})` : ""}  ${f.length} bytes`);
    for (let at = 0; at < f.bytes.length; at += 32)
      lines.push(
        `  ${(at / 2).toString(16).padStart(4, "0")}: ${f.bytes.slice(at, at + 32).replace(/(..)(?!$)/g, "$1 ")}`,
      );
    if (f.disassembly) for (const l of f.disassembly) lines.push(`\t${l}`);
    else lines.push("  (install llvm-19 for the disassembly: llvm-objdump-19 reads these bytes)");
  }
  io.stdout(`${lines.join("\n")}\n`);
}

/** Runs `rawbpf prog ...`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { booleans: ["json"], aliases: { j: "json" } });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  const [verb, ...rest] = args.positionals;
  const asJson = args.bools.has("json");
  switch (verb) {
    case "list":
    case "show": {
      if (verb === "list" || rest.length === 0) {
        if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
        const all = listPrograms();
        io.stdout(asJson ? `${json(all.map(programJson))}\n` : all.map(programText).join(""));
        return 0;
      }
      const [id, more] = takeId(rest, "program");
      if (more.length > 0) throw new UsageError(`unexpected argument '${more[0]}'`);
      const p = mustFind(id);
      io.stdout(asJson ? `${json(programJson(p))}\n` : programText(p));
      return 0;
    }
    case "dump": {
      const [what, ...after] = rest;
      if (what !== "xlated" && what !== "jited")
        throw new UsageError(
          what ? `dump what? 'xlated' or 'jited', not '${what}'` : "dump needs xlated or jited",
        );
      const [id, more] = takeId(after, "program");
      const linum = what === "xlated" && more[0] === "linum";
      if (more.length > (linum ? 1 : 0)) throw new UsageError(`unexpected argument '${more[linum ? 1 : 0]}'`);
      if (what === "xlated") await dumpXlated(id, asJson, linum, io);
      else dumpJited(id, asJson, io);
      return 0;
    }
    case "pin": {
      const [id, more] = takeId(rest, "program");
      if (more.length !== 1) throw new UsageError("pin takes a program id and a path: pin ID PATH");
      using prog = openProgram(id);
      prog.pin(more[0]!);
      return 0;
    }
    default:
      throw new UsageError(
        verb ? `unknown verb '${verb}' (list, show, dump, pin)` : "missing verb: list, show, dump or pin",
      );
  }
}
