/**
 * processes: the processes of the machine listed by the kernel itself. An `iter/task` program runs
 * once per task (thread) as its iterator is read, writing "TGID PID COMM" with bpf_seq_printf; the
 * walk is read line by line (`for await`), the threads counted per process, and the largest
 * printed as a table — `ps` without /proc.
 *
 * Run alone: `node --import tsx examples/processes.ts`
 */
import { asm, attachIter, countTable, iterTarget, loadAssembled } from "../src/index.js";
import { type Log, runIfMain } from "./main.js";

/** One process as the walk saw it. */
export interface ProcessRow {
  pid: number;
  comm: string;
  threads: number;
}

/** The program: for each task, "TGID PID COMM\n" (its context is struct bpf_iter__task). */
/** The iter/task program: one line "TGID PID COMM" per task (bpf_seq_printf). */
export const SOURCE = asm`
  .rodata fmt "%d %d %s\\n"
  r2 = *(u64 *)(r1 + 8)             // ctx->task (NULL once the walk is over)
  if r2 == 0 goto out
  r6 = *(u64 *)(r1 + 0)             // ctx->meta
  r6 = *(u64 *)(r6 + 0)             // meta->seq
  r3 = *(u32 *)(r2 + offsetof(struct task_struct, tgid))
  *(u64 *)(r10 - 24) = r3
  r3 = *(u32 *)(r2 + offsetof(struct task_struct, pid))
  *(u64 *)(r10 - 16) = r3
  r3 = r2
  r3 += offsetof(struct task_struct, comm)
  *(u64 *)(r10 - 8) = r3
  r1 = r6
  r2 = fmt
  r3 = 10
  r4 = r10
  r4 += -24
  r5 = 24
  call bpf_seq_printf
out:
  r0 = 0
  exit
`;

export async function run(log: Log, top = 10): Promise<Map<number, ProcessRow>> {
  using loaded = loadAssembled(SOURCE, iterTarget("task"));
  using iter = attachIter(loaded.program);
  log(
    `loaded iter/task program (id ${loaded.program.info().id}), attached as iterator link ${iter.link.info().id}`,
  );
  const processes = new Map<number, ProcessRow>();
  let tasks = 0;
  using walk = iter.open();
  for await (const line of walk.lines()) {
    const m = /^(\d+) (\d+) (.*)$/.exec(line);
    if (!m) continue;
    tasks++;
    const pid = Number(m[1]);
    const row = processes.get(pid) ?? { pid, comm: "", threads: 0 };
    row.threads++;
    if (Number(m[2]) === pid) row.comm = m[3] as string;
    processes.set(pid, row);
  }
  log(`the kernel walked ${tasks} tasks in ${processes.size} processes; the ${top} with the most threads:`);
  const table = countTable(
    [...processes.values()].map((p) => [`${String(p.pid).padStart(7)} ${p.comm}`, p.threads] as const),
    { top, headers: ["    PID COMM", "THREADS"] },
  );
  for (const line of table.trimEnd().split("\n")) log(`  ${line}`);
  return processes;
}

runIfMain(import.meta.url, run);
