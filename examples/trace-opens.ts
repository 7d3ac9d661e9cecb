/**
 * trace-opens: observability without a C toolchain. A tracepoint program on
 * `syscalls/sys_enter_openat` runs at every openat(2) on the machine; for this process only (its
 * tgid, put into the program as a constant) it reserves a record in a ring buffer map, copies the
 * file name from user memory into it (bpf_probe_read_user_str) and submits it. User space reads
 * the records through shared memory with `RingBuffer` — no system call per event — while Node
 * opens a few files. A record the ring had no room for is counted by the program in a `lost` map,
 * so nothing is dropped unseen.
 *
 * The tracepoint's record layout is its `format` file in tracefs: the file name pointer is the u64
 * at offset 24. tracefs must be mounted (`mount -t tracefs nodev /sys/kernel/tracing`); the demo
 * mounts it when it is not.
 *
 * Run alone: `node --import tsx examples/trace-opens.ts`
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  asm,
  attachTracepoint,
  BpfMap,
  Program,
  RingBuffer,
  TracefsNotMountedError,
  u32,
  u64,
} from "../src/index.js";
import { type Log, runIfMain } from "./main.js";

/** The room a record gives a file name (bytes, NUL included). */
export const NAME_ROOM = 256;

/** What the demo saw. */
export interface TraceOpensResult {
  /** the files Node opened while the link was attached */
  opened: string[];
  /** the file names the program sent, in order */
  traced: string[];
  /** records the program could not reserve (the ring was full) */
  lost: bigint;
  /** a file opened after the link was closed: the program no longer runs */
  after: string;
}

/** The tracepoint's id, mounting tracefs first when it is not mounted. */
function attachOpenat(program: Program, log: Log) {
  try {
    return attachTracepoint(program, "syscalls", "sys_enter_openat");
  } catch (e) {
    if (!(e instanceof TracefsNotMountedError)) throw e;
    log("tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing");
    execFileSync("mount", ["-t", "tracefs", "nodev", "/sys/kernel/tracing"]);
    return attachTracepoint(program, "syscalls", "sys_enter_openat");
  }
}

export async function run(log: Log): Promise<TraceOpensResult> {
  using events = BpfMap.create({ type: "ringbuf", maxEntries: 64 * 1024, name: "opens" });
  using lost = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 1, name: "lost" });
  using program = Program.load({
    type: "tracepoint",
    name: "trace_opens",
    instructions: asm`
      r6 = r1                              // the tracepoint's record
      call bpf_get_current_pid_tgid
      r0 >>= 32
      if r0 != ${process.pid} goto out     // this process only
      r1 = ${events}
      r2 = ${NAME_ROOM}
      r3 = 0
      call bpf_ringbuf_reserve
      if r0 == 0 goto full
      r7 = r0
      r1 = r7
      r2 = ${NAME_ROOM}
      r3 = *(u64 *)(r6 + 24)               // const char *filename
      call bpf_probe_read_user_str
      r1 = r7
      r2 = 0
      call bpf_ringbuf_submit
      goto out
    full:
      r1 = 0
      *(u32 *)(r10 - 4) = r1
      r2 = r10
      r2 += -4
      r1 = ${lost}
      call bpf_map_lookup_elem
      if r0 == 0 goto out
      r1 = 1
      lock *(u64 *)(r0 + 0) += r1
    out:
      r0 = 0
      exit
    `,
  });
  log(`loaded tracepoint program 'trace_opens' (id ${program.info().id})`);
  using ring = RingBuffer.open(events);
  watchSignals();
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-trace-"));
  temporary.add(dir);
  const opened: string[] = [];
  let after: string;
  try {
    const files = ["alpha.txt", "beta.txt", "gamma.txt"].map((name) => join(dir, name));
    for (const file of files) writeFileSync(file, "");
    // made before the link exists, so that only the reads below are traced
    {
      using link = attachOpenat(program, log);
      log(`attached to syscalls/sys_enter_openat (link id ${link.info().id})`);
      for (const file of files) {
        closeSync(openSync(file, "r"));
        opened.push(file);
      }
    }
    log("link closed: the program no longer runs");
    after = join(dir, "after.txt");
    writeFileSync(after, "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
    temporary.delete(dir);
  }
  const traced: string[] = [];
  const count = ring.consume((r) => {
    const name = r.bytes.subarray(r.offset, r.offset + r.length);
    const end = name.indexOf(0);
    traced.push(Buffer.from(name.subarray(0, end < 0 ? name.length : end)).toString());
  });
  log(`the ring held ${count} records of ${NAME_ROOM} bytes; the file names in them:`);
  for (const name of traced) log(`  openat ${name}`);
  const missed = lost.get(0) ?? 0n;
  log(`records the ring had no room for: ${missed}`);
  return { opened, traced, lost: missed, after };
}

/** The temporary directories that exist now (removed on SIGTERM or SIGINT). */
const temporary = new Set<string>();
let watching = false;

/**
 * Removes the temporary directories on SIGTERM and SIGINT, then dies of the signal as the process
 * would have without a handler. Node runs a handler on the event loop's next turn, so the handler
 * stays for the process's life: one removed as soon as `run` returns could lose a signal that came
 * while it ran.
 */
function watchSignals(): void {
  if (watching) return;
  watching = true;
  const onSignal = (signal: NodeJS.Signals) => {
    for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
    temporary.clear();
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    watching = false;
    process.kill(process.pid, signal);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

runIfMain(import.meta.url, run);
