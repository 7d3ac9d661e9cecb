import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { BtfBuilder } from "../../src/btf/builder.js";
import { Btf } from "../../src/btf/decode.js";
import { BtfError } from "../../src/btf/errors.js";
import { formatRaw, rawType } from "../../src/btf/raw.js";
import { bpftoolRaw, everyKind, kernelBtf, VMLINUX } from "./helpers.js";

test("vmlinux: decoding then encoding gives the same bytes", () => {
  const bytes = readFileSync(VMLINUX);
  const btf = kernelBtf();
  assert.ok(btf.typeCount > 1000);
  const again = BtfBuilder.from(btf).build();
  assert.equal(Buffer.compare(Buffer.from(again), bytes), 0);
});

test("every module's split BTF decodes on top of vmlinux and re-encodes to the same bytes", () => {
  const base = kernelBtf();
  for (const name of readdirSync("/sys/kernel/btf")) {
    if (name === "vmlinux") continue;
    const bytes = readFileSync(`/sys/kernel/btf/${name}`);
    const mod = Btf.parse(bytes, { base });
    assert.equal(mod.startId, base.endId, name);
    mod.validate();
    const again = BtfBuilder.from(mod).build();
    assert.equal(Buffer.compare(Buffer.from(again), bytes), 0, name);
  }
});

test("vmlinux: the raw listing is line for line what bpftool prints", () => {
  const ours = formatRaw(kernelBtf());
  const theirs = bpftoolRaw(readFileSync(VMLINUX));
  assert.equal(ours.split("\n").length, theirs.split("\n").length);
  assert.equal(ours, theirs);
});

test("a hand-built blob with every kind: bpftool reads it as we list it, and it decodes to what was built", () => {
  const { builder } = everyKind();
  const blob = builder.build();
  const btf = Btf.parse(blob);
  assert.equal(formatRaw(btf), bpftoolRaw(blob));
  assert.deepEqual(
    [...btf.types()].map(([, t]) => t),
    builder.types,
  );
  btf.validate();
  assert.equal(Buffer.compare(Buffer.from(BtfBuilder.from(btf).build()), Buffer.from(blob)), 0);
});

test("builder lays structs out like C: offsets, bitfields, sizes", () => {
  const { builder, ids } = everyKind();
  const btf = Btf.parse(builder.build());
  const flags = btf.type(ids.flags!);
  assert.equal(flags.kind, "struct");
  if (flags.kind !== "struct") return;
  assert.deepEqual(
    flags.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize]),
    [
      ["a", 0, 3],
      ["b", 3, 5],
      ["c", 64, 0],
    ],
  );
  assert.equal(flags.size, 16);
  assert.equal(btf.sizeOf(ids.pair!), 4 + 4 + 8 + 16 + 1 + 7);
  assert.equal(btf.alignOf(ids.pair!), 8);
  assert.equal(btf.sizeOf(ids.cst!), btf.sizeOf(ids.pair!));
  assert.equal(btf.sizeOf(ids.arr!), 16);
});

test("split BTF built on vmlinux: ids continue after the base, names reuse the base's strings, bpftool agrees", () => {
  const base = kernelBtf();
  const b = new BtfBuilder({ base });
  const task = base.findId("task_struct", "struct")!;
  const p = b.ptr(task);
  const s = b.struct("my_split_thing", [
    { name: "task", type: p },
    { name: "pid", type: base.findId("int", "int")! },
  ]);
  assert.equal(s, base.endId + 1);
  const blob = b.build();
  const split = Btf.parse(blob, { base });
  assert.equal(split.startId, base.endId);
  assert.deepEqual(split.findIds("my_split_thing"), [s]);
  assert.deepEqual(split.findIds("task_struct", "struct"), [task]);
  assert.equal(split.nameOf(task), "task_struct");
  assert.equal(split.sizeOf(s), 16);
  // "pid" and "task" exist in vmlinux's table, so the split table holds only the struct's name
  assert.equal(split.header.strLen, "my_split_thing".length + 1);
  assert.equal(formatRaw(split), bpftoolRaw(blob, VMLINUX));
});

