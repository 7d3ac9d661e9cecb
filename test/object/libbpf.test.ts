/**
 * Objects compiled by clang-19 from C written for this project, loaded by rawbpf and by libbpf (a
 * C harness compiled here with -lbpf): the same test-run return values, the same map contents
 * after the runs, and the same translated instructions (the kernel's xlated dump, map ids
 * numbered by first use).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import test from "node:test";
import { BpfObject } from "../../src/object/index.js";
import { needsRoot } from "../support/privilege.js";
import { BUILD_DIR, compileFixture, FIXTURES } from "./compile.js";

/** Map ids in ld_imm64 (src 1 and 2) renumbered by first use, so two loads compare. */
function normalise(xlated: Uint8Array): string {
  const b = Uint8Array.from(xlated);
  const v = new DataView(b.buffer);
  const ids = new Map<number, number>();
  for (let at = 0; at + 16 <= b.length; at += 8) {
    if (b[at] !== 0x18) continue;
    const src = (b[at + 1] as number) >> 4;
    if (src === 1 || src === 2) {
      const id = v.getInt32(at + 4, true);
      if (!ids.has(id)) ids.set(id, ids.size + 1);
      v.setInt32(at + 4, ids.get(id) as number, true);
    }
    at += 8;
  }
  return Buffer.from(b)
    .toString("hex")
    .replace(/(.{16})/g, "$1\n");
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

const harness = (() => {
  let bin: string | undefined;
  return () => {
    bin ??= (() => {
      const out = join(BUILD_DIR, "libbpf-harness");
      execFileSync("cc", ["-O1", "-o", out, join(FIXTURES, "..", "libbpf-harness.c"), "-lbpf"]);
      return out;
    })();
    return bin;
  };
})();

test("globals.c: rawbpf and libbpf give the same return values, map contents and xlated instructions", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("globals");
  const programs = ["count_packets", "second", "pass"];
  const maps = ["counts", "pairs", "globals.bss", "globals.data", "globals.rodata"];
  const dir = mkdtempSync(join(BUILD_DIR, "libbpf-"));
  const theirs = execFileSync(harness(), [path, dir, ...programs, "--", ...maps], { encoding: "utf8" });

  using obj = BpfObject.open(path).load();
  const lines: string[] = [];
  const data = new Uint8Array(64);
  for (const name of programs) {
    const r = obj.program(name).testRun({ data });
    lines.push(`prog ${name} ${r.retval >>> 0}`);
  }
  for (const name of maps) {
    for (const [k, v] of obj.map(name).entries())
      lines.push(`map ${name} ${hex(k as Uint8Array)} ${hex(v as Uint8Array)}`);
  }
  assert.equal(lines.join("\n"), theirs.trim(), "test runs and maps agree with libbpf");
  for (const name of programs) {
    const ours = join(dir, `${name}.ours`);
    execFileSync("bpftool", [
      "prog",
      "dump",
      "xlated",
      "id",
      String(obj.program(name).info().id),
      "file",
      ours,
    ]);
    assert.equal(
      normalise(readFileSync(ours)),
      normalise(readFileSync(join(dir, `${name}.xlated`))),
      `xlated instructions of ${name}`,
    );
  }
  // .bss through shared memory, no system call: what the program wrote
  const hits = obj.variable("hits").get();
  const bss = obj.map("globals.bss").get(new Uint8Array(4)) as Uint8Array;
  assert.equal(
    hits,
    new DataView(bss.buffer, bss.byteOffset).getBigUint64(0, true),
    "hits read through the mapping",
  );
  assert.ok((hits as bigint) > 0n, "the programs wrote hits");
  obj.variable("hits").set(12345n);
  const again = obj.map("globals.bss").get(new Uint8Array(4)) as Uint8Array;
  assert.equal(
    new DataView(again.buffer, again.byteOffset).getBigUint64(0, true),
    12345n,
    "a write through the mapping is the map's value",
  );
});

test("constants: a read-only global set before load changes what the program returns", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("globals");
  const data = new Uint8Array(64);
  using a = BpfObject.open(path).load({ programs: ["count_packets"] });
  using b = BpfObject.open(path, { constants: { threshold: 1000 } }).load({ programs: ["count_packets"] });
  assert.notEqual(a.program("count_packets").testRun({ data }).retval, 0, "64 > 7: the subprograms run");
  assert.equal(b.program("count_packets").testRun({ data }).retval, 0, "64 <= 1000: returns 0");
  assert.throws(() => BpfObject.open(path, { constants: { threshold: 1n << 40n } }).load(), /does not fit/);
  assert.throws(() => BpfObject.open(path, { constants: { hits: 1 } }), /no read-only variable .* 'hits'/);
});
