import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BtfBuilder } from "../../src/btf/builder.js";
import { formatC } from "../../src/btf/c.js";
import { Btf } from "../../src/btf/decode.js";
import { BtfError } from "../../src/btf/errors.js";
import { formatJson } from "../../src/btf/json.js";
import { formatRaw } from "../../src/btf/raw.js";
import type { BtfType } from "../../src/btf/types.js";
import { everyKind } from "./helpers.js";

const name: fc.Arbitrary<string> = fc.constantFrom(
  "",
  "a",
  "b",
  "x_1",
  "long_name_here",
  "pair",
  "int",
  "ünï",
);
const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** A random type whose references stay within 0..n. */
function typeArb(n: number): fc.Arbitrary<BtfType> {
  const ref = fc.integer({ min: 0, max: n });
  const linkage = fc.constantFrom("static" as const, "global" as const, "extern" as const);
  const member = (bitfields: boolean) =>
    fc.record({
      name,
      type: ref,
      bitOffset: bitfields ? fc.integer({ min: 0, max: 0xffffff }) : u32,
      bitfieldSize: bitfields ? fc.integer({ min: 0, max: 255 }) : fc.constant(0),
    });
  return fc.oneof(
    fc.record({
      kind: fc.constant("int" as const),
      name,
      size: fc.constantFrom(1, 2, 4, 8, 16),
      bits: fc.integer({ min: 0, max: 128 }),
      bitOffset: fc.integer({ min: 0, max: 255 }),
      signed: fc.boolean(),
      char: fc.boolean(),
      bool: fc.boolean(),
    }),
    fc.record({
      kind: fc.constantFrom(
        "ptr" as const,
        "typedef" as const,
        "volatile" as const,
        "const" as const,
        "restrict" as const,
      ),
      name,
      type: ref,
    }),
    fc.record({ kind: fc.constant("type_tag" as const), name, type: ref, attribute: fc.boolean() }),
    fc.record({ kind: fc.constant("array" as const), name, type: ref, indexType: ref, length: u32 }),
    fc.boolean().chain((bitfields) =>
      fc.record({
        kind: fc.constantFrom("struct" as const, "union" as const),
        name,
        size: u32,
        bitfields: fc.constant(bitfields),
        members: fc.array(member(bitfields), { maxLength: 5 }),
      }),
    ),
    fc.boolean().chain((signed) =>
      fc.record({
        kind: fc.constant("enum" as const),
        name,
        size: fc.constantFrom(1, 2, 4),
        signed: fc.constant(signed),
        values: fc.array(
          fc.record({ name, value: signed ? fc.integer({ min: -0x80000000, max: 0x7fffffff }) : u32 }),
          { maxLength: 4 },
        ),
      }),
    ),
    fc.boolean().chain((signed) =>
      fc.record({
        kind: fc.constant("enum64" as const),
        name,
        size: fc.constant(8),
        signed: fc.constant(signed),
        values: fc.array(
          fc.record({
            name,
            value: signed
              ? fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })
              : fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          }),
          {
            maxLength: 4,
          },
        ),
      }),
    ),
    fc.record({ kind: fc.constant("fwd" as const), name, union: fc.boolean() }),
    fc.record({ kind: fc.constant("func" as const), name, type: ref, linkage }),
    fc.record({
      kind: fc.constant("func_proto" as const),
      name,
      returnType: ref,
      params: fc.array(fc.record({ name, type: ref }), { maxLength: 4 }),
    }),
    fc.record({ kind: fc.constant("var" as const), name, type: ref, linkage }),
    fc.record({
      kind: fc.constant("datasec" as const),
      name,
      size: u32,
      vars: fc.array(fc.record({ type: ref, offset: u32, size: u32 }), { maxLength: 3 }),
    }),
    fc.record({ kind: fc.constant("float" as const), name, size: fc.constantFrom(2, 4, 8, 16) }),
    fc.record({
      kind: fc.constant("decl_tag" as const),
      name,
      type: ref,
      componentIndex: fc.integer({ min: -1, max: 100 }),
      attribute: fc.boolean(),
    }),
  );
}

const graph = fc
  .integer({ min: 1, max: 25 })
  .chain((n) => fc.array(typeArb(n), { minLength: n, maxLength: n }));

test("random type graphs survive encode → decode → encode unchanged", () => {
  fc.assert(
    fc.property(graph, (types) => {
      const b = new BtfBuilder();
      for (const t of types) b.add(t);
      const blob = b.build();
      const btf = Btf.parse(blob);
      assert.equal(btf.typeCount, types.length);
      assert.deepEqual(
        [...btf.types()].map(([, t]) => t),
        structuredClone(types),
      );
      btf.validate();
      const again = BtfBuilder.from(btf).build();
      assert.deepEqual(again, blob);
    }),
    { numRuns: 300 },
  );
});

/** Everything a user can do with a blob: any failure must be a BtfError. */
function exercise(bytes: Uint8Array): void {
  try {
    const btf = Btf.parse(bytes);
    btf.validate();
    formatRaw(btf);
    formatJson(btf);
    formatC(btf);
    for (let id = 1; id < btf.endId; id++) {
      try {
        btf.sizeOf(id);
        btf.alignOf(id);
      } catch (e) {
        if (!(e instanceof BtfError)) throw e;
      }
      btf.findIds(btf.nameOf(id));
    }
  } catch (e) {
    if (!(e instanceof BtfError)) throw e;
  }
}

test("random type graphs (with loops and dangling ids) print or fail with BtfError only", () => {
  fc.assert(
    fc.property(graph, (types) => {
      const b = new BtfBuilder();
      for (const t of types) b.add(t);
      exercise(b.build());
    }),
    { numRuns: 300 },
  );
});

test("mutated, truncated and extended blobs give BtfError only, never a crash or a hang", () => {
  const blob = everyKind().builder.build();
  const mutation = fc.oneof(
    fc.record({
      kind: fc.constant("flip" as const),
      at: fc.nat(blob.length - 1),
      value: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({ kind: fc.constant("cut" as const), at: fc.nat(blob.length) }),
    fc.record({ kind: fc.constant("word" as const), at: fc.nat(blob.length - 4), value: u32 }),
  );
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
      let bytes = Uint8Array.from(blob);
      for (const m of ms) {
        if (m.kind === "flip") bytes[m.at] = m.value;
        else if (m.kind === "cut") bytes = bytes.slice(0, m.at);
        else if (m.at + 4 <= bytes.length) new DataView(bytes.buffer).setUint32(m.at, m.value, true);
      }
      exercise(bytes);
    }),
    { numRuns: 1500 },
  );
});

test("random bytes are BtfErrors", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      assert.throws(() => Btf.parse(bytes), BtfError);
    }),
  );
});

test("typedef loops and self-containing arrays are detected, not followed forever", () => {
  const b = new BtfBuilder();
  b.add({ kind: "typedef", name: "a", type: 2 });
  b.add({ kind: "typedef", name: "b", type: 1 });
  b.add({ kind: "array", name: "", type: 3, indexType: 0, length: 2 });
  const btf = Btf.parse(b.build());
  assert.throws(() => btf.resolve(1), BtfError);
  assert.throws(() => btf.sizeOf(1), BtfError);
  assert.throws(() => btf.sizeOf(3), BtfError);
  assert.throws(() => btf.alignOf(3), BtfError);
  assert.throws(() => formatC(btf), BtfError);
});
