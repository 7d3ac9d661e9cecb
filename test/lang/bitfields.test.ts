/**
 * Bitfields of kernel structs, read from BTF as BPF_CORE_READ_BITFIELD reads them (the word
 * holding the field, shifted left then right; signed fields sign-extended):
 * - the running kernel's own (unsigned) bitfields on sockets this process made, whose values it
 *   chose (SO_REUSEADDR on a listening socket, TCP_NODELAY on a connection), against a C twin
 *   compiled by clang-19 with CO-RE bitfield relocations;
 * - signed and unsigned bitfields of every kind of placement (crossing bytes, widened loads, an
 *   8-byte word), described by a BTF made for the test over the bytes of this thread's pid and
 *   tgid in the real task_struct, read in the kernel both directly and with probe reads, against
 *   the same bits cut out of the pid in JavaScript.
 */
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { getPriority } from "node:os";
import { test } from "node:test";
import {
  attachTracepoint,
  BpfObject,
  Btf,
  BtfBuilder,
  CompileError,
  compile,
  vmlinuxBtf,
} from "../../src/index.js";
import { bitfieldAccess, findMember } from "../../src/lang/btfctx.js";
import { loadCompiled } from "../../src/program/compiled.js";
import { needsRoot } from "../support/privilege.js";
import { clangObject, clangPresent } from "./clang.js";

const LOOPBACK = 0x0100007f;
const be16 = (n: number) => ((n & 0xff) << 8) | (n >> 8);
const PACKET = Buffer.alloc(64);

test("bitfieldAccess: the word, shifts and widening of libbpf's bitfield relocations", () => {
  // a 4-bit field at bit 152 of an unsigned char: byte 19, shifted to the top and back
  assert.deepEqual(bitfieldAccess(152, 4, 1), { byteOffset: 19, loadSize: 1, lshift: 60, rshift: 60 });
  // crossing a byte of its char: widened to the 2-byte word holding both
  assert.deepEqual(bitfieldAccess(6, 4, 1), { byteOffset: 0, loadSize: 2, lshift: 54, rshift: 60 });
  // an int field in the second int
  assert.deepEqual(bitfieldAccess(37, 3, 4), { byteOffset: 4, loadSize: 4, lshift: 56, rshift: 61 });
  // past 8 bytes: no single load holds it
  assert.equal(bitfieldAccess(60, 8, 8), undefined);
});

/** The TypeScript programs: the listener's skc_reuse and skc_reuseport, a connection's nonagle. */
function socketsTs(listen: number, client: number): string {
  return `import { program, helpers, struct, u16, u32, zero, BPF_F_CURRENT_NETNS } from "rawbpf";
const Tuple = struct({ saddr: u32, daddr: u32, sport: u16, dport: u16 });
export const listener = program("sched_cls", (ctx) => {
  const t = zero(Tuple);
  t.daddr = ${LOOPBACK};
  t.dport = ${be16(listen)};
  const sk = helpers.skc_lookup_tcp(ctx, t, 12, BPF_F_CURRENT_NETNS, 0);
  if (sk === null) return 0xffff;
  const tp = helpers.skc_to_tcp_sock(sk);
  let r: u32 = 0xfffe;
  if (tp !== null) {
    r = (tp.inet_conn.icsk_inet.sk.__sk_common.skc_reuseport << 4) | tp.inet_conn.icsk_inet.sk.__sk_common.skc_reuse;
  }
  helpers.sk_release(sk);
  return r;
});
export const connection = program("sched_cls", (ctx) => {
  const t = zero(Tuple);
  t.saddr = ${LOOPBACK};
  t.sport = ${be16(listen)};
  t.daddr = ${LOOPBACK};
  t.dport = ${be16(client)};
  const sk = helpers.skc_lookup_tcp(ctx, t, 12, BPF_F_CURRENT_NETNS, 0);
  if (sk === null) return 0xffff;
  const tp = helpers.skc_to_tcp_sock(sk);
  let r: u32 = 0xfffe;
  if (tp !== null) r = tp.nonagle;
  helpers.sk_release(sk);
  return r;
});
`;
}

