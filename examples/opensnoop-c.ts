/**
 * opensnoop-c: a C program, compiled once by clang, loaded from TypeScript. examples/opensnoop.bpf.c
 * is a tracepoint program on `syscalls/sys_enter_openat`; `BpfObject` reads its object
 * (opensnoop.bpf.o: ELF sections, BTF, relocations), sets its read-only global `target_tgid` to this
 * process before load, creates its ring buffer map, loads the program and attaches it where its
 * section says. Node then opens a few files and reads the program's records — pid, flags, command,
 * file name — from the ring through shared memory. No libbpf, no compiler at run time.
 *
 * `rawbpf object examples/opensnoop.bpf.o` lists what the object holds; `rawbpf gen types
 * examples/opensnoop.bpf.o -o opensnoop.ts` writes typed bindings for it.
 *
 * Run alone: `node --import tsx examples/opensnoop-c.ts`
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BpfObject, RingBuffer } from "../src/index.js";
import { type Log, runIfMain } from "./main.js";

/** One record of the program (struct event in opensnoop.bpf.c). */
export interface OpenEvent {
  pid: number;
  flags: number;
  comm: string;
  filename: string;
}

/** What the demo saw. */
export interface OpensnoopResult {
  /** the files Node opened while the program was attached */
  opened: string[];
  /** the records the program sent */
  events: OpenEvent[];
  /** records the ring had no room for */
  lost: bigint;
}

/**
 * The compiled object: beside this file (examples/), or, run from dist/examples/ in the package, in
 * the package's own examples/ folder — found by walking up from here, never past the filesystem root.
 */
export function objectPath(): string {
  const tried: string[] = [];
  for (let dir = fileURLToPath(new URL(".", import.meta.url)); ; dir = dirname(dir)) {
    for (const p of [join(dir, "opensnoop.bpf.o"), join(dir, "examples", "opensnoop.bpf.o")]) {
      if (existsSync(p)) return p;
      tried.push(p);
    }
    if (dirname(dir) === dir || tried.length >= 8)
      throw new Error(`opensnoop.bpf.o is not at ${tried.join(", ")}: run npm run build`);
  }
}

const text = (b: Uint8Array) => new TextDecoder().decode(b.subarray(0, Math.max(0, b.indexOf(0))));

export async function run(log: Log): Promise<OpensnoopResult> {
  using obj = BpfObject.open(objectPath(), { constants: { target_tgid: process.pid } }).load();
  log(`loaded ${obj.spec.programs.map((p) => `${p.name} (${p.section})`).join(", ")} from opensnoop.bpf.o`);
  obj.attach();
  using ring = RingBuffer.open(obj.map("events"));
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-opensnoop-"));
  const opened: string[] = [];
  try {
    for (const name of ["alpha.txt", "beta.txt", "gamma.txt"]) {
      const file = join(dir, name);
      writeFileSync(file, name);
      readFileSync(file);
      opened.push(file);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const events: OpenEvent[] = [];
  ring.consume((r) => {
    const bytes = new Uint8Array(r.view.buffer, r.view.byteOffset + r.offset, r.length);
    events.push({
      pid: r.view.getUint32(r.offset, true),
      flags: r.view.getUint32(r.offset + 4, true),
      comm: text(bytes.subarray(8, 24)),
      filename: text(bytes.subarray(24, 280)),
    });
  });
  for (const e of events.filter((x) => x.filename.startsWith(dir)))
    log(`${e.comm} (${e.pid}) openat ${e.filename} flags 0x${e.flags.toString(16)}`);
  const lost = obj.variable("lost").get() as bigint;
  log(`${events.length} openat calls of this process seen, ${lost} lost`);
  return { opened, events, lost };
}

runIfMain(import.meta.url, run);
