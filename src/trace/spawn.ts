/**
 * Starting a child stopped before it runs: a uprobe attached for its pid then sees the program
 * from its first instruction. Node cannot ptrace, nor fork without exec, so the child is a tiny
 * `/bin/sh` wrapper that waits for one line on an extra pipe (descriptor 3), closes it, and
 * `exec`s the program: the pid stays the same through exec, so probes opened for the pid before
 * {@link StoppedChild.resume} are there when the program's first instruction runs.
 */
import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { once } from "node:events";
import type { Writable } from "node:stream";
import { InputError } from "../sys/error.js";

/** A child waiting to exec its program. */
export interface StoppedChild {
  /** the child process (its stdio as `options.stdio` said; its exit is the program's) */
  readonly child: ChildProcess;
  /** the pid: the wrapper's now, the program's after resume (exec keeps it) */
  readonly pid: number;
  /** lets the wrapper exec the program */
  resume(): void;
}

const WRAPPER = 'IFS= read -r _ <&3; exec 3<&-; exec "$0" "$@"';

/**
 * Spawns `file` with `args`, stopped before its exec: attach probes for `pid`, then `resume()`.
 * `options` are `child_process.spawn`'s (stdio gets a fourth entry, the wrapper's pipe). Resolves
 * once the wrapper runs (its pid is known).
 *
 * @example
 * ```ts
 * const stopped = await spawnStopped("./server", ["--port", "8080"], { stdio: "inherit" });
 * using link = attachUprobe(program, "./server", "main", { pid: stopped.pid });
 * stopped.resume();
 * ```
 */
export async function spawnStopped(
  file: string,
  args: readonly string[] = [],
  options: Omit<SpawnOptions, "stdio"> & { stdio?: "pipe" | "inherit" | "ignore" | readonly unknown[] } = {},
): Promise<StoppedChild> {
  if (typeof file !== "string" || file.length === 0)
    throw new InputError(`a program to spawn is a path or a name, got ${JSON.stringify(file)}`);
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string"))
    throw new InputError("spawnStopped's arguments are an array of strings");
  const base = options.stdio ?? "pipe";
  const stdio = (typeof base === "string" ? [base, base, base] : [...base].slice(0, 3)) as unknown[];
  while (stdio.length < 3) stdio.push("pipe");
  stdio.push("pipe");
  const child = spawn("/bin/sh", ["-c", WRAPPER, file, ...args], { ...options, stdio: stdio as never });
  await Promise.race([
    once(child, "spawn"),
    once(child, "error").then(([e]) => {
      throw e;
    }),
  ]);
  const gate = child.stdio[3] as Writable;
  let resumed = false;
  return {
    child,
    pid: child.pid as number,
    resume() {
      if (resumed) return;
      resumed = true;
      gate.end("\n");
    },
  };
}
