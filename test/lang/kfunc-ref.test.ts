/**
 * Kfuncs that acquire and release references (src/lang/kfuncs.ts: the KF_ACQUIRE, KF_RELEASE and
 * KF_RET_NULL flags written down from the kernel's sources, since its BTF does not carry them).
 * The table is checked against the running kernel's verifier, entry by entry: a program using
 * the acquiring kfunc correctly loads; the same instructions with the release call replaced by
 * `r0 = 0` are refused with "Unreleased reference" (so the kfunc acquires, and the replaced one
 * released); the verifier's log (level 2) shows its result a reference, `ptr_or_null_` exactly
 * where the table says it may be null. The compiler refuses the TypeScript program without its release first,
 * with its own reason at the line. And one program runs: bpf_task_from_pid of this process, its
 * tgid and its parent's read through BTF, against process.pid and process.ppid.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmdirSync, statSync } from "node:fs";
import { test } from "node:test";
import { vmlinuxBtf } from "../../src/btf/index.js";
import {
  type CompiledModule,
  CompileError,
  compile,
  type Instruction,
  kfuncs,
  mov,
  ProgramRejectedError,
  program,
  register,
} from "../../src/index.js";
import { KFUNC_RULES } from "../../src/lang/kfuncs.js";
import { loadCompiled } from "../../src/program/compiled.js";
import { needsRoot } from "../support/privilege.js";

const HEAD = `import { program, kfuncs, helpers, struct, zero, bytes, i32, u8, u16, u32 } from "rawbpf";
const Tuple = struct({ saddr: u32, daddr: u32, sport: u16, dport: u16 });
const CtOpts = struct({ netns_id: i32, error: i32, l4proto: u8, dir: u8, ct_zone_id: u16, ct_zone_dir: u8, reserved: bytes(3) });
const XfrmOpts = struct({ error: i32, netns_id: i32, mark: u32, daddr: bytes(16), spi: u32, proto: u8, family: u16 });
`;

/** The program's text: HEAD, then one program of `type` whose body is `lines`. */
function source(type: string, lines: readonly string[]): string {
  return `${HEAD}export const p = program("${type}", (ctx) => {\n${lines.map((l) => `  ${l}`).join("\n")}\n});\n`;
}

/**
 * How to use an acquiring kfunc correctly. The lines marked `// RELEASE` give the reference back
 * (the first marked line's call is the one replaced in the leaking twin; a marked line is dropped
 * from the TypeScript that must not compile). `// CHECK` marks the null check of its result.
 */
interface Recipe {
  readonly type: string;
  readonly lines: readonly string[];
}

