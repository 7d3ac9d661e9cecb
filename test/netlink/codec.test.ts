/**
 * The netlink codec (src/netlink, pure): messages and attributes round-trip, random bytes give
 * NetlinkFormatError or a result (never another error or a hang), the layer imports nothing of
 * rawbpf's, and the rtnetlink builders are checked against the kernel itself: a veth pair made from
 * newPairRequest (the same nesting as netkit's) in a child namespace, read back by `ip -j`.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import {
  getClassesRequest,
  getFiltersRequest,
  getQdiscsRequest,
  MessageWriter,
  NetlinkFormatError,
  NLA_F_NESTED,
  NlmFlags,
  NlmsgType,
  newBpfFilterRequest,
  parseAck,
  parseAttributes,
  parseFilter,
  parseLink,
  parseMessages,
  parseTcObject,
  Rtm,
  TC_H_ROOT,
  TC_PARENTS,
  tcmsg,
} from "../../src/netlink/index.js";
import { runInNetns, SRC } from "../sockets/support.js";
import { needsRoot } from "../support/privilege.js";

const DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "netlink");

test("src/netlink imports only its own files and node builtins", () => {
  const bad: string[] = [];
  for (const f of readdirSync(DIR).filter((n) => n.endsWith(".ts"))) {
    const text = readFileSync(join(DIR, f), "utf8");
    for (const m of text.matchAll(/(?:import|export)\s[^;]*?from\s+"([^"]+)"/g)) {
      const spec = m[1] as string;
      if (!spec.startsWith("./") && !spec.startsWith("node:")) bad.push(`${f}: ${spec}`);
    }
  }
  assert.deepEqual(bad, [], "imports reaching outside src/netlink");
});

test("MessageWriter: header, padding, nested lengths, read back by parseMessages/parseAttributes", () => {
  const m = new MessageWriter(44, NlmFlags.REQUEST | NlmFlags.ACK, 77)
    .bytes(Uint8Array.of(1, 2, 3)) // padded to 4
    .u32(6, 0xdeadbeef)
    .string(7, "abc") // 4 bytes with the NUL
    .begin(2)
    .u8(1, 9)
    .u16(2, 0x1234)
    .s32(3, -5)
    .end()
    .finish();
  assert.equal(m.length % 4, 0);
  assert.equal(m.readUInt32LE(0), m.length, "nlmsg_len");
  const [msg, ...rest] = parseMessages(m);
  assert.equal(rest.length, 0);
  assert.deepEqual(
    { type: msg!.type, flags: msg!.flags, seq: msg!.seq, pid: msg!.pid },
    { type: 44, flags: 5, seq: 77, pid: 0 },
  );
  assert.deepEqual([...msg!.payload.subarray(0, 4)], [1, 2, 3, 0]);
  const attrs = parseAttributes(msg!.payload, 4);
  assert.equal(attrs.get(6)!.readUInt32LE(0), 0xdeadbeef);
  assert.equal(attrs.get(7)!.toString(), "abc\0");
  // the nested flag is stripped from the type, and the nest's length covers its three children
  const nestStart = 4 + 8 + 8; // after the family bytes, the u32 and the string
  assert.equal(msg!.payload.readUInt16LE(nestStart + 2), 2 | NLA_F_NESTED);
  assert.equal(msg!.payload.readUInt16LE(nestStart), 4 + 8 + 8 + 8);
  const inner = parseAttributes(attrs.get(2)!);
  assert.deepEqual(
    [inner.get(1)![0], inner.get(2)!.readUInt16LE(0), inner.get(3)!.readInt32LE(0)],
    [9, 0x1234, -5],
  );
  assert.throws(() => new MessageWriter(1, 0, 0).begin(1).finish(), /not closed/);
});

test("attributes round-trip for any payloads", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({ type: fc.integer({ min: 0, max: 0x3fff }), data: fc.uint8Array({ maxLength: 40 }) }),
        {
          maxLength: 12,
        },
      ),
      (list) => {
        const w = new MessageWriter(16, 1, 1);
        for (const a of list) w.attr(a.type, a.data);
        const [m] = parseMessages(w.finish());
        const attrs = parseAttributes(m!.payload);
        const last = new Map(list.map((a) => [a.type, a.data]));
        assert.equal(attrs.size, last.size);
        for (const [type, data] of last) assert.deepEqual([...attrs.get(type)!], [...data]);
      },
    ),
  );
});

test("random bytes: a NetlinkFormatError or a result, nothing else", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
      const buf = Buffer.from(bytes);
      for (const f of [
        () => parseMessages(buf).map((m) => [m, parseAck(m), parseLink(m), parseFilter(m), parseTcObject(m)]),
        () => parseAttributes(buf),
      ]) {
        try {
          f();
        } catch (e) {
          assert.ok(e instanceof NetlinkFormatError, `only NetlinkFormatError, got ${String(e)}`);
          assert.equal((e as NetlinkFormatError).code, "EINPUT");
        }
      }
    }),
    { numRuns: 2000 },
  );
});

test("parseAck: an error with extended-ack attributes after a capped request", () => {
  const req = new MessageWriter(16, 5, 9).finish();
  const payload = Buffer.alloc(4 + 16 + 24);
  payload.writeInt32LE(-95, 0);
  req.copy(payload, 4);
  payload.writeUInt16LE(4 + 20, 20); // NLMSGERR_ATTR_MSG, "Unknown device type\0" (20 bytes)
  payload.writeUInt16LE(1, 22);
  payload.write("Unknown device type\0", 24);
  const w = new MessageWriter(NlmsgType.ERROR, NlmFlags.ACK_TLVS | NlmFlags.CAPPED, 9)
    .bytes(payload)
    .finish();
  const [m] = parseMessages(w);
  assert.deepEqual(parseAck(m!), { errno: 95, seq: 9, message: "Unknown device type" });
});

test("newBpfFilterRequest: tcmsg fields as tc writes them (parent, priority << 16 | ETH_P_ALL)", () => {
  const req = newBpfFilterRequest(3, {
    ifindex: 5,
    direction: "egress",
    priority: 7,
    handle: 2,
    progFd: 10,
    name: "x",
  });
  const [m] = parseMessages(req);
  const f = parseFilter(m!);
  assert.deepEqual(
    { ...f, bpf: undefined },
    {
      ifindex: 5,
      handle: 2,
      parent: TC_PARENTS.egress,
      priority: 7,
      protocol: 3,
      kind: "bpf",
      bpf: undefined,
    },
  );
  assert.equal(f.bpf?.directAction, true);
  assert.equal(f.bpf?.name, "x");
});

test("tc dump requests: the tcmsg as bpftool sends it (RTM_GETQDISC, RTM_GETTCLASS, RTM_GETTFILTER under any parent)", () => {
  const head = (b: Buffer) => {
    const [m, ...rest] = parseMessages(b);
    assert.equal(rest.length, 0);
    const p = m!.payload;
    assert.equal(p.length, 20, "a bare tcmsg");
    return {
      type: m!.type,
      flags: m!.flags,
      seq: m!.seq,
      family: p[0],
      ifindex: p.readInt32LE(4),
      handle: p.readUInt32LE(8),
      parent: p.readUInt32LE(12),
      info: p.readUInt32LE(16),
    };
  };
  const dump = 0x301; // NLM_F_REQUEST | NLM_F_DUMP
  const base = { flags: dump, seq: 4, family: 0, handle: 0, info: 0 };
  assert.deepEqual(head(getQdiscsRequest(4, 7)), { ...base, type: 38, ifindex: 7, parent: 0 });
  assert.deepEqual(head(getClassesRequest(4, 7)), { ...base, type: 42, ifindex: 7, parent: 0 });
  assert.deepEqual(head(getFiltersRequest(4, 7, 0x10010)), {
    ...base,
    type: 46,
    ifindex: 7,
    parent: 0x10010,
  });
  assert.deepEqual(head(getFiltersRequest(4, 7, TC_H_ROOT)), {
    ...base,
    type: 46,
    ifindex: 7,
    parent: 0xffffffff,
  });
  assert.deepEqual(head(getFiltersRequest(4, 7, "ingress")), {
    ...base,
    type: 46,
    ifindex: 7,
    parent: 0xfffffff2,
  });
  assert.equal(Rtm.GETTCLASS, 42);
});

test("parseFilter: a cls_bpf filter's actions (TCA_BPF_ACT), bpf ones with name and id, in their order", () => {
  // the bytes as the kernel writes them (linux/pkt_cls.h, linux/tc_act/tc_bpf.h): TCA_KIND 1,
  // TCA_OPTIONS 2 { TCA_BPF_ACT 1 { <order> { TCA_ACT_KIND 1, TCA_ACT_OPTIONS 2 { TCA_ACT_BPF_PARMS 2,
  // TCA_ACT_BPF_NAME 6, TCA_ACT_BPF_ID 9 } } }, TCA_BPF_ID 11, TCA_BPF_NAME 7 }
  const w = new MessageWriter(44, 0, 1)
    .bytes(tcmsg({ ifindex: 3, handle: 1, parent: 0x10000, info: (5 << 16) | 0x0300 }))
    .string(1, "bpf")
    .begin(2)
    .begin(1)
    .begin(2) // order 2 first in the bytes: the list follows the order, not the bytes
    .string(1, "bpf")
    .begin(2)
    .attr(2, Buffer.alloc(20))
    .string(6, "second")
    .u32(9, 42)
    .end()
    .end()
    .begin(1)
    .string(1, "mirred")
    .begin(2)
    .attr(2, Buffer.alloc(20))
    .end()
    .end()
    .begin(3)
    .string(1, "bpf")
    .begin(2)
    .string(6, "no_parms")
    .end()
    .end()
    .end()
    .u32(11, 77)
    .string(7, "f")
    .end()
    .finish();
  const [m] = parseMessages(w);
  const f = parseFilter(m!);
  assert.equal(f.priority, 5);
  assert.equal(f.bpf?.progId, 77);
  assert.deepEqual(f.bpf?.actions, [
    { order: 1, kind: "mirred" },
    { order: 2, kind: "bpf", bpf: { hasParms: true, name: "second", id: 42 } },
    { order: 3, kind: "bpf", bpf: { hasParms: false, name: "no_parms" } },
  ]);
  const plain = parseFilter(
    parseMessages(
      newBpfFilterRequest(1, {
        ifindex: 1,
        direction: "ingress",
        priority: 1,
        handle: 1,
        progFd: 3,
        name: "x",
      }),
    )[0]!,
  );
  assert.equal(plain.bpf?.actions, undefined, "no TCA_BPF_ACT: no actions");
});

test("parseTcObject reads the kernel's qdiscs and classes as tc shows them; the qdisc dump is namespace-wide", (t) => {
  if (!needsRoot(t)) return;
  const r = runInNetns(
    `
    import { execFileSync } from "node:child_process";
    const { Rtnetlink } = await import("${SRC}link/rtnl.ts");
    const { getClassesRequest, getQdiscsRequest, parseTcObject } = await import("${SRC}netlink/route.ts");
    const sh = (...a) => execFileSync("tc", a, { encoding: "utf8" });
    sh("qdisc", "add", "dev", "qa", "root", "handle", "1:", "htb");
    sh("class", "add", "dev", "qa", "parent", "1:", "classid", "1:1", "htb", "rate", "1mbit");
    sh("class", "add", "dev", "qa", "parent", "1:1", "classid", "1:20", "htb", "rate", "1mbit");
    sh("qdisc", "add", "dev", "qb", "root", "handle", "2:", "tbf", "rate", "1mbit", "burst", "10k", "latency", "10ms");
    sh("qdisc", "add", "dev", "qb", "clsact");
    const rt = new Rtnetlink();
    const index = (n) => rt.links().find((l) => l.name === n).index;
    const dump = (req, i) => { const seq = rt.seq(); return rt.talk(req(seq, i), seq, "test").map(parseTcObject); };
    const qa = index("qa");
    console.log(JSON.stringify({
      qa, qb: index("qb"),
      qdiscs: dump(getQdiscsRequest, qa),
      classes: dump(getClassesRequest, qa),
      tcQdiscs: JSON.parse(sh("-j", "qdisc", "show")),
      tcClasses: sh("class", "show", "dev", "qa"), // iproute2 6.1 prints htb classes as text even with -j
    }));
  `,
    "ip link set lo up && ip link add qa type veth peer name qb",
  );
  assert.equal(r.status, 0, `the child failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  const handle = (h: number) => `${(h >>> 16).toString(16)}:${h & 0xffff ? (h & 0xffff).toString(16) : ""}`;
  type Tc = { ifindex: number; handle: number; kind?: string };
  const names = new Map<number, string>([
    [out.qa, "qa"],
    [out.qb, "qb"],
  ]);
  const ours = (out.qdiscs as Tc[])
    .filter((q) => names.has(q.ifindex))
    .map((q) => `${names.get(q.ifindex)} ${q.kind} ${handle(q.handle)}`)
    .sort();
  const theirs = (out.tcQdiscs as { dev: string; kind: string; handle: string }[])
    .filter((q) => q.dev === "qa" || q.dev === "qb")
    .map((q) => `${q.dev} ${q.kind} ${q.handle}`)
    .sort();
  assert.ok(ours.includes("qb tbf 2:") && ours.includes("qa htb 1:"), `both devices' qdiscs: ${ours}`);
  assert.deepEqual(ours, theirs, "RTM_GETQDISC for qa answers with every device's qdiscs, as tc lists them");
  assert.deepEqual(
    (out.classes as Tc[]).map((c) => `${c.kind} ${handle(c.handle)}`).sort(),
    [...(out.tcClasses as string).matchAll(/^class (\S+) (\S+) /gm)].map((m) => `${m[1]} ${m[2]}`).sort(),
    "RTM_GETTCLASS: qa's classes, as tc class show",
  );
  assert.equal((out.classes as Tc[]).length, 2);
});

test("newPairRequest: the kernel makes the veth pair it describes (ip -j is the oracle), and parseLink reads it back", (t) => {
  if (!needsRoot(t)) return;
  const r = runInNetns(`
    import { execFileSync } from "node:child_process";
    const { Rtnetlink } = await import("${SRC}link/rtnl.ts");
    const { newPairRequest, deleteLinkRequest } = await import("${SRC}netlink/route.ts");
    const { interfaceIndex } = await import("${SRC}sys/link.ts");
    const { setInterfaceUp } = await import("${SRC}link/netkit.ts");
    const rt = new Rtnetlink();
    const seq = rt.seq();
    rt.talk(newPairRequest(seq, "veth", "rbv0", "rbv1"), seq, "test");
    setInterfaceUp("rbv0");
    const ours = rt.link(interfaceIndex("rbv0"));
    const ip = JSON.parse(execFileSync("ip", ["-j", "-d", "link", "show"], { encoding: "utf8" }));
    let again = "";
    const seq2 = rt.seq();
    try { rt.talk(newPairRequest(seq2, "veth", "rbv0", "rbv1"), seq2, "again"); } catch (e) { again = e.errnoName + " " + e.message; }
    const seq3 = rt.seq();
    rt.talk(deleteLinkRequest(seq3, ours.index), seq3, "delete");
    const after = JSON.parse(execFileSync("ip", ["-j", "link", "show"], { encoding: "utf8" })).map((l) => l.ifname);
    rt.close();
    console.log(JSON.stringify({ ours, ip, again, after }));
  `);
  assert.equal(r.status, 0, `the child failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  const ip = new Map(
    (
      out.ip as {
        ifname: string;
        ifindex: number;
        link_index?: number;
        link?: string;
        flags: string[];
        linkinfo?: { info_kind: string };
      }[]
    ).map((l) => [l.ifname, l]),
  );
  const v0 = ip.get("rbv0");
  const v1 = ip.get("rbv1");
  assert.equal(v0?.linkinfo?.info_kind, "veth", "ip: rbv0 is a veth");
  assert.equal(v1?.linkinfo?.info_kind, "veth", "ip: and so is its peer rbv1");
  assert.equal(v0?.link, "rbv1", "ip: they are each other's peers");
  assert.equal(out.ours.index, v0?.ifindex, "parseLink: the index");
  assert.equal(out.ours.name, "rbv0");
  assert.equal(out.ours.kind, "veth");
  assert.equal(out.ours.link, v1?.ifindex, "parseLink: IFLA_LINK is the peer");
  assert.ok(v0?.flags.includes("UP"), "setInterfaceUp over rtnetlink");
  assert.equal(out.ours.flags & 1, 1, "parseLink: IFF_UP");
  assert.match(
    out.again,
    /^EEXIST RTM_NEWLINK again failed: EEXIST: /,
    "the kernel's error, named after the request",
  );
  assert.deepEqual(
    out.after.filter((n: string) => n.startsWith("rbv")),
    [],
    "RTM_DELLINK took both ends",
  );
});
