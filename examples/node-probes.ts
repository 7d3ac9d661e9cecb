/**
 * node-probes: uprobes on the Node.js runtime itself. libuv's `uv_fs_open(loop, req, path, flags,
 * mode, cb)` is the C function behind every asynchronous `fs.open`. A uprobe puts a breakpoint at
 * its first instruction — in the node binary, or in libuv.so where Node links libuv as a shared
 * library — found by name in the ELF symbol table (rawbpf reads it; no libbpf). The kprobe-type
 * program runs at each call by this process (the probe is opened for this pid only), copies the
 * `path` argument (the third: register rdx on x86-64, its offset in `struct pt_regs` read from the
 * kernel's BTF) from user memory into a ring buffer record, and user space reads the records as
 * `for await (const path of ring.records())`.
 *
 * Run alone: `node --import tsx examples/node-probes.ts`
 */
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  asm,
  attachUprobe,
  BpfMap,
  Program,
  RingBuffer,
  SymbolNotFoundError,
  uprobeOffset,
  vmlinuxBtf,
} from "../src/index.js";
import { type Log, runIfMain } from "./main.js";

/** The function probed. */
export const FUNCTION = "uv_fs_open";

/** The room a record gives a path (bytes, NUL included). */
const PATH_ROOM = 256;

/** What the demo saw. */
export interface NodeProbesResult {
  /** the file holding uv_fs_open (the node binary, or libuv.so) and the probe's offset in it */
  binary: string;
  offset: number;
  /** the files opened with fs.promises.open while the probe was attached */
  opened: string[];
  /** the paths the program saw, in order */
  traced: string[];
}

/** The node binary when it has libuv inside, else the libuv.so this process has mapped. */
function libuvFile(): string {
  const exe = realpathSync(process.execPath);
  try {
    uprobeOffset(exe, FUNCTION);
    return exe;
  } catch (e) {
    if (!(e instanceof SymbolNotFoundError)) throw e;
  }
  const mapped = readFileSync("/proc/self/maps", "latin1")
    .split("\n")
    .map((line) => line.slice(line.indexOf("/")))
    .find((path) => /\/libuv\.so[.\d]*$/.test(path));
  if (!mapped) throw new Error(`neither ${exe} nor a mapped libuv.so defines ${FUNCTION}`);
  return mapped;
}

/** The byte offset of a register in the kernel's `struct pt_regs` (x86-64 names: di, si, dx...). */
function ptRegsOffset(register: string): number {
  const btf = vmlinuxBtf();
  const id = btf.findId("pt_regs", "struct");
  const t = id === undefined ? undefined : btf.type(id);
  const member = t?.kind === "struct" ? t.members.find((m) => m.name === register) : undefined;
  if (!member)
    throw new Error(`this kernel's struct pt_regs has no '${register}' (the demo is written for x86-64)`);
  return member.bitOffset / 8;
}

export async function run(log: Log): Promise<NodeProbesResult> {
  const binary = libuvFile();
  const offset = uprobeOffset(binary, FUNCTION);
  log(`${FUNCTION} is in ${binary}, at file offset 0x${offset.toString(16)} (from its ELF symbol table)`);
  const dx = ptRegsOffset("dx");
  using events = BpfMap.create({ type: "ringbuf", maxEntries: 16 * 1024, name: "paths" });
  using program = Program.load({
    type: "kprobe",
    name: "uv_fs_open",
    instructions: asm`
      r6 = *(u64 *)(r1 + ${dx})            // the third argument: const char *path
      r1 = ${events}
      r2 = ${PATH_ROOM}
      r3 = 0
      call bpf_ringbuf_reserve
      if r0 == 0 goto out                  // the ring is full: the demo reads it before that
      r7 = r0
      r1 = r7
      r2 = ${PATH_ROOM}
      r3 = r6
      call bpf_probe_read_user_str
      r1 = r7
      r2 = 0
      call bpf_ringbuf_submit
    out:
      r0 = 0
      exit
    `,
  });
  using ring = RingBuffer.open(events);
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-node-"));
  const opened: string[] = [];
  const traced: string[] = [];
  try {
    const files = ["one.txt", "two.txt", "three.txt"].map((name) => join(dir, name));
    for (const file of files) writeFileSync(file, ""); // before the probe: these opens are not traced
    {
      using link = attachUprobe(program, binary, FUNCTION, { pid: process.pid });
      log(`uprobe attached for pid ${process.pid} (link id ${link.info().id})`);
      for (const file of files) {
        await (await open(file, "r")).close(); // fs.promises.open: uv_fs_open on the thread pool's behalf
        opened.push(file);
      }
      // the records, as they come, until this process's opens have all been seen (the probe ran
      // inside each open() call, so they are in the ring already; the signal only guards a demo
      // that would otherwise wait forever if they were not)
      for await (const record of ring.records({ signal: AbortSignal.timeout(10_000) })) {
        const end = record.indexOf(0);
        const path = Buffer.from(record.subarray(0, end < 0 ? record.length : end)).toString();
        traced.push(path);
        log(`  ${FUNCTION}("${path}")`);
        if (opened.every((f) => traced.includes(f))) break;
      }
    }
    log("link closed: the breakpoint is gone");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { binary, offset, opened, traced };
}

runIfMain(import.meta.url, run);
