/** `rawbpf btf dump [FILE | id ID] [--format raw|c|json]` */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { Btf } from "../btf/decode.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";

const VMLINUX = "/sys/kernel/btf/vmlinux";

const HELP = `usage: rawbpf btf dump [FILE | id ID] [--format raw|c|json] [--base FILE]

Prints BTF type information.
  FILE            a BTF blob (default ${VMLINUX}); files under /sys/kernel/btf/
                  other than vmlinux are split BTF and are read on top of vmlinux
  id ID           a BTF object loaded in the kernel (needs CAP_SYS_ADMIN)
  --format raw    one line per type as bpftool prints it (the default)
  --format c      a C header like vmlinux.h
  --format json   the types as JSON
  --base FILE     the base BTF a split FILE extends
`;

/** Runs `rawbpf btf ...`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { values: ["format", "base"], aliases: { f: "format" } });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  const [verb, ...rest] = args.positionals;
  if (verb !== "dump")
    throw new UsageError(verb ? `unknown verb '${verb}' (only 'dump' exists)` : "missing verb: dump");
  const format = args.flags.get("format") ?? "raw";
  if (format !== "raw" && format !== "c" && format !== "json") {
    throw new UsageError(`--format must be raw, c or json, not '${format}'`);
  }
  let btf: Btf;
  if (rest[0] === "id") {
    const id = Number(rest[1]);
    if (!rest[1] || !Number.isSafeInteger(id) || id <= 0)
      throw new UsageError("'id' needs a positive BTF object id");
    if (rest.length > 2) throw new UsageError(`unexpected argument '${rest[2]}'`);
    // loaded only here: it pulls in the system-call layer (koffi), which dumping a file never needs
    const { parseKernelBtf, readBtfById } = await import("../btf/kernel.js");
    btf = parseKernelBtf(readBtfById(id));
  } else {
    if (rest.length > 1) throw new UsageError(`unexpected argument '${rest[1]}'`);
    const file = rest[0] ?? VMLINUX;
    let basePath = args.flags.get("base");
    if (!basePath && file.startsWith("/sys/kernel/btf/") && file !== VMLINUX) basePath = VMLINUX;
    const read = await readOrPrint(file, format !== "json" && !basePath ? format : undefined);
    if ("printed" in read) {
      io.stdoutBytes(read.printed);
      return 0;
    }
    const bytes = read.bytes;
    btf = basePath ? Btf.parse(bytes, { base: Btf.parse(readFileSync(basePath)) }) : Btf.parse(bytes);
  }
  // each printer is loaded only when asked for: a cold process pays for what it runs
  if (format === "c") io.stdoutBytes((await import("../btf/c.js")).formatCBytes(btf));
  else if (format === "raw") io.stdoutBytes((await import("../btf/raw.js")).formatRawBytes(btf));
  else io.stdout((await import("../btf/json.js")).formatJson(btf));
  return 0;
}

/**
 * A BTF file, opened once (a pipe can be read only once). With a format, and when the file says its
 * size (vmlinux, the common case), it goes straight into the printer's memory (no Buffer, no copy)
 * and the output comes back; otherwise it is read whole.
 */
async function readOrPrint(
  file: string,
  format: "c" | "raw" | undefined,
): Promise<{ printed: Uint8Array } | { bytes: Buffer }> {
  const print =
    format === "c"
      ? (await import("../btf/c.js")).formatCBytesOfBlob
      : format === "raw"
        ? (await import("../btf/raw.js")).formatRawBytesOfBlob
        : undefined;
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    if (!print || size === 0) return { bytes: readFileSync(fd) };
    const printed = print(size, (into) => {
      // a file in sysfs gives at most 4 KiB a read
      let got = 0;
      for (let n = 1; n > 0 && got < into.length; got += n)
        n = readSync(fd, into, got, into.length - got, null);
      return got;
    });
    return { printed };
  } finally {
    closeSync(fd);
  }
}
