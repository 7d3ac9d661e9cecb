/**
 * `rawbpf net list` against `bpftool net list` (v7.1 here) on cls_bpf filters everywhere bpftool
 * looks: classes of an htb qdisc, the htb qdisc's own block, the legacy ingress qdisc (which
 * bpftool also lists as "root": its TC_H_ROOT dump lands there), clsact; plus XDP and a flow
 * dissector attached to the test's own network namespace. Qdiscs and classes are made with
 * iproute2's `tc` (rawbpf has no code for them), filters through rawbpf's rtnetlink code, except
 * one with a mirred action (`tc`, for bpftool's "act"). bpftool 7.1 prints no tcx and no
 * netfilter rows: those are checked against the shape of bpftool 7.3+'s source (net.c
 * __show_dev_tc_bpf, show_link_netfilter) and left out of the comparison.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runInNetns, SRC } from "../sockets/support.js";
import { needsRoot } from "../support/privilege.js";

type Entry = Record<string, unknown>;
interface Listing {
  xdp: Entry[];
  tc: Entry[];
  flow_dissector: Entry[];
  netfilter?: Entry[];
}

const CHILD = `
  import { execFileSync } from "node:child_process";
  import { rmSync } from "node:fs";
  import { attachFlowDissector, attachNetfilter, attachTc, attachTcx, attachXdp, Program } from "${SRC}index.js";
  import { asm } from "${SRC}isa/template.js";
  import { captureIo } from "${SRC}cli/io.js";
  import { main } from "${SRC}cli/main.js";
  import { Rtnetlink } from "${SRC}link/rtnl.js";
  import { tcBpfFilters, walkTcBpf } from "${SRC}link/tc.js";
  import { newBpfFilterRequest } from "${SRC}netlink/route.js";
  const sh = (cmd, ...a) => execFileSync(cmd, a, { encoding: "utf8" });
  const cls = (name) => Program.load({ type: "sched_cls", name, instructions: asm\`r0 = 0; exit\` });
  const rt = new Rtnetlink();
  const index = (name) => rt.links().find((l) => l.name === name).index;
  const ids = {};
  // a cls_bpf filter through rawbpf's rtnetlink code, under any tc parent
  const filter = (dev, parent, priority, name) => {
    const p = cls(name.slice(0, 15));
    ids[name] = p.info().id;
    const seq = rt.seq();
    rt.talk(newBpfFilterRequest(seq, { ifindex: index(dev), direction: "ingress", parent, priority, handle: 1, progFd: p.fd, name }), seq, "test filter");
  };
  const run = async (...argv) => {
    const io = captureIo();
    const status = await main(argv, io);
    return { status, out: io.out, err: io.err };
  };
  // bpftool's JSON with its flow_dissector repaired: it writes ["id":N], not JSON (net.c NET_DUMP_UINT in an array)
  const bpftoolJson = (...a) => {
    const raw = sh("bpftool", "-j", "net", "list", ...a);
    return { raw, parsed: JSON.parse(raw.replace(/"flow_dissector":\\["id":(\\d+)\\]/, '"flow_dissector":[{"id":$1}]')) };
  };
  // va: htb 1: with classes 1:1 and 1:10, filters on both classes and the qdisc's block; the
  // legacy ingress qdisc with a filter. vb: htb 2:, a filter with a mirred action, clsact, tcx.
  sh("tc", "qdisc", "add", "dev", "va", "root", "handle", "1:", "htb");
  sh("tc", "class", "add", "dev", "va", "parent", "1:", "classid", "1:1", "htb", "rate", "1mbit");
  sh("tc", "class", "add", "dev", "va", "parent", "1:1", "classid", "1:10", "htb", "rate", "1mbit");
  sh("tc", "qdisc", "add", "dev", "va", "ingress");
  sh("tc", "qdisc", "add", "dev", "vb", "root", "handle", "2:", "htb");
  filter("va", 0x10001, 1, "q_class_1_1");
  filter("va", 0x10010, 3, "q_class_10_p3");
  filter("va", 0x10010, 1, "q_class_10_p1");
  filter("va", 0x10000, 2, "q_qdisc_1");
  filter("va", 0xffff0000, 4, "q_ingress");
  filter("vb", 0x20000, 1, "q_qdisc_2");
  const act = cls("q_act");
  ids.q_act = act.info().id;
  const pin = "/sys/fs/bpf/rawbpf_netqdisc_" + process.pid;
  act.pin(pin);
  try {
    sh("tc", "filter", "add", "dev", "vb", "parent", "2:", "prio", "9", "bpf", "object-pinned", pin, "action", "mirred", "egress", "redirect", "dev", "va");
  } finally {
    rmSync(pin, { force: true });
  }
  const clsact = attachTc(cls("q_clsact"), "vb", "egress", { name: "q_clsact_out" });
  const tcxProg = cls("q_tcx");
  const tcx = attachTcx(tcxProg, "vb", "ingress");
  const xdpProg = Program.load({ type: "xdp", name: "q_xdp", instructions: asm\`r0 = 2; exit\` });
  const xdp = attachXdp(xdpProg, "va", { mode: "generic" });
  const fdProg = Program.load({ type: "flow_dissector", name: "q_flow", instructions: asm\`r0 = 0; exit\` });
  const flow = attachFlowDissector(fdProg);
  const nfProg = Program.load({ type: "netfilter", name: "q_nf", expectedAttachType: "netfilter", instructions: asm\`r0 = 1; exit\` });
  const nf = attachNetfilter(nfProg, { family: "ipv4", hook: "local_in", priority: 4321 });
  const phase1 = {
    ours: await run("net", "list", "--json"),
    oursText: await run("net", "list"),
    oursDev: await run("net", "list", "dev", "va", "--json"),
    theirs: bpftoolJson().parsed,
    theirsText: sh("bpftool", "net", "list"),
    theirsDev: bpftoolJson("dev", "va").parsed,
    library: tcBpfFilters("va"),
  };
  // a second pair whose vc has a qdisc 1: like va: bpftool's namespace-wide qdisc dump then lists
  // va's and vc's qdisc 1: filters once per device with a qdisc 1:
  sh("ip", "link", "add", "vc", "type", "veth", "peer", "name", "vd");
  sh("tc", "qdisc", "add", "dev", "vc", "root", "handle", "1:", "htb");
  filter("vc", 0x10000, 1, "q_qdisc_vc");
  const phase2 = { ours: await run("net", "list", "--json"), theirs: bpftoolJson().parsed };
  // bad input: an unknown device; a device gone between listing and walking
  const unknown = await run("net", "list", "dev", "nosuchdev0");
  const vc = index("vc");
  sh("ip", "link", "del", "vc");
  const gone = walkTcBpf(rt, [vc]);
  let goneByName = "";
  try { tcBpfFilters("vc"); } catch (e) { goneByName = e.constructor.name + ": " + e.message; }
  const ids2 = { tcxLink: tcx.info().id, tcx: tcxProg.info().id, xdp: xdpProg.info().id, flow: fdProg.info().id, nfLink: nf.info().id, nf: nfProg.info().id };
  tcx.close(); xdp.close(); flow.close(); nf.close(); clsact.detach();
  rt.close();
  console.log(JSON.stringify({ phase1, phase2, unknown, gone, goneByName, ids: { ...ids, ...ids2 } }));
`;

test("rawbpf net list: cls_bpf filters on htb classes, the htb qdisc, ingress/root and clsact, XDP and the flow dissector, as bpftool net list (JSON and text)", (t) => {
  if (!needsRoot(t)) return;
  const r = runInNetns(
    CHILD,
    "ip link set lo up && ip link add va type veth peer name vb && ip link set va up && ip link set vb up",
  );
  assert.equal(r.status, 0, `the child failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  const { phase1, phase2, ids } = out;
  for (const [k, v] of Object.entries({ ours: phase1.ours, text: phase1.oursText, dev: phase1.oursDev }))
    assert.equal((v as { status: number }).status, 0, `${k}: ${(v as { err: string }).err}`);
  const ours = JSON.parse(phase1.ours.out)[0] as Listing;
  const theirs = phase1.theirs[0] as Listing;

  // the oracle saw what the test made, where it made it (in its order: devices by index, each
  // device's classes in the kernel's order). The legacy ingress qdisc's filter comes four times:
  // as the qdisc "ingress", and from the TC_H_ROOT and both clsact dumps, which the kernel answers
  // from the ingress qdisc too (its find() takes any minor)
  const byName = (l: Listing) => l.tc.map((e) => `${e.devname} ${e.kind} ${e.name} ${e.id}`).sort();
  const act = theirs.tc.find((e) => e.id === ids.q_act);
  const clsactId = theirs.tc.find((e) => e.name === "q_clsact_out")?.id;
  assert.deepEqual(
    byName(theirs),
    [
      `va clsact/egress q_ingress ${ids.q_ingress}`,
      `va clsact/ingress q_ingress ${ids.q_ingress}`,
      `va htb q_class_10_p1 ${ids.q_class_10_p1}`,
      `va htb q_class_10_p3 ${ids.q_class_10_p3}`,
      `va htb q_class_1_1 ${ids.q_class_1_1}`,
      `va htb q_qdisc_1 ${ids.q_qdisc_1}`,
      `va ingress q_ingress ${ids.q_ingress}`,
      `va root q_ingress ${ids.q_ingress}`,
      `vb clsact/egress q_clsact_out ${clsactId}`,
      `vb htb ${act?.name} ${ids.q_act}`,
      `vb htb q_qdisc_2 ${ids.q_qdisc_2}`,
    ].sort(),
    `bpftool lists the filters: ${JSON.stringify(theirs.tc)}`,
  );
  assert.deepEqual(act?.act, [], "bpftool: the mirred filter has an empty act list");
  const va = theirs.tc.filter((e) => e.devname === "va").map((e) => e.name);
  assert.ok(
    va.indexOf("q_class_10_p1") + 1 === va.indexOf("q_class_10_p3"),
    `a class's filters by priority: ${va}`,
  );

  // rawbpf: bpftool's rows plus tcx (7.3+), plus the netfilter section (7.3+)
  const tcx = ours.tc.filter((e) => String(e.kind).startsWith("tcx/"));
  assert.deepEqual(
    tcx,
    [
      {
        devname: "vb",
        ifindex: tcx[0]?.ifindex,
        kind: "tcx/ingress",
        name: "q_tcx",
        prog_id: ids.tcx,
        prog_flags: [],
        link_id: ids.tcxLink,
        link_flags: [],
      },
    ],
    "the tcx row has bpftool 7.3's fields (net.c __show_dev_tc_bpf)",
  );
  const mineNf = (ours.netfilter ?? []).filter((e) => e.id === ids.nf);
  assert.deepEqual(
    mineNf,
    [{ pf: 2, hook: 1, prio: 4321, flags: 0, id: ids.nf }],
    "netfilter row as bpftool 7.3",
  );
  const { netfilter: _nf, ...oursClassic } = {
    ...ours,
    tc: ours.tc.filter((e) => !String(e.kind).startsWith("tcx/")),
  };
  assert.deepEqual(
    oursClassic,
    theirs,
    "rawbpf net list --json is bpftool -j net list, field for field, in order",
  );
  assert.deepEqual(theirs.flow_dissector, [{ id: ids.flow }], "the flow dissector of the namespace");
  assert.deepEqual(
    theirs.xdp.map((e) => [e.devname, e.mode, e.id]),
    [["va", "generic", ids.xdp]],
  );

  // dev va: the same as bpftool's (flow_dissector is the namespace's, listed whatever the device)
  const oursDev = JSON.parse(phase1.oursDev.out)[0] as Listing;
  const { netfilter: _nf2, ...oursDevClassic } = oursDev;
  assert.deepEqual(oursDevClassic, phase1.theirsDev[0], "dev va: as bpftool -j net list dev va");
  assert.equal(oursDev.tc.length, 8, "dev va lists va's eight rows only");

  // the text: bpftool 7.1's output, line for line, once the tcx lines and the netfilter section
  // (7.3+) are taken out; those two as bpftool 7.3 prints them
  const text: string = phase1.oursText.out;
  const cut = text.indexOf("netfilter:\n");
  assert.ok(cut > 0, `a netfilter section: ${text}`);
  const tcxLine = new RegExp(
    `^vb\\(\\d+\\) tcx/ingress q_tcx prog_id ${ids.tcx} link_id ${ids.tcxLink} \\n`,
    "m",
  );
  assert.match(text, tcxLine, "the tcx line as bpftool 7.3");
  assert.equal(
    text.slice(0, cut).replace(tcxLine, ""),
    phase1.theirsText,
    "rawbpf net list is bpftool net list, line for line",
  );
  assert.ok(text.slice(cut).includes(`\n\tip input prio 4321 prog_id ${ids.nf}`), text.slice(cut));

  // the library function says the same, with the parents
  const lib = phase1.library as { attachPoint: string; parent: number; priority: number; name: string }[];
  assert.deepEqual(lib.map((f) => [f.attachPoint, f.parent.toString(16), f.priority, f.name]).sort(), [
    ["clsact/egress", "fffffff3", 4, "q_ingress"],
    ["clsact/ingress", "fffffff2", 4, "q_ingress"],
    ["htb", "10000", 2, "q_qdisc_1"],
    ["htb", "10001", 1, "q_class_1_1"],
    ["htb", "10010", 1, "q_class_10_p1"],
    ["htb", "10010", 3, "q_class_10_p3"],
    ["ingress", "ffff0000", 4, "q_ingress"],
    ["root", "ffffffff", 4, "q_ingress"],
  ]);
  assert.deepEqual(
    lib.map((f) => f.name),
    oursDev.tc.map((e) => e.name),
    "tcBpfFilters(va) in the CLI's order",
  );

  // phase 2: vc has a qdisc 1: too. bpftool repeats each device's qdisc-1: filters once per device
  // with a qdisc 1: (its RTM_GETQDISC dump is namespace-wide); rawbpf lists them once: bpftool's
  // rows with the repeats removed
  assert.equal(phase2.ours.status, 0, phase2.ours.err);
  const ours2 = JSON.parse(phase2.ours.out)[0] as Listing;
  const theirs2 = phase2.theirs[0] as Listing;
  const seen = new Set<string>();
  const firsts = theirs2.tc.filter((e) => {
    const k = JSON.stringify(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  assert.ok(
    theirs2.tc.length > firsts.length,
    `bpftool 7.1 repeats rows here: ${JSON.stringify(theirs2.tc)}`,
  );
  assert.deepEqual(
    ours2.tc.filter((e) => !String(e.kind).startsWith("tcx/")),
    firsts,
    "rawbpf: bpftool's rows, each once",
  );
  assert.ok(
    ours2.tc.some((e) => e.devname === "vc" && e.name === "q_qdisc_vc"),
    "vc's filter is listed",
  );

  // bad input
  assert.equal(out.unknown.status, 1, "an unknown device fails");
  assert.match(out.unknown.err, /^rawbpf net: no network device 'nosuchdev0' in this network namespace/);
  assert.equal(out.unknown.err.trim().split("\n").length, 1, `one line: ${out.unknown.err}`);
  assert.deepEqual(out.gone, [], "a device gone before the walk has no filters (the kernel's empty dumps)");
  assert.match(out.goneByName, /^UnknownInterfaceError: .*vc/, "a deleted device by name: a typed error");
});
