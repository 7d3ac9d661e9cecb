/**
 * CO-RE against hand-built target BTFs with other layouts (as cilium/ebpf's tests do): libbpf,
 * given the same blob as btf_custom_path, must patch the same instructions, and the relocated
 * program, run on a known packet, must read each field where the target's layout puts it.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BtfBuilder } from "../../../src/btf/builder.js";
import {
  applyCoreRelocations,
  CoreRelocationError,
  parseCoreRelocations,
} from "../../../src/btf/core/index.js";
import { Btf } from "../../../src/btf/decode.js";
import { Program } from "../../../src/program/program.js";
import { needsRoot } from "../../support/privilege.js";
import { compileFixture, libbpfRelocate, toolsPresent, workDir } from "./helpers.js";

interface Field {
  bit: number;
  bits: number;
  signed: boolean;
}

/** Where the layout.c program's fields are in one target, and the values it should compute. */
interface Target {
  name: string;
  blob: Uint8Array;
  a: Field;
  b: Field;
  lo: Field;
  mid: Field;
  neg: Field;
  hi: Field;
  z2: Field;
  pb: Field;
  c: Field | undefined;
  blue: bigint;
  nestedSize: bigint;
  zSize: bigint;
}

function int32(bit: number): Field {
  return { bit, bits: 32, signed: true };
}

/** The local layout, written again by hand: every relocation must keep its value. */
function sameLayout(): Target {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const uint = b.int("unsigned int", 4);
  const pair = b.struct("pair", [
    { name: "a", type: int },
    { name: "b", type: int },
    { name: "c", type: int },
  ]);
  b.struct("flags", [
    { name: "lo", type: uint, bitfieldSize: 3 },
    { name: "mid", type: uint, bitfieldSize: 5 },
    { name: "neg", type: int, bitfieldSize: 7 },
    { name: "hi", type: uint, bitfieldSize: 17 },
  ]);
  const z = b.array(int, 4);
  const anon = b.struct("", [
    { name: "y", type: int },
    { name: "z", type: z },
  ]);
  const nested = b.struct("nested", [
    { name: "x", type: int },
    { name: "", type: anon },
    { name: "p", type: pair },
  ]);
  b.enum("color", { RED: 1, GREEN: 2, BLUE: 4 });
  return {
    name: "same layout",
    blob: b.build(),
    a: int32(0),
    b: int32(32),
    lo: { bit: 0, bits: 3, signed: false },
    mid: { bit: 3, bits: 5, signed: false },
    neg: { bit: 8, bits: 7, signed: true },
    hi: { bit: 15, bits: 17, signed: false },
    z2: int32(32 + 32 + 64),
    pb: int32(8 * 24 + 32),
    c: int32(64),
    blue: 4n,
    nestedSize: BigInt(b.sizeOf(nested)),
    zSize: 16n,
  };
}

/** Everything moved: reordered members, a wider bitfield unit, a longer array, no `c`, other enum values. */
function otherLayout(): Target {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const uint = b.int("unsigned int", 4);
  const u64 = b.int("unsigned long long", 8);
  const pair = b.struct("pair", [
    { name: "pad", type: int },
    { name: "b", type: int },
    { name: "a", type: int },
  ]);
  b.struct(
    "flags",
    [
      { name: "pad", type: uint, bitOffset: 0, bitfieldSize: 4 },
      { name: "lo", type: uint, bitOffset: 4, bitfieldSize: 3 },
      { name: "neg", type: int, bitOffset: 7, bitfieldSize: 7 },
      { name: "mid", type: uint, bitOffset: 14, bitfieldSize: 5 },
      { name: "hi", type: u64, bitOffset: 40, bitfieldSize: 17 },
    ],
    { size: 8 },
  );
  const z = b.array(int, 6);
  const anon = b.struct("", [
    { name: "z", type: z },
    { name: "y", type: int },
  ]);
  const nested = b.struct("nested", [
    { name: "p", type: pair },
    { name: "pad", type: u64 },
    { name: "", type: anon },
    { name: "x", type: int },
  ]);
  b.enum("color", { BLUE: 40, RED: 10 });
  const typedef = b.typedef("color_t", nested);
  void typedef;
  return {
    name: "other layout",
    blob: b.build(),
    a: int32(64),
    b: int32(32),
    lo: { bit: 4, bits: 3, signed: false },
    mid: { bit: 14, bits: 5, signed: false },
    neg: { bit: 7, bits: 7, signed: true },
    hi: { bit: 40, bits: 17, signed: false },
    z2: int32(8 * 24 + 64),
    pb: int32(32),
    c: undefined,
    blue: 40n,
    nestedSize: BigInt(b.sizeOf(nested)),
    zSize: 24n,
  };
}

