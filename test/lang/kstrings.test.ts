/**
 * strncmp against a constant on kernel memory: a task's comm through BTF (tp_btf, read directly;
 * raw_tp, through probe reads) and a tracepoint record's char arrays. The compiler copies the
 * string to the stack with bpf_probe_read_kernel_str before bpf_strncmp; the oracle is what this
 * process makes the kernel see (a child's exec, a rename of this thread), and JavaScript's
 * comparison of the same strings for the sign.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import {
  attachRawTracepoint,
  attachTracepoint,
  attachTracing,
  CompileError,
  compile,
} from "../../src/index.js";
import { loadCompiled } from "../../src/program/compiled.js";
import { needsRoot } from "../support/privilege.js";

/** The four i32 results a program stored, slots 0..3 of its `out` array. */
function results(loaded: ReturnType<typeof loadCompiled>): number[] {
  const out = loaded.maps.out as unknown as { get(k: Buffer): Uint8Array | undefined };
  return [0, 1, 2, 3].map((i) => {
    const k = Buffer.alloc(4);
    k.writeUInt32LE(i);
    return Buffer.from(out.get(k)!).readInt32LE(0);
  });
}

/** C's strncmp(a, b, n) sign, on the bytes. */
function sign(a: string, b: string, n: number): number {
  const x = Buffer.from(a.slice(0, n));
  const y = Buffer.from(b.slice(0, n));
  for (let i = 0; i < n; i++) {
    const p = x[i] ?? 0;
    const q = y[i] ?? 0;
    if (p !== q) return Math.sign(p - q);
    if (p === 0) return 0;
  }
  return 0;
}

const EXEC = (kind: string) => `
import { config, i32, map, program, strncmp, u32 } from "rawbpf";
const target = config({ pid: u32 });
const out = map("array", { key: u32, value: i32, maxEntries: 4 });
export const on_exec = program("${kind}/sched_process_exec", (ctx) => {
  const task = ctx.p;
  if (task.real_parent.tgid !== target.pid) return 0;
  out.update(0, strncmp(task.comm, "true"));
  out.update(1, strncmp(task.comm, "tru"));
  out.update(2, strncmp(task.comm, "truer", 6));
  out.update(3, strncmp(task.comm, "tr", 16));
  return 0;
});
`;

for (const kind of ["tp_btf", "raw_tp"] as const) {
  test(`strncmp(task.comm, "...") on ${kind}: the child's comm, copied from kernel memory`, (t) => {
    if (!needsRoot(t)) return;
    const m = compile(EXEC(kind), { file: "exec.ts" });
    const p = m.programs[0]!;
    const copies = p.insns.filter(
      (i) => i.ref?.kind === "helper" && i.ref.name === "bpf_probe_read_kernel_str",
    ).length;
    assert.equal(copies, 4, "each comparison copies the comm to the stack first");
    using loaded = loadCompiled(m, { config: { target: { pid: process.pid } } });
    {
      using _link =
        kind === "tp_btf"
          ? attachTracing(loaded.programs.on_exec!)
          : attachRawTracepoint(loaded.programs.on_exec!, p.attachTo!);
      spawnSync("/bin/true");
    }
    const got = results(loaded).map(Math.sign);
    assert.deepEqual(
      got,
      [sign("true", "true", 4), sign("true", "tru", 3), sign("true", "truer", 6), sign("true", "tr", 16)],
      "the signs of C's strncmp on the same strings",
    );
    assert.deepEqual(got, [0, 0, -1, 1], "equal, a prefix, shorter, longer");
  });
}

test("strncmp on a tracepoint record's char arrays (task/task_rename: oldcomm, newcomm)", (t) => {
  if (!needsRoot(t)) return;
  const original = readFileSync("/proc/self/comm", "utf8").trim();
  const renamed = "rawbpf-kstr";
  const src = `
import { config, i32, map, program, strncmp, u32 } from "rawbpf";
const target = config({ pid: u32 });
const out = map("array", { key: u32, value: i32, maxEntries: 4 });
export const on_rename = program("tracepoint/task/task_rename", (ctx) => {
  if (ctx.pid !== target.pid) return 0;
  out.update(0, strncmp(ctx.newcomm, "rawbpf-"));
  out.update(1, strncmp(ctx.oldcomm, ${JSON.stringify(original)}, ${original.length + 1}));
  out.update(2, strncmp(ctx.newcomm, "rawbpf-zzz"));
  out.update(3, strncmp(ctx.oldcomm, "rawbpf-"));
  return 0;
});
`;
  const m = compile(src, { file: "rename.ts" });
  using loaded = loadCompiled(m, { config: { target: { pid: process.pid } } });
  try {
    using _link = attachTracepoint(loaded.programs.on_rename!, "task", "task_rename");
    writeFileSync("/proc/self/comm", renamed);
  } finally {
    writeFileSync("/proc/self/comm", original);
  }
  assert.deepEqual(
    results(loaded).map(Math.sign),
    [
      sign(renamed, "rawbpf-", 7),
      sign(original, original, original.length + 1),
      sign(renamed, "rawbpf-zzz", 10),
      sign(original, "rawbpf-", 7),
    ],
    "the signs of C's strncmp on the same strings",
  );
});

test("strncmp on kernel memory: misuses are compile errors at their place", (t) => {
  if (!needsRoot(t)) return;
  const cases: [string, RegExp, number][] = [
    [
      `strncmp(ctx.p.comm, "${"x".repeat(17)}")`,
      /comparing 17 bytes of a 16-byte kernel array runs past its end/,
      3,
    ],
    [`strncmp(ctx.p.pid, "x")`, /strncmp compares a char array: this kernel member is not one/, 11],
    [`strncmp(ctx.p.comm.subarray(2), "x")`, /a window \(subarray\) of kernel memory is not supported/, 31],
  ];
  for (const [call, reason, column] of cases) {
    try {
      compile(
        `import { program, strncmp } from "rawbpf";\nexport const p = program("tp_btf/sched_process_exec", (ctx) => {\n  return ${call};\n});\n`,
      );
      assert.fail(`compiled: ${call}`);
    } catch (e) {
      assert.ok(e instanceof CompileError, String(e));
      assert.match(e.reason, reason, call);
      assert.deepEqual([e.line, e.column], [3, column + 7], `${call}: ${e.message}`);
    }
  }
});
