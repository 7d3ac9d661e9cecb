/** `rawbpf compile`: a TypeScript program file to instruction bytes, kernel assembly or JSON. */
import { readFileSync, writeFileSync } from "node:fs";
import { encode } from "../isa/encode.js";
import { type CompiledModule, compile } from "../lang/compile.js";
import { CompileError } from "../lang/errors.js";
import { listing } from "../lang/listing.js";
import { parseArgs } from "./args.js";
import { type CliIo, docPath, UsageError } from "./io.js";

const HELP = `usage: rawbpf compile FILE.ts [--program NAME] [-o OUT] [--format bin|s|json]

Compiles the eBPF programs of a TypeScript file (the subset in ${docPath("language.md")}: each
\`export const NAME = program("xdp", (ctx) => { ... })\`) to bytecode, in process, with no LLVM.

  --program NAME  the program to compile (needed for bin and s when the file has several)
  -o OUT          write to OUT instead of standard output
  --format        bin: raw instructions (map references are left 0, to be patched at load)
                  s (default): the kernel's assembly, each TypeScript line as a comment above
                  its instructions
                  json: programs (instructions as hex, functions, line info, maps used) and
                  the maps to create
`;

function assembly(m: CompiledModule, name: string | undefined): string {
  return m.programs
    .filter((p) => name === undefined || p.name === name)
    .map((p) => listing(p))
    .join("\n");
}

function json(m: CompiledModule): string {
  return `${JSON.stringify(
    {
      file: m.file,
      // a read-only map's value as hex
      maps: m.maps.map((x) =>
        x.contents === undefined ? x : { ...x, contents: Buffer.from(x.contents).toString("hex") },
      ),
      programs: m.programs.map((p) => ({
        name: p.name,
        type: p.type,
        insns: Buffer.from(encode(p.insns)).toString("hex"),
        functions: p.functions.map((f) => ({ name: f.name, slot: f.startSlot, callback: f.callback })),
        mapRefs: p.mapRefs.map((r) => ({ slot: r.slot, map: r.name })),
        lineInfo: p.lineInfo,
        stackSize: p.stackSize,
      })),
    },
    null,
    2,
  )}\n`;
}

/** Runs `rawbpf compile`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { values: ["program", "o", "format"], booleans: [] });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  if (args.positionals.length !== 1) throw new UsageError("give one TypeScript file");
  const format = args.flags.get("format") ?? "s";
  if (format !== "bin" && format !== "s" && format !== "json")
    throw new UsageError(`--format must be bin, s or json, got '${format}'`);
  const file = args.positionals[0]!;
  const name = args.flags.get("program");
  let m: CompiledModule;
  try {
    m = compile(readFileSync(file, "utf8"), { file, ...(name === undefined ? {} : { program: name }) });
  } catch (e) {
    if (!(e instanceof CompileError)) throw e;
    io.stderr(`${e.message}\n`);
    return 1;
  }
  if (m.programs.length === 0) {
    io.stderr(
      `rawbpf compile: ${file} exports no program (write: export const NAME = program("xdp", (ctx) => ...))\n`,
    );
    return 1;
  }
  let output: Uint8Array | string;
  if (format === "json") output = json(m);
  else if (format === "s") output = assembly(m, name);
  else {
    if (m.programs.length > 1)
      throw new UsageError(`${file} has ${m.programs.length} programs: choose one with --program`);
    output = encode(m.programs[0]!.insns);
  }
  const out = args.flags.get("o");
  if (out !== undefined) writeFileSync(out, output);
  else if (typeof output === "string") io.stdout(output);
  else io.stdoutBytes(output);
  return 0;
}
