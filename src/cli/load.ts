/** `rawbpf load FILE --type TYPE`: load a program and print what the verifier said. */

import { readFileSync } from "node:fs";
import type { AsmProgram } from "../isa/asm/program.js";
import { decode } from "../isa/decode.js";
import { DecodeError } from "../isa/errors.js";
import { MAP_TYPE_NAMES } from "../map/types.js";
import { CorePoisonRejectedError } from "../object/errors.js";
import { BpfObject, type ObjectPhaseTiming } from "../object/object.js";
import { createAsmMaps } from "../program/assembled.js";
import { loadCompiled } from "../program/compiled.js";
import { Program, type ProgramSpec } from "../program/program.js";
import { ProgramRejectedError } from "../program/rejected.js";
import { programTypes } from "../program/types.js";
import { BpfError, InputError } from "../sys/error.js";
import { useColor } from "../verifier/view-terminal.js";
import { intFlag, type ParsedArgs, parseArgs } from "./args.js";
import {
  type CliIo,
  elfRefusal,
  InputTooLargeError,
  isElf,
  PROGRAM_LIMIT,
  readInput,
  TEXT_LIMIT,
  UsageError,
} from "./io.js";
import { checkPinPath } from "./pin.js";
import { vmlinuxFromFile } from "./vmlinux.js";

const HELP = `usage: rawbpf load FILE [--type TYPE | --program NAME] [options]

Loads a program into the kernel and prints its id, tag, instruction count and the verifier's
statistics; on rejection prints the verifier's log, the instruction it stopped at and an
explanation (the rule, why, what to change), and exits with 1.

FILE is raw instruction bytes (8 a slot, e.g. a .bin), '-' for standard input, or assembly text
(.s, .asm): maps it declares are created, read-only data filled and frozen. Instruction bytes
are read up to 8,000,000 (the kernel's 1,000,000 instructions) and decoded as 'rawbpf disasm'
decodes them before the kernel is asked; text up to 64 MiB.

FILE may also be an object compiled by clang -target bpf (.o: its maps are created, CO-RE
relocated for this kernel, and its programs loaded as BpfObject loads them, types from their
sections), or a TypeScript file of programs (.ts: compiled by rawbpf, its maps created; see
docs/language.md). Every program is loaded unless --program names one; with several, --json
prints { "programs": [ ... ] }, one object each as for a single program.

options:
  --type TYPE        program type as bpftool names it (socket_filter, xdp, sched_cls, ...);
                     optional for assembly that declares .type
  --log-level N      verifier log level: 0 (statistics only, default), 1, 2
  --log-size BYTES   initial verifier log size (grown when the kernel needs more)
  --name NAME        program name (at most 15 characters)
  --license TEXT     license (default GPL)
  --program NAME     the program of an object or TypeScript file (its function or export name)
  --pin PATH         pin the loaded program at PATH, a new name in a bpffs directory (/sys/fs/bpf)
  --json             print one JSON object
  --timings          print on standard error where the time went (start-up, open, CO-RE, loads);
                     RAWBPF_TIMINGS=1 does the same
  -h, --help         this help
`;

/** Flags shared by `load` and `run`. */
export const PROGRAM_FLAGS = ["type", "log-level", "log-size", "name", "license", "program"] as const;

/** A program read from a FILE argument: bytes, or assembled source (or, when asked for, an ELF object). */
export interface ProgramSource {
  instructions: Uint8Array | AsmProgram;
  asm: AsmProgram | undefined;
  /** the bytes of an ELF object (only when `readProgram` was given `objects`) */
  object?: Buffer;
}

function isText(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, 512);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0 || (b < 9 && b !== 0) || (b > 13 && b < 32)) return false;
  }
  return n > 0;
}

/**
 * Reads FILE ('-' for stdin): assembly when it is named .s/.asm or looks like text, else raw bytes,
 * which are decoded (as `rawbpf disasm` decodes them) before anything reaches the kernel. ELF
 * objects are refused as soon as their first bytes are read. `command` names the command in messages.
 */
