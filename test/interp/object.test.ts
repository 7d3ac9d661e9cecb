/**
 * Clang objects on the memory back end: the C programs of test/object (the libbpf twin suite),
 * loaded by `BpfObject.load()` into the kernel and by `BpfObject.load({ backend: "memory" })`
 * into the interpreter, test-run side by side on the same (fast-check) packets: the same return
 * values, packets out and map contents after every run. Global data, BTF-defined and legacy maps,
 * map-in-map, prog arrays (a tail call), subprograms, a bpf_loop callback, .kconfig and .ksyms
 * externs, kfuncs and CO-RE are all in these objects. Then the memory path without capabilities,
 * where bpf() is refused, and kfuncs the interpreter does not emulate.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import { vmlinuxBtf } from "../../src/btf/kernel.js";
import { HelperError } from "../../src/interp/index.js";
import { type AnyMap, BpfObject } from "../../src/object/object.js";
import { RingBuffer } from "../../src/ringbuf/index.js";
import { compileFixture, EXAMPLES } from "../object/compile.js";
import { needsRoot } from "../support/privilege.js";
import { needsSetpriv, runWithCapabilities, srcModule } from "../support/setpriv.js";
import { runOutcome } from "../support/testrun.js";

const RUNS = Math.max(20, Number(process.env.DIFF_RUNS ?? 1500) / 30);
const FIXTURES = new URL("fixtures", import.meta.url).pathname;

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/**
 * A map's contents as sorted lines. Maps holding descriptors (prog arrays, maps of maps) hold
 * kernel ids on one side and memory descriptors on the other: their keys are compared, and the
 * maps behind them by their own contents.
 */
function contents(map: AnyMap): string[] {
  const holdsFds = ["prog_array", "array_of_maps", "hash_of_maps"].includes(map.type);
  const out: string[] = [];
  for (const [k, v] of map.entries())
    out.push(holdsFds ? `${hex(k as Uint8Array)} (set)` : `${hex(k as Uint8Array)} ${hex(v as Uint8Array)}`);
  return out.sort();
}

function sameMaps(kernel: BpfObject, memory: BpfObject, what: string): void {
  for (const m of kernel.spec.maps)
    assert.deepEqual(
      contents(memory.map(m.name)),
      contents(kernel.map(m.name)),
      `${what}: map ${m.name} in memory equals the kernel's`,
    );
}

/** Runs `programs` of both objects on `data`: the same return value and packet out, or the same refusal. */
function sameRun(kernel: BpfObject, memory: BpfObject, programs: readonly string[], data: Uint8Array): void {
  for (const name of programs) {
    const k = runOutcome(() => kernel.program(name).testRun({ data }));
    const m = runOutcome(() => memory.program(name).testRun({ data }));
    assert.deepEqual(m, k, `${name} on ${hex(data)}: the same return value and packet out (or refusal)`);
  }
}

const packets = fc.uint8Array({ minLength: 14, maxLength: 160 });

for (const [fixture, programs, flags] of [
  ["globals", ["count_packets", "second", "pass"], []],
  ["oldclang", ["count_bytes"], []],
  // a legacy `struct bpf_map_def` in "maps", for the oldest instruction set
  ["oldclang", ["count_bytes"], ["-DLEGACY", "-mcpu=v1"]],
] as const)
  test(`${[`${fixture}.c`, ...flags].join(" ")} in the interpreter and in the kernel: same results and maps on random packets`, (t) => {
    if (!needsRoot(t)) return;
    const path = compileFixture(fixture, flags);
    using kernel = BpfObject.open(path).load();
    using memory = BpfObject.open(path).load({ backend: "memory" });
    for (const name of programs)
      assert.equal(memory.program(name).backend, "memory", `${name} is interpreted`);
    sameMaps(kernel, memory, "after load (initial .data, .rodata, .bss)");
    fc.assert(
      fc.property(packets, (data) => {
        sameRun(kernel, memory, programs, data);
        sameMaps(kernel, memory, `after the runs on ${hex(data)}`);
      }),
      { numRuns: RUNS },
    );
  });

