/** `rawbpf explain`: a verifier log (from the kernel, libbpf, bpftool or cilium/ebpf) explained. */
import { writeFileSync } from "node:fs";
import { InputError } from "../sys/error.js";
import { errorJson, type VerifierErrorJson, verifierErrorFromLog } from "../verifier/error.js";
import type { ProgramText } from "../verifier/listing.js";
import type { VerifierLog } from "../verifier/parse.js";
import { LineKind } from "../verifier/records.js";
import { useColor } from "../verifier/view-terminal.js";
import { parseArgs } from "./args.js";
import { type CliIo, isElf, readInput, TEXT_LIMIT, UsageError } from "./io.js";

const HELP = `usage: rawbpf explain [LOG|-] [--html OUT] [--json]

Explains a verifier log: the instruction the verifier stopped at, the register states there,
the rule that was broken, why the kernel enforces it and how to fix it. The log may be the
kernel's own (any log level), or pasted from libbpf ("-- BEGIN PROG LOAD LOG --"), bpftool or
cilium/ebpf ("load program: permission denied: ...").

  LOG          the log file; '-' or nothing reads standard input
  --html OUT   also write a self-contained HTML page (every instruction beside its states)
  --json       print { error: { message, insn, explanation }, stats } instead of text

The log is read up to 64 MiB. Input with no line a verifier writes (instructions, states, the
"processed N insns" statistics, a wrapper's error, a message the catalog knows) is refused:
"no verifier log found", exit 2.
rawbpf's own lines ("loaded xdp program: id ...", "rawbpf load: ...") are skipped, so
'rawbpf load FILE --log-level 2 2>&1 | rawbpf explain' works. A log with no error says so.
`;

/** Lines rawbpf itself prints around a log (\`rawbpf load\`'s summary, its error lines). */
const OWN_LINE =
  /^(?:loaded [a-z_0-9]+ program\b.*|rawbpf(?: [a-z]+)?: .*| {2}(?:\d+ instructions, \d+ bytes translated|maps: |verifier: \d+ instructions processed|pinned at |\(unloaded on exit).*)$/gm;

/** The input without rawbpf's own lines (they are not the verifier's, and must not be taken for its error). */
export function withoutOwnLines(text: string): string {
  if (!text.includes("rawbpf") && !text.includes("loaded ")) return text;
  // `rawbpf load`'s explanation of a rejection (2>&1): from "error: ... (instruction N)" to "fix: ..."
  return text.replace(RENDERED, "").replace(OWN_LINE, "");
}

/** The terminal rendering of a rejection, as `rawbpf load` prints it after the log. */
const RENDERED = /^error: .*\(instruction \d+\)\n[\s\S]*?^fix: .*$/gm;

/** Whether the parsed text has anything a verifier (or a loader quoting one) writes. */
export function looksLikeVerifierLog(log: VerifierLog): boolean {
  if (log.error && log.error.line < 0) return true; // a wrapper's one-line error (cilium/ebpf)
  for (let i = 0; i < log.lineCount; i++) {
    const k = log.kind(i);
    if (k !== LineKind.unknown && k !== LineKind.blank && k !== LineKind.error && k !== LineKind.source)
      return true;
  }
  return false;
}

/** What `rawbpf load` (and others) print for a rejected load: text for people, JSON for machines. */
export interface LoadFailureReport {
  /** the terminal rendering: listing with the failing instruction marked, and the explanation */
  text: string;
  /** the one-line message */
  message: string;
  /** the `error` object of `--json` output: `{ message, insn, explanation }` */
  json: VerifierErrorJson;
}

/**
 * Explain a rejected load for the CLI. `color` is whether the output is a terminal (colours are
 * never used under NO_COLOR).
 */
export function explainLoadFailure(
  log: string,
  opts: { errno?: number; insns?: ProgramText; color?: boolean } = {},
): LoadFailureReport {
  const err = verifierErrorFromLog(log, {
    ...(opts.errno !== undefined ? { errno: opts.errno } : {}),
    ...(opts.insns ? { insns: opts.insns } : {}),
  });
  return {
    text: err.render("terminal", { color: useColor(opts.color ?? false) }),
    message: err.message,
    json: errorJson(err.explanation, err.message),
  };
}

/** Runs `rawbpf explain`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { values: ["html"], booleans: ["json"] });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  if (args.positionals.length > 1) throw new UsageError("give at most one log file");
  const file = args.positionals[0] ?? "-";
  const name = file === "-" ? "standard input" : file;
  const bytes = await readInput(file, io, TEXT_LIMIT);
  if (isElf(bytes)) throw new InputError(`${name} is an ELF object, not a verifier log`);
  const err = verifierErrorFromLog(withoutOwnLines(bytes.toString("utf8")));
  if (!looksLikeVerifierLog(err.log) && !err.explanation?.id)
    throw new UsageError(
      `no verifier log found in ${name}: no line looks like the kernel's (instructions "0: (b7) r0 = 0", ` +
        `states, "processed N insns") or a loader's quoting it (libbpf, bpftool, cilium/ebpf)`,
    );
  const html = args.flags.get("html");
  if (html !== undefined) {
    if (html === "") throw new UsageError("--html needs an output file");
    try {
      writeFileSync(html, err.render("html", { title: file === "-" ? "verifier log" : file }));
    } catch (e) {
      throw new InputError(`cannot write ${html}: ${(e as Error).message}`, { cause: e });
    }
  }
  if (args.bools.has("json")) {
    const out = {
      error: err.explanation ? err.toJSON() : null,
      stats: err.log.stats ?? null,
      verificationMicroseconds: err.log.verificationMicroseconds ?? null,
      stackDepth: err.log.stackDepth ?? null,
      lines: err.log.lineCount,
    };
    io.stdout(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    io.stdout(err.render("terminal", { color: useColor(io.isTTY) }));
    if (html !== undefined) io.stdout(`wrote ${html}\n`);
  }
  return 0;
}