function recipes(p: { pid: number; cgroup: number; hierarchy: number | undefined }): Map<string, Recipe> {
  const tuple = [
    "const t = zero(Tuple);",
    "t.saddr = 0x0100007f;",
    "t.daddr = 0x0100007f;",
    "t.sport = 0x5000;",
    "t.dport = 0x5000;",
  ];
  const ct = ["const o = zero(CtOpts);", "o.netns_id = -1;", "o.l4proto = 6;"];
  const task = (fn: string) => ({
    type: "xdp",
    lines: [
      `const t = kfuncs.${fn}(${p.pid});`,
      "if (t === null) return 1; // CHECK",
      "const r = t.tgid;",
      "kfuncs.bpf_task_release(t); // RELEASE",
      "return r;",
    ],
  });
  const r = new Map<string, Recipe>([
    ["bpf_task_from_pid", task("bpf_task_from_pid")],
    ["bpf_task_from_vpid", task("bpf_task_from_vpid")],
    [
      "bpf_task_acquire",
      {
        type: "tp_btf/sched_process_exec",
        lines: [
          "const u = kfuncs.bpf_task_acquire(helpers.get_current_task_btf());",
          "if (u === null) return 2; // CHECK",
          "const r = u.pid;",
          "kfuncs.bpf_task_release(u); // RELEASE",
          "return r;",
        ],
      },
    ],
    [
      "bpf_cgroup_from_id",
      {
        type: "xdp",
        lines: [
          `const c = kfuncs.bpf_cgroup_from_id(${p.cgroup});`,
          "if (c === null) return 1; // CHECK",
          "const r = c.level;",
          "kfuncs.bpf_cgroup_release(c); // RELEASE",
          "return r;",
        ],
      },
    ],
    [
      "bpf_cgroup_ancestor",
      {
        type: "tp_btf/sched_process_exec",
        lines: [
          "const a = kfuncs.bpf_cgroup_ancestor(helpers.get_current_task_btf().cgroups.dfl_cgrp, 0);",
          "if (a === null) return 2; // CHECK",
          "const r = a.level;",
          "kfuncs.bpf_cgroup_release(a); // RELEASE",
          "return r;",
        ],
      },
    ],
    [
      "bpf_cgroup_acquire",
      {
        type: "tp_btf/sched_process_exec",
        lines: [
          "const a = kfuncs.bpf_cgroup_acquire(helpers.get_current_task_btf().cgroups.dfl_cgrp);",
          "if (a === null) return 2; // CHECK",
          "const r = a.level;",
          "kfuncs.bpf_cgroup_release(a); // RELEASE",
          "return r;",
        ],
      },
    ],
    [
      "bpf_cpumask_create",
      {
        type: "tp_btf/sched_process_exec",
        lines: [
          "const m = kfuncs.bpf_cpumask_create();",
          "if (m === null) return 1; // CHECK",
          "kfuncs.bpf_cpumask_set_cpu(0, m);",
          "kfuncs.bpf_cpumask_release(m); // RELEASE",
          "return 0;",
        ],
      },
    ],
    [
      "bpf_cpumask_acquire",
      {
        // not KF_RET_NULL: no check
        type: "tp_btf/sched_process_exec",
        lines: [
          "const m = kfuncs.bpf_cpumask_create();",
          "if (m === null) return 1;",
          "const a = kfuncs.bpf_cpumask_acquire(m);",
          "kfuncs.bpf_cpumask_release(a); // RELEASE",
          "kfuncs.bpf_cpumask_release(m);",
          "return 0;",
        ],
      },
    ],
    ...(["xdp", "skb"] as const).flatMap((kind): [string, Recipe][] => [
      [
        `bpf_${kind}_ct_lookup`,
        {
          type: kind === "xdp" ? "xdp" : "sched_cls",
          lines: [
            ...tuple,
            ...ct,
            `const c = kfuncs.bpf_${kind}_ct_lookup(ctx, t, 12, o, 16);`,
            "if (c === null) return 1; // CHECK",
            "const r = c.mark;",
            "kfuncs.bpf_ct_release(c); // RELEASE",
            "return r;",
          ],
        },
      ],
      [
        `bpf_${kind}_ct_alloc`,
        {
          type: kind === "xdp" ? "xdp" : "sched_cls",
          lines: [
            ...tuple,
            ...ct,
            `const n = kfuncs.bpf_${kind}_ct_alloc(ctx, t, 12, o, 16);`,
            "if (n === null) return 1; // CHECK",
            "const c = kfuncs.bpf_ct_insert_entry(n); // RELEASE",
            "if (c !== null) kfuncs.bpf_ct_release(c); // RELEASE",
            "return 0;",
          ],
        },
      ],
    ]),
    [
      "bpf_ct_insert_entry",
      {
        type: "xdp",
        lines: [
          ...tuple,
          ...ct,
          "const n = kfuncs.bpf_xdp_ct_alloc(ctx, t, 12, o, 16);",
          "if (n === null) return 1;",
          "const c = kfuncs.bpf_ct_insert_entry(n);",
          "if (c === null) return 2; // CHECK",
          "kfuncs.bpf_ct_release(c); // RELEASE",
          "return 0;",
        ],
      },
    ],
    [
      "bpf_xdp_get_xfrm_state",
      {
        type: "xdp",
        lines: [
          "const o = zero(XfrmOpts);",
          "o.netns_id = -1;",
          "o.family = 2;",
          "o.proto = 50;",
          "const x = kfuncs.bpf_xdp_get_xfrm_state(ctx, o, 36);",
          "if (x === null) return 1; // CHECK",
          "kfuncs.bpf_xdp_xfrm_state_release(x); // RELEASE",
          "return 0;",
        ],
      },
    ],
    [
      "bpf_lookup_system_key",
      {
        type: "xdp",
        lines: [
          "const k = kfuncs.bpf_lookup_system_key(0);",
          "if (k === null) return 1; // CHECK",
          "kfuncs.bpf_key_put(k); // RELEASE",
          "return 0;",
        ],
      },
    ],
  ]);
  if (p.hierarchy !== undefined)
    r.set("bpf_task_get_cgroup1", {
      type: "tp_btf/sched_process_exec",
      lines: [
        `const c = kfuncs.bpf_task_get_cgroup1(helpers.get_current_task_btf(), ${p.hierarchy});`,
        "if (c === null) return 2; // CHECK",
        "const r = c.level;",
        "kfuncs.bpf_cgroup_release(c); // RELEASE",
        "return r;",
      ],
    });
  return r;
}

