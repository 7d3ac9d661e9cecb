/**
 * One command run as the command line runs it: its module loaded, its exit status, and a failure
 * reported as every command reports one (a usage error with a pointer to `--help`, assembly
 * diagnostics with their source lines, or with `--json` one JSON object on standard output). Shared
 * by the whole command line (main.ts) and by `rawbpf compile`'s bundle of its own (compile-main.ts).
 */
import { AsmErrors } from "../isa/asm/errors.js";
import { diagnostics, diagnosticsJson } from "./diagnostics.js";
import { type CliIo, UsageError } from "./io.js";

/** A command's entry point: its arguments (after its name) to an exit status. */
export type Command = (argv: string[], io: CliIo) => Promise<number>;

/** Commands whose `--format json` asks for JSON output (and so for JSON failures). */
const FORMAT_COMMANDS = new Set(["asm", "disasm", "btf"]);

/**
 * Whether the command line asks for JSON, before any `--`: `--json` (or `-j`), or for `asm`,
 * `disasm` and `btf`, `--format json` (`--format=json`, `-f json`).
 */
function wantsJson(name: string, argv: readonly string[]): boolean {
  const format = FORMAT_COMMANDS.has(name);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return false;
    if (a === "--json" || a === "-j") return true;
    if (!format) continue;
    if (a === "--format=json" || a === "-fjson" || a === "-f=json") return true;
    if ((a === "--format" || a === "-f") && argv[i + 1] === "json") return true;
  }
  return false;
}

/**
 * Runs the command `name` with `rest`, its module loaded by `load`, and returns the exit status.
 * `usage`, given for a name that is no command, is printed after the usage error `load` rejects with.
 */
export async function runCommand(
  name: string,
  rest: string[],
  io: CliIo,
  load: () => Promise<{ run: Command }>,
  usage?: () => string,
): Promise<number> {
  const json = wantsJson(name, rest);
  try {
    const mod = await load();
    return await mod.run(rest, io);
  } catch (e) {
    const usageError = e instanceof UsageError;
    const status = usageError ? 2 : 1;
    const err = e instanceof Error ? e : new Error(String(e));
    if (json) {
      io.stdout(`${JSON.stringify(failureJson(err, usageError))}\n`);
      return status;
    }
    if (usageError && usage !== undefined) io.stderr(`rawbpf: ${err.message}\n${usage()}`);
    else if (usageError) io.stderr(`rawbpf ${name}: ${err.message} (rawbpf ${name} --help)\n`);
    else if (err instanceof AsmErrors) io.stderr(`rawbpf ${name}: ${diagnostics(err)}`);
    else io.stderr(`rawbpf ${name}: ${err.message}\n`);
    return status;
  }
}

/**
 * A failure as `--json` prints it: the shape of `rawbpf load`'s rejection
 * (`{ error: { message, errno, insn, verifier, explanation }, log }`) with the error's kind.
 */
function failureJson(e: Error, usage: boolean): unknown {
  const x = e as Error & {
    errnoName?: string;
    hint?: string;
    log?: string;
    code?: string;
    capability?: string;
  };
  const asm = e instanceof AsmErrors ? diagnosticsJson(e) : undefined;
  return {
    error: {
      message: asm ? asm.message : e.message,
      kind: usage ? "usage" : e.name,
      ...(typeof x.code === "string" ? { code: x.code } : {}),
      errno: x.errnoName ?? null,
      ...(x.capability ? { capability: x.capability } : {}),
      insn: null,
      verifier: null,
      explanation: x.hint ?? null,
      ...(asm ? { diagnostics: asm.diagnostics, more: asm.more } : {}),
    },
    log: typeof x.log === "string" ? x.log : "",
  };
}
