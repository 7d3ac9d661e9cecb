/**
 * Socket maps against the real kernel: two TCP connections to a Node server, both server ends in a
 * sockmap; an sk_skb verdict program sends what the first connection receives out of the second,
 * and an sk_msg verdict program does the same with what the server writes. Both attach forms:
 * the link (BPF_LINK_CREATE) and BPF_PROG_ATTACH to the map.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { u32, u64 } from "../../src/codec/index.js";
import { WrongProgramTypeError } from "../../src/link/errors.js";
import {
  addSocket,
  attachSockmap,
  attachSockmapProgram,
  type SockmapAttachType,
} from "../../src/link/sockmap.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { attachTypeNumber } from "../../src/program/types.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { progDetach } from "../../src/sys/link.js";
import { needsRoot } from "../support/privilege.js";
import { countThen } from "./programs.js";
import { connections } from "./support.js";

const BPF_F_INGRESS = 1;

function counter() {
  return BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 1, name: "sk_count" });
}

function sockmap() {
  return BpfMap.create({ type: "sockmap", keySize: 4, valueSize: 4, maxEntries: 2, name: "sk_pair" });
}

/** Counts each run into count[0], then redirects to the socket at key 1 with `helper`. */
function redirector(
  type: "sk_skb" | "sk_msg",
  count: ReturnType<typeof counter>,
  socks: BpfMap,
  flags: number,
): Program {
  const helper = type === "sk_skb" ? "bpf_sk_redirect_map" : "bpf_msg_redirect_map";
  return Program.load({
    type,
    name: `redir_${type}`,
    instructions: countThen(count)`
      r1 = r6
      r2 = ${socks}
      r3 = 1
      r4 = ${flags}
      call ${helper}
      exit
    `,
  });
}

const runs = (m: ReturnType<typeof counter>) => m.get(0) ?? 0n;

type Form = "link" | "prog_attach";
function attach(form: Form, p: Program, m: BpfMap, type: SockmapAttachType): { close(): void } {
  return form === "link" ? attachSockmap(p, m, type) : attachSockmapProgram(p, m, type);
}

for (const form of ["link", "prog_attach"] as const) {
  test(`sockmap (${form}): an sk_skb stream verdict sends what connection 1 receives out of connection 2`, async (t) => {
    if (!needsRoot(t)) return;
    using count = counter();
    using socks = sockmap();
    using program = redirector("sk_skb", count, socks, 0);
    const conns = await connections(2);
    const attached = attach(form, program, socks, "sk_skb_stream_verdict");
    try {
      if (form === "link") {
        const info = (attached as ReturnType<typeof attachSockmap>).info();
        assert.equal(info.type, "sockmap");
        if (info.type === "sockmap") {
          assert.equal(info.mapId, socks.info().id, "the link's map");
          assert.equal(info.attachType, "sk_skb_stream_verdict");
        }
        const shown = JSON.parse(
          execFileSync("bpftool", ["-j", "link", "show", "id", String(info.id)], { encoding: "utf8" }),
        ) as { type: string | number; prog_id: number };
        // bpftool 7.1 predates sockmap links: it prints the type's number and no details
        assert.ok(shown.type === "sockmap" || shown.type === 14, `bpftool's type: ${shown.type}`);
        assert.equal(shown.prog_id, program.info().id, "bpftool: the program");
      }
      // the programs are taken when a socket goes in: attach first, then add
      addSocket(socks, 0, conns.accepted[0]!.socket);
      addSocket(socks, 1, conns.accepted[1]!.socket);
      conns.clients[0]!.socket.write("through the kernel");
      const got = await conns.clients[1]!.until(18);
      assert.equal(got, "through the kernel", "client 2 gets what client 1 sent to the server");
      assert.equal(conns.accepted[0]!.text, "", "the server's end of connection 1 never saw the bytes");
      assert.ok(runs(count) >= 1n, `the verdict program ran (${runs(count)} runs)`);
    } finally {
      attached.close();
      conns.close();
    }
  });

  test(`sockmap (${form}): an sk_msg verdict sends what the server writes on connection 1 into connection 2's ingress`, async (t) => {
    if (!needsRoot(t)) return;
    using count = counter();
    using socks = sockmap();
    using program = redirector("sk_msg", count, socks, BPF_F_INGRESS);
    const conns = await connections(2);
    const attached = attach(form, program, socks, "sk_msg_verdict");
    try {
      // key 0: the client end of connection 1, whose sends the program sees; key 1: the server end of connection 2
      addSocket(socks, 0, conns.clients[0]!.socket);
      addSocket(socks, 1, conns.accepted[1]!.socket);
      conns.clients[0]!.socket.write("hello ingress");
      const got = await conns.accepted[1]!.until(13);
      assert.equal(got, "hello ingress", "the server's end of connection 2 reads what client 1 sent");
      assert.equal(conns.accepted[0]!.text, "", "connection 1's server end got nothing");
      assert.equal(runs(count), 1n, "one message, one run");
    } finally {
      attached.close();
      conns.close();
    }
  });
}

