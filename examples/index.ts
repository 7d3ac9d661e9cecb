/** The article's demos, in reading order, for `rawbpf demo`. */
import type { Log } from "./main.js";

/** One demo: its name, what it shows, and how to run it. */
export interface Demo {
  name: string;
  summary: string;
  run: (log: Log) => Promise<unknown>;
}

export const DEMOS: readonly Demo[] = [
  {
    name: "hello",
    summary: "the socket filter `r0 = 4; exit` truncates every packet to 4 bytes",
    run: async (log) => (await import("./hello.js")).run(log),
  },
  {
    name: "drop-needle",
    summary:
      "drop datagrams containing a needle (bpf_strncmp on a frozen read-only map), on a socket pair and a Node dgram server",
    run: async (log) => (await import("./drop-needle.js")).run(log),
  },
  {
    name: "verifier-says-no",
    summary:
      "an endless loop, a clobbered register, an unfrozen map: what the verifier says and what to change",
    run: async (log) => (await import("./verifier-says-no.js")).run(log),
  },
  {
    name: "privileges",
    summary: "what CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON each unlock, measured in child processes",
    run: async (log) => (await import("./privileges.js")).run(log),
  },
  {
    name: "subprogram",
    summary:
      "a bpf-to-bpf call to a static function: the BTF rawbpf supplies on its own, and the same program loaded without it",
    run: async (log) => (await import("./subprogram.js")).run(log),
  },
  {
    name: "bpf-loop",
    summary:
      "bpf_loop with a callback passed by pointer: 'missing btf func_info' without BTF, then the sum 1..100 with it",
    run: async (log) => (await import("./bpf-loop.js")).run(log),
  },
  {
    name: "kfunc",
    summary:
      "kernel functions called by name (the bpf_iter_num iterator), their BTF ids found in vmlinux at load",
    run: async (log) => (await import("./kfunc.js")).run(log),
  },
  {
    name: "spin-lock",
    summary:
      "a map value with a bpf_spin_lock described by BTF, counted under the lock and dumped as objects",
    run: async (log) => (await import("./spin-lock.js")).run(log),
  },
  {
    name: "trace-opens",
    summary:
      "a tracepoint program on openat sends this process's file names through a ring buffer, read from shared memory",
    run: async (log) => (await import("./trace-opens.js")).run(log),
  },
  {
    name: "opensnoop-c",
    summary:
      "a C program compiled once by clang (examples/opensnoop.bpf.c), loaded with BpfObject: openat records through a ring buffer",
    run: async (log) => (await import("./opensnoop-c.js")).run(log),
  },
  {
    name: "node-probes",
    summary:
      "a uprobe on libuv's uv_fs_open inside the running node: each fs.promises.open's path, read with for await",
    run: async (log) => (await import("./node-probes.js")).run(log),
  },
  {
    name: "ts-protocols",
    summary:
      "packets per IP protocol from XDP into a per-CPU array, the program written in TypeScript and compiled in process",
    run: async (log) => (await import("./ts-protocols.js")).run(log),
  },
  {
    name: "processes",
    summary:
      "the machine's processes listed by the kernel: an iter/task program's lines read with for await, threads counted per process",
    run: async (log) => (await import("./processes.js")).run(log),
  },
  {
    name: "ts-drop-needle",
    summary:
      "the article's needle filter written in TypeScript: strncmp against a constant the compiler puts in a frozen read-only map",
    run: async (log) => (await import("./ts-drop-needle.js")).run(log),
  },
  {
    name: "ts-syscalls",
    summary:
      "system calls counted per process (pid, comm) from a tracepoint, in TypeScript, printed as a table",
    run: async (log) => (await import("./ts-syscalls.js")).run(log),
  },
  {
    name: "ts-malloc-hist",
    summary:
      "a log2 histogram of this process's malloc sizes from a uprobe on libc, in TypeScript, printed like bpftrace's hist()",
    run: async (log) => (await import("./ts-malloc-hist.js")).run(log),
  },
  {
    name: "ts-trace-opens",
    summary:
      "opensnoop in TypeScript: openat's file names through a ring buffer (reserve, probeReadUserStr, submit)",
    run: async (log) => (await import("./ts-trace-opens.js")).run(log),
  },
  {
    name: "profile",
    summary:
      "a CPU profile of this process: perf events on every CPU, bpf_get_stackid, frames named from kallsyms and ELF symbols",
    run: async (log) => (await import("./profile.js")).run(log),
  },
];
