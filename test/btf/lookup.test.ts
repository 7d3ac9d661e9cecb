/**
 * Name lookups: the first few search the string table (no index), later ones use the name index.
 * Both must give the same ids, for every kind filter, names that are missing, repeated or not
 * ASCII, and for split BTF whose types are named from the base's strings.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { BtfBuilder } from "../../src/btf/builder.js";
import { essentialName, findCandidates } from "../../src/btf/core/index.js";
import { Btf, SCAN_LOOKUPS } from "../../src/btf/decode.js";
import { VMLINUX } from "./helpers.js";

/** A fresh blob whose string-search lookups are used up, so the next ones go through the index. */
function indexed(bytes: Uint8Array, base?: Btf): Btf {
  const btf = Btf.parse(bytes, base ? { base } : {});
  for (let i = 0; i < SCAN_LOOKUPS; i++) btf.findIds(`no such name ${i}`);
  return btf;
}

/** Every name asked for by a fresh (searching) blob and by an indexed one, in the same order. */
function compare(
  bytes: Uint8Array,
  names: readonly string[],
  kinds: readonly (string | undefined)[],
  base?: Btf,
) {
  const idx = indexed(bytes, base);
  let asked = 0;
  for (const name of names) {
    for (const kind of kinds) {
      // a fresh blob for each lookup: every one of them is a search, never the index
      const fresh = Btf.parse(bytes, base ? { base } : {});
      const k = kind as Parameters<Btf["findIds"]>[1];
      assert.deepEqual(
        fresh.findIds(name, k),
        idx.findIds(name, k),
        `findIds(${JSON.stringify(name)}, ${kind})`,
      );
      asked++;
    }
  }
  return asked;
}

test("vmlinux: a name searched in the strings gives the ids the name index gives", () => {
  const bytes = readFileSync(VMLINUX);
  const btf = Btf.parse(bytes);
  // names of types spread over the whole blob, a few that repeat (int, __u32), and some that are not there
  const names = new Set<string>([
    "task_struct",
    "int",
    "__u32",
    "pid_type",
    "no_such_type_42",
    "task_struct___x",
  ]);
  for (let id = 1; id < btf.endId && names.size < 60; id += Math.floor(btf.typeCount / 50)) {
    const name = btf.nameOf(id);
    if (name !== "") names.add(name);
  }
  const asked = compare(bytes, [...names], [undefined, "struct", "typedef", "func", "int"]);
  assert.ok(asked >= 150, `only ${asked} lookups compared`);
  // the search found real types, not only empty lists
  assert.ok(Btf.parse(bytes).findIds("task_struct", "struct").length === 1, "task_struct is one struct");
});

test("a hand-built blob: repeated names, a name at offset 1, non-ASCII names and split types named from the base", () => {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  b.typedef("dup", int);
  b.struct("dup", [{ name: "a", type: int }]);
  b.typedef("héllo_wörld", int);
  b.struct("pair", [{ name: "x", type: int }]);
  const blob = b.build();
  const one = Btf.parse(blob);
  assert.deepEqual(one.findIds("dup"), [2, 3]);
  assert.deepEqual(one.findIds("héllo_wörld"), [4]);
  compare(
    blob,
    ["int", "dup", "héllo_wörld", "pair", "x", "a", "du", "up", "nope", "a\0b"],
    [undefined, "struct", "typedef"],
  );

  // split: "int" and "pair" in the split part are named from the base's strings
  const base = Btf.parse(blob);
  const s = new BtfBuilder({ base });
  const i2 = s.int("int", 8, { signed: false });
  s.struct("pair", [{ name: "x", type: i2 }]);
  s.struct("only_here", [{ name: "x", type: i2 }]);
  const split = s.build();
  const parsed = Btf.parse(split, { base });
  assert.deepEqual(parsed.findIds("int"), [1, base.endId], "the base's int, then the split one");
  compare(split, ["int", "pair", "only_here", "dup", "nope"], [undefined, "struct", "int"], base);
});