test("globals.c: constants set before load, and variables read and written on the memory back end", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("globals");
  const data = new Uint8Array(64);
  for (const threshold of [7, 1000]) {
    using kernel = BpfObject.open(path, { constants: { threshold } }).load();
    using memory = BpfObject.open(path, { constants: { threshold } }).load({ backend: "memory" });
    sameRun(kernel, memory, ["count_packets"], data);
    assert.equal(memory.variable("threshold").get(), threshold, "the constant is in .rodata");
    assert.equal(memory.variable("hits").get(), kernel.variable("hits").get(), "hits, as the kernel's");
    // a write through the variable is what the program reads next: both sides
    for (const o of [kernel, memory]) o.variable("hits").set(1000n);
    sameRun(kernel, memory, ["count_packets", "second"], data);
    sameMaps(kernel, memory, `threshold ${threshold}, after hits = 1000`);
  }
});

test("maps.c: map-in-map, a tail call through the prog array and a pinned-by-name map, in memory", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("maps");
  const root = `/sys/fs/bpf/rawbpf-interp-obj-${process.pid}`;
  mkdirSync(root, { recursive: true });
  try {
    using kernel = BpfObject.open(path, { pinRoot: root }).load();
    using memory = BpfObject.open(path, { pinRoot: root }).load({ backend: "memory" });
    sameMaps(kernel, memory, "after load (initial values of outer and jumps)");
    for (let i = 0; i < 3; i++) {
      sameRun(kernel, memory, ["use_maps", "tail_one"], new Uint8Array(64));
      sameMaps(kernel, memory, `after run ${i + 1}`);
    }
    assert.equal(memory.program("use_maps").testRun({ data: new Uint8Array(64) }).retval, 42, "tail call");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("externs.c: .kconfig, typed and typeless .ksyms, __weak externs and bpf_iter_num kfuncs, in memory", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("externs");
  const programs = ["read_kconfig", "read_ksyms", "call_kfuncs"];
  using kernel = BpfObject.open(path).load();
  using memory = BpfObject.open(path).load({ backend: "memory" });
  sameRun(kernel, memory, programs, new Uint8Array(64));
  sameMaps(kernel, memory, "after the runs");
  const seen = memory.variable("seen").bytes;
  assert.equal(Buffer.from(seen).readBigUInt64LE(80), 45n, "the bpf_iter_num loop summed 0..9");
});

test("attach.c: a raw tracepoint program on random arguments and a cgroup_skb program, in memory", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("attach", [`-DTARGET="/bin/true"`]);
  const programs = ["count_getppid", "allow_egress"];
  // the kernel test-runs raw_tp programs in this thread: the interpreter is told who that is
  const constants = { target_tgid: process.pid };
  const env = { pid: process.pid, tgid: process.pid };
  using kernel = BpfObject.open(path, { constants }).load({ programs });
  using memory = BpfObject.open(path, { constants }).load({ programs, backend: "memory" });
  fc.assert(
    fc.property(fc.bigUint64Array({ minLength: 2, maxLength: 2 }), fc.boolean(), (args, getppid) => {
      if (getppid) args[1] = 110n;
      const ctx = new Uint8Array(args.buffer);
      // a raw_tp test run takes no context out (the kernel refuses ctx_size_out with EINVAL)
      const k = kernel.program("count_getppid").testRun({ ctx, ctxOutSize: 0 });
      const m = memory.program("count_getppid").testRun({ ctx, ctxOutSize: 0, env });
      assert.equal(m.retval, k.retval, "the same return value");
      sameMaps(kernel, memory, `after sys_enter args ${args.join(", ")}`);
    }),
    { numRuns: RUNS },
  );
  assert.ok((memory.variable("raw_hits").get() as bigint) > 0n, "the getppid runs counted");
  sameRun(kernel, memory, ["allow_egress"], new Uint8Array(64));
});

/**
 * The current task as the kernel's CO-RE-relocated programs read it, laid out at vmlinux's
 * offsets for the interpreter: this thread's pid, tgid and comm, and a parent with this
 * process's parent's tgid and comm.
 */