export async function readProgram(
  file: string,
  io: CliIo,
  command = "load",
  objects = false,
): Promise<ProgramSource> {
  const name = file === "-" ? "<stdin>" : file;
  const named = /\.(s|asm)$/i.test(file);
  const bytes = await readInput(file, io, (head) => {
    if (isElf(head)) {
      if (objects) return TEXT_LIMIT;
      throw elfRefusal(name, command);
    }
    return named || (!/\.(bin|o|raw)$/i.test(file) && isText(Buffer.from(head))) ? TEXT_LIMIT : PROGRAM_LIMIT;
  });
  if (bytes.length === 0) throw new InputError(`${name} is empty: there is no program to ${command}`);
  if (objects && isElf(bytes)) return { instructions: new Uint8Array(0), asm: undefined, object: bytes };
  const looksAsm = named || (!/\.(bin|o|raw)$/i.test(file) && isText(bytes));
  if (looksAsm) {
    // the assembler (and below, the TypeScript compiler) is loaded only for input that needs it:
    // an object or instruction bytes start faster without them
    const { assemble } = await import("../isa/asm/index.js");
    const asm = assemble(bytes.toString("utf8"), {
      file: name,
      programTypes,
      mapTypes: MAP_TYPE_NAMES,
      btf: vmlinuxFromFile,
    });
    return { instructions: asm, asm };
  }
  if (bytes.length > PROGRAM_LIMIT.bytes) throw new InputTooLargeError(name, PROGRAM_LIMIT);
  try {
    decode(bytes);
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    throw new InputError(`${name} is not a valid program: ${e.message} (rawbpf disasm ${name} shows it)`, {
      cause: e,
    });
  }
  return { instructions: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), asm: undefined };
}

/** The load spec from the common flags. */
export function loadSpec(args: ParsedArgs, source: ProgramSource): ProgramSpec {
  const type = args.flags.get("type") ?? source.asm?.programType;
  if (!type) throw new UsageError("--type is required (e.g. --type socket_filter)");
  const name = args.flags.get("name");
  const license = args.flags.get("license") ?? source.asm?.license;
  return {
    type,
    instructions: source.instructions,
    logLevel: intFlag(args, "log-level", 0, 0, 7),
    ...(args.flags.has("log-size") ? { logSize: intFlag(args, "log-size", 0, 1, 0x3fffffff) } : {}),
    ...(name === undefined ? {} : { name }),
    ...(license === undefined ? {} : { license }),
  };
}

/** A loaded program and what must be closed with it. */
export interface Loaded extends Disposable {
  program: Program;
  /** every program loaded from FILE (an object or a TypeScript file may hold several), `program` first */
  all?: readonly Program[];
  /** an object's phases (open, relocation, loads ...), for --timings */
  timings?: readonly ObjectPhaseTiming[];
}

/** Creates the source's maps (if any) and loads the program. */
export function loadFromSource(spec: ProgramSpec, source: ProgramSource): Loaded {
  const maps = source.asm ? createAsmMaps(source.asm) : {};
  const closeMaps = () => {
    for (const m of Object.values(maps)) m.close();
  };
  try {
    const program = Program.load({ ...spec, maps });
    return {
      program,
      [Symbol.dispose]: () => {
        program.close();
        closeMaps();
      },
    };
  } catch (e) {
    closeMaps();
    throw e;
  }
}

/**
 * Prints a rejection, or one JSON object. A verifier refusal prints the listing with the failing
 * instruction marked and the explanation (rule, why, fix); other refusals the log and the error.
 * Returns the exit status.
 */
export function reportRejection(e: BpfError | ProgramRejectedError, json: boolean, io: CliIo): number {
  const verifier = e instanceof ProgramRejectedError ? e : undefined;
  const log = verifier ? verifier.log.text : ((e as BpfError).log ?? "");
  // a CO-RE poisoned instruction: the relocation is the explanation, not the verifier's "unknown func"
  const core = e instanceof CorePoisonRejectedError ? e.core : undefined;
  const ex = core === undefined ? verifier?.explanation : undefined;
  if (json) {
    io.stdout(
      `${JSON.stringify({
        error: {
          message: e.message,
          kind: e.name,
          errno: e.errnoName,
          ...(e.capability ? { capability: e.capability } : {}),
          insn: verifier?.insn ?? null,
          verifier: ex?.message ?? verifier?.log.error?.message ?? null,
          explanation: core ?? (ex ? ex.summary : e.hint),
          ...(verifier && core === undefined ? { details: verifier.toJSON().explanation } : {}),
        },
        log,
      })}\n`,
    );
    return 1;
  }
  if (log) io.stderr(`${log.endsWith("\n") ? log : `${log}\n`}\n`);
  if (verifier && core === undefined)
    io.stderr(`${verifier.render("terminal", { color: useColor(io.isTTY) })}\n`);
  io.stderr(`rawbpf: ${e.message}\n`);
  return 1;
}

/**
 * Reads FILE (the one positional), loads it as the flags say, and returns the loaded program — or,
 * when the kernel refused it, reports the refusal and returns the exit status.
 */
