/**
 * `rawbpf load` and `rawbpf run` on an object compiled by clang (.o) and on a TypeScript file of
 * programs (.ts), with the JSON `load` and `run` print for `.s` and `.bin`. Oracles: bpftool's
 * view of the pinned program (id, tag, translated size, maps), libbpf's test run of the same
 * object (return value), and the packets' own bytes for the TypeScript program.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { needsRoot } from "../support/privilege.js";
import { compileFixture } from "./compile.js";
import { libbpfRuns } from "./oracle.js";

async function cli(argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const io = captureIo();
  const status = await main(argv, io);
  return { status, out: io.out, err: io.err };
}

interface LoadJson {
  id: number;
  name: string;
  type: string;
  tag: string;
  insns: number;
  xlated_bytes: number;
  map_ids: number[];
  pinned?: string;
  stats: { processed_insns: number } | null;
}

function bpftoolShow(pin: string): { id: number; tag: string; bytes_xlated: number; map_ids?: number[] } {
  return JSON.parse(execFileSync("bpftool", ["-j", "prog", "show", "pinned", pin], { encoding: "utf8" }));
}

function pinPath(what: string): string {
  return `/sys/fs/bpf/rawbpf-load-cli-${what}-${process.pid}`;
}

test("rawbpf load FILE.o: every program, or the one --program names, with load's JSON (checked by bpftool)", async (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("core");
  const all = await cli(["load", path, "--json"]);
  assert.equal(all.status, 0, all.err);
  const { programs } = JSON.parse(all.out) as { programs: LoadJson[] };
  assert.deepEqual(
    programs.map((p) => [p.name, p.type]),
    [
      ["core_task", "xdp"],
      ["core_parent", "xdp"],
    ],
    "the autoloaded programs, typed by their sections (core_unguarded is '?xdp')",
  );
  const pin = pinPath("o");
  try {
    const one = await cli(["load", path, "--program", "core_task", "--pin", pin, "--json"]);
    assert.equal(one.status, 0, one.err + one.out);
    const r = JSON.parse(one.out) as LoadJson;
    const k = bpftoolShow(pin);
    assert.equal(r.id, k.id, "the id bpftool sees");
    assert.equal(r.tag, k.tag, "the tag bpftool sees");
    assert.equal(r.xlated_bytes, k.bytes_xlated, "the translated size bpftool sees");
    assert.deepEqual([...r.map_ids].sort(), [...(k.map_ids ?? [])].sort(), "the maps bpftool sees");
    assert.ok(r.stats && r.stats.processed_insns > 0, "the verifier's statistics");
  } finally {
    rmSync(pin, { force: true });
  }
  const text = await cli(["load", path, "--program", "core_parent"]);
  assert.equal(text.status, 0, text.err);
  assert.match(text.out, /^loaded xdp program 'core_parent': id \d+, tag [0-9a-f]{16}\n/);

  const unguarded = await cli(["load", path, "--program", "core_unguarded", "--json"]);
  assert.equal(unguarded.status, 1, "the poisoned program is refused");
  const e = JSON.parse(unguarded.out).error;
  assert.match(
    e.message,
    /CO-RE relocation #0 \(byte_off\) of struct task_struct___old: no_such_field_anywhere/,
  );
  assert.equal(e.verifier, "invalid func unknown#195896080", "the verifier's own words");

  const missing = await cli(["load", path, "--program", "nope"]);
  assert.equal(missing.status, 2, missing.err);
  assert.match(missing.err, /has no program 'nope' \(programs: core_task, core_parent, core_unguarded\)/);
  const typed = await cli(["load", path, "--type", "socket_filter"]);
  assert.notEqual(typed.status, 0, "a --type the sections contradict is refused");
});

test("rawbpf run FILE.o --program NAME --data HEX returns what libbpf's test run returns", async (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("core");
  const theirs = libbpfRuns(path, ["core_task", "core_parent"]);
  for (const name of ["core_task", "core_parent"]) {
    const r = await cli(["run", path, "--program", name, "--data", "00".repeat(64), "--json"]);
    assert.equal(r.status, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.retval, theirs.get(name), `${name}: the return value libbpf's test run gives`);
    assert.equal(j.data_out, "00".repeat(64), "the packet comes back as it went");
  }
  const several = await cli(["run", path, "--data", "00".repeat(64)]);
  assert.equal(several.status, 2, "run needs --program when the object has several");
  assert.match(several.err, /has 2 programs: name one with --program \(core_task, core_parent\)/);
});

const TS = `import { ETH_P_IP, map, program, u32, u64, XDP_DROP, XDP_PASS } from "rawbpf";

const protocols = map("array", { key: u32, value: u64, maxEntries: 256 });

export const count = program("xdp", (ctx) => {
  const ethType = ctx.be16(12);
  if (ethType === null || ethType !== ETH_P_IP) return XDP_PASS;
  const proto = ctx.u8(23);
  if (proto === null) return XDP_PASS;
  const slot = protocols.lookup(proto);
  if (slot !== null) slot.value += 1;
  return proto === 17 ? XDP_DROP : XDP_PASS;
});

export const drop = program("xdp", (ctx) => XDP_DROP);
`;

test("rawbpf load / run FILE.ts: a TypeScript file's programs compiled, their maps created", async (t) => {
  if (!needsRoot(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-load-ts-"));
  const file = join(dir, "count.ts");
  writeFileSync(file, TS);
  const pin = pinPath("ts");
  try {
    const all = await cli(["load", file, "--json"]);
    assert.equal(all.status, 0, all.err);
    const { programs } = JSON.parse(all.out) as { programs: LoadJson[] };
    assert.deepEqual(
      programs.map((p) => [p.name, p.type, p.map_ids.length]),
      [
        ["count", "xdp", 1],
        ["drop", "xdp", 0],
      ],
    );
    const one = await cli(["load", file, "--program", "count", "--pin", pin, "--json"]);
    assert.equal(one.status, 0, one.err + one.out);
    const r = JSON.parse(one.out) as LoadJson;
    const k = bpftoolShow(pin);
    assert.equal(r.tag, k.tag, "the tag bpftool sees");
    assert.equal(r.xlated_bytes, k.bytes_xlated, "the translated size bpftool sees");
    assert.equal(k.map_ids?.length, 1, "bpftool sees the map the program uses");
  } finally {
    rmSync(pin, { force: true });
  }
  const ipv4 = (proto: number) =>
    `${"00".repeat(12)}0800${"45".padEnd(18, "0")}${proto.toString(16).padStart(2, "0")}`;
  for (const proto of [6, 17, 1]) {
    const data = ipv4(proto);
    const r = await cli(["run", file, "--program", "count", "--data", data, "--json"]);
    assert.equal(r.status, 0, r.err);
    const j = JSON.parse(r.out);
    // byte 23 of the packet is the IPv4 protocol; UDP (17) is dropped (XDP_DROP = 1, XDP_PASS = 2)
    assert.equal(
      Number.parseInt(data.slice(46, 48), 16),
      proto,
      "the test's packet has the protocol at byte 23",
    );
    assert.equal(j.retval, proto === 17 ? 1 : 2, `protocol ${proto}`);
    assert.equal(j.data_out, data, "the packet comes back as it went");
  }
  const text = await cli(["run", file, "--program", "drop", "--data", "00".repeat(14)]);
  assert.equal(text.status, 0, text.err);
  assert.match(text.out, /^retval: 1 \(0x1\)\n/);
  const several = await cli(["run", file, "--data", "00".repeat(14)]);
  assert.equal(several.status, 2, "run needs --program when the file has several");
  const s = await cli(["load", join(dir, "x.s"), "--program", "a"]);
  assert.notEqual(s.status, 0, "--program is refused for assembly");
  rmSync(dir, { recursive: true, force: true });
});

test("rawbpf load --timings: the phases on standard error, the relocation count the object's own, JSON output untouched", async (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("core");
  const r = await cli(["load", path, "--json", "--timings"]);
  assert.equal(r.status, 0, r.err);
  const { programs } = JSON.parse(r.out) as { programs: LoadJson[] };
  assert.equal(programs.length, 2, "stdout is still the one JSON object");
  const lines = r.err.split("\n");
  assert.equal(lines[0], "timings:", r.err);
  const phase = (name: string) => lines.find((l) => l.trimStart().startsWith(name));
  for (const name of [
    "node start-up",
    "open",
    "object BTF",
    "maps",
    "target BTF",
    "CO-RE relocation",
    "programs",
    "total",
  ])
    assert.match(phase(name) ?? "", / \d+\.\d ms/, `phase '${name}' in:\n${r.err}`);
  // the count it prints is what the object holds: the relocations of the two programs it loaded
  const { BpfObject } = await import("../../src/object/object.js");
  const spec = BpfObject.open(path).spec;
  const loaded = spec.programs.filter((p) => programs.some((q) => q.name === p.name));
  const want = loaded.reduce((n, p) => n + p.coreRelocations.length, 0);
  assert.ok(want > 0, "the fixture has CO-RE relocations");
  assert.match(
    phase("CO-RE relocation") ?? "",
    new RegExp(`\\(${want} relocations in ${loaded.length} programs\\)`),
    r.err,
  );
  assert.match(phase("programs") ?? "", /\(2 loaded\)/, r.err);
  // without the flag, nothing on standard error
  const quiet = await cli(["load", path, "--json"]);
  assert.equal(quiet.err, "", "no timings unless asked");
});
