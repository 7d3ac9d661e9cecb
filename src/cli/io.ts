/** What a command reads and writes, so tests can run commands in process. */
export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  stdin: () => Promise<Buffer>;
  /** whether stdout is a terminal (colours are only ever used then, and never under NO_COLOR) */
  isTTY: boolean;
}

/** The process's own streams. */
export function processIo(): CliIo {
  return {
    stdout: (s) => process.stdout.write(s),
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
export function captureIo(stdin: Buffer | string = ""): CliIo & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout: (s: string) => {
      io.out += s;
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