export async function loadOrReport(
  args: ParsedArgs,
  json: boolean,
  io: CliIo,
  command = "load",
): Promise<Loaded | number> {
  const file = args.positionals[0]!;
  const typescript = /\.[cm]?ts$/i.test(file) && file !== "-";
  const source = typescript ? undefined : await readProgram(file, io, command, true);
  const several = source?.object !== undefined || typescript;
  if (!several && args.flags.has("program"))
    throw new UsageError("--program picks a program of an object (.o) or a TypeScript file (.ts)");
  if (several)
    for (const flag of ["name", "license", "log-size"])
      if (args.flags.has(flag))
        throw new UsageError(`--${flag} is for instructions and assembly; ${file} names its programs itself`);
  try {
    if (source?.object) return loadObject(args, file, source.object, command);
    if (typescript) return loadTypeScript(args, file, command, (await import("../lang/compile.js")).compile);
    const s = source as ProgramSource;
    return loadFromSource(loadSpec(args, s), s);
  } catch (e) {
    if (isLoadRefusal(e)) return reportRejection(e, json, io);
    throw e;
  }
}

/** `run` takes one program: with several in FILE, --program must say which. */
function pickOne(
  names: readonly string[],
  args: ParsedArgs,
  file: string,
  command: string,
): string | undefined {
  const wanted = args.flags.get("program");
  if (wanted !== undefined) {
    if (!names.includes(wanted))
      throw new UsageError(`${file} has no program '${wanted}' (programs: ${names.join(", ") || "none"})`);
    return wanted;
  }
  if (names.length === 0) throw new InputError(`${file} has no program to ${command}`);
  if (command === "run" && names.length > 1)
    throw new UsageError(
      `${file} has ${names.length} programs: name one with --program (${names.join(", ")})`,
    );
  return names.length === 1 ? names[0] : undefined;
}

function checkType(args: ParsedArgs, types: readonly string[], file: string): void {
  const t = args.flags.get("type");
  if (t !== undefined && types.some((x) => x !== t))
    throw new UsageError(
      `--type ${t}: ${file} gives its programs' types itself (${[...new Set(types)].join(", ")})`,
    );
}

/** An object compiled by clang: BpfObject opens, relocates and loads it (in the kernel, or with `backend` "memory" in the interpreter). */
export function loadObject(
  args: ParsedArgs,
  file: string,
  bytes: Buffer,
  command: string,
  backend?: "kernel" | "memory",
): Loaded {
  const obj = BpfObject.open(bytes, { file });
  try {
    const candidates = obj.spec.programs.filter((p) => args.flags.has("program") || p.def.autoload);
    const one = pickOne(
      candidates.map((p) => p.name),
      args,
      file,
      command,
    );
    const names = one === undefined ? candidates.map((p) => p.name) : [one];
    checkType(
      args,
      obj.spec.programs.filter((p) => names.includes(p.name)).map((p) => p.def.programType),
      file,
    );
    obj.load({
      programs: names,
      logLevel: intFlag(args, "log-level", 0, 0, 7),
      ...(backend === undefined ? {} : { backend }),
    });
    const all = names.map((n) => obj.program(n));
    return { program: all[0]!, all, timings: obj.timings, [Symbol.dispose]: () => obj.close() };
  } catch (e) {
    obj.close();
    throw e;
  }
}

/**
 * A TypeScript file of programs: compiled here (`compile` is the compiler, imported by the caller
 * only for .ts input), its maps created, its programs loaded (in the kernel, or with `backend`
 * "memory" in the interpreter).
 */
export function loadTypeScript(
  args: ParsedArgs,
  file: string,
  command: string,
  compile: typeof import("../lang/compile.js").compile,
  backend?: "kernel" | "memory",
): Loaded {
  const source = readFileSync(file, "utf8");
  const wanted = args.flags.get("program");
  const module = compile(source, { file, ...(wanted === undefined ? {} : { program: wanted }) });
  const one = pickOne(
    module.programs.map((p) => p.name),
    args,
    file,
    command,
  );
  const programs = module.programs.filter((p) => one === undefined || p.name === one);
  checkType(
    args,
    programs.map((p) => p.type),
    file,
  );
  const loaded = loadCompiled(module, {
    programs: programs.map((p) => p.name),
    logLevel: intFlag(args, "log-level", 0, 0, 7),
    ...(backend === undefined ? {} : { backend }),
  });
  const all = Object.values(loaded.programs);
  return { program: all[0]!, all, [Symbol.dispose]: () => loaded.close() };
}