test("lookups by name and kind, sizes through typedefs and arrays", () => {
  const btf = kernelBtf();
  const ids = btf.findIds("task_struct");
  assert.ok(ids.length >= 1);
  for (const id of ids) assert.equal(btf.nameOf(id), "task_struct");
  const task = btf.findId("task_struct", "struct")!;
  assert.equal(btf.kindName(task), "struct");
  assert.equal(btf.findId("no_such_type_anywhere_42"), undefined);
  const u64 = btf.findId("u64", "typedef")!;
  assert.equal(btf.sizeOf(u64), 8);
  assert.equal(btf.alignOf(u64), 8);
  // every named struct's size in the raw listing equals sizeOf
  let checked = 0;
  for (let id = 1; id < btf.endId && checked < 2000; id++) {
    if (btf.kindName(id) === "typedef") {
      const target = btf.resolve(id);
      const k = btf.kindName(target);
      if (k === "struct" || k === "union" || k === "int") {
        assert.equal(btf.sizeOf(id), btf.sizeOrTypeOf(target));
        checked++;
      }
    }
  }
  assert.ok(checked > 100);
});

test("a bigger header (hdr_len 32) still parses, to the same types", () => {
  const { builder } = everyKind();
  const blob = builder.build();
  const big = new Uint8Array(blob.length + 8);
  big.set(blob.subarray(0, 24));
  big.set(blob.subarray(24), 32);
  new DataView(big.buffer).setUint32(4, 32, true);
  const a = Btf.parse(blob);
  const b = Btf.parse(big);
  assert.equal(b.header.hdrLen, 32);
  assert.deepEqual([...b.types()], [...a.types()]);
});

test("an unaligned blob (odd byte offset) parses the same", () => {
  const { builder } = everyKind();
  const blob = builder.build();
  const buf = new Uint8Array(blob.length + 1);
  buf.set(blob, 1);
  const odd = Btf.parse(buf.subarray(1));
  assert.deepEqual([...odd.types()], [...Btf.parse(blob).types()]);
});

test("rawType: one entry of the listing; its errors, and the listing's, say what and where", () => {
  const btf = kernelBtf();
  const lines = formatRaw(btf).split(/\n(?=\[)/);
  for (const id of [1, 2, 100, 4321, btf.endId - 1, 77777, 12345, 1]) {
    assert.equal(rawType(btf, id), lines[id - 1]!.replace(/\n$/, ""), `id ${id}`);
  }
  assert.equal(rawType(btf, 0), "[0] UNKNOWN '(anon)'");
  assert.throws(() => rawType(btf, btf.endId), BtfError);
  // a section whose variable is a type that does not exist, and a member named past the strings
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const sec = b.datasec(".data", [{ type: 99, offset: 0, size: 4 }]);
  const blob = b.build();
  assert.throws(
    () => formatRaw(Btf.parse(blob)),
    (e) =>
      e instanceof BtfError &&
      e.message === `BTF: reference to type id 99, which does not exist (ids go up to 2) (type [${sec}])`,
  );
  const s = new BtfBuilder();
  const sId = s.struct("s", [{ name: "a", type: s.int("int", 4, { signed: true }) }]);
  const sBlob = s.build();
  const parsed = Btf.parse(sBlob);
  parsed.typeWords.words[parsed.typeWords.starts[sId - 1]! + 3] = 1_000_000;
  assert.throws(
    () => formatRaw(Btf.parse(sBlob)),
    (e) => e instanceof BtfError && /^BTF: string offset 1000000 is past the string table/.test(e.message),
  );
  assert.equal(rawType(parsed, int), "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED");
  assert.throws(() => rawType(parsed, sId), /string offset 1000000/);
  // the engine a blob keeps for rawType lists again after an error
  assert.equal(rawType(parsed, int), "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED");
});