test("sockmap: bad input is refused before the kernel, saying what to do", async (t) => {
  if (!needsRoot(t)) return;
  using count = counter();
  using socks = sockmap();
  using skb = redirector("sk_skb", count, socks, 0);
  using hash = BpfMap.create({ type: "hash", keySize: 4, valueSize: 4, maxEntries: 1 });
  assert.throws(
    () => attachSockmap(skb, socks, "sk_msg_verdict"),
    (e: unknown) => e instanceof WrongProgramTypeError && /'sk_msg'/.test(e.message),
  );
  assert.throws(
    () => attachSockmapProgram(skb, hash, "sk_skb_stream_verdict"),
    (e: unknown) => e instanceof InputError && /sockmap or sockhash, got a 'hash' map/.test(e.message),
  );
  assert.throws(
    () => attachSockmap(skb, socks, "sk_skb_stream" as SockmapAttachType),
    (e: unknown) => e instanceof InputError && /not a socket map attach type/.test(e.message),
  );
  assert.throws(
    () => addSocket(socks, 0, { not: "a socket" }),
    (e: unknown) => e instanceof InputError && /socket handle/.test(e.message),
  );
  assert.throws(() => addSocket(socks, -1, 0), InputError);
  // a UDP... no: a descriptor that is not a TCP socket: the kernel's answer, typed
  assert.throws(
    () => addSocket(socks, 0, count.fd),
    (e: unknown) => e instanceof BpfError,
    "a map descriptor is no socket",
  );
  // a closed attachment detaches once
  const a = attachSockmapProgram(skb, socks, "sk_skb_stream_verdict");
  a.detach();
  assert.equal(a.detached, true);
  a.detach();
  // a second attach replaces the first: detaching the replaced one is no error, and the second
  // is still there until its own detach (the kernel's ENOENT after it proves it went)
  using other = redirector("sk_skb", count, socks, 0);
  const first = attachSockmapProgram(skb, socks, "sk_skb_stream_verdict");
  const second = attachSockmapProgram(other, socks, "sk_skb_stream_verdict");
  first.detach();
  second.detach();
  assert.throws(
    () =>
      progDetach({
        target: socks.fd,
        progFd: other.fd,
        attachType: attachTypeNumber("sk_skb_stream_verdict"),
      }),
    (e: unknown) => e instanceof BpfError && e.errnoName === "ENOENT",
    "nothing is attached any more",
  );
});

test("sockhash (link): an sk_msg verdict with bpf_msg_redirect_hash sends a client's message into another connection", async (t) => {
  if (!needsRoot(t)) return;
  using count = counter();
  using socks = BpfMap.create({ type: "sockhash", keySize: 4, valueSize: 4, maxEntries: 4, name: "sk_hash" });
  using program = Program.load({
    type: "sk_msg",
    name: "redir_hash",
    instructions: countThen(count)`
      r1 = 77                 // the key of the target socket
      *(u32 *)(r10 - 8) = r1
      r1 = r6
      r2 = ${socks}
      r3 = r10
      r3 += -8
      r4 = ${BPF_F_INGRESS}
      call bpf_msg_redirect_hash
      exit
    `,
  });
  const conns = await connections(2);
  const link = attachSockmap(program, socks, "sk_msg_verdict");
  try {
    const info = link.info();
    assert.equal(info.type === "sockmap" ? info.mapId : -1, socks.info().id, "the link is on the sockhash");
    addSocket(socks, Buffer.from([5, 0, 0, 0]), conns.clients[0]!.socket);
    addSocket(socks, 77, conns.accepted[1]!.socket);
    conns.clients[0]!.socket.write("by hash");
    assert.equal(await conns.accepted[1]!.until(7), "by hash", "the socket under key 77 received it");
    assert.equal(conns.accepted[0]!.text, "", "its own server end got nothing");
    assert.equal(runs(count), 1n);
  } finally {
    link.close();
    conns.close();
  }
});
