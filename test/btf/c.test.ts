import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { BtfBuilder } from "../../src/btf/builder.js";
import { formatC, formatCBytes, formatCBytesOfBlob } from "../../src/btf/c.js";
import { Btf } from "../../src/btf/decode.js";
import { BtfError } from "../../src/btf/errors.js";
import { formatRawBytes, formatRawBytesOfBlob } from "../../src/btf/raw.js";
import type { BtfType } from "../../src/btf/types.js";
import { everyKind, kernelBtf, tempDir, VMLINUX } from "./helpers.js";

function clang(dir: string, source: string): void {
  writeFileSync(join(dir, "prog.c"), source);
  execFileSync("clang-19", ["-target", "bpf", "-O2", "-g", "-c", "prog.c", "-o", "prog.o"], {
    cwd: dir,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

test("vmlinux: our header is bpftool's (this bpftool's libbpf predates mode(byte) on 1-byte enums)", () => {
  const ours = formatC(kernelBtf()).replaceAll(" __attribute__((mode(byte)))", "");
  const theirs = execFileSync("bpftool", ["btf", "dump", "file", VMLINUX, "format", "c"], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  assert.equal(ours, theirs);
});

/** va_list is __builtin_va_list, whose size differs between x86 (where BTF comes from) and BPF. */
function holdsVaList(btf: Btf, id: number, depth = 0): boolean {
  if (depth > 20) return false;
  for (let t = id, i = 0; i < 30; i++) {
    if (btf.nameOf(t) === "__builtin_va_list") return true;
    const k = btf.kindName(t);
    if (k === "typedef" || k === "const" || k === "volatile" || k === "array") {
      t = k === "array" ? (btf.type(t) as { type: number }).type : btf.sizeOrTypeOf(t);
      continue;
    }
    if (k === "struct" || k === "union") {
      const ty = btf.type(t);
      return ty.kind === k && ty.members.some((m) => holdsVaList(btf, m.type, depth + 1));
    }
    return false;
  }
  return false;
}

test("vmlinux: our header compiles with clang-19 -target bpf, and every uniquely named struct has BTF's size", () => {
  const btf = kernelBtf();
  const dir = tempDir();
  writeFileSync(join(dir, "vmlinux.h"), formatC(btf));
  const asserts: string[] = [];
  for (let id = 1; id < btf.endId; id++) {
    const k = btf.kindName(id);
    if (k !== "struct" && k !== "union") continue;
    const name = btf.nameOf(id);
    if (!name) continue;
    const tags = btf
      .findIds(name)
      .filter((i) => ["struct", "union", "enum", "enum64"].includes(btf.kindName(i)));
    if (tags.length !== 1 || holdsVaList(btf, id)) continue;
    asserts.push(`_Static_assert(sizeof(${k} ${name}) == ${btf.sizeOrTypeOf(id)}, "${name}");`);
  }
  assert.ok(asserts.length > 5000);
  const source = [
    '#include "vmlinux.h"',
    ...asserts,
    '_Static_assert(__builtin_offsetof(struct task_struct, pid) * 8 == PID_OFFSET, "pid");',
    '__attribute__((section("kprobe/x"), used)) int probe(struct pt_regs *ctx) {',
    "  struct task_struct *t = (void *)ctx->di;",
    "  return t->pid;",
    "}",
    'char _license[] __attribute__((section("license"), used)) = "GPL";',
  ].join("\n");
  const task = btf.type(btf.findId("task_struct", "struct")!);
  assert.equal(task.kind, "struct");
  const pid = task.kind === "struct" ? task.members.find((m) => m.name === "pid")! : undefined;
  clang(dir, source.replace("PID_OFFSET", String(pid!.bitOffset)));
});

test("a hand-built blob with every kind prints as C that compiles, and its struct sizes match", () => {
  const { builder, ids } = everyKind();
  const btf = Btf.parse(builder.build());
  const header = formatC(btf, { guard: "EVERY_KIND_H" });
  assert.match(header, /#ifndef EVERY_KIND_H/);
  assert.match(header, /unsigned int a: 3;/);
  assert.match(header, /enum color \{\n\tRED = 0,\n\tGREEN = 1,\n\tBLUE = -1,\n\};/);
  assert.match(header, /HUGE = 1099511627776ULL/);
  assert.match(header, /typedef struct pair pair_t;/);
  assert.match(header, /struct opaque;/);
  const dir = tempDir();
  writeFileSync(join(dir, "every.h"), header);
  clang(
    dir,
    [
      '#include "every.h"',
      `_Static_assert(sizeof(struct pair) == ${btf.sizeOf(ids.pair!)}, "pair");`,
      `_Static_assert(sizeof(struct flags) == ${btf.sizeOf(ids.flags!)}, "flags");`,
      `_Static_assert(sizeof(union either) == ${btf.sizeOf(ids.un!)}, "either");`,
      "int use(pair_t *p, struct flags *f) { return p->left + f->b; }",
    ].join("\n"),
  );
});

test("duplicate names get ___N suffixes; structs that contain each other by value are a BtfError", () => {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  b.struct("dup", [{ name: "a", type: int }]);
  b.struct("dup", [{ name: "b", type: int }]);
  assert.match(formatC(Btf.parse(b.build())), /struct dup___2 \{/);

  const loop = new BtfBuilder();
  const i2 = loop.int("int", 4, { signed: true });
  // struct a { struct b x; }; struct b { struct a y; }; (ids 2 and 3)
  loop.add({
    kind: "struct",
    name: "a",
    size: 4,
    bitfields: false,
    members: [{ name: "x", type: 3, bitOffset: 0, bitfieldSize: 0 }],
  });
  loop.add({
    kind: "struct",
    name: "b",
    size: 4,
    bitfields: false,
    members: [{ name: "y", type: 2, bitOffset: 0, bitfieldSize: 0 }],
  });
  void i2;
  assert.throws(() => formatC(Btf.parse(loop.build())), BtfError);
});

test("the raw bytes of vmlinux are not modified by printing", () => {
  const bytes = readFileSync(VMLINUX);
  const btf = Btf.parse(bytes);
  formatC(btf);
  assert.equal(Buffer.compare(Buffer.from(btf.bytes), bytes), 0);
});

test("a prototype declared by name, and modifiers on an array or a prototype (C has no place for them: dropped)", () => {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const fn = b.funcProto(int, [{ name: "x", type: int }]);
  b.typedef("fn_t", fn);
  b.typedef("carr_t", b.const(b.array(int, 2)));
  b.typedef("cfn_t", b.volatile(fn));
  const blob = b.build();
  const header = formatC(Btf.parse(blob));
  assert.match(
    header,
    /\ntypedef int fn_t\(int x\);\n\ntypedef int carr_t\[2\];\n\ntypedef int cfn_t\(int x\);\n/,
  );
  const file = join(tempDir(), "modifiers.btf");
  writeFileSync(file, blob);
  assert.equal(
    header,
    execFileSync("bpftool", ["btf", "dump", "file", file, "format", "c"], { encoding: "utf8" }),
  );
});

test("random struct layouts (gaps, bitfields, packing, enums of any width) print as bpftool prints them", () => {
  // members of every width at random offsets, aligned or not, with or without bitfields: the
  // padding lines and `packed` are what bpftool (libbpf's btf_dump) decides
  const member = fc.record({
    width: fc.integer({ min: 0, max: 3 }),
    gap: fc.integer({ min: 0, max: 140 }),
    align: fc.boolean(),
    bits: fc.integer({ min: 0, max: 12 }),
  });
  const layout = fc.record({
    kind: fc.constantFrom("struct" as const, "union" as const),
    members: fc.array(member, { minLength: 0, maxLength: 6 }),
    tail: fc.integer({ min: 0, max: 70 }),
    values: fc.array(fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }), { minLength: 1, maxLength: 3 }),
    signed: fc.boolean(),
    size: fc.constantFrom(1, 2, 4, 8),
  });
  const dir = tempDir();
  fc.assert(
    fc.property(fc.array(layout, { minLength: 1, maxLength: 4 }), (layouts) => {
      const b = new BtfBuilder();
      const ints = [
        b.int("char", 1, { signed: true }),
        b.int("short", 2, { signed: true }),
        b.int("int", 4, { signed: true }),
        b.int("long", 8, { signed: true }),
      ];
      layouts.forEach((l, n) => {
        let off = 0;
        const members = l.members.map((m, i) => {
          const bytes = 1 << m.width;
          off += m.gap;
          if (m.align && m.bits === 0) off = Math.ceil(off / (8 * bytes)) * 8 * bytes;
          const bitOffset = l.kind === "union" ? (m.bits ? m.gap % 8 : 0) : off;
          const bits = Math.min(m.bits, 8 * bytes);
          if (l.kind === "struct") off += bits || 8 * bytes;
          return { name: `m${i}`, type: ints[m.width]!, bitOffset, bitfieldSize: bits };
        });
        const end = l.kind === "struct" ? off : Math.max(0, ...members.map((m) => m.bitOffset + 64));
        const size = Math.ceil((end + l.tail) / 8);
        b.add({ kind: l.kind, name: `s${n}`, size, bitfields: true, members });
        const values = Object.fromEntries(
          l.values.map((v, i) => [`E${n}_${i}`, l.signed ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v)]),
        );
        b.enum(`e${n}`, values, { signed: l.signed, size: l.size });
      });
      const blob = b.build();
      const file = join(dir, "r.btf");
      writeFileSync(file, blob);
      const theirs = execFileSync("bpftool", ["btf", "dump", "file", file, "format", "c"], {
        encoding: "utf8",
      });
      // this bpftool's libbpf predates mode(byte) and mode(word) on enums
      const ours = formatC(Btf.parse(blob))
        .replaceAll(" __attribute__((mode(byte)))", "")
        .replaceAll(" __attribute__((mode(word)))", "");
      assert.equal(ours, theirs);
    }),
    { numRuns: 150 },
  );
});

test("deeply nested anonymous records: growing the output buffer in the middle of lines changes nothing", () => {
  // the header outgrows the printer's first buffer (sized from the blob) in the middle of long
  // lines of tabs; the same types in a blob made bigger by a function nobody prints are printed
  // into a buffer that never grows, and with small operation queues
  const nested = (unprinted: number) => {
    const b = new BtfBuilder();
    const int = b.int("int", 4, { signed: true });
    let inner = b.struct(`leaf_${"x".repeat(300)}`, [{ name: "v".repeat(200), type: int }]);
    for (let depth = 0; depth < 200; depth++) {
      inner = b.add({
        kind: depth % 2 ? "union" : "struct",
        name: depth === 199 ? "outer" : "",
        size: 4,
        bitfields: false,
        members: [
          { name: `m_${"m".repeat(60)}`, type: inner, bitOffset: 0, bitfieldSize: 0 },
          { name: "", type: b.array(int, 0), bitOffset: 0, bitfieldSize: 0 },
        ],
      });
    }
    // a function's name makes the blob (so the first buffer) bigger without printing anything
    b.add({ kind: "func", name: `f${"z".repeat(unprinted)}`, type: b.funcProto(int, []), linkage: "global" });
    return b.build();
  };
  const ours = formatC(Btf.parse(nested(50000)));
  // where the first buffer ends moves through the lines, tabs included
  for (let unprinted = 0; unprinted < 160; unprinted++) {
    const blob = nested(unprinted);
    assert.ok(ours.length > 4096 + blob.length, "the first buffer must be outgrown");
    assert.equal(formatC(Btf.parse(blob)), ours, `unprinted ${unprinted}`);
  }
  // indentation stops at 13 tabs, and the whole header is bpftool's
  assert.match(ours, /\n\t{13}struct \{\n\t{13}union \{\n/);
  const file = join(tempDir(), "nested.btf");
  writeFileSync(file, nested(0));
  assert.equal(
    ours,
    execFileSync("bpftool", ["btf", "dump", "file", file, "format", "c"], { encoding: "utf8" }),
  );
});

test("split BTF (on a hand-built base, and on vmlinux) prints with its base as bpftool -B prints it", () => {
  const dir = tempDir();
  const baseBuilder = everyKind().builder;
  const baseBlob = baseBuilder.build();
  const base = Btf.parse(baseBlob);
  const basePath = join(dir, "base.btf");
  writeFileSync(basePath, baseBlob);
  const onBase = (b: BtfBuilder) => {
    // names reused from the base (a duplicate struct name, a typedef's), new ones, base types used
    const int = base.findIds("int")[0]!;
    const pair = base.findIds("pair", "struct")[0] ?? int;
    const s = b.struct("pair", [
      { name: "left", type: int },
      { name: "p", type: b.ptr(pair) },
    ]);
    b.typedef("pair_t", s);
    b.enum("split_enum", { SPLIT_A: 1, SPLIT_B: -2 });
    b.struct("uses_both", [
      { name: "mine", type: s },
      { name: "theirs", type: pair },
    ]);
    return b.build();
  };
  const cases: [Btf, string][] = [[base, basePath]];
  cases.push([kernelBtf(), VMLINUX]);
  for (const [b, path] of cases) {
    const blob = onBase(new BtfBuilder({ base: b }));
    const file = join(dir, "split.btf");
    writeFileSync(file, blob);
    const theirs = execFileSync("bpftool", ["-B", path, "btf", "dump", "file", file, "format", "c"], {
      encoding: "utf8",
      maxBuffer: 1 << 30,
    });
    const split = Btf.parse(blob, { base: b });
    const ours = formatC(split)
      .replaceAll(" __attribute__((mode(byte)))", "")
      .replaceAll(" __attribute__((mode(word)))", "");
    assert.equal(ours, theirs);
    if (b === base) assert.match(ours, /struct pair___2 \{/);
  }
});

test("a blob read straight into the printer or the lister gives what Btf.parse then formatCBytes or formatRawBytes give: the same output or the same error", () => {
  const valid = everyKind().builder.build();
  const outcome = (f: () => Uint8Array): string => {
    try {
      return Buffer.from(f()).toString();
    } catch (e) {
      if (!(e instanceof BtfError)) throw e;
      return `${e.message} | ${e.typeId} | ${e.offset}`;
    }
  };
  const read = (blob: Uint8Array) => (into: Uint8Array) => {
    into.set(blob);
    return blob.length;
  };
  const same = (blob: Uint8Array, why = "") => {
    assert.equal(
      outcome(() => formatCBytesOfBlob(blob.length + 16, read(blob))),
      outcome(() => formatCBytes(Btf.parse(blob))),
      `C ${why}`,
    );
    assert.equal(
      outcome(() => formatRawBytesOfBlob(blob.length + 16, read(blob))),
      outcome(() => formatRawBytes(Btf.parse(blob))),
      `raw ${why}`,
    );
  };
  same(valid);
  assert.match(
    outcome(() => formatCBytesOfBlob(valid.length, read(valid))),
    /^#ifndef __VMLINUX_H__/,
  );
  assert.match(
    outcome(() => formatRawBytesOfBlob(valid.length, read(valid))),
    /^\[1\] INT 'int' size=4/,
  );
  // truncations, and bytes changed anywhere (header, type words, strings)
  for (let cut = 0; cut < valid.length; cut += 7) same(valid.subarray(0, cut), `cut at ${cut}`);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      (changes) => {
        const blob = Uint8Array.from(valid);
        for (const [at, value] of changes) blob[at] = value;
        same(blob);
      },
    ),
    { numRuns: 400 },
  );
  // vmlinux, as the command line reads it
  same(readFileSync(VMLINUX), "vmlinux");
});

test("each way the printer refuses a blob is a BtfError that says what and where", () => {
  const refused = (blob: Uint8Array, message: RegExp, typeId?: number) => {
    assert.throws(
      () => formatC(Btf.parse(blob)),
      (e) => e instanceof BtfError && message.test(e.message) && e.typeId === typeId,
    );
  };
  const struct = (name: string, members: [string, number][], size = 8): BtfType => ({
    kind: "struct",
    name,
    size,
    bitfields: false,
    members: members.map(([n, type]) => ({ name: n, type, bitOffset: 0, bitfieldSize: 0 })),
  });

  // a member's name past the string table (patched in: the builder writes only real strings)
  const s = new BtfBuilder();
  const sId = s.struct("s", [{ name: "a", type: s.int("int", 4, { signed: true }) }]);
  const sBlob = s.build();
  const parsed = Btf.parse(sBlob);
  const { words, starts } = parsed.typeWords;
  words[starts[sId - 1]! + 3] = 1_000_000;
  refused(sBlob, /^BTF: string offset 1000000 is past the string table \(\d+ bytes\)$/);

  // a member of a type that does not exist
  const r = new BtfBuilder();
  r.int("int", 4, { signed: true });
  const rId = r.add(struct("r", [["m", 999]]));
  refused(r.build(), /^BTF: reference to type id 999, which does not exist \(ids go up to 2\)/, rId);

  // 1,100 typedefs, each of the next (ids 2 to 1101; the last of int, id 1)
  const t = new BtfBuilder();
  t.int("int", 4, { signed: true });
  for (let id = 2; id <= 1101; id++)
    t.add({ kind: "typedef", name: `t${id}`, type: id === 1101 ? 1 : id + 1 });
  refused(t.build(), /^BTF: types nest deeper than 1000 levels: a loop\?/, 1002);

  // a member 2^32 bytes long, and an array of 2^32 elements
  const z = new BtfBuilder();
  const long = z.int("long", 8, { signed: true });
  const huge = z.array(long, 0x20000000);
  z.add(struct("z", [["m", huge]]));
  refused(z.build(), /^BTF: size 4294967296 overflows 32 bits/, huge);
  const a = new BtfBuilder();
  const aInt = a.int("int", 4, { signed: true });
  const aArr = a.array(a.array(aInt, 0x10000), 0x10000);
  a.add(struct("a", [["m", aArr]]));
  refused(a.build(), /^BTF: array size overflows 32 bits/, aArr);

  // a blob bigger than an engine takes: refused before any memory is taken
  assert.throws(
    () => formatCBytesOfBlob(2 ** 31, () => 0),
    (e) => e instanceof BtfError && /2147483648 bytes of BTF do not fit/.test(e.message),
  );

  // a size that loops: __builtin_va_list (a typedef bpftool leaves out) of a variable of it
  const v = new BtfBuilder();
  v.add({ kind: "typedef", name: "__builtin_va_list", type: 2 }); // id 1
  v.add({ kind: "var", name: "v", type: 1, linkage: "global" }); // id 2
  v.add(struct("holds_va", [["m", 1]]));
  refused(v.build(), /^BTF: type chain loops back on itself/, 1);

  // a function as a member's type
  const f = new BtfBuilder();
  const fInt = f.int("int", 4, { signed: true });
  const fn = f.func("f", f.funcProto(fInt, []));
  f.add(struct("holds_f", [["m", fn]]));
  refused(f.build(), /^BTF: a func cannot appear in a C declaration/, fn);

  // anonymous records nested many times over: a header far bigger than the blob warrants
  const n = new BtfBuilder();
  let inner = n.int("int", 4, { signed: true });
  for (let level = 0; level < 4; level++) {
    const members: [string, number][] = [];
    for (let i = 0; i < 60; i++) members.push([`m${i}`, inner]);
    inner = n.add(struct("", members, 4));
  }
  n.add(struct("outer", [["x", inner]], 4));
  const nBlob = n.build();
  const most = 64 * nBlob.length + (1 << 20);
  refused(
    nBlob,
    new RegExp(`^BTF: the output would exceed ${most} bytes, far more than this BTF's size warrants`),
  );
});