/** The kfunc called on a line: `kfuncs.NAME(`. */
function kfuncOn(line: string): string {
  const m = /kfuncs\.(\w+)\(/.exec(line);
  assert.ok(m, `no kfunc call on ${line}`);
  return m[1]!;
}

/** The module with one instruction of program p replaced. */
function patched(m: CompiledModule, index: number, by: Instruction): CompiledModule {
  return {
    ...m,
    programs: m.programs.map((p) => ({ ...p, insns: p.insns.map((x, i) => (i === index ? by : x)) })),
  };
}

/** Index of the `k`-th call (0-based) to kfunc `name` in the module's one program. */
function callIndex(m: CompiledModule, name: string, k: number): number {
  const at = m.programs[0]!.insns.flatMap((x, i) =>
    x.ref?.kind === "kfunc" && x.ref.name === name ? [i] : [],
  );
  assert.ok(at.length > k, `the program calls ${name} ${at.length} times, wanted the call number ${k + 1}`);
  return at[k]!;
}

/** A load that the verifier refuses: its log. */
function refusal(m: CompiledModule): string {
  try {
    using _l = loadCompiled(m);
  } catch (e) {
    assert.ok(e instanceof ProgramRejectedError, `a verifier rejection, got ${String(e)}`);
    return e.message;
  }
  return assert.fail("the verifier accepted it");
}

/** This process's cgroup v1 hierarchy with a controller, from /proc/self/cgroup (its id), if any. */
function v1Hierarchy(): number | undefined {
  for (const l of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    const [id, controllers] = l.split(":");
    if (id !== undefined && id !== "0" && controllers !== undefined && controllers !== "") return Number(id);
  }
  return undefined;
}

/** Where cgroup v2 is mounted (/proc/mounts), if it is. */
function cgroupRoot(): string | undefined {
  for (const line of readFileSync("/proc/mounts", "latin1").split("\n")) {
    const [, dir, type] = line.split(" ");
    if (type === "cgroup2" && dir) return dir.replace(/\\040/g, " ");
  }
  return undefined;
}

/** A cgroup v2 directory of this test's own (its id is its inode number), removed after. */
function withCgroup<T>(fn: (dir: string) => T): T | undefined {
  const root = cgroupRoot();
  if (root === undefined) return undefined;
  const dir = `${root}/rawbpf-kfuncref-${process.pid}`;
  try {
    mkdirSync(dir);
  } catch {
    return undefined;
  }
  try {
    return fn(dir);
  } finally {
    rmdirSync(dir);
  }
}

test("every acquiring kfunc of the table that this kernel has: the verifier agrees with the table", (t) => {
  if (!needsRoot(t)) return;
  const btf = vmlinuxBtf();
  // the root cgroup's id is its directory's inode number (1)
  const root = cgroupRoot();
  const all = recipes({
    pid: process.pid,
    cgroup: root === undefined ? 1 : statSync(root).ino,
    hierarchy: v1Hierarchy(),
  });
  {
    const acquiring = [...KFUNC_RULES].filter(([, r]) => r.acquires !== undefined).map(([n]) => n);
    let checked = 0;
    for (const name of acquiring) {
      if (btf.findId(name, "func") === undefined) continue;
      const recipe = all.get(name);
      if (name === "bpf_task_get_cgroup1" && recipe === undefined) continue; // no v1 hierarchy here
      assert.ok(recipe, `a recipe for ${name}`);
      const rule = KFUNC_RULES.get(name)!.acquires!;
      const src = source(recipe.type, recipe.lines);
      // 1. used correctly, it loads; the verifier's state after the call says what it returned:
      // a reference (ref_obj_id) that may be null (ptr_or_null_) exactly when the table says so
      const m = compile(src, { file: `${name}.ts` });
      {
        using ok = loadCompiled(m, { logLevel: 2 });
        // the state is on the call's line, or on a line of its own after the precision marks
        const at = ok.programs.p!.log.split(`(85) call ${name}#`).at(-1)!;
        const after = /R0=(\S+)/.exec(at);
        assert.ok(after, `${name}: the verifier's state after the call, in its log:\n${at.slice(0, 2000)}`);
        assert.match(after[1]!, /ref_obj_id=\d+/, `${name}: the kernel acquires a reference (KF_ACQUIRE)`);
        assert.equal(
          after[1]!.startsWith("ptr_or_null_"),
          rule.nullable,
          `${name}: ${after[1]} may be null iff the table says KF_RET_NULL`,
        );
      }
      // 2. its release replaced by r0 = 0: "Unreleased reference"
      const marked = recipe.lines.findIndex((l) => l.includes("// RELEASE"));
      const releaser = kfuncOn(recipe.lines[marked]!);
      assert.ok(rule.releasedBy.includes(releaser), `${releaser} is one of ${name}'s releasers in the table`);
      const before = recipe.lines.slice(0, marked).filter((l) => l.includes(`kfuncs.${releaser}(`)).length;
      const leak = patched(m, callIndex(m, releaser, before), mov(register(0), 0));
      assert.match(refusal(leak), /Unreleased reference/, `${name}: the kernel wants what it acquired back`);
      const check = recipe.lines.some((l) => l.includes("// CHECK"));
      assert.equal(check, rule.nullable, `${name}: a null check in the recipe iff KF_RET_NULL`);
      // 3. the compiler refuses the program without its release lines, with its reason
      const kept = recipe.lines.filter((l) => !l.includes("// RELEASE"));
      try {
        compile(source(recipe.type, kept), { file: `${name}.ts` });
        assert.fail(`${name}: compiled without its release`);
      } catch (e) {
        assert.ok(e instanceof CompileError, `${name}: a CompileError, got ${String(e)}`);
        assert.match(
          e.reason,
          new RegExp(
            `kfuncs\\.${name} acquired at line \\d+ is not released on this path: call kfuncs\\.${rule.releasedBy[0]}`,
          ),
          name,
        );
      }
      checked++;
    }
    assert.ok(checked >= 5, `checked ${checked} kfuncs`);
  }
});

test("bpf_task_from_pid: this process's task, its tgid and its parent's through BTF, released", (t) => {
  if (!needsRoot(t)) return;
  const src = source("xdp", [
    `const t = kfuncs.bpf_task_from_pid(${process.pid});`,
    "if (t === null) return 0;",
    "const r = t.tgid * 0 + t.real_parent.tgid;",
    "kfuncs.bpf_task_release(t);",
    "return r;",
  ]);
  using l = loadCompiled(compile(src, { file: "task.ts" }));
  assert.equal(l.programs.p!.testRun({ data: Buffer.alloc(64) }).retval, process.ppid, "the parent's tgid");
  const mine = source("xdp", [
    `const t = kfuncs.bpf_task_from_pid(${process.pid});`,
    "if (t === null) return 0;",
    "const r = t.tgid;",
    "kfuncs.bpf_task_release(t);",
    "return r;",
  ]);
  using m = loadCompiled(compile(mine, { file: "task.ts" }));
  assert.equal(m.programs.p!.testRun({ data: Buffer.alloc(64) }).retval, process.pid, "this process's tgid");
  // a pid nobody has (past pid_max): null, handled
  const max = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8"));
  using n = loadCompiled(compile(mine.replace(String(process.pid), String(max + 1)), { file: "task.ts" }));
  assert.equal(n.programs.p!.testRun({ data: Buffer.alloc(64) }).retval, 0, "no task: the null path");
});

test("bpf_cgroup_from_id and bpf_cgroup_ancestor: the levels of a cgroup this test made", (t) => {
  if (!needsRoot(t)) return;
  /** level * 100, + 10 when the cgroup's kernfs id is `id`, + 1 when its level-0 ancestor is level 0 */
  const probe = (id: number): number => {
    const src = source("xdp", [
      `const c = kfuncs.bpf_cgroup_from_id(${id});`,
      "if (c === null) return 100000;",
      "const a = kfuncs.bpf_cgroup_ancestor(c, 0);",
      `let r: u32 = c.level * 100 + (c.kn.id === ${id} ? 10 : 0);`,
      "if (a !== null) { if (a.level === 0) r += 1; kfuncs.bpf_cgroup_release(a); }",
      "kfuncs.bpf_cgroup_release(c);",
      "return r;",
    ]);
    using l = loadCompiled(compile(src, { file: "cgroup.ts" }));
    return l.programs.p!.testRun({ data: Buffer.alloc(64) }).retval;
  };
  const got = withCgroup((dir) => [probe(statSync(dir).ino), probe(statSync(cgroupRoot()!).ino)]);
  if (got === undefined) return t.skip("no cgroup v2 directory could be made");
  const [mine, root] = got as [number, number];
  assert.equal(root % 100, 11, `the mount's cgroup, found by its inode number (${root})`);
  assert.equal(mine % 100, 11, `this test's cgroup, found by its inode number (${mine})`);
  assert.equal(Math.floor(mine / 100), Math.floor(root / 100) + 1, "one level below the mount's");
});

/** Compiles an xdp program of `lines` and returns the error it raises. */
function refuse(lines: readonly string[]): CompileError {
  const src = source("xdp", lines);
  try {
    compile(src, { file: "bad.ts" });
  } catch (e) {
    assert.ok(e instanceof CompileError, `a CompileError, got ${String(e)}`);
    const line = src.split("\n")[e.line - 1]!;
    assert.ok(e.frame.split("\n")[0]!.endsWith(line), "the frame shows the line");
    return e;
  }
  return assert.fail(`compiled, but should not have:\n${lines.join("\n")}`);
}

test("misuses of kfunc references are compile errors with the reason, at their line and column", () => {
  const from = "const t = kfuncs.bpf_task_from_pid(1);";
  const L = (i: number) => HEAD.split("\n").length + 1 + i; // the line of lines[i] in source()
  const cases: [string, string[], RegExp, number, number][] = [
    [
      "not released on a path",
      [
        from,
        "if (t === null) return 1;",
        "if (t.pid > 10) return 2;",
        "kfuncs.bpf_task_release(t);",
        "return 0;",
      ],
      /the task kfuncs\.bpf_task_from_pid acquired at line \d+ is not released on this path: call kfuncs\.bpf_task_release/,
      L(2),
      19,
    ],
    [
      "used before its null check",
      [from, "const p = t.pid;", "if (t !== null) kfuncs.bpf_task_release(t);", "return p;"],
      /this struct task_struct \* may be null \(kfuncs\.bpf_task_from_pid may find nothing\): check it first/,
      L(1),
      13,
    ],
    [
      "released before its null check",
      [from, "kfuncs.bpf_task_release(t);", "return 0;"],
      /may be null/,
      L(1),
      27,
    ],
    [
      "passed to another kfunc before its null check",
      [
        "const m = kfuncs.bpf_cpumask_create();",
        "kfuncs.bpf_cpumask_set_cpu(0, m);",
        "if (m !== null) kfuncs.bpf_cpumask_release(m);",
        "return 0;",
      ],
      /this struct bpf_cpumask \* may be null \(kfuncs\.bpf_cpumask_create may find nothing\)/,
      L(1),
      33,
    ],
    [
      "used after its release",
      [from, "if (t === null) return 1;", "kfuncs.bpf_task_release(t);", "return t.pid;"],
      /'t' was released at line \d+: it may not be used after/,
      L(3),
      10,
    ],
    [
      "released on one branch only",
      [from, "if (t === null) return 1;", "if (t.pid > 10) kfuncs.bpf_task_release(t);", "return 0;"],
      /released on one path through this if and not on the other/,
      L(2),
      3,
    ],
    [
      "released by the wrong kfunc",
      [from, "if (t === null) return 1;", "kfuncs.bpf_cgroup_release(t);", "return 0;"],
      /bpf_cgroup_release releases what kfuncs\.bpf_cgroup_acquire, .*acquired: pass the local holding it.*not what kfuncs\.bpf_task_from_pid acquired/,
      L(2),
      29,
    ],
    [
      "releasing what no kfunc acquired",
      ["kfuncs.bpf_task_release(ctx);", "return 0;"],
      /bpf_task_release releases what kfuncs\.bpf_task_acquire, kfuncs\.bpf_task_from_pid, kfuncs\.bpf_task_from_vpid acquired/,
      L(0),
      27,
    ],
    [
      "kept in a let",
      ["let t = kfuncs.bpf_task_from_pid(1);", "return 0;"],
      /'t' holds a reference that must be released: declare it with const/,
      L(0),
      7,
    ],
    [
      "not kept at all",
      ["return kfuncs.bpf_task_from_pid(1) === null ? 1 : 0;"],
      /bpf_task_from_pid acquires a reference: keep it in a const of its own .* check it for null and release it with kfuncs\.bpf_task_release/,
      L(0),
      10,
    ],
  ];
  for (const [what, lines, reason, line, column] of cases) {
    const e = refuse(lines);
    assert.match(e.reason, reason, what);
    assert.deepEqual([e.line, e.column], [line, column], `${what}: ${e.message}`);
  }
});

test("the types rawbpf ships read an acquired task's members (tsc checks this file)", () => {
  const typed = program("xdp", () => {
    const task = kfuncs.bpf_task_from_pid(1);
    if (task === null) return 0;
    const ppid = task.real_parent.tgid;
    kfuncs.bpf_task_release(task);
    return ppid;
  });
  assert.equal(typed.kind, "rawbpf.program");
});

test("kfunc references released on every path compile; kfuncs outside the table are as before", () => {
  for (const lines of [
    ["const t = kfuncs.bpf_task_from_pid(1);", "if (t !== null) kfuncs.bpf_task_release(t);", "return 0;"],
    [
      "const t = kfuncs.bpf_task_from_pid(1);",
      "if (!t) return 1;",
      "if (t.pid > 10) { kfuncs.bpf_task_release(t); return 2; }",
      "kfuncs.bpf_task_release(t);",
      "return 0;",
    ],
    [
      "for (let i = 0; i < 2; i++) {",
      "  const t = kfuncs.bpf_task_from_pid(i);",
      "  if (t === null) continue;",
      "  kfuncs.bpf_task_release(t);",
      "}",
      "return 0;",
    ],
  ])
    compile(source("xdp", lines));
  // bpf_rcu_read_lock is in no table: a void call, as before
  compile(source("xdp", ["kfuncs.bpf_rcu_read_lock();", "kfuncs.bpf_rcu_read_unlock();", "return 0;"]));
});
