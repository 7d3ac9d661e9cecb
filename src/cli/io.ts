import { closeSync, existsSync, fstatSync, openSync, readSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../sys/error.js";

/** What a command reads and writes, so tests can run commands in process. */
export interface CliIo {
  stdout: (s: string) => void;
  /** bytes to standard output as they are (binary output, or text already encoded as UTF-8) */
  stdoutBytes: (b: Uint8Array) => void;
  stderr: (s: string) => void;
  /** standard input: its chunks as they come (read with {@link readInput}, which bounds it), or all of it */
  stdin: () => AsyncIterable<Uint8Array> | Promise<Uint8Array>;
  /** whether stdout is a terminal (colours are only ever used then, and never under NO_COLOR) */
  isTTY: boolean;
}

/**
 * The process's own streams. A reader that goes away (`rawbpf btf dump | head`) ends the process
 * quietly. Standard output is only made (a stream Node builds at its first use, ~2 ms, more for a
 * pipe) when a command writes to it or asks whether it is a terminal: not by `-o FILE`.
 */
export function processIo(): CliIo {
  let out: NodeJS.WriteStream | undefined;
  const stdout = (): NodeJS.WriteStream => {
    if (out === undefined) {
      out = process.stdout;
      streams.add(out);
      out.on("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "EPIPE") process.exit(0);
        throw e;
      });
    }
    return out;
  };
  return {
    stdout: (s) => stdout().write(s),
    // process.stdout.write, not writeSync(1): a pipe in non-blocking mode gives EAGAIN to writeSync
    stdoutBytes: (b) => stdout().write(b),
    stderr: (s) => {
      streams.add(process.stderr);
      process.stderr.write(s);
    },
    stdin: () => process.stdin,
    get isTTY() {
      return Boolean(stdout().isTTY);
    },
  };
}

/** The process's output streams a command wrote to (through {@link processIo}). */
const streams = new Set<NodeJS.WriteStream>();

/**
 * Whether output written through {@link processIo} is still queued (a pipe that was full): then
 * the process must not exit before the event loop has written it. Streams never written to are
 * not made here.
 */
export function outputPending(): boolean {
  for (const s of streams) if (s.writableLength > 0) return true;
  return false;
}

/** Captured streams, for tests. */
export function captureIo(stdin: Buffer | string = ""): CliIo & { out: string; err: string; bytes: Buffer } {
  const io = {
    out: "",
    err: "",
    /** everything written with stdoutBytes */
    bytes: Buffer.alloc(0),
    stdout: (s: string) => {
      io.out += s;
    },
    stdoutBytes: (b: Uint8Array) => {
      io.bytes = Buffer.concat([io.bytes, b]);
      io.out += Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8");
    },
    stderr: (s: string) => {
      io.err += s;
    },
    stdin: async () => Buffer.from(stdin),
    isTTY: false,
  };
  return io;
}

/** A usage problem on the command line: printed with the command's help hint, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** How much of one input a command reads before it refuses it, and why that much. */
export interface ReadLimit {
  /** the most bytes accepted */
  bytes: number;
  /** what the input is, for the message: "instruction bytes", "assembly text" */
  what: string;
  /** why the limit is where it is */
  why: string;
}

/** The kernel loads at most 1,000,000 instructions (BPF_COMPLEXITY_LIMIT_INSNS), 8 bytes each. */
export const PROGRAM_LIMIT: ReadLimit = {
  bytes: 8_000_000,
  what: "instruction bytes",
  why: "the kernel loads at most 1,000,000 instructions of 8 bytes",
};
/** Text (assembly, hexadecimal instructions, verifier logs): far more than any program or log. */
export const TEXT_LIMIT: ReadLimit = {
  bytes: 64 * 1024 * 1024,
  what: "text",
  why: "rawbpf reads at most 64 MiB of assembly, hexadecimal or log text",
};
/** BTF blobs: the kernel's BTF_MAX_SIZE. */
export const BTF_LIMIT: ReadLimit = {
  bytes: 16 * 1024 * 1024,
  what: "BTF",
  why: "the kernel accepts BTF of at most 16 MiB (BTF_MAX_SIZE)",
};
/** ELF objects whose sections are read (btf dump of a clang object). */
export const OBJECT_LIMIT: ReadLimit = {
  bytes: 256 * 1024 * 1024,
  what: "ELF object",
  why: "rawbpf reads objects of at most 256 MiB",
};
/** Test-run data and context (`run --data @FILE`): BPF_PROG_TEST_RUN takes at most a few pages. */
export const TEST_RUN_LIMIT: ReadLimit = {
  bytes: 1024 * 1024,
  what: "test-run input",
  why: "BPF_PROG_TEST_RUN takes a few pages of packet data and at most 64 KiB of context",
};

/** An input larger than its command reads. */
export class InputTooLargeError extends InputError {
  constructor(name: string, limit: ReadLimit) {
    super(
      `${name} is larger than ${limit.bytes.toLocaleString("en-US")} bytes, the limit for ${limit.what} ` +
        `(${limit.why}): is it the file you meant?`,
    );
  }
}

