/**
 * Relocations that repeat (the same field of the same type, the same kind) are resolved once and
 * the answer reused, but only while the candidate list they were matched against is unchanged:
 * libbpf prunes a type's candidates to those that matched each relocation, so a repeat after a
 * pruning sees fewer candidates, and the results must say so.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BtfBuilder } from "../../../src/btf/builder.js";
import { applyCoreRelocations, CoreKind, type CoreRelocation } from "../../../src/btf/core/index.js";
import { Btf } from "../../../src/btf/decode.js";

/** `r0 = *(u32 *)(r1 + off)` for each offset, then exit. */
function loads(...offs: number[]): Uint8Array {
  const code = new Uint8Array((offs.length + 1) * 8);
  const v = new DataView(code.buffer);
  offs.forEach((off, i) => {
    code[i * 8] = 0x61;
    code[i * 8 + 1] = 0x10;
    v.setInt16(i * 8 + 2, off, true);
  });
  code[offs.length * 8] = 0x95;
  return code;
}

function offsets(code: Uint8Array): number[] {
  const v = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 8 < code.length; i += 8) out.push(code[i] === 0x85 ? -1 : v.getInt16(i + 2, true));
  return out;
}

function localPair(): { btf: Btf; pair: number } {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const pair = b.struct("pair", [
    { name: "a", type: int },
    { name: "b", type: int },
  ]);
  return { btf: Btf.parse(b.build()), pair };
}

/** Two candidates for `pair`: both have `a` at byte 8, only the first has `b` (at 12). */
function twoCandidates(): Btf {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const long = b.int("long", 8, { signed: true });
  b.struct("pair", [
    { name: "pad", type: long },
    { name: "a", type: int },
    { name: "b", type: int },
  ]);
  b.struct("pair___v2", [
    { name: "pad", type: long },
    { name: "a", type: int },
  ]);
  return Btf.parse(b.build());
}

test("a repeated access reuses its answer until a pruning changes the candidates, then reports the pruned list", () => {
  const { btf, pair } = localPair();
  const a = (insn: number): CoreRelocation => ({
    insnOffset: insn * 8,
    typeId: pair,
    accessString: "0:0",
    kind: CoreKind.FIELD_BYTE_OFFSET,
  });
  const b = (insn: number): CoreRelocation => ({ ...a(insn), accessString: "0:1" });
  const code = loads(0, 0, 4, 0, 0);
  const results = applyCoreRelocations(code, [a(0), a(1), b(2), a(3), a(4)], btf, twoCandidates());
  assert.deepEqual(offsets(code), [8, 8, 12, 8, 8], "every load patched to the target's offsets");
  assert.deepEqual(
    results.map((r) => [r.candidates, r.matched]),
    [
      [2, 2], // a: both candidates have it at 8
      [2, 2], // the same, reused: the list is unchanged
      [2, 1], // b: only `pair` has it, so the list becomes [pair]
      [1, 1], // a again: matched against the pruned list
      [1, 1],
    ],
  );
  assert.deepEqual(
    results.map((r) => r.patch),
    ["off 0 -> 8", "off 0 -> 8", "off 4 -> 12", "off 0 -> 8", "off 0 -> 8"],
  );
  assert.match(results[3]!.target!, /^\[\d+\] struct pair: a$/, "after pruning the target is `pair` itself");
});

test("a repeated access that finds no target poisons each of its instructions, with the reason each time", () => {
  const { btf, pair } = localPair();
  const target = new BtfBuilder();
  target.struct("pair", [{ name: "a", type: target.int("int", 4, { signed: true }) }]);
  const relos: CoreRelocation[] = [0, 1, 2].map((i) => ({
    insnOffset: i * 8,
    typeId: pair,
    accessString: "0:1",
    kind: CoreKind.FIELD_BYTE_OFFSET,
  }));
  const code = loads(4, 4, 4);
  const results = applyCoreRelocations(code, relos, btf, Btf.parse(target.build()));
  assert.deepEqual(offsets(code), [-1, -1, -1], "every one poisoned");
  for (const r of results) {
    assert.equal(r.poisoned, true, `relocation ${r.index} poisoned`);
    assert.match(r.reason ?? "", /none of the 1 target candidate/, `relocation ${r.index} says why`);
  }
  // the instruction's value is still checked for every repeat: a disagreeing one is refused
  const bad = loads(4, 8);
  assert.throws(
    () => applyCoreRelocations(bad, relos.slice(0, 2), btf, twoCandidates()),
    /relocation #1, instruction 1: the instruction's offset is 8, but the compiler's value for this relocation is 4/,
  );
});