/** The C twin: the same fields through CO-RE bitfield relocations (preserve_access_index). */
function socketsC(listen: number, client: number): string {
  return `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
struct sock_common { unsigned char skc_reuse:4; unsigned char skc_reuseport:1; } __attribute__((preserve_access_index));
struct sock { struct sock_common __sk_common; } __attribute__((preserve_access_index));
struct inet_sock { struct sock sk; } __attribute__((preserve_access_index));
struct inet_connection_sock { struct inet_sock icsk_inet; } __attribute__((preserve_access_index));
struct tcp_sock { struct inet_connection_sock inet_conn; unsigned char nonagle:4; } __attribute__((preserve_access_index));
static struct tcp_sock *(*skc_to_tcp_sock)(void *sk) = (void *)BPF_FUNC_skc_to_tcp_sock;
static __u32 look(struct __sk_buff *skb, __u32 saddr, __u16 sport, __u16 dport, int which) {
  struct bpf_sock_tuple t = {};
  t.ipv4.saddr = saddr; t.ipv4.sport = sport;
  t.ipv4.daddr = ${LOOPBACK}; t.ipv4.dport = dport;
  struct bpf_sock *sk = bpf_skc_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
  if (!sk) return 0xffff;
  struct tcp_sock *tp = skc_to_tcp_sock(sk);
  __u32 r = 0xfffe;
  if (tp) {
    if (which == 0) {
      struct sock_common *c = &tp->inet_conn.icsk_inet.sk.__sk_common;
      r = (BPF_CORE_READ_BITFIELD(c, skc_reuseport) << 4) | BPF_CORE_READ_BITFIELD(c, skc_reuse);
    } else r = BPF_CORE_READ_BITFIELD(tp, nonagle);
  }
  bpf_sk_release(sk);
  return r;
}
SEC("tc") int listener(struct __sk_buff *skb) { return look(skb, 0, 0, ${be16(listen)}, 0); }
SEC("tc") int connection(struct __sk_buff *skb) { return look(skb, ${LOOPBACK}, ${be16(listen)}, ${be16(client)}, 1); }
char LICENSE[] SEC("license") = "GPL";
`;
}

async function pair(noDelay: boolean): Promise<{ server: Server; client: Socket; close(): void }> {
  const server = createServer((s) => s.on("error", () => {}));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = connect({ port: (server.address() as { port: number }).port, host: "127.0.0.1", noDelay });
  await new Promise<void>((resolve) => client.on("connect", resolve));
  return {
    server,
    client,
    close() {
      client.destroy();
      server.close();
    },
  };
}

test("the kernel's bitfields: skc_reuse, skc_reuseport and nonagle of sockets this process set up, as a C twin reads them", async (t) => {
  if (!needsRoot(t)) return;
  for (const noDelay of [true, false]) {
    const p = await pair(noDelay);
    try {
      const listen = (p.server.address() as { port: number }).port;
      const client = p.client.localPort!;
      using loaded = loadCompiled(compile(socketsTs(listen, client), { file: "sockets.ts" }));
      const reuse = loaded.programs.listener!.testRun({ data: PACKET }).retval;
      const nonagle = loaded.programs.connection!.testRun({ data: PACKET }).retval;
      if (clangPresent()) {
        using obj = BpfObject.open(clangObject(socketsC(listen, client))).load();
        assert.equal(
          obj.program("listener").testRun({ data: PACKET }).retval,
          reuse,
          "the C twin's skc_reuse",
        );
        assert.equal(
          obj.program("connection").testRun({ data: PACKET }).retval,
          nonagle,
          "the C twin's nonagle",
        );
      }
      // libuv sets SO_REUSEADDR on listening sockets: sk_reuse is SK_CAN_REUSE (1); no SO_REUSEPORT
      assert.equal(reuse, 0x01, `skc_reuse 1, skc_reuseport 0 (got 0x${reuse.toString(16)})`);
      // TCP_NODELAY sets TCP_NAGLE_OFF | TCP_NAGLE_PUSH (1 | 4) in tp->nonagle, a 4-bit field
      assert.equal(nonagle, noDelay ? 5 : 0, `nonagle with noDelay ${noDelay}`);
    } finally {
      p.close();
    }
  }
});

/** Bitfields laid over the 8 bytes of task_struct's pid and tgid: [name, bits after pid's first, width, type]. */
type Kind = "uint" | "int" | "short" | "uchar" | "schar" | "llong";
const FIELDS: [string, number, number, Kind][] = [
  ["a", 0, 5, "uint"],
  ["b", 5, 7, "int"],
  ["c", 17, 5, "short"],
  ["d", 20, 12, "int"],
  ["e", 13, 3, "uchar"],
  ["g", 6, 4, "schar"],
  ["h", 24, 24, "llong"],
  ["k", 33, 9, "int"],
];
/**
 * And over static_prio (120 + nice): each signed field's top bit is static_prio's highest set bit
 * (bit 6 at nice 0), so they are negative whatever the pid and the nice value are.
 */
const PRIO_TOP = 31 - Math.clz32(120 + getPriority(0));
const PRIO_FIELDS: [string, number, number, Kind][] = [
  ["p4", PRIO_TOP - 3, 4, "schar"],
  ["p5", PRIO_TOP - 4, 5, "int"],
  ["p6", PRIO_TOP - 3, 4, "uint"],
];

