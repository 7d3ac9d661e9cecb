/** What a command reads and writes, so tests can run commands in process. */
export interface CliIo {
  stdout: (s: string) => void;
  /** bytes to standard output as they are (binary output, or text already encoded as UTF-8) */
  stdoutBytes: (b: Uint8Array) => void;
  stderr: (s: string) => void;
  stdin: () => Promise<Buffer>;
  /** whether stdout is a terminal (colours are only ever used then, and never under NO_COLOR) */
  isTTY: boolean;
}

/** The process's own streams. A reader that goes away (`rawbpf btf dump | head`) ends the process quietly. */
export function processIo(): CliIo {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  return {
    stdout: (s) => process.stdout.write(s),
    // process.stdout.write, not writeSync(1): a pipe in non-blocking mode gives EAGAIN to writeSync
    stdoutBytes: (b) => process.stdout.write(b),
    stderr: (s) => process.stderr.write(s),
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    },
    isTTY: Boolean(process.stdout.isTTY),
  };
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
