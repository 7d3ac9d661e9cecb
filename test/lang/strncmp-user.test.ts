/**
 * strncmp against a constant on user memory: a system call tracepoint's `const char *filename`
 * points into the calling process, so the compiler copies the string to the stack with
 * bpf_probe_read_user_str before bpf_strncmp. The oracle is what this process opens (files in a
 * directory of its own, by absolute path) and JavaScript's comparison of the same strings.
 */
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { attachTracepoint, CompileError, compile, program, strncmp } from "../../src/index.js";
import { tracepointFields } from "../../src/lang/tracefs.js";
import { loadCompiled } from "../../src/program/compiled.js";
import { needsRoot } from "../support/privilege.js";

/** sys_enter_openat's format file as this kernel's tracefs has it (for the compile-only tests). */
const OPENAT = `name: sys_enter_openat
ID: 782
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;
`;

/** C's strncmp(a, b, n) sign, on the bytes. */
function sign(a: string, b: string, n: number): number {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  for (let i = 0; i < n; i++) {
    const p = x[i] ?? 0;
    const q = y[i] ?? 0;
    if (p !== q) return Math.sign(p - q);
    if (p === 0) return 0;
  }
  return 0;
}

test("a system call's char * is a string in user memory; another tracepoint's, in kernel memory", () => {
  assert.equal(tracepointFields(OPENAT, true).get("filename")?.string, "user");
  assert.equal(tracepointFields(OPENAT, false).get("filename")?.string, "kernel");
  assert.equal(tracepointFields(OPENAT, true).get("flags")?.string, undefined, "an int is no string");
});

test("strncmp(ctx.filename, constant) on sys_enter_openat counts this process's opens of a name", (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-strncmp-"));
  try {
    const needle = join(dir, "needle");
    const src = `
import { atomicAdd, config, helpers, map, program, strncmp, u32, u64 } from "rawbpf";
const NEEDLE = ${JSON.stringify(needle)};
const target = config({ pid: u32 });
const counts = map("array", { key: u32, value: u64, maxEntries: 4 });
function count(slot: u32): u32 {
  const c = counts.lookup(slot);
  if (c !== null) atomicAdd(c.value, 1);
  return 0;
}
export const opens = program("tracepoint/syscalls/sys_enter_openat", (ctx) => {
  if (helpers.get_current_pid_tgid() >> 32 !== target.pid) return 0;
  if (strncmp(ctx.filename, NEEDLE) === 0) count(0);
  if (strncmp(ctx.filename, NEEDLE, ${Buffer.byteLength(needle) + 1}) === 0) count(1);
  if (strncmp(ctx.filename, ${JSON.stringify(`${dir}/needlf`)}) < 0) count(2);
  if (strncmp(ctx.filename, ${JSON.stringify(`${dir}/needld`)}) > 0) count(3);
  return 0;
});
`;
    const m = compile(src, { file: "opens.ts" });
    const reads = m.programs[0]!.insns.filter(
      (i) => i.ref?.kind === "helper" && i.ref.name === "bpf_probe_read_user_str",
    ).length;
    assert.equal(reads, 4, "each comparison copies the user string to the stack first");
    const names = ["needle", "needle", "needlex", "needle", "other", "needl", "a"].map((n) => join(dir, n));
    using loaded = loadCompiled(m, { config: { target: { pid: process.pid } } });
    {
      using _link = attachTracepoint(loaded.programs.opens!, "syscalls", "sys_enter_openat");
      for (const n of names) closeSync(openSync(n, "a"));
    }
    const counts = loaded.maps.counts as unknown as { get(k: Buffer): Uint8Array | undefined };
    const got = [0, 1, 2, 3].map((i) => {
      const k = Buffer.alloc(4);
      k.writeUInt32LE(i);
      return Number(Buffer.from(counts.get(k)!).readBigUInt64LE(0));
    });
    const n = Buffer.byteLength(needle);
    const expected = [
      names.filter((x) => sign(x, needle, n) === 0).length,
      names.filter((x) => sign(x, needle, n + 1) === 0).length,
      names.filter((x) => sign(x, `${dir}/needlf`, n) < 0).length,
      names.filter((x) => sign(x, `${dir}/needld`, n) > 0).length,
    ];
    assert.deepEqual(got, expected, "what C's strncmp says of the names this process opened");
    assert.deepEqual(expected, [4, 3, 6, 5], "a prefix, the exact name, below and above");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the types rawbpf ships take a tracepoint's char * and a kernel char array in strncmp (tsc checks this file)", () => {
  const typed = [
    program("tracepoint/syscalls/sys_enter_openat", (ctx) => strncmp(ctx.filename, "/etc/passwd")),
    program("tp_btf/sched_process_exec", (ctx) => strncmp(ctx.p.comm, "true")),
  ];
  assert.deepEqual(
    typed.map((p) => p.kind),
    ["rawbpf.program", "rawbpf.program"],
  );
});

test("strncmp on user memory: misuses are compile errors at their place", () => {
  const cases: [string, RegExp, number][] = [
    [`strncmp(ctx.filename.subarray(2), "x")`, /a window \(subarray\) of user memory is not supported/, 31],
    [
      `strncmp(ctx.flags, "x")`,
      /strncmp's first argument is a byte array: .*a tracepoint record's `char \*` field/,
      9,
    ],
    [`strncmp(ctx.filename, "")`, /strncmp against an empty string/, 23],
  ];
  for (const [call, reason, column] of cases) {
    try {
      compile(
        `import { program, strncmp } from "rawbpf";\nexport const p = program("tracepoint/syscalls/sys_enter_openat", (ctx) => {\n  return ${call};\n});\n`,
        { tracepointFormat: () => OPENAT },
      );
      assert.fail(`compiled: ${call}`);
    } catch (e) {
      assert.ok(e instanceof CompileError, String(e));
      assert.match(e.reason, reason, call);
      assert.deepEqual([e.line, e.column], [3, column + 9], `${call}: ${e.message}`);
    }
  }
});
