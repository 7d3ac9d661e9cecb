/**
 * ts-syscalls: system calls counted per process, `@[pid, comm] = count()` in bpftrace's words,
 * written in TypeScript. A tracepoint program on raw_syscalls/sys_enter (its record typed from
 * the tracepoint's format file in tracefs) builds a `{ pid, comm }` key on its stack, and counts
 * in a hash map; the demo makes a few hundred system calls of its own, then prints the table.
 *
 * Run alone: `node --import tsx examples/ts-syscalls.ts`
 */
import { statSync } from "node:fs";
import { attachTracepoint, compile } from "../src/index.js";
import { type Log, runIfMain } from "./main.js";
import { loadModule } from "./ts-load.js";

/** The program, as a user writes it in a .ts file (see docs/language.md). */
export const SOURCE = `
import { atomicAdd, BPF_NOEXIST, bytes, helpers, map, program, struct, u32, u64, zero } from "rawbpf";

const Key = struct({ pid: u32, comm: bytes(16) });
const counts = map("hash", { key: Key, value: u64, maxEntries: 10240 });

export const syscalls = program("tracepoint/raw_syscalls/sys_enter", (ctx) => {
  const key = zero(Key);
  key.pid = helpers.get_current_pid_tgid() >> 32;
  helpers.get_current_comm(key.comm, key.comm.length);
  const n = counts.lookup(key);
  if (n !== null) atomicAdd(n.value, 1);
  else counts.update(key, 1, BPF_NOEXIST);
  return 0;
});
`;

/** One row of the table. */
export interface SyscallRow {
  pid: number;
  comm: string;
  count: bigint;
}

export async function run(log: Log, calls = 500): Promise<{ rows: SyscallRow[]; calls: number }> {
  const compiled = compile(SOURCE, { file: "ts-syscalls.ts" });
  const prog = compiled.programs[0]!;
  log(`compiled '${prog.name}' for ${prog.type} ${prog.attachTo}: ${prog.insns.length} instructions`);
  using loaded = loadModule(compiled);
  const [category, name] = prog.attachTo!.split("/") as [string, string];
  {
    using _link = attachTracepoint(loaded.programs.syscalls!, category, name);
    for (let i = 0; i < calls; i++) statSync("/");
  }
  const rows: SyscallRow[] = [];
  const counts = loaded.maps.counts as unknown as Iterable<[Uint8Array, Uint8Array]>;
  for (const [k, v] of counts) {
    const key = Buffer.from(k);
    const comm = key.subarray(4, 20);
    rows.push({
      pid: key.readUInt32LE(0),
      comm: comm.subarray(0, comm.indexOf(0) < 0 ? 16 : comm.indexOf(0)).toString(),
      count: Buffer.from(v).readBigUInt64LE(0),
    });
  }
  rows.sort((a, b) => (b.count > a.count ? 1 : b.count < a.count ? -1 : a.pid - b.pid));
  log(`${"PID".padStart(8)}  ${"COMM".padEnd(16)} ${"SYSCALLS".padStart(9)}`);
  for (const r of rows.slice(0, 10))
    log(`${String(r.pid).padStart(8)}  ${r.comm.padEnd(16)} ${String(r.count).padStart(9)}`);
  if (rows.length > 10) log(`... ${rows.length - 10} more processes`);
  const own = rows.find((r) => r.pid === process.pid);
  log(
    `this process (${process.pid}) made at least ${calls} stat calls: counted ${own?.count ?? 0n} system calls`,
  );
  return { rows, calls };
}

runIfMain(import.meta.url, run);