function fakeTask(bit: 0 | 1): { task: bigint; memory: { address: bigint; bytes: Uint8Array }[] } {
  const btf = vmlinuxBtf();
  const id = btf.findId("task_struct", "struct");
  assert.ok(id !== undefined, "vmlinux has struct task_struct");
  const t = btf.type(id);
  assert.ok(t.kind === "struct", "task_struct is a struct");
  const at = (name: string) => {
    const m = t.members.find((x) => x.name === name);
    assert.ok(m, `task_struct.${name}`);
    return m.bitOffset;
  };
  const size = btf.sizeOf(id);
  const self = new Uint8Array(size);
  const parent = new Uint8Array(size);
  const task = 0xffff888000100000n;
  const parentAddress = 0xffff888000200000n;
  const v = Buffer.from(self.buffer);
  v.writeInt32LE(process.pid, at("pid") / 8);
  v.writeInt32LE(process.pid, at("tgid") / 8);
  v.writeBigUInt64LE(parentAddress, at("real_parent") / 8);
  v.write(readFileSync("/proc/thread-self/comm", "latin1").trim().slice(0, 15), at("comm") / 8, "latin1");
  const b = at("sched_reset_on_fork");
  if (bit) self[b >> 3]! |= 1 << (b & 7);
  const p = Buffer.from(parent.buffer);
  p.writeInt32LE(process.ppid, at("tgid") / 8);
  p.write(readFileSync(`/proc/${process.ppid}/comm`, "latin1").trim().slice(0, 15), at("comm") / 8, "latin1");
  return {
    task,
    memory: [
      { address: task, bytes: self },
      { address: parentAddress, bytes: parent },
    ],
  };
}

test("core.c: CO-RE relocated against vmlinux BTF reads the same fields in memory as in the kernel", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("core");
  using kernel = BpfObject.open(path).load();
  using memory = BpfObject.open(path).load({ backend: "memory" });
  const data = new Uint8Array(64);
  const retvals = ["core_task", "core_parent"].map((p) => kernel.program(p).testRun({ data }).retval);
  const theirs = Buffer.from(kernel.variable("out").bytes);
  for (const bit of [0, 1] as const) {
    const env = fakeTask(bit);
    memory.variable("out").set(new Uint8Array(128));
    const mine = ["core_task", "core_parent"].map((p) => memory.program(p).testRun({ data, env }).retval);
    assert.deepEqual(mine, retvals, "the same return values");
    const out = Buffer.from(memory.variable("out").bytes);
    for (let i = 0; i < 16; i++)
      if (i !== 5)
        assert.equal(out.readBigUInt64LE(i * 8), theirs.readBigUInt64LE(i * 8), `out[${i}] as the kernel's`);
    assert.equal(out.readBigUInt64LE(40), BigInt(bit), "out[5]: the bitfield read through its relocation");
  }
  // without a task laid out, probe reads fail as on a bad address: zeros, no error
  memory.variable("out").set(new Uint8Array(128));
  memory.program("core_task").testRun({ data });
  assert.equal(Buffer.from(memory.variable("out").bytes).readBigUInt64LE(0), 0n, "no task: tgid reads 0");
});

test("a kfunc the interpreter does not emulate: a strong one stops the run naming it, a __weak one is absent", () => {
  const path = compileFixture("kfuncs", [], FIXTURES);
  using memory = BpfObject.open(path).load({ backend: "memory" });
  const data = new Uint8Array(64);
  assert.throws(
    () => memory.program("strong_kfunc").testRun({ data }),
    (e: unknown) =>
      e instanceof HelperError && e.helper === "bpf_rcu_read_lock" && /not emulated/.test(e.message),
    "a HelperError naming bpf_rcu_read_lock",
  );
  assert.equal(
    memory.program("weak_kfunc").testRun({ data }).retval,
    2,
    "the __weak kfunc is absent: XDP_PASS",
  );
  assert.throws(() => memory.attach(), /memory back end/, "attaching needs the kernel");
  assert.throws(
    () => BpfObject.open(path).load({ backend: "memory", core: "kernel" }),
    /memory back end/,
    "the kernel's CO-RE needs the kernel",
  );
});