/** Whether `e` is the kernel's refusal of a load (the verifier's or an earlier one). */
export function isLoadRefusal(e: unknown): e is BpfError | ProgramRejectedError {
  return e instanceof ProgramRejectedError || (e instanceof BpfError && e.command === "BPF_PROG_LOAD");
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { values: [...PROGRAM_FLAGS, "pin"], booleans: ["json", "timings"] });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  if (args.positionals.length !== 1) throw new UsageError("expected one FILE (or '-' for standard input)");
  const json = args.bools.has("json");
  const pin = args.flags.get("pin");
  if (pin !== undefined) checkPinPath(pin);
  const started = performance.now();
  const loaded = await loadOrReport(args, json, io);
  if (typeof loaded === "number") return loaded;
  using l = loaded;
  if (args.bools.has("timings") || process.env.RAWBPF_TIMINGS === "1") printTimings(started, l.timings, io);
  const all = l.all ?? [l.program];
  if (pin !== undefined && all.length > 1)
    throw new UsageError(
      `--pin takes one program: name it with --program (${all.map((p) => p.info().name).join(", ")})`,
    );
  if (json) {
    const reports = all.map((p) => jsonReport(p, pin));
    io.stdout(`${JSON.stringify(reports.length === 1 ? reports[0] : { programs: reports })}\n`);
    return 0;
  }
  for (const p of all) textReport(p, args, pin, io);
  return 0;
}

/**
 * `--timings` (or RAWBPF_TIMINGS=1): where the time of this process went, on standard error (so
 * --json output stays one object): Node's start-up and the CLI bundle until the command ran, then
 * the object's phases, and what is left (reading FILE, the command's own work).
 */
function printTimings(started: number, phases: readonly ObjectPhaseTiming[] | undefined, io: CliIo): void {
  const now = performance.now();
  const line = (what: string, ms: number, detail?: string) =>
    `  ${what.padEnd(32)} ${ms.toFixed(1).padStart(7)} ms${detail ? `  (${detail})` : ""}\n`;
  let out = "timings:\n";
  out += line("node start-up, rawbpf's modules", started, "process start to the command");
  let inPhases = 0;
  for (const p of phases ?? []) {
    out += line(p.phase, p.ms, p.detail);
    inPhases += p.ms;
  }
  out += line(phases ? "reading FILE, the rest" : "reading FILE, loading", now - started - inPhases);
  out += line("total", now, "until the report");
  io.stderr(out);
}

function jsonReport(p: Program, pin: string | undefined): object {
  if (pin !== undefined) p.pin(pin);
  const info = p.info();
  const s = p.stats;
  return {
    id: info.id,
    name: info.name,
    type: info.type,
    tag: info.tag,
    insns: p.insnCount,
    xlated_bytes: info.xlatedLength,
    jited_bytes: info.jitedLength,
    map_ids: info.mapIds,
    ...(pin === undefined ? {} : { pinned: pin }),
    stats: s
      ? {
          processed_insns: s.processedInsns,
          total_states: s.totalStates,
          peak_states: s.peakStates,
          max_states_per_insn: s.maxStatesPerInsn,
          verification_time_us: s.verificationTimeUs,
          stack_depth: s.stackDepth,
        }
      : null,
    log: p.log,
  };
}

function textReport(p: Program, args: ParsedArgs, pin: string | undefined, io: CliIo): void {
  if (pin !== undefined) p.pin(pin);
  const info = p.info();
  const s = p.stats;
  if (intFlag(args, "log-level", 0, 0, 7) > 0) io.stdout(p.log.endsWith("\n") ? p.log : `${p.log}\n`);
  io.stdout(
    `loaded ${info.type} program${info.name ? ` '${info.name}'` : ""}: id ${info.id}, tag ${info.tag}\n`,
  );
  io.stdout(
    `  ${p.insnCount} instructions, ${info.xlatedLength} bytes translated, ${info.jitedLength} bytes JIT-compiled\n`,
  );
  if (info.mapIds.length > 0) io.stdout(`  maps: ${info.mapIds.join(", ")}\n`);
  if (s) {
    io.stdout(
      `  verifier: ${s.processedInsns} instructions processed, ${s.totalStates} states (peak ${s.peakStates}, ` +
        `at most ${s.maxStatesPerInsn} per instruction), ${s.verificationTimeUs} µs, stack ${s.stackDepth.join("+")} bytes\n`,
    );
  }
  if (pin !== undefined) io.stdout(`  pinned at ${pin}\n`);
  else io.stdout("  (unloaded on exit: use --pin PATH to keep it)\n");
}
