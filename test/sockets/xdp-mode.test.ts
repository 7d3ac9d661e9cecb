/**
 * An XDP link's info() says the mode the program got, read from the interface over rtnetlink
 * (IFLA_XDP) — checked against `ip -j link show` (iproute2, the oracle) on a veth pair in a child
 * network namespace: driver mode (veth has native XDP), generic mode, and both at once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { needsRoot } from "../support/privilege.js";
import { runInNetns, SRC } from "./support.js";

test("attachXdp: info() says the mode the program got: driver, generic, or the kernel's choice", (t) => {
  if (!needsRoot(t)) return;
  const r = runInNetns(
    `
    import { execFileSync } from "node:child_process";
    const { asm } = await import("${SRC}isa/template.ts");
    const { Program } = await import("${SRC}program/program.ts");
    const { attachXdp } = await import("${SRC}link/net.ts");
    const ip = (dev) => JSON.parse(execFileSync("ip", ["-j", "-d", "link", "show", "dev", dev], { encoding: "utf8" }))[0].xdp;
    const load = () => Program.load({ type: "xdp", instructions: asm\`r0 = 2\\nexit\` });
    const a = load(), b = load();
    const out = { ids: { a: a.info().id, b: b.info().id } };
    const driver = attachXdp(a, "xv0", { mode: "driver" });
    const generic = attachXdp(b, "xv1", { mode: "generic" });
    const chosen = attachXdp(b, "xv2");
    out.driver = { info: driver.info(), ip: ip("xv0") };
    out.generic = { info: generic.info(), ip: ip("xv1") };
    out.chosen = { info: chosen.info(), ip: ip("xv2") };
    let busy = "";
    try { attachXdp(b, "xv0", { mode: "generic" }); } catch (e) { busy = e.errnoName + " " + e.message; }
    out.busy = busy;
    driver.close();
    chosen.close();
    generic.detach();
    out.detached = generic.info();
    generic.close();
    console.log(JSON.stringify(out));
  `,
    "ip link set lo up && ip link add xv0 type veth peer name xv1 && ip link add xv2 type veth peer name xv3",
  );
  assert.equal(r.status, 0, `the child failed:\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  const { a, b } = out.ids;
  // iproute2's numbers: mode 1 driver, 2 generic
  assert.equal(out.driver.ip.mode, 1, "ip sees a driver-mode program");
  assert.equal(out.driver.ip.prog.id, a);
  assert.equal(out.driver.info.mode, "driver");
  assert.equal(out.generic.ip.mode, 2, "ip sees a generic-mode program");
  assert.equal(out.generic.ip.prog.id, b);
  assert.equal(out.generic.info.mode, "generic");
  assert.equal(out.chosen.ip.mode, 1, "left to choose, the kernel took veth's driver mode");
  assert.equal(out.chosen.info.mode, "driver", "and info() says so");
  assert.match(
    out.busy,
    new RegExp(
      `^EEXIST .*xv0 already has an XDP program \\(program ${a} in driver mode\\): one per mode, and driver and generic mode cannot be used at once`,
    ),
    "a second mode on a busy interface: what is there, and what to do",
  );
  assert.equal(out.detached.ifindex, 0);
  assert.equal("mode" in out.detached, false, "a detached link has no mode");
});