test("opensnoop.bpf.c (the demo's object) in memory: its ring buffer records read by RingBuffer, no kernel", () => {
  // a tracepoint program: the kernel cannot test-run it, so the inputs are the oracle
  const path = compileFixture("opensnoop.bpf", [], EXAMPLES);
  using obj = BpfObject.open(path, { constants: { target_tgid: 4242 } }).load({ backend: "memory" });
  using ring = RingBuffer.open(obj.map("events"));
  const file = 0x7ffd00001000n;
  const ctx = new Uint8Array(64);
  const v = Buffer.from(ctx.buffer);
  v.writeBigInt64LE(257n, 8); // id: openat
  v.writeBigUInt64LE(file, 24); // args[1]: the filename's address
  v.writeBigUInt64LE(0o101n, 32); // args[2]: flags
  const memory = [{ address: file, bytes: Buffer.from("/etc/hosts\0garbage") }];
  const run = (tgid: number) =>
    obj.program("trace_openat").testRun({ ctx, env: { tgid, pid: tgid, comm: "curl", memory } });
  run(4242);
  run(1); // another process: filtered out by target_tgid
  run(4242);
  const records: Buffer[] = [];
  ring.consume((r) => records.push(Buffer.from(r.copy())));
  assert.equal(records.length, 2, "one record per run of the target process");
  for (const r of records) {
    assert.equal(r.readUInt32LE(0), 4242, "pid");
    assert.equal(r.readUInt32LE(4), 0o101, "flags from args[2]");
    assert.equal(r.subarray(8, 24).toString("latin1").replace(/\0.*$/s, ""), "curl", "comm from env");
    assert.equal(
      r.subarray(24).toString("latin1").replace(/\0.*$/s, ""),
      "/etc/hosts",
      "filename, read from env memory",
    );
  }
  assert.equal(obj.variable("lost").get(), 0n, "nothing lost");
});

/** Runs `code` (an ES module, through tsx) in a child with only `caps`. */
function child(caps: readonly string[], code: string) {
  return runWithCapabilities(caps, [process.execPath, "--import", "tsx", "--input-type=module", "-e", code]);
}

/** `rawbpf ARGS` from src/ (not a possibly stale dist/) in a child with only `caps`: status and stdout. */
function cli(caps: readonly string[], args: readonly string[]) {
  return child(
    caps,
    `import { main } from ${srcModule("cli/main.ts")};
     import { processIo } from ${srcModule("cli/io.ts")};
     process.exitCode = await main(${JSON.stringify(args)}, processIo());`,
  );
}

test("without capabilities bpf() is refused, and an object still loads and runs on the memory back end", (t) => {
  if (!needsSetpriv(t)) return;
  const path = compileFixture("globals");
  // this process's own interpreted run is the expectation (the kernel's equals it, above)
  using memory = BpfObject.open(path).load({ backend: "memory" });
  const data = new Uint8Array(64);
  const expected = ["count_packets", "second", "pass"].map((p) => memory.program(p).testRun({ data }).retval);
  const hits = memory.variable("hits").get();
  const r = child(
    [],
    `import { BpfObject } from ${srcModule("object/index.ts")};
     let refused = "no";
     try { BpfObject.open(${JSON.stringify(path)}).load(); } catch (e) { refused = String(e.errnoName ?? e.message); }
     const obj = BpfObject.open(${JSON.stringify(path)}).load({ backend: "memory" });
     const data = new Uint8Array(64);
     const retvals = ["count_packets", "second", "pass"].map((p) => obj.program(p).testRun({ data }).retval);
     console.log(JSON.stringify({ refused, retvals, hits: String(obj.variable("hits").get()) }));
     obj.close();`,
  );
  assert.equal(r.status, 0, `the child ran: ${r.stderr}`);
  const got = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}");
  assert.match(got.refused, /EPERM|CAP_BPF|permission/i, "the kernel load was refused without capabilities");
  assert.deepEqual(got.retvals, expected, "the same return values as in memory with every capability");
  assert.equal(got.hits, String(hits), "the same .bss");
});

test("rawbpf run FILE.o --program P --interpret: without capabilities, as the kernel runs it", (t) => {
  if (!needsSetpriv(t)) return;
  const path = compileFixture("globals");
  const args = ["run", path, "--program", "count_packets", "--data", "00".repeat(64), "--json"];
  const r = cli([], [...args, "--interpret"]);
  assert.equal(r.status, 0, `rawbpf run --interpret ran: ${r.stderr}`);
  const mine = JSON.parse(r.stdout);
  const traced = cli(
    [],
    ["run", path, "--program", "pass", "--data", "00".repeat(64), "--interpret", "--trace"],
  );
  assert.equal(traced.status, 0, `--trace ran: ${traced.stderr}`);
  assert.match(traced.stdout, /call pc/, "the trace shows the call to the subprogram");
  assert.match(traced.stdout, /retval: 2 /, "and the return value");
  if (!needsRoot(t)) return;
  const k = cli(["bpf", "sys_admin", "perfmon", "net_admin"], args);
  assert.equal(k.status, 0, `rawbpf run in the kernel ran: ${k.stderr}`);
  const theirs = JSON.parse(k.stdout);
  assert.equal(mine.retval, theirs.retval, "the same return value");
  assert.equal(mine.data_out, theirs.data_out, "the same packet out");
});
