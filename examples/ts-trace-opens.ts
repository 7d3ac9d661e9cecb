/**
 * ts-trace-opens: opensnoop in TypeScript. A tracepoint program on syscalls/sys_enter_openat
 * (`ctx.filename`, `ctx.flags` typed from the tracepoint's format file) reserves a record in a
 * ring buffer, copies the file name from user memory into it with probeReadUserStr, and submits
 * it; the process to watch is a `config({ pid })` set at load. User space reads the records
 * from shared memory with `RingBuffer` while Node opens a few files.
 *
 * Run alone: `node --import tsx examples/ts-trace-opens.ts`
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attachTracepoint, compile, RingBuffer } from "../src/index.js";
import { type Log, runIfMain } from "./main.js";
import { loadModule } from "./ts-load.js";

/** The program, as a user writes it in a .ts file (see docs/language.md). */
export const SOURCE = `
import { bytes, config, helpers, map, probeReadUserStr, program, struct, u32 } from "rawbpf";

const target = config({ pid: u32 });
const Open = struct({ pid: u32, flags: u32, name: bytes(256) });
const opens = map("ringbuf", { value: Open, maxEntries: 65536 });

export const trace_opens = program("tracepoint/syscalls/sys_enter_openat", (ctx) => {
  const pid = helpers.get_current_pid_tgid() >> 32;
  if (pid !== target.pid) return 0;
  const e = opens.reserve();
  if (e === null) return 0;
  e.pid = pid;
  e.flags = ctx.flags;
  probeReadUserStr(e.name, ctx.filename);
  opens.submit(e);
  return 0;
});
`;

/** One traced open. */
export interface TracedOpen {
  pid: number;
  flags: number;
  name: string;
}

export async function run(log: Log): Promise<{ opened: string[]; traced: TracedOpen[] }> {
  const compiled = compile(SOURCE, { file: "ts-trace-opens.ts" });
  const prog = compiled.programs[0]!;
  log(`compiled '${prog.name}' for ${prog.type} ${prog.attachTo}: ${prog.insns.length} instructions`);
  using loaded = loadModule(compiled, { target: { pid: process.pid } });
  using ring = RingBuffer.open(loaded.maps.opens as unknown as Parameters<typeof RingBuffer.open>[0]);
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-ts-opens-"));
  const opened = ["a.txt", "b.txt", "c.txt"].map((f) => join(dir, f));
  try {
    const [category, name] = prog.attachTo!.split("/") as [string, string];
    {
      using _link = attachTracepoint(loaded.programs.trace_opens!, category, name);
      for (const f of opened) {
        writeFileSync(f, "x");
        closeSync(openSync(f, "r"));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const traced: TracedOpen[] = [];
  ring.consume((r) => {
    const b = Buffer.from(r.copy());
    const nameBytes = b.subarray(8, 8 + 256);
    const end = nameBytes.indexOf(0);
    traced.push({
      pid: b.readUInt32LE(0),
      flags: b.readUInt32LE(4),
      name: nameBytes.subarray(0, end < 0 ? 256 : end).toString(),
    });
  });
  for (const t of traced.filter((x) => x.name.startsWith(dir)))
    log(`${t.pid} openat ${t.name} flags=0x${t.flags.toString(16)}`);
  log(
    `${traced.length} openat calls of this process traced, ${traced.filter((x) => x.name.startsWith(dir)).length} in the demo's directory`,
  );
  return { opened, traced };
}

runIfMain(import.meta.url, run);
