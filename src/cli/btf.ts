/** `rawbpf btf dump [FILE | id ID] [--format raw|c|json]` */
import { closeSync, fstatSync, readSync } from "node:fs";
import { Btf } from "../btf/decode.js";
import { InputError } from "../sys/error.js";
import { parseArgs } from "./args.js";
import { elfSection } from "./elf-section.js";
import {
  BTF_LIMIT,
  type CliIo,
  InputTooLargeError,
  isElf,
  OBJECT_LIMIT,
  openInput,
  type ReadLimit,
  readInput,
  readOpenFile,
  UsageError,
} from "./io.js";

const VMLINUX = "/sys/kernel/btf/vmlinux";

const HELP = `usage: rawbpf btf dump [FILE | id ID] [--format raw|c|json] [--base FILE] [--type NAME]
       rawbpf btf list [--json]
       rawbpf btf show ID [--json]

Prints BTF type information; lists the BTF objects loaded in the kernel (list, show: id, size,
name, the programs and maps that use each, as bpftool btf list; --json as bpftool -j).
  FILE            a BTF blob (default ${VMLINUX}), '-' for standard input, or an ELF
                  object (clang -g -target bpf), whose .BTF section is read; files under
                  /sys/kernel/btf/ other than vmlinux are split BTF, read on top of vmlinux.
                  A blob is read up to 16 MiB (the kernel's BTF_MAX_SIZE), an object up to 256 MiB
  id ID           a BTF object loaded in the kernel (needs CAP_SYS_ADMIN)
  --format raw    one line per type as bpftool prints it (the default)
  --format c      a C header like vmlinux.h
  --format json   the types as JSON
  --base FILE     the base BTF a split FILE extends
  --type NAME     only the types named NAME and what they hold by value (a struct reached through
                  a pointer is only declared)
`;

/** Runs `rawbpf btf ...`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, {
    values: ["format", "base", "type"],
    booleans: ["json"],
    aliases: { f: "format", j: "json" },
  });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  const [verb, ...rest] = args.positionals;
  if (verb === "list" || verb === "show") {
    // loaded only here: listing needs the system-call layer, dumping a file never does
    return (await import("./btf-list.js")).listBtf(verb, rest, args.bools.has("json"), io);
  }
  if (verb !== "dump")
    throw new UsageError(
      verb ? `unknown verb '${verb}' (dump, list or show)` : "missing verb: dump, list or show",
    );
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
    const read =
      file === "-"
        ? { bytes: btfOf(await readInput("-", io, btfLimit("-")), "<stdin>") }
        : await readOrPrint(
            file,
            format !== "json" && !basePath && !args.flags.has("type") ? format : undefined,
          );
    if ("printed" in read) {
      io.stdoutBytes(read.printed);
      return 0;
    }
    const bytes = read.bytes;
    btf = basePath
      ? Btf.parse(bytes, {
          base: Btf.parse(btfOf(await readInput(basePath, io, btfLimit(basePath)), basePath)),
        })
      : Btf.parse(bytes);
  }
  const typeName = args.flags.get("type");
  if (typeName !== undefined) {
    const { dumpType } = await import("./btf-list.js");
    await dumpType(btf, typeName, format, io);
    return 0;
  }
  // each printer is loaded only when asked for: a cold process pays for what it runs
  if (format === "c") io.stdoutBytes((await import("../btf/c.js")).formatCBytes(btf));
  else if (format === "raw") io.stdoutBytes((await import("../btf/raw.js")).formatRawBytes(btf));
  else io.stdout((await import("../btf/json.js")).formatJson(btf));
  return 0;
}

/** The limit for a BTF input: the kernel's own files are trusted, an ELF object's is larger. */
function btfLimit(file: string): (head: Uint8Array) => ReadLimit {
  return (head) =>
    isElf(head)
      ? OBJECT_LIMIT
      : file.startsWith("/sys/kernel/btf/")
        ? { ...BTF_LIMIT, bytes: 2 ** 31 - 1 }
        : BTF_LIMIT;
}

/** The BTF of an input: the input itself, or an ELF object's .BTF section. */
function btfOf(bytes: Uint8Array, file: string): Uint8Array {
  if (!isElf(bytes)) return bytes;
  const btf = elfSection(bytes, ".BTF", file);
  if (btf === undefined || btf.length === 0)
    throw new InputError(`${file} is an ELF object with no .BTF section (compile with clang -g to get one)`);
  return btf;
}

/**
 * A BTF file, opened once (a pipe can be read only once). With a format, and when the file says its
 * size (vmlinux, the common case), it goes straight into the printer's memory (no Buffer, no copy)
 * and the output comes back; otherwise it is read whole.
 */
async function readOrPrint(
  file: string,
  format: "c" | "raw" | undefined,
): Promise<{ printed: Uint8Array } | { bytes: Uint8Array }> {
  const print =
    format === "c"
      ? (await import("../btf/c.js")).formatCBytesOfBlob
      : format === "raw"
        ? (await import("../btf/raw.js")).formatRawBytesOfBlob
        : undefined;
  const fd = openInput(file);
  try {
    const st = fstatSync(fd);
    const size = st.isFile() ? st.size : 0;
    if (size > 0) {
      // a regular file: its first bytes say whether it is an object, then its size is checked unread
      const head = new Uint8Array(4);
      readSync(fd, head, 0, 4, 0);
      const limit = btfLimit(file)(head);
      if (size > limit.bytes) throw new InputTooLargeError(file, limit);
      if (isElf(head)) return { bytes: btfOf(readOpenFile(fd, file, limit), file) };
    }
    if (!print || size === 0) return { bytes: btfOf(readOpenFile(fd, file, btfLimit(file)), file) };
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
