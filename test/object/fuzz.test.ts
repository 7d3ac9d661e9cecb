/**
 * Damaged objects (fast-check): real fixtures with bytes changed inside .BTF, .BTF.ext, the
 * relocation sections, the symbol table and the section headers — lying sizes, section indexes
 * and symbols out of range, relocations past their section. parseObject gives a typed error
 * (ELF, object, BTF, extern or section errors) or a spec, never another exception or a hang.
 */
import assert from "node:assert/strict";
import test from "node:test";
import fc from "fast-check";
import { ElfError, parseElf } from "../../src/elf/index.js";
import { ObjectFormatError, parseObject } from "../../src/object/index.js";
import { RawbpfError } from "../../src/sys/error.js";
import { fixtureBytes } from "./compile.js";

const FIXTURES = ["globals", "externs", "maps"] as const;

function typed(e: unknown): boolean {
  return e instanceof ElfError || e instanceof RawbpfError;
}

function outcome(bytes: Uint8Array): void {
  try {
    parseObject(bytes, { file: "fuzzed.o" });
  } catch (e) {
    assert.ok(typed(e), `an untyped error: ${(e as Error)?.stack ?? String(e)}`);
    assert.ok((e as Error).message.length > 10, "with a message");
  }
}

for (const name of FIXTURES) {
  test(`${name}.o with damaged BTF, BTF.ext, relocations, symbols and headers: typed errors only`, () => {
    const good = fixtureBytes(name);
    outcome(good);
    const elf = parseElf(good, { file: name, as: "a BPF object" });
    const shoff = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(40, true));
    const spans = (pick: (s: { name: string; type: number }) => boolean) =>
      elf.sections.filter((s) => pick(s) && s.size > 0).map((s) => [s.offset, s.offset + s.size] as const);
    // groups weighted alike, so the small parts that matter are hit as often as the big ones
    const groups = [
      spans((s) => s.name === ".BTF"),
      spans((s) => s.name === ".BTF.ext"),
      spans((s) => (s.type === 9 || s.type === 4) && !s.name.includes(".debug") && !s.name.includes(".BTF")),
      spans((s) => s.type === 2), // SYMTAB
      [[shoff, good.length] as const],
    ].filter((g) => g.length > 0);
    const where = fc
      .tuple(
        fc.nat({ max: groups.length - 1 }),
        fc.nat({ max: 1000 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      )
      .map(([g, i, f]) => {
        const group = groups[g] as readonly (readonly [number, number])[];
        const [a, b] = group[i % group.length] as readonly [number, number];
        return a + Math.floor(f * (b - a));
      });
    // single bytes, and little-endian words set to edge values (sizes and counts that lie)
    const edit = fc.oneof(
      fc.tuple(where, fc.integer({ min: 0, max: 255 }), fc.constant(1)),
      fc.tuple(where, fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff, 0x10000, 8, 24), fc.constant(4)),
    );
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        const b = Uint8Array.from(good);
        const v = new DataView(b.buffer);
        for (const [at, value, size] of edits) {
          if (size === 1) b[at] = value;
          else if (at + 4 <= b.length) v.setUint32(at, value >>> 0, true);
        }
        outcome(b);
      }),
      { numRuns: 300 },
    );
  });
}

test("a .bss whose header says more than an array map value can hold: a typed error, before any allocation", () => {
  // found by the test above (seed -175597458): a lying sh_size of .bss made a RangeError
  const good = fixtureBytes("globals");
  const elf = parseElf(good, { file: "globals", as: "a BPF object" });
  const bss = elf.sections.find((s) => s.name === ".bss");
  assert.ok(bss, "globals.o has a .bss");
  const shoff = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(40, true));
  const withSize = (size: bigint) => {
    const b = Uint8Array.from(good);
    new DataView(b.buffer).setBigUint64(shoff + bss.index * 64 + 32, size, true);
    return b;
  };
  for (const size of [(1n << 32n) + 12n, (512n << 20n) + 1n]) {
    assert.throws(
      () => parseObject(withSize(size), { file: "fuzzed.o" }),
      (e: unknown) =>
        e instanceof ObjectFormatError && /\.bss is \d+ bytes, more than any kernel holds/.test(e.message),
      `a .bss of ${size} bytes`,
    );
  }
  // a size no number holds exactly is the ELF model's to refuse
  assert.throws(
    () => parseObject(withSize((1n << 64n) - 1n), { file: "fuzzed.o" }),
    (e: unknown) => e instanceof ElfError && /size/.test(e.message),
  );
  // a .bss that may be loaded is a map like any other, of that many zeros
  const spec = parseObject(withSize(4096n), { file: "bigger.o" });
  const map = spec.maps.find((m) => m.section === ".bss");
  assert.equal(map?.valueSize, 4096, "a larger .bss gives a larger value");
  assert.deepEqual(map?.data, new Uint8Array(4096), "of zeros");
});