test("CO-RE candidates: a walk of the types (the first lookups) and the indexes (later ones) find the same, flavours included", () => {
  const local = new BtfBuilder();
  const lint = local.int("int", 4, { signed: true });
  const names = Array.from({ length: 12 }, (_, i) => `s${i}`);
  const localIds = names.map((n) => local.struct(n, [{ name: "a", type: lint }]));
  localIds.push(local.enum("e0", { A: 1 }));
  const localBtf = Btf.parse(local.build());
  const target = new BtfBuilder();
  const tint = target.int("int", 4, { signed: true });
  for (const [i, n] of names.entries()) {
    if (i % 3 !== 2) target.struct(n, [{ name: "a", type: tint }]);
    if (i % 2 === 0) target.struct(`${n}___v2`, [{ name: "a", type: tint }]);
    if (i % 4 === 0) target.union(`${n}___u`, [{ name: "a", type: tint }]); // a union: another kind
    target.struct(`${n}___a___b`, [{ name: "a", type: tint }]); // essential name s_i___a, not s_i
    target.typedef(n, tint);
  }
  target.enum("e0___wide", { A: 1n }, { size: 8 });
  const blob = target.build();
  const shared = Btf.parse(blob);
  let nonEmpty = 0;
  for (const id of localIds) {
    const alone = findCandidates(localBtf, id, Btf.parse(blob)); // a fresh blob: always the walk
    const later = findCandidates(localBtf, id, shared); // past the first 8: the indexes
    assert.deepEqual(later, alone, `candidates of ${localBtf.nameOf(id)}`);
    for (const c of alone) {
      assert.equal(
        essentialName(shared.nameOf(c)),
        localBtf.nameOf(id),
        `${shared.nameOf(c)} is a candidate`,
      );
      assert.ok(
        ["struct", "enum", "enum64"].includes(shared.kindName(c)),
        `${shared.nameOf(c)} is of a compatible kind`,
      );
    }
    if (alone.length > 0) nonEmpty++;
  }
  assert.ok(nonEmpty >= 10, `only ${nonEmpty} types had candidates`);
  assert.deepEqual(
    findCandidates(localBtf, localIds[12]!, Btf.parse(blob)).map((c) => shared.nameOf(c)),
    ["e0___wide"],
    "an enum64 stands for an enum",
  );
});

test("strings read one by one (the first ones) are the strings read from the table as one text (later ones)", () => {
  const bytes = readFileSync(VMLINUX);
  const alone = Btf.parse(bytes);
  const whole = Btf.parse(bytes);
  whole.stringText(); // the whole table as one string from the start
  let compared = 0;
  for (let id = 1; id < alone.endId && compared < 5000; id += 7, compared++) {
    const off = alone.nameOffsetOf(id);
    assert.equal(alone.string(off), whole.string(off), `name of [${id}]`);
  }
  assert.ok(compared > 2048, "both paths of the first blob compared");
  // non-ASCII names (UTF-8), both ways
  const b = new BtfBuilder();
  b.typedef("héllo_wörld", b.int("int", 4, { signed: true }));
  const blob = b.build();
  const one = Btf.parse(blob);
  const two = Btf.parse(blob);
  two.stringText();
  assert.equal(one.nameOf(2), "héllo_wörld");
  assert.equal(two.nameOf(2), "héllo_wörld");
});

test("a raw blob: a name at a string offset whose low byte is zero, the same name stored twice, and the offset as a value inside a record", () => {
  // strings: "" at 0, "int" at 1, padding up to 256, "target" at 256 and again at 263, "x" at 270
  const pad = "p".repeat(256 - 5 - 1);
  const text = `\0int\0${pad}\0target\0target\0x\0`;
  const strings = Buffer.from(text, "latin1");
  assert.equal(strings.indexOf("target"), 256, "the layout the test means");
  const words = [
    ...[1, (1 << 24) >>> 0, 4, (1 << 24) | 32], // [1] int
    ...[5, ((6 << 24) | 1) >>> 0, 4, 270, 256], // [2] enum p..p { x = 256 }: the offset as a value
    ...[256, (8 << 24) >>> 0, 1], // [3] typedef target
    ...[263, (8 << 24) >>> 0, 1], // [4] typedef target (the second copy of the string)
    ...[256, (4 << 24) >>> 0, 0], // [5] struct target {}
    ...[0, (8 << 24) >>> 0, 256], // [6] an anonymous typedef of type 256: the offset again
  ];
  const types = Buffer.alloc(words.length * 4);
  for (const [i, w] of words.entries()) types.writeUInt32LE(w >>> 0, i * 4);
  const header = Buffer.alloc(24);
  header.writeUInt16LE(0xeb9f, 0);
  header.writeUInt8(1, 2);
  header.writeUInt32LE(24, 4);
  header.writeUInt32LE(0, 8);
  header.writeUInt32LE(types.length, 12);
  header.writeUInt32LE(types.length, 16);
  header.writeUInt32LE(strings.length, 20);
  const blob = Buffer.concat([header, types, strings]);
  const fresh = () => Btf.parse(blob);
  assert.deepEqual(fresh().findIds("target"), [3, 4, 5]);
  assert.deepEqual(fresh().findIds("target", "typedef"), [3, 4]);
  assert.deepEqual(fresh().findIds("target", "struct"), [5]);
  assert.deepEqual(fresh().findIds("int"), [1]);
  assert.deepEqual(fresh().findIds("x"), [], "a member's name is no type's");
  compare(
    blob,
    ["target", "int", "x", pad, "targe", "arget", "nope"],
    [undefined, "typedef", "struct", "enum"],
  );
});