/** Bits [bit, bit+bits) of little-endian `bytes`, sign-extended when signed, as a u64. */
function bitsOf(bytes: Uint8Array, f: Field): bigint {
  let v = 0n;
  for (let i = 0; i < f.bits; i++) {
    const at = f.bit + i;
    if ((bytes[at >> 3]! >> (at & 7)) & 1) v |= 1n << BigInt(i);
  }
  return BigInt.asUintN(64, f.signed ? BigInt.asIntN(f.bits, v) : v);
}

for (const make of [sameLayout, otherLayout]) {
  test(`layout.c against a hand-built BTF (${make.name}): libbpf patches the same, the program reads the target's layout`, (t) => {
    if (!needsRoot(t)) return;
    if (!toolsPresent()) {
      if (process.env.CI === "true") throw new Error("clang-19, llvm-objcopy-19 and libbpf-dev are needed");
      t.skip("tools missing");
      return;
    }
    const target = make();
    const c = compileFixture("layout");
    const relos = parseCoreRelocations(c.ext, c.btf).get("xdp")!;
    const patched = new Uint8Array(c.code);
    const results = applyCoreRelocations(patched, relos, c.btf, Btf.parse(target.blob));
    const path = join(workDir(), `${make.name.replace(/ /g, "-")}.btf`);
    writeFileSync(path, target.blob);
    const lib = libbpfRelocate(c.object, path);
    assert.deepEqual(lib.insns.get("layout"), Buffer.from(patched), "libbpf relocated the same instructions");
    assert.equal(
      results.filter((r) => r.poisoned).length,
      target.c ? 0 : 1,
      "only the guarded read of a missing field is poisoned",
    );

    using prog = Program.load({ type: "xdp", instructions: patched });
    const data = new Uint8Array(256);
    for (let i = 128; i < 256; i++) data[i] = (i * 37 + 11) & 0xff;
    const run = prog.testRun({ data });
    assert.equal(run.retval, 2, "ran to the end");
    const s = data.subarray(128);
    const out = (i: number) => run.dataOut.readBigUInt64LE(i * 8);
    assert.equal(out(0), bitsOf(s, target.a), "p->a");
    assert.equal(out(1), bitsOf(s, target.b), "p->b");
    assert.equal(out(2), bitsOf(s, target.lo), "flags.lo");
    assert.equal(out(3), bitsOf(s, target.mid), "flags.mid");
    assert.equal(out(4), bitsOf(s, target.neg), "flags.neg (signed)");
    assert.equal(out(5), bitsOf(s, target.hi), "flags.hi");
    assert.equal(out(6), bitsOf(s, target.z2), "n->z[2] through the anonymous member");
    assert.equal(out(7), bitsOf(s, target.pb), "n->p.b");
    assert.equal(out(8), target.c ? bitsOf(s, target.c) : 0xdeadn, "pair___v2 c, when it exists (flavour)");
    assert.equal(out(9), target.blue, "BLUE");
    assert.equal(out(10), target.nestedSize, "sizeof(struct nested)");
    assert.equal(out(11), target.zSize, "sizeof n->z");
  });
}

test("two flavours of one type that disagree are an ambiguity error naming both", (t) => {
  if (!toolsPresent()) {
    t.skip("tools missing");
    return;
  }
  const c = compileFixture("layout");
  const relos = parseCoreRelocations(c.ext, c.btf).get("xdp")!;
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  b.struct("pair", [
    { name: "a", type: int },
    { name: "b", type: int },
  ]);
  b.struct("pair___other", [
    { name: "b", type: int },
    { name: "a", type: int },
  ]);
  assert.throws(
    () => applyCoreRelocations(new Uint8Array(c.code), relos, c.btf, Btf.parse(b.build())),
    (e: unknown) =>
      e instanceof CoreRelocationError &&
      /struct pair: a: target candidates disagree on the field's offset/.test(e.message) &&
      /pair___other/.test(e.message),
  );
});
