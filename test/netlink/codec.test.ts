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
  TC_PARENTS,
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
        () => parseMessages(buf).map((m) => [m, parseAck(m), parseLink(m), parseFilter(m)]),
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
