/**
 * `bpf_printk` output: tracefs's `trace_pipe` read as an async iterable of parsed lines. The pipe
 * is opened non-blocking and its readiness comes from the Node event loop (a libuv poll handle),
 * so waiting for the next line never blocks the loop nor holds a thread-pool thread.
 *
 * trace_pipe is one queue for the whole machine: what one reader takes, no other reader sees.
 */
import { closeSync, constants, existsSync, openSync, readSync } from "node:fs";
import { TracefsNotMountedError } from "../link/errors.js";
import { InputError } from "../sys/error.js";
import { watchReadable } from "../sys/ringbuf.js";

/** One line of trace_pipe. */
export interface TraceLine {
  /** the task's name (comm) as the tracer recorded it; "<...>" when its comm cache no longer holds the pid */
  task: string;
  /** the thread id */
  pid: number;
  cpu: number;
  /** the irq/preempt flags column (`d..2.`), or "" when the trace options leave it out */
  flags: string;
  /** the timestamp in seconds, as printed */
  timestamp: number;
  /** what printed it (`bpf_trace_printk`) */
  source: string;
  /** the message (`bpf_printk`'s text, without the trailing newline) */
  message: string;
  /** the whole line */
  raw: string;
}

const LINE =
  /^\s*(.*)-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(\d+)\]\s+(?:([^\s]{4,5})\s+)?(\d+\.\d+):\s+([^:]+):\s?(.*)$/;

/** Parses one trace_pipe line (undefined for a line in another format). */
export function parseTraceLine(raw: string): TraceLine | undefined {
  const m = LINE.exec(raw);
  if (!m) return undefined;
  return {
    task: m[1] as string,
    pid: Number(m[2]),
    cpu: Number(m[3]),
    flags: m[4] ?? "",
    timestamp: Number(m[5]),
    source: m[6] as string,
    message: m[7] as string,
    raw,
  };
}

const TRACEFS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/** trace_pipe being read: iterate it with `for await`. */
export interface TracePipe extends AsyncIterable<TraceLine> {
  /** Stops reading and closes the pipe (an iteration in progress ends); a second call does nothing. */
  close(): void;
}

/** Options of {@link tracePipe}. */
export interface TracePipeOptions {
  /** the trace_pipe file (default: tracefs's, /sys/kernel/tracing/trace_pipe) */
  path?: string;
  /** stops the iteration (the loop ends, the pipe is closed) */
  signal?: AbortSignal;
}

/**
 * The lines `bpf_printk` (and other tracers) write, as they come:
 *
 * ```ts
 * for await (const line of tracePipe({ signal: AbortSignal.timeout(5000) })) console.log(line.message);
 * ```
 * The iteration ends when `signal` aborts or the loop is left (`break`); the pipe is then closed.
 * @throws TracefsNotMountedError when there is no tracefs
 */
export function tracePipe(options: TracePipeOptions = {}): TracePipe {
  let path = options.path;
  if (path === undefined) {
    const root = TRACEFS.find((r) => existsSync(`${r}/trace_pipe`));
    if (root === undefined) throw new TracefsNotMountedError(TRACEFS);
    path = `${root}/trace_pipe`;
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new InputError(`cannot open ${path}: ${(e as NodeJS.ErrnoException).code} (reading it needs root)`);
  }
  let closed = false;
  let wake: (() => void) | undefined;
  const watch = watchReadable(fd, () => {
    watch.stop();
    wake?.();
  });
  const close = () => {
    if (closed) return;
    closed = true;
    watch.close();
    closeSync(fd);
    wake?.();
  };
  const signal = options.signal;
  signal?.addEventListener("abort", close, { once: true });
  const buf = Buffer.allocUnsafe(64 * 1024);
  async function* lines(): AsyncGenerator<TraceLine> {
    let rest = "";
    try {
      while (!closed) {
        let n = 0;
        try {
          n = readSync(fd, buf, 0, buf.length, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
          await new Promise<void>((resolve) => {
            wake = resolve;
            watch.start();
          });
          wake = undefined;
          continue;
        }
        rest += buf.toString("utf8", 0, n);
        let nl = rest.indexOf("\n");
        while (nl >= 0) {
          const line = parseTraceLine(rest.slice(0, nl));
          rest = rest.slice(nl + 1);
          if (line) yield line;
          if (closed) return;
          nl = rest.indexOf("\n");
        }
      }
    } finally {
      signal?.removeEventListener("abort", close);
      close();
    }
  }
  const it = lines();
  return { [Symbol.asyncIterator]: () => it, close };
}