/** A BTF whose task_struct is the real one's size, with FIELDS over pid and tgid. */
function overlay(): { btf: Btf } {
  const real = vmlinuxBtf();
  const task = real.findId("task_struct", "struct")!;
  const pidBit = findMember(real, task, "pid")!.bitOffset;
  assert.equal(findMember(real, task, "tgid")!.bitOffset, pidBit + 32, "tgid right after pid");
  const prioBit = findMember(real, task, "static_prio")!.bitOffset;
  const b = new BtfBuilder();
  const types = {
    uint: b.int("unsigned int", 4),
    int: b.int("int", 4, { signed: true }),
    short: b.int("short", 2, { signed: true }),
    uchar: b.int("unsigned char", 1, { char: true }),
    schar: b.int("signed char", 1, { signed: true, char: true }),
    llong: b.int("long long", 8, { signed: true }),
  };
  b.struct(
    "task_struct",
    [
      ...FIELDS.map(([name, at, width, type]) => ({
        name,
        type: types[type],
        bitOffset: pidBit + at,
        bitfieldSize: width,
      })),
      ...PRIO_FIELDS.map(([name, at, width, type]) => ({
        name,
        type: types[type],
        bitOffset: prioBit + at,
        bitfieldSize: width,
      })),
    ],
    { size: (real.type(task) as { size: number }).size },
  );
  return { btf: Btf.parse(b.build()) };
}

test("signed and unsigned bitfields in every placement, read directly and through probe reads, against the pid's bits", (t) => {
  if (!needsRoot(t)) return;
  const { btf } = overlay();
  // a direct load must stay inside one member of the real task_struct (the verifier checks it):
  // the 8-byte word over pid and tgid is read through bpf_probe_read_kernel only
  const direct = (name: string) => name !== "h";
  const all = [...FIELDS, ...PRIO_FIELDS];
  const reads = all.map(
    ([name], i) =>
      `${direct(name) ? `  out.update(${i}, d.${name});\n` : ""}  out.update(${i + 16}, p.${name});`,
  );
  const src = `import { config, helpers, i64, map, program, u32 } from "rawbpf";
const target = config({ pid: u32 });
const out = map("array", { key: u32, value: i64, maxEntries: 32 });
export const bits = program("tracepoint/raw_syscalls/sys_enter", (ctx) => {
  if ((helpers.get_current_pid_tgid() & 0xffffffff) !== target.pid) return 0;
  const d = helpers.get_current_task_btf();
  const p = helpers.get_current_task();
${reads.join("\n")}
  return 0;
});
`;
  const m = compile(src, { file: "bits.ts", btf: () => btf });
  using loaded = loadCompiled(m, { config: { target: { pid: process.pid } } });
  {
    using _link = attachTracepoint(loaded.programs.bits!, "raw_syscalls", "sys_enter");
    process.kill(process.pid, 0);
  }
  const out = loaded.maps.out as unknown as { get(k: Buffer): Uint8Array | undefined };
  const word = BigInt(process.pid) | (BigInt(process.pid) << 32n); // the main thread: pid == tgid
  const prio = BigInt(120 + getPriority(0));
  let negatives = 0;
  all.forEach(([name, at, width, type], i) => {
    const bits = i < FIELDS.length ? word : prio;
    const raw = (bits >> BigInt(at)) & ((1n << BigInt(width)) - 1n);
    const want = type === "uint" || type === "uchar" ? raw : BigInt.asIntN(width, raw);
    if (want < 0n) negatives++;
    const ways: [number, string][] = [[i + 16, "through bpf_probe_read_kernel"]];
    if (direct(name)) ways.push([i, "directly"]);
    for (const [slot, how] of ways) {
      const k = Buffer.alloc(4);
      k.writeUInt32LE(slot);
      const got = Buffer.from(out.get(k)!).readBigInt64LE(0);
      assert.equal(got, want, `${name} (${type}:${width} at bit ${at}) read ${how}, pid ${process.pid}`);
    }
  });
  assert.ok(negatives > 0, "some signed field is negative, so sign extension was checked");
});

test("a bitfield has no members: a compile error at the step after it", (t) => {
  if (!needsRoot(t)) return;
  assert.throws(
    () =>
      compile(
        `import { helpers, program } from "rawbpf";\nexport const p = program("tracepoint/raw_syscalls/sys_enter", (ctx) => {\n  return helpers.get_current_task_btf().in_iowait.x;\n});\n`,
      ),
    (e: unknown) =>
      e instanceof CompileError &&
      /'in_iowait' is an integer: it has no fields/.test(e.reason) &&
      e.line === 3,
  );
});
