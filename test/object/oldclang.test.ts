/**
 * Objects in the shapes older clangs wrote, where libbpf still loads them (or loaded them, for the
 * legacy "maps" section libbpf 1.0 dropped): the ISA of -mcpu=v1 (no 32-bit jumps, no atomics
 * with fetch), no BTF at all (no -g), BTF without .BTF.ext (no func_info or line info), and a
 * `struct bpf_map_def` in "maps" instead of a BTF-defined map. Oracle: the same C compiled the
 * modern way and loaded by libbpf: the same return value and map contents after a test run.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import test from "node:test";
import { BpfObject } from "../../src/object/index.js";
import { needsRoot } from "../support/privilege.js";
import { BUILD_DIR, compileFixture, FIXTURES } from "./compile.js";
import { libbpfRunsAndMap } from "./oracle.js";

/** The multiarch include directory Debian keeps asm/types.h in. */
function includes(): string[] {
  const triple = execFileSync("cc", ["-print-multiarch"], { encoding: "utf8" }).trim();
  return triple ? [`-I/usr/include/${triple}`] : [];
}

/** fixtures/oldclang.c compiled by clang-19 with `flags` (no -g unless given), `strip` sections removed. */
function build(name: string, flags: readonly string[], strip: readonly string[] = []): string {
  const o = join(BUILD_DIR, `oldclang-${name}.o`);
  execFileSync("clang-19", [
    "-target",
    "bpf",
    "-O2",
    ...includes(),
    ...flags,
    "-c",
    join(FIXTURES, "oldclang.c"),
    "-o",
    o,
  ]);
  if (strip.length > 0) execFileSync("llvm-objcopy-19", [...strip.map((s) => `--remove-section=${s}`), o]);
  return o;
}

function sections(path: string): string[] {
  return BpfObject.open(path).spec.sections.map((s) => s.name);
}

test("objects as older clangs wrote them (-mcpu=v1, no BTF, no .BTF.ext, legacy maps) run as libbpf runs the modern build", (t) => {
  if (!needsRoot(t)) return;
  const modern = compileFixture("oldclang");
  // libbpf's run of the modern object: return value, and the map after one run on 64 zero bytes
  const theirs = libbpfRunsAndMap(modern, ["count_bytes"], "counts");
  const want = theirs.retvals.get("count_bytes");
  assert.equal(want, 2, "64 bytes: XDP_PASS");
  assert.equal(theirs.values.length, 4, "libbpf printed the map's 4 values");
  const variants: [string, string][] = [
    ["v1, no -g, legacy maps", build("v1-nog", ["-mcpu=v1", "-DLEGACY"])],
    ["v1, -g, legacy maps", build("v1-g", ["-mcpu=v1", "-g", "-DLEGACY"])],
    ["v2, -g without .BTF.ext, legacy maps", build("v2-noext", ["-mcpu=v2", "-g", "-DLEGACY"], [".BTF.ext"])],
    ["v1, -g without .BTF.ext, BTF maps", build("v1-noext", ["-mcpu=v1", "-g"], [".BTF.ext"])],
  ];
  for (const [what, path] of variants) {
    const names = sections(path);
    if (what.includes("no -g")) assert.ok(!names.includes(".BTF"), `${what}: no .BTF`);
    if (what.includes("without .BTF.ext")) assert.ok(!names.includes(".BTF.ext"), `${what}: no .BTF.ext`);
    if (what.includes("legacy")) assert.ok(names.includes("maps"), `${what}: a legacy maps section`);
    using obj = BpfObject.open(path).load();
    const p = obj.spec.programs.find((x) => x.name === "count_bytes");
    assert.ok(p, `${what}: count_bytes found`);
    assert.deepEqual(p.subprograms, ["weigh"], `${what}: the subprogram linked in`);
    assert.equal(
      p.lineInfo.length > 0,
      what.includes("v1, -g, legacy"),
      `${what}: line info only where .BTF.ext is`,
    );
    const r = obj.program("count_bytes").testRun({ data: new Uint8Array(64) });
    assert.equal(r.retval, want, `${what}: the return value libbpf's run of the modern object gave`);
    const got: string[] = [];
    for (let k = 0; k < 4; k++) {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, k, true);
      got.push(Buffer.from(obj.map("counts").get(key) as Uint8Array).toString("hex"));
    }
    assert.deepEqual(got, theirs.values, `${what}: the map after one run, as libbpf's`);
  }
});
