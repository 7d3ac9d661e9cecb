/** `rawbpf explain`: a verifier log (from the kernel, libbpf, bpftool or cilium/ebpf) explained. */
import { readFileSync, writeFileSync } from "node:fs";
import { errorJson, type VerifierErrorJson, verifierErrorFromLog } from "../verifier/error.js";
import type { ProgramText } from "../verifier/listing.js";
import { useColor } from "../verifier/view-terminal.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";

const HELP = `usage: rawbpf explain [LOG|-] [--html OUT] [--json]

Explains a verifier log: the instruction the verifier stopped at, the register states there,
the rule that was broken, why the kernel enforces it and how to fix it. The log may be the
kernel's own (any log level), or pasted from libbpf ("-- BEGIN PROG LOAD LOG --"), bpftool or
cilium/ebpf ("load program: permission denied: ...").

  LOG          the log file; '-' or nothing reads standard input
  --html OUT   also write a self-contained HTML page (every instruction beside its states)
  --json       print { error: { message, insn, explanation }, stats } instead of text
`;

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
  let text: string;
  try {
    text = (file === "-" ? await io.stdin() : readFileSync(file)).toString("utf8");
  } catch (e) {
    io.stderr(`rawbpf explain: cannot read ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  const err = verifierErrorFromLog(text);
  const html = args.flags.get("html");
  if (html !== undefined) {
    if (html === "") throw new UsageError("--html needs an output file");
    try {
      writeFileSync(html, err.render("html", { title: file === "-" ? "verifier log" : file }));
    } catch (e) {
      io.stderr(`rawbpf explain: cannot write ${html}: ${(e as Error).message}\n`);
      return 1;
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