test("stringIs compares a string in the table with a name as string() would, without decoding it", () => {
  const btf = Btf.parse(readFileSync(VMLINUX));
  let compared = 0;
  for (let id = 1; id < btf.endId && compared < 3000; id += 41) {
    const off = btf.nameOffsetOf(id);
    const name = btf.string(off);
    assert.ok(btf.stringIs(off, name), `[${id}] is ${JSON.stringify(name)}`);
    assert.equal(btf.stringIs(off, `${name}x`), false, `[${id}] is not ${name}x`);
    if (name.length > 0) assert.equal(btf.stringIs(off, name.slice(1)), false, `[${id}] is not its tail`);
    if (name.length > 1) assert.equal(btf.stringIs(off, name.slice(0, -1)), false, `[${id}] is not its head`);
    compared++;
  }
  assert.ok(compared > 2000, `only ${compared} names compared`);
  assert.ok(btf.stringIs(0, ""), "offset 0 is the empty string");
  assert.throws(() => btf.stringIs(btf.stringsEnd + 5, "x"), /past the string table/);
  // non-ASCII, and a split blob's names from its base's table
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const t = b.typedef("héllo_wörld", int);
  const one = Btf.parse(b.build());
  assert.ok(one.stringIs(one.nameOffsetOf(t), "héllo_wörld"), "UTF-8 name");
  assert.equal(one.stringIs(one.nameOffsetOf(t), "hello_world"), false, "not its ASCII look-alike");
  const s = new BtfBuilder({ base: one });
  const own = s.typedef("int", s.int("only_here", 8, { signed: false }));
  const split = Btf.parse(s.build(), { base: one });
  assert.ok(split.stringIs(split.nameOffsetOf(own), "int"), "a name from the base's table");
  assert.ok(split.stringIs(split.nameOffsetOf(own - 1), "only_here"), "a name from the split's own table");
});

test("names longer than the lookup's first buffer (1 KiB of UTF-8) are found and compared whole", () => {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const long = `${"ü".repeat(700)}_tail`; // 1,405 bytes of UTF-8
  const longer = `${long}x`.repeat(3);
  const t = b.typedef(long, int);
  const u = b.typedef(longer, int);
  const btf = Btf.parse(b.build());
  for (let round = 0; round < 2; round++) {
    // the first lookups walk the records, later ones the name index: both ways, twice
    for (let i = 0; i < 8; i++) {
      assert.deepEqual(btf.findIds(long), [t], `${long.length}-character name, lookup ${i}`);
      assert.deepEqual(btf.findIds(longer), [u], `${longer.length}-character name, lookup ${i}`);
      assert.deepEqual(btf.findIds(`${long}y`), [], "one more character: no type");
    }
    assert.ok(btf.stringIs(btf.nameOffsetOf(t), long), "stringIs of the long name");
    assert.equal(btf.stringIs(btf.nameOffsetOf(t), long.slice(0, -1)), false, "its head is not it");
  }
});

test("lazyIndex: types indexed as far as they are read answer as the whole index does; a bad record is found when reached", () => {
  const bytes = readFileSync(VMLINUX);
  const eager = Btf.parse(bytes);
  const names = ["btf_trace_sched_process_exec", "task_struct", "int", "no_such_type_42"];
  for (let id = 1; id < eager.endId; id += Math.floor(eager.typeCount / 20)) names.push(eager.nameOf(id));
  for (const name of names) {
    // each from a fresh lazy blob: its lookup walks the index only as far as the name's types
    assert.deepEqual(Btf.parse(bytes, { lazyIndex: true }).findIds(name), eager.findIds(name), name);
  }
  const lazy = Btf.parse(bytes, { lazyIndex: true });
  const last = eager.endId - 1;
  // reads from the end first, then from the start: the walk goes on from where it stopped
  for (const id of [114, 5000, last, 1, 77_777, 3]) {
    assert.deepEqual(lazy.type(id), eager.type(id), `type ${id}`);
    assert.equal(lazy.kindOf(id), eager.kindOf(id), `kind of ${id}`);
  }
  assert.equal(lazy.endId, eager.endId);
  assert.equal(lazy.typeCount, eager.typeCount);
  assert.deepEqual(lazy.typeWords.starts, eager.typeWords.starts);
  assert.throws(() => Btf.parse(bytes, { lazyIndex: true }).type(eager.endId), /out of range/);
  assert.throws(() => Btf.parse(bytes, { lazyIndex: true }).kindOf(eager.endId + 5), /out of range/);
  assert.equal(Btf.parse(bytes, { lazyIndex: true }).endId, eager.endId, "endId walks the whole index");

  // a blob whose third type is of an unknown kind: found by parse() eagerly, by the walk lazily
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  b.typedef("a", int);
  b.typedef("b", int);
  const blob = Buffer.from(b.build());
  const third = 24 + 16 + 12 + 4; // header, int (4 words), typedef a (3 words), then b's info word
  blob.writeUInt32LE((31 << 24) >>> 0, third);
  assert.throws(() => Btf.parse(blob), /unknown kind 31/);
  const bad = Btf.parse(blob, { lazyIndex: true });
  assert.equal(bad.nameOf(2), "a", "the types before it read");
  assert.throws(() => bad.type(3), /unknown kind 31/);
  assert.throws(() => Btf.parse(blob, { lazyIndex: true }).endId, /unknown kind 31/);
});
