/**
 * The capability an EPERM names, checked in children with reduced capabilities: walking and
 * opening objects by id needs CAP_SYS_ADMIN (CAP_BPF is not enough); creating a map needs CAP_BPF.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { needsRoot } from "../support/privilege.js";
import { needsSetpriv, srcModule, withCapabilities } from "../support/setpriv.js";

const BY_ID = `
import { BpfError } from ${srcModule("sys/error.ts")};
import { BpfMap } from ${srcModule("map/map.ts")};
import { Link } from ${srcModule("link/link.ts")};
import { Program } from ${srcModule("program/program.ts")};
import { allIds } from ${srcModule("sys/obj.ts")};
import { readBtfById } from ${srcModule("btf/kernel.ts")};
const out = {};
for (const [name, f] of Object.entries({
  "map list": () => allIds("map"),
  "link list": () => allIds("link"),
  "BpfMap.fromId": () => BpfMap.fromId(1),
  "Link.fromId": () => Link.fromId(1),
  "Program.fromId": () => Program.fromId(1),
  "BTF by id": () => readBtfById(1),
})) {
  try { f(); out[name] = "accepted"; }
  catch (e) { out[name] = e instanceof BpfError ? { errnoName: e.errnoName, capability: e.capability, message: e.message } : String(e); }
}
console.log(JSON.stringify(out));
`;

for (const caps of [[], ["bpf"], ["bpf", "perfmon", "net_admin"]]) {
  test(`by-id commands with ${caps.length ? caps.join("+") : "no capabilities"} name CAP_SYS_ADMIN`, (t) => {
    if (!needsRoot(t) || !needsSetpriv(t)) return;
    const r = withCapabilities(caps, BY_ID);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<
      string,
      { errnoName: string; capability: string; message: string }
    >;
    for (const [name, e] of Object.entries(out)) {
      assert.equal(typeof e, "object", `${name}: ${JSON.stringify(e)}`);
      assert.equal(e.errnoName, "EPERM", name);
      assert.equal(e.capability, "CAP_SYS_ADMIN", `${name}: ${e.message}`);
      assert.match(e.message, /needs CAP_SYS_ADMIN\): .*CAP_BPF is not enough/, name);
    }
  });
}

test("creating a map without capabilities names CAP_BPF; with CAP_BPF it works", (t) => {
  if (!needsRoot(t) || !needsSetpriv(t)) return;
  const code = `
import { BpfError } from ${srcModule("sys/error.ts")};
import { BpfMap } from ${srcModule("map/map.ts")};
try {
  BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 1 }).close();
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  if (!(e instanceof BpfError)) throw e;
  console.log(JSON.stringify({ errnoName: e.errnoName, capability: e.capability, message: e.message }));
}`;
  const none = withCapabilities([], code);
  assert.equal(none.status, 0, none.stderr);
  const out = JSON.parse(none.stdout);
  assert.equal(out.errnoName, "EPERM");
  assert.equal(out.capability, "CAP_BPF");
  assert.match(out.message, /needs CAP_BPF/);
  const bpf = withCapabilities(["bpf"], code);
  assert.deepEqual(JSON.parse(bpf.stdout), { ok: true }, bpf.stderr);
});
