/**
 * The ELF model on clang-19 objects, checked against llvm-readobj-19's JSON (sections, symbols,
 * relocations), and damaged input (fast-check): typed errors only, with section and offset.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import test from "node:test";
import fc from "fast-check";
import { ElfFormatError, parseElf } from "../../src/elf/index.js";
import { compileFixture, fixtureBytes } from "../object/compile.js";

interface Named {
  Name: string;
  Value: number;
}
interface ReadobjSection {
  Index: number;
  Name: Named;
  Type: Named;
  Flags: { Value: number };
  Offset: number;
  Size: number;
  Link: number;
  Info: number;
}
interface ReadobjSymbol {
  Name: Named;
  Value: number;
  Size: number;
  Binding: Named;
  Type: Named;
  Section: Named;
}

function readobj(path: string) {
  const out = execFileSync(
    "llvm-readobj-19",
    ["--elf-output-style=JSON", "--sections", "--symbols", "--relocations", path],
    { encoding: "utf8", maxBuffer: 64 << 20 },
  );
  const f = JSON.parse(out)[0];
  return {
    sections: (f.Sections as { Section: ReadobjSection }[]).map((s) => s.Section),
    symbols: (f.Symbols as { Symbol: ReadobjSymbol }[]).map((s) => s.Symbol),
    relocations: f.Relocations as {
      SectionIndex: number;
      Relocs: { Relocation: { Offset: number; Type: Named; Symbol: Named } }[];
    }[],
  };
}

test("a clang-19 object: sections, symbols and relocations as llvm-readobj-19 reads them", () => {
  for (const flags of [[], ["-O0"]]) {
    const path = compileFixture("globals", flags);
    const elf = parseElf(fixtureBytes("globals", flags), { file: path });
    const want = readobj(path);
    assert.equal(elf.type, 1, "ET_REL");
    assert.equal(elf.machine, 247, "EM_BPF");
    assert.deepEqual(
      elf.sections.map((s) => [s.index, s.name, s.type, s.flags, s.offset, s.size, s.link, s.info]),
      want.sections.map((s) => [
        s.Index,
        s.Name.Name,
        s.Type.Value,
        s.Flags.Value,
        s.Offset,
        s.Size,
        s.Link,
        s.Info,
      ]),
    );
    // section symbols show their section's name
    assert.deepEqual(
      elf.symbols.map((s) => [s.value, s.size, s.bind, s.type, s.section]),
      want.symbols.map((s) => [s.Value, s.Size, s.Binding.Value, s.Type.Value, s.Section.Value]),
    );
    assert.deepEqual(
      elf.symbols.map((s) => (s.type === 3 ? elf.sections[s.section]?.name : s.name)),
      want.symbols.map((s) => s.Name.Name),
    );
    const relocs = new Map<number, unknown[]>();
    for (const r of want.relocations) {
      const target = elf.sections[r.SectionIndex]!.info;
      relocs.set(target, [
        ...(relocs.get(target) ?? []),
        ...r.Relocs.map((x) => [x.Relocation.Offset, x.Relocation.Type.Value, x.Relocation.Symbol.Value]),
      ]);
    }
    assert.deepEqual(
      new Map([...elf.relocations].map(([k, v]) => [k, v.map((r) => [r.offset, r.type, r.symbol])])),
      relocs,
    );
    assert.ok(
      [...elf.relocations.values()].flat().some((r) => r.type === 10),
      "calls are R_BPF_64_32 relocations",
    );
  }
});

test("executables and shared objects: sections and symbols as llvm-readobj-19 reads them; their dynamic relocations are left to the loader", () => {
  for (const path of ["/bin/ls", process.execPath]) {
    const elf = parseElf(readFileSync(path), { file: path });
    const want = readobj(path);
    assert.ok(elf.type === 2 || elf.type === 3, `${path}: ET_EXEC or ET_DYN`);
    assert.deepEqual(
      elf.sections.map((s) => [s.index, s.name, s.type, s.offset, s.size, s.link, s.info]),
      want.sections.map((s) => [s.Index, s.Name.Name, s.Type.Value, s.Offset, s.Size, s.Link, s.Info]),
      path,
    );
    assert.equal(elf.symbols.length, want.symbols.length, `${path}: .symtab's symbols`);
    assert.ok(
      want.relocations.some((r) => elf.sections[r.SectionIndex]?.info === 0),
      `${path} has .rela.dyn, whose sh_info is 0 (no target section)`,
    );
    assert.equal(elf.relocations.size, 0, `${path}: no section relocations read`);
  }
});

function outcome(bytes: Uint8Array): string {
  try {
    const elf = parseElf(bytes, { file: "fuzzed" });
    return `ok ${elf.sections.length}`;
  } catch (e) {
    if (e instanceof ElfFormatError) {
      assert.equal(e.file, "fuzzed", "the error names the file");
      return "typed";
    }
    throw e;
  }
}

test("a relocation past its section and a symbol out of range are typed errors with section and offset", () => {
  const good = fixtureBytes("globals");
  const elf = parseElf(good);
  const rel = elf.sections.find((s) => s.name === ".relsocket")!;
  const bad = Uint8Array.from(good);
  const v = new DataView(bad.buffer);
  v.setBigUint64(rel.offset, 0x100000n, true);
  assert.throws(
    () => parseElf(bad, { file: "x.o" }),
    (e: unknown) =>
      e instanceof ElfFormatError &&
      e.section === ".relsocket" &&
      e.offset === rel.offset &&
      /past the end of socket/.test(e.message),
  );
  const bad2 = Uint8Array.from(good);
  new DataView(bad2.buffer).setUint32(rel.offset + 12, 9999, true);
  assert.throws(
    () => parseElf(bad2, { file: "x.o" }),
    (e: unknown) => e instanceof ElfFormatError && /symbol 9999/.test(e.message),
  );
});

test("cut, mutated and random bytes give typed errors only (fast-check)", () => {
  const good = fixtureBytes("globals");
  const shoff = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(40, true));
  fc.assert(
    fc.property(fc.nat({ max: good.length }), (cut) => void outcome(good.subarray(0, cut))),
    {
      numRuns: 300,
    },
  );
  const where = fc.oneof(
    fc.nat({ max: 63 }),
    fc.integer({ min: shoff, max: good.length - 1 }),
    fc.nat({ max: good.length - 1 }),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(where, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      (edits) => {
        const b = Uint8Array.from(good);
        for (const [at, value] of edits) b[at] = value;
        outcome(b);
      },
    ),
    { numRuns: 600 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (b) => void outcome(b)),
    { numRuns: 300 },
  );
  const elfy = fc.uint8Array({ minLength: 64, maxLength: 1024 }).map((b) => {
    b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
    return b;
  });
  fc.assert(
    fc.property(elfy, (b) => void outcome(b)),
    { numRuns: 300 },
  );
});