/** Whether `bytes` start with the ELF magic (`\x7fELF`): a compiled object, not raw instructions or text. */
export function isElf(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46
  );
}

/** The refusal of an ELF object by a command that takes instructions or text (`load`, `run`, `disasm`). */
export function elfRefusal(name: string, command: string): InputError {
  return new InputError(
    `${name} is an ELF object; rawbpf ${command} takes raw instruction bytes or assembly text, not objects ` +
      `(extract the program's section: llvm-objcopy -O binary --only-section=SECTION ${name} out.bin)`,
  );
}

/** A limit known at once, or chosen from the first bytes (up to 512) of the input. */
export type LimitFor = ReadLimit | ((head: Uint8Array) => ReadLimit);

const HEAD = 512;
const CHUNK = 256 * 1024;

/** Collects chunks, choosing the limit from the head and refusing past it. */
class Bounded {
  private readonly chunks: Uint8Array[] = [];
  total = 0;
  limit: ReadLimit | undefined;
  constructor(
    private readonly name: string,
    private readonly limitFor: LimitFor,
  ) {
    if (typeof limitFor !== "function") this.limit = limitFor;
  }
  /** Adds a chunk (an empty one is the end); throws once the input is over its limit. */
  add(chunk: Uint8Array): void {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.total += chunk.length;
    }
    if (this.limit === undefined && (this.total >= HEAD || chunk.length === 0)) {
      this.limit = (this.limitFor as (head: Uint8Array) => ReadLimit)(this.head());
    }
    if (this.limit !== undefined && this.total > this.limit.bytes)
      throw new InputTooLargeError(this.name, this.limit);
  }
  head(): Uint8Array {
    const first = this.chunks[0];
    if (first && first.length >= Math.min(HEAD, this.total)) return first;
    return Buffer.concat(this.chunks).subarray(0, HEAD);
  }
  result(): Buffer {
    return this.chunks.length === 1 ? Buffer.from(this.chunks[0]!) : Buffer.concat(this.chunks);
  }
}

/**
 * Reads a whole input, FILE or '-' (standard input), but no more than its limit: files, pipes,
 * devices and standard input alike stop at the limit with an {@link InputTooLargeError}. The file
 * is opened once (a FIFO can be read only once), and a regular file larger than the limit is
 * refused without being read.
 */
export async function readInput(file: string, io: CliIo, limit: LimitFor): Promise<Buffer> {
  const name = file === "-" ? "standard input" : file;
  const into = new Bounded(name, limit);
  if (file === "-") {
    const src = io.stdin();
    if (src instanceof Promise) {
      const all = await src;
      into.add(all);
    } else for await (const c of src) into.add(c);
    into.add(new Uint8Array(0));
    return into.result();
  }
  const fd = openInput(file);
  try {
    readFd(fd, file, into);
    return into.result();
  } finally {
    closeSync(fd);
  }
}

/** Reads an open descriptor to its end into `into`, refusing a regular file over the limit unread. */
function readFd(fd: number, file: string, into: Bounded): void {
  const st = fstatSync(fd);
  if (st.isDirectory()) throw new InputError(`cannot read ${file}: it is a directory`);
  const sized = st.isFile() && st.size > 0;
  if (sized && into.limit && st.size > into.limit.bytes) throw new InputTooLargeError(file, into.limit);
  for (;;) {
    // the head first when the limit depends on it; a regular file whole (its size and one byte, to see
    // that it did not grow), anything else in chunks
    const want = !into.limit ? HEAD : sized ? Math.max(HEAD, st.size - into.total + 1) : CHUNK;
    const buf = Buffer.allocUnsafe(into.limit ? Math.min(want, into.limit.bytes - into.total + 1) : want);
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      throw new InputError(`cannot read ${file}: ${(e as Error).message}`);
    }
    const before = into.limit;
    into.add(buf.subarray(0, n));
    if (n === 0) return;
    if (!before && into.limit && sized && st.size > into.limit.bytes)
      throw new InputTooLargeError(file, into.limit);
  }
}

/** Reads what is left of an open descriptor, up to `limit` (for commands that opened the file themselves). */
export function readOpenFile(fd: number, file: string, limit: LimitFor): Buffer {
  const into = new Bounded(file, limit);
  readFd(fd, file, into);
  return into.result();
}

/** Opens a file for reading once (a pipe must not be opened twice); a failure is an InputError. */
export function openInput(file: string): number {
  try {
    return openSync(file, "r");
  } catch (e) {
    throw new InputError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * Where a guide of docs/ is on this machine: the package's own copy (found by walking up from this
 * module, in a clone or an installed package alike), so `--help` names a path that opens; the
 * relative name when none is found.
 */
export function docPath(name: string): string {
  try {
    for (let dir = dirname(fileURLToPath(import.meta.url)), i = 0; i < 6; dir = dirname(dir), i++) {
      const p = join(dir, "docs", name);
      if (existsSync(p)) return p;
    }
  } catch {
    // no file URL (an unusual loader): the relative name below
  }
  return `docs/${name}`;
}
