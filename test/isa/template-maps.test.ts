/** The asm template and the maps it refers to: unnamed maps get a reference, bad values say what they are. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { asm } from "../../src/isa/template.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { needsRoot } from "../support/privilege.js";

test("an unnamed map interpolated into asm is referred to, and the kernel uses that map", (t) => {
  if (!needsRoot(t)) return;
  using m = BpfMap.create({ type: "array", keySize: 4, valueSize: 8, maxEntries: 1 }); // no name
  using named = BpfMap.create({ type: "array", keySize: 4, valueSize: 8, maxEntries: 1, name: "other" });
  const p = asm`
    *(u32 *)(r10 - 4) = 0; r2 = r10; r2 += -4
    r1 = ${m}
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 7; lock *(u64 *)(r0 + 0) += r1
    *(u32 *)(r10 - 4) = 0; r2 = r10; r2 += -4
    r1 = ${m}
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1; lock *(u64 *)(r0 + 0) += r1
  out:
    r1 = ${named}
    r0 = 2
    exit
  `;
  using prog = Program.load({ type: "xdp", instructions: p });
  assert.equal(prog.testRun({ data: new Uint8Array(64) }).retval, 2);
  const v = m.get(new Uint8Array(4)) as Uint8Array;
  assert.equal(Buffer.from(v).readBigUInt64LE(0), 8n, "both references are the unnamed map");
  assert.equal(Buffer.from(named.get(new Uint8Array(4)) as Uint8Array).readBigUInt64LE(0), 0n);
});

test("values the template cannot take say what they are, not [object Object]", () => {
  for (const [value, re] of [
    [null, /number 1 must be a number, a bigint, a string .* or a map \(BpfMap\), got null/],
    [true, /got boolean/],
    [() => 1, /got a function/],
    [{ name: "a b" }, /a map named "a b", which is not a name the assembler can refer to/],
  ] as [unknown, RegExp][]) {
    assert.throws(
      () => asm`r1 = ${value as number}; r0 = 0; exit`,
      (e: Error) => e instanceof TypeError && re.test(e.message) && !/\[object Object\]/.test(e.message),
      String(value),
    );
  }
  assert.throws(
    () => asm`r1 = ${{ name: "m" }}; r2 = ${{ name: "m" }}; r0 = 0; exit`,
    /two different maps are both named 'm'/,
  );
});
