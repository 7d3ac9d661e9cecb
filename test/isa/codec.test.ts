import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import { decode } from "../../src/isa/decode.js";
import { encode, encodedLength, encodeInto } from "../../src/isa/encode.js";
import { DecodeError, EncodeError, InvalidInstructionError } from "../../src/isa/errors.js";
import type { Instruction } from "../../src/isa/insn.js";
import { validate } from "../../src/isa/validate.js";
import { arbitraryByKind, arbitraryInstruction, arbitraryProgram } from "./arbitrary.js";

test("decode(encode(x)) deep-equals x for every kind of valid instruction", () => {
  for (const [kind, arbitrary] of Object.entries(arbitraryByKind)) {
    fc.assert(
      fc.property(fc.array(arbitrary, { minLength: 1, maxLength: 8 }), (insns) => {
        assert.deepEqual(decode(encode(insns)), insns, kind);
      }),
      { numRuns: 200 },
    );
  }
});

test("decode(encode(program)) deep-equals the program, and encodeInto writes the same bytes", () => {
  fc.assert(
    fc.property(arbitraryProgram, fc.integer({ min: 0, max: 16 }), (insns, offset) => {
      const bytes = encode(insns);
      assert.equal(bytes.length, encodedLength(insns));
      assert.deepEqual(decode(bytes), insns);
      const buf = new Uint8Array(offset + bytes.length);
      assert.equal(encodeInto(insns, buf, offset), offset + bytes.length);
      assert.deepEqual(buf.subarray(offset), bytes);
    }),
  );
});

test("random bytes give only DecodeError, and whatever decodes re-encodes to the same bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 128 }), (bytes) => {
      let insns: Instruction[];
      try {
        insns = decode(bytes);
      } catch (error) {
        assert.ok(error instanceof DecodeError, String(error));
        assert.ok(error.offset >= 0 && error.offset <= bytes.length);
        return;
      }
      assert.deepEqual(encode(insns), bytes);
    }),
    { numRuns: 5000 },
  );
});

test("random 8-byte slots with a valid-looking opcode: decode never throws anything but DecodeError", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 8, maxLength: 8 }), { maxLength: 4 }), (slots) => {
      const bytes = Uint8Array.from(slots.flatMap((s) => [...s]));
      try {
        const insns = decode(bytes);
        for (const insn of insns) validate(insn);
      } catch (error) {
        assert.ok(error instanceof DecodeError, String(error));
      }
    }),
    { numRuns: 5000 },
  );
});

function conformanceRaw(file: string): Uint8Array | undefined {
  const text = readFileSync(file, "utf8");
  const match = /^-- raw\n([\s\S]*?)(?:\n--|$)/m.exec(text);
  if (!match) return undefined;
  return Uint8Array.from(
    match[1]!
      .split("\n")
      .filter((line) => !line.startsWith("#"))
      .join(" ")
      .trim()
      .split(/\s+/)
      .map((h) => Number.parseInt(h, 16)),
  );
}

test("the conformance suite's negative raw programs are refused by decode", () => {
  const dir = new URL("../fixtures/bpf_conformance/negative/", import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith(".data"));
  let refused = 0;
  for (const file of files) {
    const bytes = conformanceRaw(new URL(file, dir).pathname);
    if (bytes === undefined) continue;
    assert.throws(() => decode(bytes), DecodeError, file);
    refused++;
  }
  assert.ok(refused >= 40, `only ${refused} raw negative programs found`);
});

test("truncated and malformed programs name the byte offset and the reason", () => {
  const exit = [0x95, 0, 0, 0, 0, 0, 0, 0];
  assert.throws(
    () => decode(Uint8Array.from([...exit, 1, 2, 3])),
    (e: unknown) => {
      assert.ok(e instanceof DecodeError);
      assert.equal(e.offset, 8);
      assert.match(e.reason, /not a multiple of 8/);
      return true;
    },
  );
  assert.throws(
    () => decode(Uint8Array.from([...exit, 0x18, 1, 0, 0, 1, 0, 0, 0])),
    (e: unknown) => {
      assert.ok(e instanceof DecodeError);
      assert.equal(e.offset, 8);
      assert.match(e.reason, /two slots/);
      return true;
    },
  );
  assert.throws(
    () => decode(Uint8Array.from([0x18, 1, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])),
    (e: unknown) => e instanceof DecodeError && e.offset === 8 && /second slot/.test(e.reason),
  );
  // r11 does not exist
  assert.throws(
    () => decode(Uint8Array.from([0xb7, 0x0b, 0, 0, 0, 0, 0, 0])),
    (e: unknown) => e instanceof DecodeError && /r11/.test(e.reason),
  );
  // unknown opcodes, one per class
  for (const code of [
    0x08,
    0x01 | 0xa0,
    0x02 | 0x80,
    0x03 | 0x20,
    0xe4,
    0xf7,
    0xf5,
    0x95 | 0x08,
    0x86,
    0x96,
    0x99,
  ]) {
    assert.throws(
      () => decode(Uint8Array.from([code, 0, 0, 0, 0, 0, 0, 0])),
      DecodeError,
      `0x${code.toString(16)}`,
    );
  }
  // sign-extending 8-byte load, 1-byte atomic add, bad atomic op, unknown ld_imm64 pseudo source
  for (const slot of [
    [0x99, 0x21, 0, 0, 0, 0, 0, 0],
    [0xd3, 0x21, 0, 0, 0, 0, 0, 0],
    [0xdb, 0x21, 0, 0, 0x02, 0, 0, 0],
    [0x18, 0x71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0x18, 0x11, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
  ]) {
    assert.throws(() => decode(Uint8Array.from(slot)), DecodeError, slot.join(","));
  }
});

test("encode refuses invalid instructions with the index, unless told not to check", () => {
  const bad: Instruction = { code: 0x07, dst: 0, src: 1, off: 0, imm: 1 };
  const good: Instruction = { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 };
  assert.throws(
    () => encode([good, bad]),
    (e: unknown) => e instanceof EncodeError && e.index === 1,
  );
  assert.deepEqual(decode(encode([good, bad], { check: false }), { check: false }), [good, bad]);
  assert.throws(() => validate(bad), InvalidInstructionError);
  // fields that cannot be represented are refused even unchecked
  for (const field of [{ off: 0x8000 }, { imm: 0x80000000 }, { dst: 16 }, { code: 256 }, { imm: 1.5 }]) {
    assert.throws(() => encode([{ ...good, ...field }], { check: false }), EncodeError);
  }
  assert.throws(() => encodeInto([good], new Uint8Array(7)), EncodeError);
});

test("the encoding is little-endian with dst in the low nibble", () => {
  fc.assert(
    fc.property(arbitraryInstruction, (insn) => {
      const bytes = encode([insn]);
      const view = new DataView(bytes.buffer);
      assert.equal(bytes[0], insn.code);
      assert.equal(bytes[1]! & 0x0f, insn.dst);
      assert.equal(bytes[1]! >> 4, insn.src);
      assert.equal(view.getInt16(2, true), insn.off);
      assert.equal(view.getInt32(4, true), insn.imm);
    }),
  );
});
