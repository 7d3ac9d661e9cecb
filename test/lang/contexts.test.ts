/**
 * Contexts that depend on the attach point: tracepoint records typed from tracefs format files
 * (checked against the kernel's BTF where it has the record's struct), pt_regs with arg0..arg5
 * and ret (checked against vmlinux's struct pt_regs), and the TypeScript-only demos that use
 * them on this kernel: system calls per process, a malloc histogram from a uprobe, opensnoop
 * through a ring buffer.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { run as mallocHist } from "../../examples/ts-malloc-hist.js";
import { run as syscalls } from "../../examples/ts-syscalls.js";
import { run as traceOpens } from "../../examples/ts-trace-opens.js";
import {
  asm,
  attachRawTracepoint,
  attachTracepoint,
  attachTracing,
  CompileError,
  compile,
  Program,
  VerifierError,
  vmlinuxBtf,
} from "../../src/index.js";
import { ptRegsContext, tracepointFields } from "../../src/lang/tracefs.js";
import { loadCompiled } from "../../src/program/compiled.js";
import { needsRoot } from "../support/privilege.js";
import { execProgram } from "./exec-program.js";

const quiet = () => {};

function btfOffsets(struct: string): Map<string, number> {
  const btf = vmlinuxBtf();
  const id = btf.findId(struct, "struct");
  assert.ok(id !== undefined, `vmlinux has struct ${struct}`);
  const t = btf.type(id!);
  assert.ok(t.kind === "struct", `${struct} is a struct`);
  return new Map(
    (t as { members: readonly { name: string; bitOffset: number }[] }).members.map((m) => [
      m.name,
      m.bitOffset / 8,
    ]),
  );
}

test("tracepoint fields from a format file: offsets, widths, signs and arrays", () => {
  const format = `name: sys_enter
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;
\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;
\tfield:__data_loc char[] name;\toffset:64;\tsize:4;\tsigned:0;
`;
  const f = tracepointFields(format);
  assert.deepEqual(
    [...f].map(([n, x]) => [n, x.offset, x.type.name, x.length]),
    [
      ["common_type", 0, "u16", undefined],
      ["common_pid", 4, "i32", undefined],
      ["id", 8, "i64", undefined],
      ["args", 16, "u64", 6],
    ],
  );
});

test("raw_syscalls/sys_enter's format file agrees with the kernel's BTF (struct trace_event_raw_sys_enter)", (t) => {
  if (!needsRoot(t)) return;
  const src = `import { program } from "rawbpf";
export const p = program("tracepoint/raw_syscalls/sys_enter", (ctx) => ctx.args[1] + ctx.id);`;
  const m = compile(src, { file: "tp.ts" });
  assert.equal(m.programs[0]!.type, "tracepoint");
  assert.equal(m.programs[0]!.attachTo, "raw_syscalls/sys_enter");
  const btf = btfOffsets("trace_event_raw_sys_enter");
  const offsets = m.programs[0]!.insns.filter((i) => i.code === 0x79).map((i) => i.off); // ldx dw
  assert.ok(offsets.includes(btf.get("id")!), `ctx.id is read at ${btf.get("id")}`);
  assert.ok(offsets.includes(btf.get("args")! + 8), `ctx.args[1] is read at ${btf.get("args")! + 8}`);
});

test("pt_regs: arg0..arg5, ret, ip and sp are x86-64's rdi, rsi, rdx, rcx, r8, r9, rax, ip, sp in vmlinux's BTF", (t) => {
  if (process.arch !== "x64") {
    t.skip("x86-64 only");
    return;
  }
  const btf = btfOffsets("pt_regs");
  const regs = ptRegsContext("x64").fields;
  const names: Record<string, string> = {
    arg0: "di",
    arg1: "si",
    arg2: "dx",
    arg3: "cx",
    arg4: "r8",
    arg5: "r9",
    ret: "ax",
    ip: "ip",
    sp: "sp",
  };
  for (const [field, reg] of Object.entries(names))
    assert.equal(regs.get(field)!.offset, btf.get(reg), `${field} is pt_regs.${reg}`);
});

test("context errors: an unknown field, an array read whole, a tracepoint without its name", (t) => {
  if (!needsRoot(t)) return;
  const cases: [string, string, RegExp][] = [
    ["tracepoint/raw_syscalls/sys_enter", "return ctx.nope;", /has no field 'nope' \(fields: common_type/],
    ["tracepoint/raw_syscalls/sys_enter", "return ctx.args;", /read an element, ctx.args\[i\]/],
    ["tracepoint/raw_syscalls/sys_enter", "return ctx.args[6];", /constant index from 0 to 5/],
    ["tracepoint/raw_syscalls", "return 0;", /names its tracepoint/],
    ["tracepoint/nope/nothing_here", "return 0;", /no tracepoint nope\/nothing_here/],
    ["uprobe/libc.so.6:malloc", "return ctx.arg6;", /has no field 'arg6'/],
  ];
  for (const [type, body, why] of cases)
    assert.throws(
      () =>
        compile(
          `import { program } from "rawbpf";\nexport const p = program("${type}", (ctx) => {\n${body}\n});\n`,
        ),
      (e: unknown) => e instanceof CompileError && why.test(e.reason),
      `${type}: ${body}`,
    );
});

test("a tracepoint record's common_ fields: the compiler refuses the read, as the kernel refuses the same load", (t) => {
  if (!needsRoot(t)) return;
  const fields = tracepointFields(
    readFileSync("/sys/kernel/tracing/events/raw_syscalls/sys_enter/format", "utf8"),
  );
  const pid = fields.get("common_pid");
  assert.ok(pid !== undefined && pid.offset < 8, "common_pid is in the record's first 8 bytes");
  assert.throws(
    () =>
      compile(
        `import { program } from "rawbpf";\nexport const p = program("tracepoint/raw_syscalls/sys_enter", (ctx) => ctx.common_pid);\n`,
      ),
    (e: unknown) =>
      e instanceof CompileError &&
      /ctx\.common_pid: the kernel refuses a tracepoint program's reads of the record's first 8 bytes/.test(
        e.reason,
      ),
  );
  // the kernel: the same 4-byte load at common_pid's offset is refused (tp_prog_is_valid_access)
  assert.throws(
    () =>
      Program.load({
        type: "tracepoint",
        name: "common_pid",
        instructions: asm`
          r0 = *(u32 *)(r1 + ${pid!.offset})
          exit`,
      }),
    (e: unknown) => e instanceof VerifierError && /invalid bpf_context access off=4 size=4/.test(e.log.text),
    "the verifier refuses the read",
  );
  // and one past them loads: the boundary is the kernel's
  using ok = Program.load({
    type: "tracepoint",
    name: "sys_enter_id",
    instructions: asm`
      r0 = *(u64 *)(r1 + ${fields.get("id")!.offset})
      r0 = 0
      exit`,
  });
  assert.ok(ok.fd > 0, "the read of ctx.id loads");
});

test("ts-syscalls: this process's system calls are counted under its pid and comm", async (t) => {
  if (!needsRoot(t)) return;
  const r = await syscalls(quiet, 300);
  const own = r.rows.find((x) => x.pid === process.pid);
  assert.ok(own !== undefined, "this process has a row");
  assert.ok(own!.count >= 300n, `at least the 300 stat calls (counted ${own!.count})`);
  assert.equal(own!.comm, readComm(), "comm is this process's");
});

function readComm(): string {
  return readFileSync("/proc/self/comm", "utf8").trim();
}

test("ts-malloc-hist: twenty 1.5 MiB allocations land in [1M, 2M)", async (t) => {
  if (!needsRoot(t)) return;
  const r = await mallocHist(quiet, 20);
  assert.ok(r.counts[21]! >= 20n, `slot 21 is [1M, 2M): ${r.counts[21]}`);
  assert.ok(r.counts.reduce((a, b) => a + b, 0n) > 20n, "and smaller ones elsewhere");
});

test("ts-trace-opens: every file the demo opened comes through the ring buffer with its flags", async (t) => {
  if (!needsRoot(t)) return;
  const r = await traceOpens(quiet);
  for (const f of r.opened) {
    const seen = r.traced.filter((x) => x.name === f);
    assert.equal(seen.length, 2, `${f}: written, then opened read-only`);
    assert.ok(
      seen.every((x) => x.pid === process.pid),
      "with this process's pid",
    );
    assert.equal(seen[1]!.flags & 3, 0, "O_RDONLY the second time");
    assert.equal(seen[0]!.flags & 3, 1, "O_WRONLY the first time");
  }
});

for (const kind of ["tp_btf", "raw_tp"] as const) {
  test(`${kind}: a task_struct pointer from BTF — task.real_parent.tgid, task.comm — for a child this process runs`, (t) => {
    if (!needsRoot(t)) return;
    const m = compile(execProgram(kind), { file: "exec.ts" });
    const p = m.programs[0]!;
    const probes = p.insns.filter(
      (i) => i.ref?.kind === "helper" && i.ref.name === "bpf_probe_read_kernel",
    ).length;
    if (kind === "tp_btf") {
      assert.equal(p.type, "tracing");
      assert.equal(p.expectedAttachType, "trace_raw_tp");
      assert.equal(p.attachBtfId, vmlinuxBtf().findId("btf_trace_sched_process_exec", "typedef"));
      assert.equal(probes, 0, "tp_btf reads the task directly");
    } else {
      assert.equal(p.type, "raw_tracepoint");
      assert.ok(probes >= 4, `raw_tp reads through bpf_probe_read_kernel (${probes} calls)`);
    }
    using loaded = loadCompiled(m);
    let child: number | undefined;
    {
      using _link =
        kind === "tp_btf"
          ? attachTracing(loaded.programs.on_exec!)
          : attachRawTracepoint(loaded.programs.on_exec!, p.attachTo!);
      child = spawnSync("/bin/true").pid;
    }
    const key = Buffer.alloc(4);
    key.writeUInt32LE(child!);
    const value = (loaded.maps.execs as unknown as { get(k: Buffer): Uint8Array | undefined }).get(key);
    assert.ok(value !== undefined, `the exec of ${child} was recorded`);
    const b = Buffer.from(value!);
    assert.equal(b.readUInt32LE(0), process.pid, "its parent is this process");
    assert.equal(b.readUInt32LE(4), child, "tgid is the child's");
    assert.equal(b.subarray(8).toString().replace(/\0.*$/s, ""), "true", "comm after exec");
  });
}

test("kernel struct errors: a member the struct lacks, reading a struct whole", (t) => {
  if (!needsRoot(t)) return;
  const cases: [string, RegExp][] = [
    ["return ctx.p.no_such_member;", /struct task_struct has no member 'no_such_member'/],
    ["return ctx.p.se;", /is a struct sched_entity: read its members/],
  ];
  for (const [body, why] of cases)
    assert.throws(
      () =>
        compile(
          `import { program } from "rawbpf";\nexport const p = program("tp_btf/sched_process_exec", (ctx) => {\n${body}\n});\n`,
        ),
      (e: unknown) => e instanceof CompileError && why.test(e.reason),
      body,
    );
});

test("the current task: helpers.get_current_task_btf() read directly, get_current_task() through probe reads", (t) => {
  if (!needsRoot(t)) return;
  const src = `
import { config, helpers, map, program, struct, u32 } from "rawbpf";
const target = config({ pid: u32 });
const Seen = struct({ direct: u32, probed: u32, uid: u32 });
const seen = map("array", { key: u32, value: Seen, maxEntries: 1 });
export const who = program("tracepoint/raw_syscalls/sys_enter", (ctx) => {
  if (helpers.get_current_pid_tgid() >> 32 !== target.pid) return 0;
  const s = seen.lookup(0);
  if (s === null) return 0;
  s.direct = helpers.get_current_task_btf().real_parent.tgid;
  const task = helpers.get_current_task();
  s.probed = task.real_parent.tgid;
  s.uid = task.cred.uid.val;
  return 0;
});
`;
  using loaded = loadCompiled(compile(src, { file: "who.ts" }), { config: { target: { pid: process.pid } } });
  {
    using _link = attachTracepoint(loaded.programs.who!, "raw_syscalls", "sys_enter");
    readFileSync("/proc/self/comm");
  }
  const v = Buffer.from((loaded.maps.seen as unknown as { get(k: Buffer): Uint8Array }).get(Buffer.alloc(4)));
  assert.equal(v.readUInt32LE(0), process.ppid, "the parent's tgid, read directly");
  assert.equal(v.readUInt32LE(4), process.ppid, "the parent's tgid, read with bpf_probe_read_kernel");
  assert.equal(v.readUInt32LE(8), process.getuid?.(), "task->cred->uid.val");
});
