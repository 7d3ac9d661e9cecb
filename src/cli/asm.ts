/** `rawbpf asm`: assemble kernel-syntax or uBPF text into instruction bytes. */
import { isAscii, isUtf8 } from "node:buffer";
import { writeFileSync } from "node:fs";
import { encodeAssembled } from "../isa/asm/assemble.js";
import { AsmErrors, type AsmProgram, assemble } from "../isa/asm/index.js";
import { MAP_TYPE_NAMES } from "../map/types.js";
import { programTypes } from "../program/types.js";
import { InputError } from "../sys/error.js";
import { parseArgs } from "./args.js";
import { diagnostics, MAX_DIAGNOSTICS } from "./diagnostics.js";
import { type CliIo, docPath, isElf, readInput, TEXT_LIMIT, UsageError } from "./io.js";
import { vmlinuxFromFile } from "./vmlinux.js";

const HELP = `usage: rawbpf asm [FILE|-] [-o OUT] [--format bin|hex|c|json] [--dialect auto|kernel|ubpf]

Assembles eBPF assembly text (the syntax of the verifier log, bpftool and llvm-objdump, or the
uBPF syntax of the conformance suite) into instructions. Directives (.type, .license, .map,
.rodata, .func, .callback) are described in ${docPath("assembly.md")}.

  FILE            source file; '-' or nothing reads standard input
  -o, --output    write to this file instead of standard output
  --format        bin: raw little-endian instruction bytes (like llvm-objcopy -O binary of .text)
                  hex: one 8-byte slot a line;  c: a C array of struct bpf_insn
                  json: instructions, functions, maps, read-only data and line info
                  (default: bin with -o or when standard output is not a terminal, else hex)
  --dialect       auto (default: uBPF when %rN registers appear), kernel or ubpf

The source is read up to 64 MiB; it must be UTF-8 text (an ELF object or instruction bytes is
refused: 'rawbpf disasm' reads those). .type and .map type= names are checked as 'rawbpf load'
checks them. At most ${MAX_DIAGNOSTICS} errors are printed, then how many more there are.
`;

function hexLines(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8)
    out += `${Buffer.from(bytes.subarray(i, i + 8))
      .toString("hex")
      .replace(/(..)(?!$)/g, "$1 ")}\n`;
  return out;
}

function cArray(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rows: string[] = [];
  for (let i = 0; i < bytes.length; i += 8) {
    const regs = bytes[i + 1] as number;
    rows.push(
      `\t{ .code = 0x${(bytes[i] as number).toString(16).padStart(2, "0")}, .dst_reg = ${regs & 0xf}, .src_reg = ${regs >> 4}, .off = ${view.getInt16(i + 2, true)}, .imm = ${view.getInt32(i + 4, true)} },`,
    );
  }
  return `#include <linux/bpf.h>\n\nstatic const struct bpf_insn prog[] = {\n${rows.join("\n")}\n};\n`;
}

function jsonOf(p: AsmProgram, bytes: Uint8Array): string {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  return `${JSON.stringify(
    {
      programType: p.programType,
      license: p.license,
      bytes: hex(bytes),
      insns: p.insns,
      functions: p.functions,
      maps: p.maps.map((m) => ({ ...m, initialValue: m.initialValue ? hex(m.initialValue) : undefined })),
      rodata: p.rodata ? { ...p.rodata, bytes: hex(p.rodata.bytes) } : undefined,
      lineInfo: p.lineInfo,
    },
    null,
    2,
  )}\n`;
}

/** Runs `rawbpf asm`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { values: ["output", "format", "dialect"], aliases: { o: "output" } });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  if (args.positionals.length > 1) throw new UsageError("give at most one source file");
  const dialect = args.flags.get("dialect") ?? "auto";
  if (dialect !== "auto" && dialect !== "kernel" && dialect !== "ubpf")
    throw new UsageError(`--dialect must be auto, kernel or ubpf, got '${dialect}'`);
  const output = args.flags.get("output");
  const format = args.flags.get("format") ?? (output !== undefined || !io.isTTY ? "bin" : "hex");
  if (!["bin", "hex", "c", "json"].includes(format))
    throw new UsageError(`--format must be bin, hex, c or json, got '${format}'`);
  const file = args.positionals[0] ?? "-";
  const name = file === "-" ? "<stdin>" : file;
  const notText = (b: Uint8Array, whole: boolean) => {
    if (isElf(b)) return new InputError(`${name} is an ELF object, not assembly text`);
    // a head may end inside a UTF-8 character
    if (b.includes(0) || !isUtf8(whole ? b : b.subarray(0, Math.max(0, b.length - 3))))
      return new InputError(
        `${name} is not text (it is not UTF-8, or holds NUL bytes): rawbpf asm reads assembly text; ` +
          "for instruction bytes use rawbpf disasm",
      );
    return undefined;
  };
  const raw = await readInput(file, io, (head) => {
    const refused = notText(head, false);
    if (refused) throw refused;
    return TEXT_LIMIT;
  });
  const refused = notText(raw, true);
  if (refused) throw refused;
  // ASCII (the usual case) becomes a string fastest as latin1, which reads it the same as UTF-8
  const source = isAscii(raw) ? raw.toString("latin1") : raw.toString("utf8");
  let program: AsmProgram;
  try {
    program = assemble(source, {
      file: name,
      dialect,
      programTypes,
      mapTypes: MAP_TYPE_NAMES,
      btf: vmlinuxFromFile,
    });
  } catch (e) {
    // with --format json, main prints them as one JSON object (diagnostics capped the same way)
    if (!(e instanceof AsmErrors) || format === "json") throw e;
    io.stderr(diagnostics(e));
    return 1;
  }
  // assemble() has checked every instruction against the encoding rules already
  const bytes = encodeAssembled(program);
  if (format === "bin") {
    if (output !== undefined) writeFileSync(output, bytes);
    else if (io.isTTY)
      throw new UsageError("refusing to write binary to a terminal: use -o FILE or --format hex");
    else io.stdoutBytes(bytes);
    return 0;
  }
  const text = format === "hex" ? hexLines(bytes) : format === "c" ? cArray(bytes) : jsonOf(program, bytes);
  if (output !== undefined) writeFileSync(output, text);
  else io.stdout(text);
  return 0;
}
