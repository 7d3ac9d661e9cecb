/**
 * trace_pipe, library names and stopped children against the real system: bpf_printk lines read
 * back with this thread's pid and name (/proc/self/comm), library paths against /proc/self/maps
 * and `ldconfig -p`, and a child whose entry point a uprobe sees exactly once because it was
 * attached before the child's exec.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { u32, u64 } from "../../src/codec/index.js";
import { asm, loadAssembled } from "../../src/index.js";
import { attachUprobe } from "../../src/link/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { InputError } from "../../src/sys/error.js";
import {
  LibraryNotFoundError,
  ldSoCache,
  parseTraceLine,
  resolveLibrary,
  spawnStopped,
  tracePipe,
} from "../../src/trace/index.js";
import { countThen } from "../support/counting.js";
import { needsRoot } from "../support/privilege.js";

let dir = "";
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("trace_pipe lines parse: task, pid, cpu, flags, timestamp, message", () => {
  const l = parseTraceLine("           <...>-12345   [001] d..31  4711.123456: bpf_trace_printk: hello 42");
  assert.deepEqual(l && [l.task, l.pid, l.cpu, l.flags, l.timestamp, l.source, l.message], [
    "<...>",
    12345,
    1,
    "d..31",
    4711.123456,
    "bpf_trace_printk",
    "hello 42",
  ]);
  const dashed = parseTraceLine(" node-my-worker-77 [000] ..... 1.000001: bpf_trace_printk: x");
  assert.deepEqual(dashed && [dashed.task, dashed.pid], ["node-my-worker", 77]);
  assert.equal(parseTraceLine("# tracer: nop"), undefined);
});

test("tracePipe: bpf_printk output comes back with this thread's pid and name", async (t) => {
  if (!needsRoot(t)) return;
  const marker = Math.floor(Math.random() * 1e9);
  using loaded = loadAssembled(
    asm`
      .rodata fmt "rawbpf-trace %d"
      r3 = *(u64 *)(r1 + 0)
      r1 = fmt
      r2 = 16
      call bpf_trace_printk
      r0 = 0
      exit
    `,
    { type: "syscall", flags: 1 << 4 },
  );
  const pipe = tracePipe({ signal: AbortSignal.timeout(30_000) });
  const ctx = Buffer.alloc(8);
  ctx.writeBigUInt64LE(BigInt(marker));
  const seen: string[] = [];
  setImmediate(() => {
    for (let i = 0; i < 3; i++) loaded.program.testRun({ ctx, ctxOutSize: 0 });
  });
  let found = 0;
  for await (const line of pipe) {
    if (line.message !== `rawbpf-trace ${marker}`) continue;
    seen.push(line.raw);
    assert.equal(line.pid, process.pid, "the pid column is this (main) thread's");
    // the kernel prints "<...>" when its small comm cache (saved_cmdlines) no longer holds this pid
    const comm = readFileSync("/proc/self/comm", "utf8").trim();
    assert.ok(
      line.task === comm || line.task === "<...>",
      `the task column is /proc/self/comm (${comm}) or the kernel's "<...>", got ${line.task}`,
    );
    assert.equal(line.source, "bpf_trace_printk");
    if (++found === 3) break;
  }
  assert.equal(found, 3, `three lines with the marker came before the time-out (saw ${seen.length})`);
  pipe.close();
});

/** ldconfig -p: the dynamic linker's own listing of its cache (libc6's tool). */
function ldconfig(): { name: string; arch: string; path: string }[] {
  const text = execFileSync("ldconfig", ["-p"], { encoding: "utf8" });
  return [...text.matchAll(/^\s+(\S+) \(([^)]*)\) => (\S+)$/gm)].map((m) => ({
    name: m[1] as string,
    arch: m[2] as string,
    path: m[3] as string,
  }));
}

test("library names: the file this process maps, the one ld.so.cache names (ldconfig -p agrees)", (t) => {
  const mapped = readFileSync("/proc/self/maps", "latin1")
    .split("\n")
    .find((l) => /\/libc\.so\.6$/.test(l));
  assert.ok(mapped, "node maps libc.so.6");
  const libc = mapped.slice(mapped.indexOf("/"));
  for (const name of ["libc", "c", "libc.so.6"])
    assert.equal(resolveLibrary(name, { pid: process.pid }), libc, `${name} in this process`);
  let listed: ReturnType<typeof ldconfig>;
  try {
    listed = ldconfig();
  } catch {
    return t.skip("ldconfig is not here");
  }
  const ours = ldSoCache();
  assert.deepEqual(
    ours.map((e) => `${e.name} ${e.path}`),
    listed.map((e) => `${e.name} ${e.path}`),
    "every cache entry, in order, as ldconfig -p lists it",
  );
  const system = resolveLibrary("libc");
  const want = listed.find(
    (e) => e.name === "libc.so.6" && (process.arch !== "x64" || e.arch.includes("x86-64")),
  );
  assert.equal(system, want?.path, "libc from the cache");
  assert.equal(realpathSync(system), realpathSync(libc), "the same file node maps");
  assert.throws(
    () => resolveLibrary("rawbpf_no_such_lib"),
    (e: unknown) => e instanceof LibraryNotFoundError && /rawbpf_no_such_lib/.test(e.message),
  );
  assert.throws(() => resolveLibrary("libz-none", { pid: process.pid }), LibraryNotFoundError);
  assert.throws(() => resolveLibrary("/no/such/libc.so"), LibraryNotFoundError);
  assert.throws(() => resolveLibrary(""), InputError);
  assert.throws(() => resolveLibrary("libc", { pid: -3 }), InputError);
});

test("spawnStopped: a uprobe attached before resume sees the program's entry point exactly once", async (t) => {
  if (!needsRoot(t)) return;
  dir = mkdtempSync(join(tmpdir(), "rawbpf-spawn-"));
  writeFileSync(join(dir, "t.c"), "int main(int argc, char **argv) { return argc + 4; }\n");
  const binary = join(dir, "t");
  execFileSync("cc", ["-O0", "-o", binary, join(dir, "t.c")]);
  using counts = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 2, name: "spawn_hits" });
  const counter = (slot: number) =>
    Program.load({
      type: "kprobe",
      instructions: countThen(counts, slot)`
        r0 = 0
        exit
      `,
    });
  using entry = counter(0);
  using main = counter(1);
  const stopped = await spawnStopped(binary, ["a", "b"], { stdio: "ignore" });
  try {
    assert.equal(
      readFileSync(`/proc/${stopped.pid}/comm`, "utf8").trim(),
      "sh",
      "the wrapper waits, not yet exec'd",
    );
    using l1 = attachUprobe(entry, binary, "_start", { pid: stopped.pid });
    using l2 = attachUprobe(main, binary, "main", { pid: stopped.pid });
    const exited = once(stopped.child, "exit");
    stopped.resume();
    const [code] = await exited;
    assert.equal(code, 7, "the program ran with its arguments (argc 3 + 4)");
    assert.equal(counts.get(0), 1n, "the entry point (_start) ran once, under the probe");
    assert.equal(counts.get(1), 1n, "main ran once, under the probe");
    void l1;
    void l2;
  } finally {
    stopped.child.kill();
  }
  await assert.rejects(spawnStopped("", []), InputError);
});
