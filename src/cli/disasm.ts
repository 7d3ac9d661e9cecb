/** `rawbpf disasm`: instruction bytes to kernel-syntax text (or JSON). */
import { readFileSync } from "node:fs";
import { disassembleRecords, disassembleUtf8 } from "../isa/disasm.js";
import { DecodeError } from "../isa/errors.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";

const HELP = `usage: rawbpf disasm [FILE|-] [--format text|json] [--no-labels] [--numeric-calls]

Disassembles eBPF instruction bytes into the kernel's assembly syntax; 'rawbpf asm' reads the
text back into the same bytes. The input is raw little-endian instructions (as 'rawbpf asm'
or 'llvm-objcopy -O binary' write them) or the same bytes as hexadecimal text.

  FILE             input file; '-' or nothing reads standard input
  --format         text (default) or json (one record per instruction)
  --no-labels      print jump and call targets as +N/-N instead of labels
  --numeric-calls  print helper calls by id (call 1) instead of by name
`;

function isHexText(b: Uint8Array): boolean {
  if (b.length === 0) return false;
  for (const c of b) {
    const ok =
      (c >= 48 && c <= 57) ||
      (c >= 97 && c <= 102) ||
      (c >= 65 && c <= 70) ||
      c === 32 ||
      c === 10 ||
      c === 13 ||
      c === 9;
    if (!ok) return false;
  }
  return true;
}

/** Runs `rawbpf disasm`; the text goes out as UTF-8 bytes. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { values: ["format"], booleans: ["no-labels", "numeric-calls"] });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  if (args.positionals.length > 1) throw new UsageError("give at most one input file");
  const format = args.flags.get("format") ?? "text";
  if (format !== "text" && format !== "json")
    throw new UsageError(`--format must be text or json, got '${format}'`);
  const file = args.positionals[0] ?? "-";
  let bytes: Uint8Array = file === "-" ? await io.stdin() : readFileSync(file);
  if (isHexText(bytes)) bytes = Buffer.from(Buffer.from(bytes).toString("latin1").replace(/\s+/g, ""), "hex");
  const options = { labels: !args.bools.has("no-labels"), helperNames: !args.bools.has("numeric-calls") };
  try {
    if (format === "json") io.stdout(`${JSON.stringify(disassembleRecords(bytes, options), null, 2)}\n`);
    else io.stdoutBytes(disassembleUtf8(bytes, options));
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    io.stderr(`rawbpf disasm: ${file === "-" ? "<stdin>" : file}: ${e.message}\n`);
    return 1;
  }
  return 0;
}
