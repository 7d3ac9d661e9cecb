/**
 * Helpers that return pointers: a socket bpf_sk_lookup_tcp acquires (a reference every path
 * must release), bpf_skc_to_tcp_sock's kernel pointer (null until checked, valid until the
 * reference it comes from is released). Run in the kernel against a TCP socket this process
 * listens on, with the same program in C (clang-19) as a twin; and the misuses the verifier would
 * refuse are compile errors at their TypeScript line and column.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { availableParallelism } from "node:os";
import { test } from "node:test";
import { BpfObject, CompileError, compile, Program, ProgramRejectedError } from "../../src/index.js";
import { loadCompiled } from "../../src/program/compiled.js";
import { needsRoot } from "../support/privilege.js";
import { clangObject, clangPresent, clangSection } from "./clang.js";

const HEAD = `import { program, helpers, struct, u16, u32, zero, BPF_F_CURRENT_NETNS } from "rawbpf";
const Tuple = struct({ saddr: u32, daddr: u32, sport: u16, dport: u16 });
`;

/** 127.0.0.1 as the packet holds it (network order), read as a little-endian u32. */
const LOOPBACK = 0x0100007f;
const be16 = (n: number) => ((n & 0xff) << 8) | (n >> 8);

/** The TypeScript program: the port of the listening socket on 127.0.0.1:PORT, or 1. */
function lookupTs(port: number): string {
  return `${HEAD}
export const lookup = program("sched_cls", (ctx) => {
  const t = zero(Tuple);
  t.saddr = ${LOOPBACK};
  t.daddr = ${LOOPBACK};
  t.sport = ${be16(40000)};
  t.dport = ${be16(port)};
  const sk = helpers.sk_lookup_tcp(ctx, t, 12, BPF_F_CURRENT_NETNS, 0);
  if (sk === null) return 1;
  const local = sk.src_port;
  helpers.sk_release(sk);
  return local;
});

export const cast = program("sched_cls", (ctx) => {
  const t = zero(Tuple);
  t.daddr = ${LOOPBACK};
  t.dport = ${be16(port)};
  const sk = helpers.skc_lookup_tcp(ctx, t, 12, BPF_F_CURRENT_NETNS, 0);
  if (!sk) return 1;
  const tp = helpers.skc_to_tcp_sock(sk);
  let num: u32 = 2;
  if (tp !== null) num = tp.inet_conn.icsk_inet.sk.__sk_common.skc_num;
  helpers.sk_release(sk);
  return num;
});
`;
}

function lookupC(port: number, release: boolean): string {
  return `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("tc") int lookup(struct __sk_buff *skb) {
  struct bpf_sock_tuple t = {};
  t.ipv4.saddr = ${LOOPBACK}; t.ipv4.daddr = ${LOOPBACK};
  t.ipv4.sport = ${be16(40000)}; t.ipv4.dport = ${be16(port)};
  struct bpf_sock *sk = bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
  if (!sk) return 1;
  __u32 local = sk->src_port;
  ${release ? "bpf_sk_release(sk);" : ""}
  return local;
}
char LICENSE[] SEC("license") = "GPL";
`;
}

