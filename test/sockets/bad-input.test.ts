/**
 * Bad input to the socket, namespace, netfilter, netkit, tc and struct_ops functions: typed errors,
 * and no descriptor left behind when an attach fails, before the kernel or in it (netns files,
 * rtnetlink sockets, duplicated program and map descriptors, half-made struct_ops maps).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { asm } from "../../src/isa/template.js";
import { UnknownInterfaceError, WrongProgramTypeError } from "../../src/link/errors.js";
import { attachNetfilter } from "../../src/link/netfilter.js";
import { attachNetkit, createNetkit, NotANetkitError } from "../../src/link/netkit.js";
import { attachFlowDissector, attachSkLookup, NotANetnsError } from "../../src/link/sklookup.js";
import { attachSockmap, attachSockmapProgram } from "../../src/link/sockmap.js";
import { registerStructOps } from "../../src/link/structops.js";
import { attachTc } from "../../src/link/tc.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { BpfError, ClosedError } from "../../src/sys/error.js";
import { settledFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";

const KINDS = ["socket:", "net:", "mnt:", "anon_inode:bpf", "anon_inode:[bpf"];
const held = () => KINDS.map((k) => settledFdCount(k)).reduce((a, b) => a + b, 0);

const ret0 = asm`r0 = 0\nexit`;

test("failed attaches leave no descriptor behind, and every error is typed", (t) => {
  if (!needsRoot(t)) return;
  using skb = Program.load({ type: "sk_skb", instructions: asm`r0 = 1\nexit` });
  using lookup = Program.load({
    type: "sk_lookup",
    expectedAttachType: "sk_lookup",
    instructions: asm`r0 = 1\nexit`,
  });
  using cls = Program.load({ type: "sched_cls", instructions: ret0 });
  using socks = BpfMap.create({ type: "sockmap", keySize: 4, valueSize: 4, maxEntries: 1 });
  using link = attachSockmap(skb, socks, "sk_skb_stream_verdict");
  assert.ok(link.info().id > 0);
  const before = held();
  const cases: [string, () => unknown, (e: unknown) => boolean][] = [
    // the kernel refuses a verdict program beside the stream verdict one (EBUSY): the duplicates go
    [
      "sk_skb_verdict beside sk_skb_stream_verdict",
      () => attachSockmapProgram(skb, socks, "sk_skb_verdict"),
      (e) => e instanceof BpfError && e.errnoName === "EBUSY",
    ],
    // an nsfs file that is not a network namespace: opened, refused by the kernel, closed
    [
      "a mount namespace",
      () => attachSkLookup(lookup, "/proc/self/ns/mnt"),
      (e) => e instanceof BpfError && e.errnoName === "EINVAL",
    ],
    [
      "no such namespace",
      () => attachSkLookup(lookup, "/proc/999999999/ns/net"),
      (e) => e instanceof NotANetnsError,
    ],
    [
      "a flow dissector given an sk_lookup program",
      () => attachFlowDissector(lookup),
      (e) => e instanceof WrongProgramTypeError,
    ],
    // rtnetlink sockets are closed on every path
    ["netkit on lo", () => attachNetkit(cls, "lo", "primary"), (e) => e instanceof NotANetkitError],
    [
      "netkit on a missing interface",
      () => attachNetkit(cls, "rbpf-none0", "peer"),
      (e) => e instanceof UnknownInterfaceError,
    ],
    [
      "a netkit pair named like lo",
      () => createNetkit({ name: "lo", peerName: "rbpf-nk1" }),
      (e) => e instanceof BpfError && (e.errnoName === "EEXIST" || e.errnoName === "EOPNOTSUPP"),
    ],
    [
      "tc on a missing interface",
      () => attachTc(cls, "rbpf-none0", "ingress"),
      (e) => e instanceof UnknownInterfaceError,
    ],
    [
      "netfilter given a sched_cls program",
      () => attachNetfilter(cls, { family: "ipv4", hook: "local_in", priority: 1 }),
      (e) => e instanceof WrongProgramTypeError,
    ],
    // the struct_ops map made for the table is closed when the kernel refuses the table
    [
      "an empty tcp_congestion_ops",
      () => registerStructOps("tcp_congestion_ops", { programs: {}, data: { name: "rbpf_empty" } }),
      (e) => e instanceof BpfError && e.errnoName === "EINVAL",
    ],
  ];
  for (const [what, f, ok] of cases) {
    let thrown: unknown;
    try {
      const made = f() as { close?: () => void } | undefined;
      made?.close?.();
    } catch (e) {
      thrown = e;
    }
    assert.ok(ok(thrown), `${what}: ${String(thrown)}`);
    assert.equal(held(), before, `${what}: no descriptor left behind`);
  }
});

test("closed programs and maps are refused with ClosedError, not a kernel error about a stale number", (t) => {
  if (!needsRoot(t)) return;
  const skb = Program.load({ type: "sk_skb", instructions: asm`r0 = 1\nexit` });
  const socks = BpfMap.create({ type: "sockmap", keySize: 4, valueSize: 4, maxEntries: 1 });
  skb.close();
  assert.throws(() => attachSockmap(skb, socks, "sk_skb_stream_verdict"), ClosedError);
  using live = Program.load({ type: "sk_skb", instructions: asm`r0 = 1\nexit` });
  socks.close();
  assert.throws(() => attachSockmapProgram(live, socks, "sk_skb_stream_verdict"), ClosedError);
});
