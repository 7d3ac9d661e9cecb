/** `rawbpf disasm`: instruction bytes to kernel-syntax text (or JSON). */
import { disassembleRecords, disassembleUtf8 } from "../isa/disasm.js";
import { DecodeError } from "../isa/errors.js";
import { InputError } from "../sys/error.js";
import { parseArgs } from "./args.js";
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

const HELP = `usage: rawbpf disasm [FILE|-] [--format text|json] [--no-labels] [--numeric-calls]

Disassembles eBPF instruction bytes into the kernel's assembly syntax; 'rawbpf asm' reads the
text back into the same bytes. The input is raw little-endian instructions (as 'rawbpf asm'
or 'llvm-objcopy -O binary' write them) or the same bytes as hexadecimal text.

  FILE             input file; '-' or nothing reads standard input
  --format         text (default) or json (one record per instruction)
  --no-labels      print jump and call targets as +N/-N instead of labels
  --numeric-calls  print helper calls by id (call 1) instead of by name

Instruction bytes are read up to 8,000,000 (the kernel's 1,000,000 instructions), hexadecimal
text up to 64 MiB. Empty input and ELF objects are errors.
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
  const name = file === "-" ? "<stdin>" : file;
  let bytes: Uint8Array = await readInput(file, io, (head) => {
    if (isElf(head)) throw elfRefusal(name, "disasm");
    return isHexText(head) ? TEXT_LIMIT : PROGRAM_LIMIT;
  });
  if (isHexText(bytes)) bytes = Buffer.from(Buffer.from(bytes).toString("latin1").replace(/\s+/g, ""), "hex");
  if (bytes.length === 0) throw new InputError(`${name} is empty: there are no instructions to disassemble`);
  if (bytes.length > PROGRAM_LIMIT.bytes) throw new InputTooLargeError(name, PROGRAM_LIMIT);
  const options = { labels: !args.bools.has("no-labels"), helperNames: !args.bools.has("numeric-calls") };
  try {
    if (format === "json") io.stdout(`${JSON.stringify(disassembleRecords(bytes, options), null, 2)}\n`);
    else io.stdoutBytes(disassembleUtf8(bytes, options));
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    throw new InputError(`${name}: ${e.message}`, { cause: e });
  }
  return 0;
}