async function listen(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

const PACKET = Buffer.alloc(64);

test("helpers.sk_lookup_tcp finds this process's listening socket, released; its C twin agrees", async (t) => {
  if (!needsRoot(t)) return;
  const server = await listen();
  try {
    const port = (server.address() as { port: number }).port;
    const m = compile(lookupTs(port), { file: "lookup.ts" });
    using loaded = loadCompiled(m);
    const ts = loaded.programs.lookup!.testRun({ data: PACKET }).retval;
    assert.equal(ts, port, "the socket's local port, as the kernel found it");
    assert.equal(
      loaded.programs.cast!.testRun({ data: PACKET }).retval,
      port,
      "tcp_sock's skc_num, read through BTF",
    );
    if (clangPresent()) {
      using c = Program.load({ type: "sched_cls", instructions: clangSection(lookupC(port, true), "tc") });
      assert.equal(c.testRun({ data: PACKET }).retval, ts, "the C twin returns the same");
    }
    // a port nobody listens on: null, handled
    const closed = compile(lookupTs(port === 65535 ? 1 : port + 1), { file: "lookup.ts" });
    server.close();
    using none = loadCompiled(closed);
    const other = none.programs.lookup!.testRun({ data: PACKET }).retval;
    assert.ok(other === 1 || other === port + 1, `no socket (1) unless another listens there: ${other}`);
  } finally {
    server.close();
  }
});

test("the verifier refuses the C program that does not release: the compiler refuses it first", (t) => {
  if (!needsRoot(t)) return;
  if (!clangPresent()) return t.skip("clang-19 is not installed");
  assert.throws(
    () => Program.load({ type: "sched_cls", instructions: clangSection(lookupC(80, false), "tc") }),
    (e: unknown) => e instanceof ProgramRejectedError && /Unreleased reference/.test(e.message),
    "the kernel's reason",
  );
  const e = refuse(`
  const sk = helpers.sk_lookup_tcp(ctx, t, 12, BPF_F_CURRENT_NETNS, 0);
  if (sk === null) return 1;
  return sk.src_port;`);
  assert.match(e.reason, /the socket helpers\.sk_lookup_tcp acquired at line 5 is not released on this path/);
  assert.equal(e.line, 7, "at the return that leaks it");
});

/** Compiles `body` (after a zeroed tuple `t`) as a tc program and returns the error it raises. */
function refuse(body: string): CompileError {
  const src = `${HEAD}export const p = program("sched_cls", (ctx) => {\n  const t = zero(Tuple);${body}\n});\n`;
  try {
    compile(src, { file: "bad.ts" });
  } catch (e) {
    assert.ok(e instanceof CompileError, `a CompileError, got ${String(e)}`);
    const line = src.split("\n")[e.line - 1]!;
    assert.ok(e.frame.split("\n")[0]!.endsWith(line), "the frame shows the line");
    return e;
  }
  assert.fail(`compiled, but should not have:\n${body}`);
}

const LOOKUP = "\n  const sk = helpers.sk_lookup_tcp(ctx, t, 12, BPF_F_CURRENT_NETNS, 0);";

test("misuses of helpers' pointers are compile errors with the reason, at their line and column", () => {
  const cases: [string, string, RegExp, number, number][] = [
    [
      "released on one path only",
      `${LOOKUP}\n  if (sk === null) return 1;\n  if (ctx.len > 10) helpers.sk_release(sk);\n  return 0;`,
      /acquired at line 5 is released on one path through this if and not on the other/,
      7,
      3,
    ],
    [
      "used after the release",
      `${LOOKUP}\n  if (sk === null) return 1;\n  helpers.sk_release(sk);\n  return sk.src_port;`,
      /'sk' was released at line 7: it may not be used after/,
      8,
      10,
    ],
    [
      "a pointer made from it used after the release",
      `${LOOKUP}\n  if (sk === null) return 1;\n  const tp = helpers.skc_to_tcp_sock(sk);\n  helpers.sk_release(sk);\n  if (tp === null) return 0;\n  return tp.snd_cwnd;`,
      /'tp' comes from the socket helpers\.sk_lookup_tcp acquired at line 5, released at line 8/,
      9,
      7,
    ],
    [
      "no null check before a field",
      `${LOOKUP}\n  if (sk === null) return 1;\n  const tp = helpers.skc_to_tcp_sock(sk);\n  const w = tp.snd_cwnd;\n  helpers.sk_release(sk);\n  return w;`,
      /this struct tcp_sock \* may be null .*check it first, e.g. `if \(tp === null\) return 0;`/,
      8,
      13,
    ],
    [
      "no null check before the release",
      `${LOOKUP}\n  helpers.sk_release(sk);\n  return 0;`,
      /struct bpf_sock \* may be null/,
      6,
      22,
    ],
    [
      "releasing what was not acquired",
      `${LOOKUP}\n  if (sk === null) return 1;\n  const tp = helpers.skc_to_tcp_sock(sk);\n  if (tp !== null) helpers.sk_release(tp);\n  helpers.sk_release(sk);\n  return 0;`,
      /bpf_sk_release releases what helpers\.sk_lookup_tcp, helpers\.sk_lookup_udp, helpers\.skc_lookup_tcp acquired/,
      8,
      39,
    ],
    [
      "an acquired reference in a let",
      `\n  let sk = helpers.sk_lookup_tcp(ctx, t, 12, BPF_F_CURRENT_NETNS, 0);\n  return 0;`,
      /'sk' holds a reference that must be released: declare it with const/,
      5,
      7,
    ],
    [
      "acquired inside a loop, kept past the iteration",
      `\n  for (let i = 0; i < 2; i++) {\n    const sk = helpers.sk_lookup_tcp(ctx, t, 12, BPF_F_CURRENT_NETNS, 0);\n    if (sk === null) continue;\n  }\n  return 0;`,
      /acquired at line 6 is still held when this ends an iteration/,
      5,
      31,
    ],
    [
      "not kept in a local",
      `\n  return helpers.sk_lookup_tcp(ctx, t, 12, BPF_F_CURRENT_NETNS, 0) === null ? 1 : 0;`,
      /acquires a reference: keep it in a const of its own/,
      5,
      10,
    ],
  ];
  for (const [what, body, reason, line, column] of cases) {
    const e = refuse(body);
    assert.match(e.reason, reason, what);
    assert.deepEqual([e.line, e.column], [line, column], `${what}: ${e.message}`);
  }
});

test("checked and released on every path, the same programs compile", () => {
  for (const body of [
    `${LOOKUP}\n  if (sk !== null) helpers.sk_release(sk);\n  return 0;`,
    `${LOOKUP}\n  if (!sk) return 1;\n  if (ctx.len > 10) { helpers.sk_release(sk); return 2; }\n  helpers.sk_release(sk);\n  return 0;`,
    `${LOOKUP}\n  if (sk === null) return 1;\n  const tp = helpers.skc_to_tcp_sock(sk);\n  const w: u32 = tp === null ? 0 : 1;\n  helpers.sk_release(sk);\n  return w;`,
    `\n  for (let i = 0; i < 2; i++) {\n    const sk = helpers.sk_lookup_tcp(ctx, t, 12, BPF_F_CURRENT_NETNS, 0);\n    if (sk === null) continue;\n    helpers.sk_release(sk);\n  }\n  return 0;`,
  ])
    compile(
      `${HEAD}export const p = program("sched_cls", (ctx) => {\n  const t = zero(Tuple);${body}\n});\n`,
    );
});

test("helpers.this_cpu_ptr / per_cpu_ptr of a per-CPU kernel variable: the kernel's own CPU numbers", (t) => {
  if (!needsRoot(t)) return;
  const x64 = process.arch === "x64";
  const cpus = availableParallelism();
  const src = `import { program, helpers, ksyms } from "rawbpf";
export const here = program("socket_filter", (ctx) => {
  const cpu = helpers.get_smp_processor_id();
  const rq = helpers.this_cpu_ptr(ksyms.runqueues);
  if (rq.cpu !== cpu) return 1;
  ${x64 ? "const n = helpers.this_cpu_ptr(ksyms.cpu_number);\n  if (n.value !== cpu) return 2;" : ""}
  const last = helpers.per_cpu_ptr(ksyms.runqueues, ${cpus - 1});
  if (last === null) return 3;
  if (last.cpu !== ${cpus - 1}) return 4;
  const none = helpers.per_cpu_ptr(ksyms.runqueues, 100000);
  if (none !== null) return 5;
  return 7;
});
`;
  const m = compile(src, { file: "percpu.ts" });
  let loaded: ReturnType<typeof loadCompiled>;
  try {
    loaded = loadCompiled(m);
  } catch (e) {
    // a kernel without CONFIG_KALLSYMS_ALL has no address for data symbols: the verifier read our
    // ld_imm64 as the BTF VAR 'runqueues' and says so; there is nothing to run
    assert.ok(
      e instanceof ProgramRejectedError &&
        /failed to find the address for kernel symbol 'runqueues'/.test(e.message) &&
        !/ runqueues /.test(readFileSync("/proc/kallsyms", "latin1")),
      `refused for another reason than a kernel without data symbols: ${String(e)}`,
    );
    return t.skip(
      "this kernel's kallsyms has no data symbols (CONFIG_KALLSYMS_ALL=n): per-CPU variables cannot be resolved",
    );
  }
  using _loaded = loaded;
  assert.equal(
    loaded.programs.here!.testRun({ data: PACKET }).retval,
    7,
    "each CPU's runqueue says which CPU it is",
  );
});

test("per-CPU variables: misuses are compile errors", () => {
  const misuse: [string, RegExp][] = [
    ["helpers.this_cpu_ptr(ksyms.jiffies)", /the kernel's BTF has no variable 'jiffies'/],
    ["helpers.this_cpu_ptr(ksyms.no_such_thing_here)", /no variable 'no_such_thing_here'/],
    ["helpers.this_cpu_ptr(12)", /a per-CPU kernel variable by name: ksyms\.NAME/],
    ["helpers.per_cpu_ptr(ksyms.runqueues, 0).cpu", /may be null/],
  ];
  // x86-64's per-CPU `current_task` is a pointer, which this_cpu_ptr does not type
  if (process.arch === "x64")
    misuse.push(["helpers.this_cpu_ptr(ksyms.current_task)", /'current_task' is a ptr: the compiler reads/]);
  for (const [call, reason] of misuse) {
    try {
      compile(`import { program, helpers, ksyms } from "rawbpf";
export const p = program("socket_filter", (ctx) => {
  const v = ${call};
  return 0;
});
`);
      assert.fail(`compiled: ${call}`);
    } catch (e) {
      assert.ok(e instanceof CompileError, String(e));
      assert.match(e.reason, reason, call);
      assert.equal(e.line, 3, call);
    }
  }
});

const RING = `import { map, program, struct, u32 } from "rawbpf";
const Event = struct({ pid: u32 });
const events = map("ringbuf", { value: Event, maxEntries: 4096 });
export const p = program("socket_filter", (ctx) => {`;

/** Compiles a socket filter using the ring buffer `events` and returns the error it raises. */
function refuseRing(body: string): CompileError {
  try {
    compile(`${RING}${body}\n});\n`, { file: "ring.ts" });
  } catch (e) {
    assert.ok(e instanceof CompileError, `a CompileError, got ${String(e)}`);
    return e;
  }
  assert.fail(`compiled, but should not have:\n${body}`);
}

test("a ring buffer record is a reference too: submitted or discarded on every path, not used after", async (t) => {
  const cases: [string, string, RegExp, number, number][] = [
    [
      "submitted on one path only",
      "\n  const r = events.reserve();\n  if (r === null) return 0;\n  r.pid = 1;\n  if (ctx.len > 10) events.submit(r);\n  return 0;",
      /the record events\.reserve\(\) reserved at line 5 is released on one path through this if and not on the other/,
      8,
      3,
    ],
    [
      "never submitted",
      "\n  const r = events.reserve();\n  if (r === null) return 0;\n  r.pid = 1;\n  return 0;",
      /the record events\.reserve\(\) reserved at line 5 is not released on this path: call events\.submit\(r\) or events\.discard\(r\)/,
      8,
      3,
    ],
    [
      "written after its submit",
      "\n  const r = events.reserve();\n  if (r === null) return 0;\n  events.submit(r);\n  r.pid = 1;\n  return 0;",
      /'r' was released at line 7: it may not be used after/,
      8,
      3,
    ],
    [
      "not kept in a const",
      "\n  return events.reserve() === null ? 1 : 0;",
      /events\.reserve\(\) gives a record to submit or discard on every path: keep it in a const of its own/,
      5,
      10,
    ],
  ];
  for (const [what, body, reason, line, column] of cases) {
    const e = refuseRing(body);
    assert.match(e.reason, reason, what);
    assert.deepEqual([e.line, e.column], [line, column], `${what}: ${e.message}`);
  }
  // a discard on one path and a submit on the other is right
  compile(
    `${RING}\n  const r = events.reserve();\n  if (r === null) return 0;\n  if (ctx.len > 10) events.discard(r);\n  else events.submit(r);\n  return 0;\n});\n`,
  );
  // the verifier refuses the same leak in C, for the same reason
  if (!needsRoot(t) || !clangPresent()) return;
  const c = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
SEC("socket") int p(struct __sk_buff *skb) {
  __u32 *r = bpf_ringbuf_reserve(&events, 4, 0);
  if (!r) return 0;
  *r = 1;
  if (skb->len > 10) bpf_ringbuf_submit(r, 0);
  return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;
  assert.throws(
    () => BpfObject.open(clangObject(c)).load(),
    (e: unknown) => e instanceof ProgramRejectedError && /Unreleased reference/.test(e.message),
    "the kernel's reason",
  );
});
