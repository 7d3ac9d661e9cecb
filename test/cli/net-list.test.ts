import assert from "node:assert/strict";
import { test } from "node:test";
import { runInNetns, SRC } from "../sockets/support.js";
import { needsRoot } from "../support/privilege.js";

type Entry = Record<string, unknown>;
interface Listing {
  xdp: Entry[];
  tc: Entry[];
  flow_dissector: unknown[];
}

test("rawbpf net list --json: netlink-attached XDP (generic, driver) and cls_bpf filters as bpftool -j net list shows them", (t) => {
  if (!needsRoot(t)) return;
  // in a network namespace of its own: lo, and a veth pair (veth has a driver XDP hook)
  const r = runInNetns(
    `
    import { execFileSync } from "node:child_process";
    import { attachTc, attachXdp, Program } from "${SRC}index.js";
    import { asm } from "${SRC}isa/template.js";
    import { captureIo } from "${SRC}cli/io.js";
    import { main } from "${SRC}cli/main.js";
    const xdp = (name) => Program.load({ type: "xdp", name, instructions: asm\`r0 = 2; exit\` });
    const byLink = xdp("net_link_gen");
    const byNetlink = xdp("net_nl_gen");
    const driver = xdp("net_nl_drv");
    const cls = Program.load({ type: "sched_cls", name: "net_cls", instructions: asm\`r0 = 0; exit\` });
    // XDP by BPF link, generic mode, on lo (rawbpf); by netlink in generic mode on vb and in
    // driver mode on va (bpftool's net attach, an independent attacher speaking IFLA_XDP)
    const link = attachXdp(byLink, "lo", { mode: "generic" });
    const bpftool = (...a) => execFileSync("bpftool", a, { encoding: "utf8" });
    bpftool("net", "attach", "xdpgeneric", "id", String(byNetlink.info().id), "dev", "vb");
    bpftool("net", "attach", "xdpdrv", "id", String(driver.info().id), "dev", "va");
    // cls_bpf filters through rawbpf's clsact code
    const ingress = attachTc(cls, "va", "ingress", { name: "net_cls_in" });
    const egress = attachTc(cls, "va", "egress", { priority: 7, handle: 3, name: "net_cls_out" });
    const io = captureIo();
    const status = await main(["net", "list", "--json"], io);
    const dev = captureIo();
    const devStatus = await main(["net", "list", "dev", "va", "--json"], dev);
    const text = captureIo();
    await main(["net", "list", "dev", "va"], text);
    const theirs = JSON.parse(bpftool("-j", "net", "list"));
    const theirsDev = JSON.parse(bpftool("-j", "net", "list", "dev", "va"));
    ingress.detach();
    egress.detach();
    link.close();
    const after = captureIo();
    await main(["net", "list", "dev", "va", "--json"], after);
    console.log(JSON.stringify({
      status, err: io.err, ours: JSON.parse(io.out), theirs,
      devStatus, oursDev: JSON.parse(dev.out), theirsDev, text: text.out, after: JSON.parse(after.out),
      ids: { byLink: byLink.info().id, byNetlink: byNetlink.info().id, driver: driver.info().id, cls: cls.info().id },
    }));
  `,
    "ip link set lo up && ip link add va type veth peer name vb && ip link set va up && ip link set vb up",
  );
  assert.equal(r.status, 0, `the child failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    status: number;
    err: string;
    ours: Listing[];
    theirs: Listing[];
    devStatus: number;
    oursDev: Listing[];
    theirsDev: Listing[];
    text: string;
    after: Listing[];
    ids: { byLink: number; byNetlink: number; driver: number; cls: number };
  };
  assert.equal(out.status, 0, out.err);
  assert.equal(out.devStatus, 0, "net list dev va");
  const ids = new Set([out.ids.byLink, out.ids.byNetlink, out.ids.driver, out.ids.cls]);
  const mine = (l: Listing) => ({
    xdp: l.xdp.filter((e) => ids.has(e.id as number)),
    tc: l.tc.filter((e) => ids.has(e.id as number)),
  });
  const ours = mine(out.ours[0]!);
  const theirs = mine(out.theirs[0]!);
  // the oracle saw what the test attached, in the modes it asked for
  assert.deepEqual(
    theirs.xdp.map((e) => [e.devname, e.mode, e.id]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    [
      ["lo", "generic", out.ids.byLink],
      ["va", "driver", out.ids.driver],
      ["vb", "generic", out.ids.byNetlink],
    ],
    "bpftool lists the three XDP programs",
  );
  assert.equal(theirs.tc.length, 2, `bpftool lists both cls_bpf filters: ${JSON.stringify(theirs.tc)}`);
  assert.deepEqual(ours, theirs, "rawbpf's entries are bpftool's, field for field and in order");
  assert.deepEqual(
    ours.tc.map((e) => [e.kind, e.name]),
    [
      ["clsact/ingress", "net_cls_in"],
      ["clsact/egress", "net_cls_out"],
    ],
  );
  assert.deepEqual(mine(out.oursDev[0]!), mine(out.theirsDev[0]!), "dev va: the same as bpftool's");
  assert.equal(mine(out.oursDev[0]!).xdp.length, 1, "dev va lists va's XDP program only");
  assert.match(out.text, new RegExp(`^va\\(\\d+\\) driver id ${out.ids.driver}$`, "m"));
  assert.match(out.text, new RegExp(`^va\\(\\d+\\) clsact/ingress net_cls_in id ${out.ids.cls}$`, "m"));
  assert.deepEqual(mine(out.after[0]!).tc, [], "detached filters are gone from the listing");
});
