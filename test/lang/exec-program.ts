/**
 * A program on sched_process_exec (tp_btf or raw_tp) that reads a task_struct's fields: the
 * ppid through real_parent, the tgid and the comm, into a hash map by pid. test/lang/contexts.test.ts
 * runs it; bench/compile.bench.ts times its compile against a C twin.
 */
export const execProgram = (kind: string): string => `
import { bytes, map, probeReadKernelStr, program, struct, u32, zero } from "rawbpf";
const Exec = struct({ ppid: u32, tgid: u32, comm: bytes(16) });
const execs = map("hash", { key: u32, value: Exec, maxEntries: 1024 });
export const on_exec = program("${kind}/sched_process_exec", (ctx) => {
  const task = ctx.p;
  const e = zero(Exec);
  e.ppid = task.real_parent.tgid;
  e.tgid = task.tgid;
  probeReadKernelStr(e.comm, task.comm);
  execs.update(task.pid, e);
  return 0;
});
`;
