/**
 * Damaged binaries (fast-check): the USDT target with bytes changed in its ELF header, section and
 * program headers and .note.stapsdt, and cut short. readUsdtProbes gives probes or a typed error
 * (ElfFormatError, UsdtArgError), never another exception or a read outside the file.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import { ElfError } from "../../src/elf/index.js";
import { RawbpfError } from "../../src/sys/error.js";
import { readUsdtProbes } from "../../src/usdt/notes.js";
import { sdtTargets } from "./targets.js";

function probe(bytes: Uint8Array): void {
  try {
    readUsdtProbes(
      bytes.length,
      (into, offset) => {
        assert.ok(
          offset >= 0 && offset + into.length <= bytes.length,
          `a read inside the file (${offset}+${into.length})`,
        );
        into.set(bytes.subarray(offset, offset + into.length));
      },
      "fuzzed",
    );
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.ok(
      e instanceof ElfError || e instanceof RawbpfError,
      `an untyped error: ${(e as Error)?.stack ?? String(e)}`,
    );
  }
}

const targets = sdtTargets("rawbpf-usdt-fuzz-", "target.c", { target: ["-O2"] });

test("damaged USDT binaries: probes or a typed error, every read inside the file", (t) => {
  if (targets.skipWithoutSdt(t)) return;
  const out = targets.builds.target as string;
  const good = new Uint8Array(readFileSync(out));
  const v = new DataView(good.buffer);
  const shoff = Number(v.getBigUint64(40, true));
  const shnum = v.getUint16(60, true);
  // where the damage goes: the ELF header, program headers, section headers, and the notes
  let notes = [0, 0];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * 64;
    if (v.getUint32(at + 4, true) === 7 && Number(v.getBigUint64(at + 32, true)) > 100)
      notes = [Number(v.getBigUint64(at + 24, true)), Number(v.getBigUint64(at + 32, true))];
  }
  assert.ok((notes[1] as number) > 0, "the target has .note.stapsdt");
  const regions: [number, number][] = [
    [0, 64],
    [64, 56 * 13],
    [shoff, shnum * 64],
    notes as [number, number],
  ];
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.integer({ min: 0, max: regions.length - 1 }), fc.nat(), fc.integer({ min: 0, max: 255 })),
        { minLength: 1, maxLength: 8 },
      ),
      fc.option(fc.nat({ max: good.length }), { nil: undefined }),
      (edits, cut) => {
        const bytes = good.slice(0, cut ?? good.length);
        for (const [region, at, value] of edits) {
          const [start, size] = regions[region] as [number, number];
          const i = start + (at % size);
          if (i < bytes.length) bytes[i] = value;
        }
        probe(bytes);
      },
    ),
    { numRuns: 400, seed: 20261207 },
  );
  probe(good);
});
