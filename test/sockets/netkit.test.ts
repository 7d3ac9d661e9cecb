/**
 * netkit against the real kernel, in a child network namespace: rawbpf makes the pair over
 * rtnetlink (`ip -j link` is the oracle), attaches a counting program to each end, and packets
 * routed out of each device run that end's program only.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { needsRoot } from "../support/privilege.js";
import { runInNetns, SRC, TESTS } from "./support.js";

test("createNetkit + attachNetkit: a pair made over rtnetlink, a program on each end, each run by its own device's packets", (t) => {
  if (!needsRoot(t)) return;
  const r = runInNetns(`
    import { execFileSync } from "node:child_process";
    import dgram from "node:dgram";
    const { u32, u64 } = await import("${SRC}codec/index.ts");
    const { asm } = await import("${SRC}isa/template.ts");
    const { BpfMap } = await import("${SRC}map/map.ts");
    const { Program } = await import("${SRC}program/program.ts");
    const { attachNetkit, createNetkit, setInterfaceUp, NotANetkitError } = await import("${SRC}link/netkit.ts");
    const { countThen } = await import("${TESTS}programs.ts");
    const ip = (...a) => execFileSync("ip", a, { encoding: "utf8" });
    let pair;
    try {
      pair = createNetkit({ name: "nkp0", peerName: "nkq0" });
    } catch (e) {
      let notNetkit = "";
      try { attachNetkit(Program.load({ type: "sched_cls", instructions: asm\`r0 = 0\\nexit\` }), "lo", "primary"); }
      catch (e) { notNetkit = (e instanceof NotANetkitError) + " " + e.message; }
      console.log(JSON.stringify({ unsupported: (e.errnoName ?? "") + " " + e.message, notNetkit }));
      process.exit(0);
    }
    const shown = JSON.parse(ip("-j", "-d", "link", "show"));
    setInterfaceUp("nkp0");
    setInterfaceUp(pair.peer.index);
    const up = JSON.parse(ip("-j", "link", "show", "nkp0"))[0].flags.includes("UP");
    ip("addr", "add", "10.7.0.1/24", "dev", "nkp0");
    ip("addr", "add", "10.8.0.1/24", "dev", "nkq0");
    const count = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 2 });
    const counter = (slot) => Program.load({ type: "sched_cls", instructions: countThen(count, slot)\`
        r0 = 2     // NETKIT_DROP: nothing goes further
        exit\` });
    const onPrimary = attachNetkit(counter(0), "nkp0", "primary");
    const onPeer = attachNetkit(counter(1), pair.primary.index, "peer");
    const infos = [onPrimary.info(), onPeer.info()];
    const sock = dgram.createSocket("udp4");
    const send = (host) => new Promise((r) => sock.send("x", 9, host, () => r()));
    for (let i = 0; i < 3; i++) await send("10.7.0.2");   // routed out of the primary
    for (let i = 0; i < 2; i++) await send("10.8.0.2");   // routed out of the peer
    await new Promise((r) => setTimeout(r, 100));
    const counts = [String(count.get(0)), String(count.get(1))];
    let wrongEnd = "";
    try { attachNetkit(counter(0), "nkq0", "peer"); } catch (e) { wrongEnd = (e instanceof NotANetkitError) + " " + e.message; }
    let notNetkit = "";
    try { attachNetkit(counter(0), "lo", "primary"); } catch (e) { notNetkit = (e instanceof NotANetkitError) + " " + e.message; }
    onPrimary.close();
    onPeer.close();
    sock.close();
    pair.delete();
    const after = JSON.parse(ip("-j", "link", "show")).map((l) => l.ifname);
    console.log(JSON.stringify({ pair: { primary: pair.primary, peer: pair.peer }, shown, up, infos, counts, wrongEnd, notNetkit, after }));
  `);
  assert.equal(r.status, 0, `the child failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  if (out.unsupported !== undefined) {
    // the oracle: the kernel's own configuration says there is no netkit driver
    const config = execFileSync(
      "sh",
      ["-c", "zcat /proc/config.gz 2>/dev/null || cat /boot/config-$(uname -r)"],
      {
        encoding: "utf8",
      },
    );
    assert.match(
      config,
      /# CONFIG_NETKIT is not set/,
      `createNetkit failed on a kernel with netkit: ${out.unsupported}`,
    );
    assert.match(
      out.unsupported,
      /^EOPNOTSUPP RTM_NEWLINK of netkit pair nkp0\/nkq0 failed: EOPNOTSUPP: this kernel has no netkit driver \(it needs Linux 6\.7 or later built with CONFIG_NETKIT; the kernel says: Unknown device type\)$/,
    );
    assert.match(
      out.notNetkit,
      /^true lo is not a netkit device/,
      "attachNetkit refuses a device that is no netkit",
    );
    t.diagnostic("this kernel has no netkit (CONFIG_NETKIT is not set): only its errors were tested");
    return;
  }
  const byName = new Map(
    (out.shown as { ifname: string; ifindex: number; linkinfo?: { info_kind?: string } }[]).map((l) => [
      l.ifname,
      l,
    ]),
  );
  assert.equal(byName.get("nkp0")?.linkinfo?.info_kind, "netkit", "ip sees a netkit device nkp0");
  assert.equal(byName.get("nkq0")?.linkinfo?.info_kind, "netkit", "and its peer nkq0");
  assert.equal(out.pair.primary.index, byName.get("nkp0")?.ifindex);
  assert.equal(out.pair.peer.index, byName.get("nkq0")?.ifindex);
  assert.equal(out.up, true, "setInterfaceUp brought it up");
  assert.deepEqual(
    out.infos.map((i: { type: string; ifindex: number; attachType: string }) => [
      i.type,
      i.ifindex,
      i.attachType,
    ]),
    [
      ["netkit", out.pair.primary.index, "netkit_primary"],
      ["netkit", out.pair.primary.index, "netkit_peer"],
    ],
  );
  assert.deepEqual(
    out.counts,
    ["3", "2"],
    "the primary's program saw the primary's 3 packets, the peer's its 2",
  );
  assert.match(
    out.wrongEnd,
    /^true nkq0 is the peer end of a netkit pair: give the primary \(interface index \d+\)/,
  );
  assert.match(out.notNetkit, /^true lo is not a netkit device/);
  assert.deepEqual(
    out.after.filter((n: string) => n.startsWith("nk")),
    [],
    "delete() removed both devices",
  );
});
