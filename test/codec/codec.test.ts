/**
 * Codec properties (fast-check): decode(encode(x)) = x; wrong sizes and wrong values give
 * InputError only. Struct layouts are checked against a C compiler's sizeof/offsetof.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import {
  type AnyCodec,
  array,
  bool,
  bytes,
  cstring,
  decode,
  encode,
  f32,
  f64,
  i8,
  i16,
  i32,
  i64,
  struct,
  u8,
  u16,
  u32,
  u64,
  u64n,
} from "../../src/codec/index.js";
import { parseCpuList, perCpu } from "../../src/map/percpu.js";
import { InputError } from "../../src/sys/error.js";

const ints: [AnyCodec, fc.Arbitrary<unknown>][] = [
  [u8, fc.integer({ min: 0, max: 0xff })],
  [u16, fc.integer({ min: 0, max: 0xffff })],
  [u32, fc.integer({ min: 0, max: 0xffffffff })],
  [i8, fc.integer({ min: -128, max: 127 })],
  [i16, fc.integer({ min: -32768, max: 32767 })],
  [i32, fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })],
  [u64, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })],
  [i64, fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })],
  [u64n, fc.maxSafeNat()],
  [f64, fc.double()],
  [f32, fc.float()],
  [bool, fc.boolean()],
];

for (const [codec, arb] of ints) {
  test(`${codec.description}: decode(encode(x)) = x, and Buffer byte order agrees`, () => {
    fc.assert(
      fc.property(arb, (x) => {
        const b = encode(codec, x);
        assert.equal(b.byteLength, codec.size);
        assert.deepEqual(decode(codec, b), x);
      }),
    );
  });
}

test("integer encodings match Node's own little-endian writers", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      (a, b) => {
        const x = Buffer.alloc(4);
        x.writeUInt32LE(a);
        assert.deepEqual(encode(u32, a), x);
        x.writeInt32LE(b);
        assert.deepEqual(encode(i32, b), x);
        assert.equal(decode(u16, x.subarray(0, 2)), x.readUInt16LE(0));
        assert.equal(decode(i16, x.subarray(2, 4)), x.readInt16LE(2));
      },
    ),
  );
  assert.equal(decode(u64, encode(u64, 5)), 5n, "u64 takes numbers too");
  assert.equal(decode(u64, encode(u64, 2 ** 40)), 2n ** 40n);
});

test("random bytes decode without throwing (u64n excepted: typed error above 2^53)", () => {
  const all = [...ints.map(([c]) => c), struct({ a: u8, b: u64, c: cstring(5) }), array(i16, 3), bytes(7)];
  for (const codec of all) {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: codec.size, maxLength: codec.size }), (raw) => {
        try {
          decode(codec, raw);
        } catch (e) {
          assert.ok(codec === u64n && e instanceof InputError, String(e));
        }
      }),
    );
  }
});

test("wrong-size inputs and out-of-range values are InputErrors", () => {
  const all = [...ints.map(([c]) => c), struct({ a: u8, b: u64 }), array(u32, 2), bytes(3), cstring(4)];
  for (const codec of all) {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 }).filter((n) => n !== codec.size),
        (n) => {
          assert.throws(() => decode(codec, new Uint8Array(n)), InputError);
        },
      ),
    );
    assert.throws(() => decode(codec, "x" as unknown as Uint8Array), InputError);
  }
  const badValues: [AnyCodec, unknown[]][] = [
    [u8, [-1, 256, 1.5, Number.NaN, "1", 1n, null, undefined]],
    [u32, [-1, 2 ** 32, 0.5, Number.POSITIVE_INFINITY, "7"]],
    [i8, [-129, 128, 0.1]],
    [i32, [2 ** 31, -(2 ** 31) - 1]],
    [u64, [-1n, 2n ** 64n, -1, 2 ** 53, 0.5, "1"]],
    [i64, [2n ** 63n, -(2n ** 63n) - 1n, 1.5]],
    [u64n, [-1, 2 ** 53, 1n]],
    [f32, ["1"]],
    [bool, [1, 0]],
    [cstring(4), ["abcde", "a\0b", 5, "ééé"]],
    [bytes(2), [new Uint8Array(3), [1, 2], "ab"]],
    [array(u8, 2), [[1], [1, 2, 3], [1, 256], "ab"]],
    [struct({ a: u8 }), [{}, { a: 256 }, null, [1], new Uint8Array(1)]],
  ];
  for (const [codec, values] of badValues) {
    for (const v of values) {
      assert.throws(
        () => encode(codec, v as never),
        InputError,
        `${codec.description} accepted ${String(v)}`,
      );
    }
  }
  assert.throws(() => decode(u64n, encode(u64, 2n ** 53n)), /use the u64 codec/);
  assert.throws(() => bytes(-1), InputError);
  assert.throws(() => array(u8, -1), InputError);
  assert.throws(() => struct({ "bad name": u8 }), InputError);
  assert.throws(() => struct({ a: 3 as unknown as AnyCodec }), InputError);
});

test("cstring: NUL-padded, reads up to the first NUL, may fill the array", () => {
  const c = cstring(8);
  assert.deepEqual(encode(c, "abc"), Buffer.from([97, 98, 99, 0, 0, 0, 0, 0]));
  assert.equal(decode(c, Buffer.from("abcdefgh")), "abcdefgh");
  assert.equal(decode(c, Buffer.from([104, 105, 0, 120, 120, 120, 120, 120])), "hi");
  fc.assert(
    fc.property(
      fc
        .string({ unit: "grapheme", maxLength: 8 })
        .filter((s) => !s.includes("\0") && Buffer.byteLength(s) <= 8),
      (s) => {
        assert.equal(decode(c, encode(c, s)), s);
      },
    ),
  );
});

/** A random struct: field names and codecs of the kinds a C compiler lays out. */
const fieldCodecs: [string, AnyCodec][] = [
  ["__u8", u8],
  ["__u16", u16],
  ["__u32", u32],
  ["__u64", u64],
  ["__s8", i8],
  ["__s64", i64],
  ["double", f64],
  ["float", f32],
  ["char", cstring(3)],
];
const structArb = fc.array(fc.integer({ min: 0, max: fieldCodecs.length - 1 }), {
  minLength: 1,
  maxLength: 8,
});

function cDecl(kinds: number[], name: string): string {
  const fields = kinds.map((k, i) => {
    const [ctype] = fieldCodecs[k]!;
    return ctype === "char" ? `char f${i}[3];` : `${ctype} f${i};`;
  });
  // a nested struct and an array field exercise nesting
  return `struct ${name} { ${fields.join(" ")} struct { __u8 x; __u32 y; } n; __u16 arr[3]; };`;
}

function codecOf(kinds: number[]) {
  const fields: Record<string, AnyCodec> = {};
  kinds.forEach((k, i) => {
    fields[`f${i}`] = fieldCodecs[k]![1];
  });
  fields.n = struct({ x: u8, y: u32 });
  fields.arr = array(u16, 3);
  return struct(fields);
}

test("struct layout equals the C compiler's sizeof and offsetof (cc as the oracle)", () => {
  const samples = fc.sample(structArb, { numRuns: 40, seed: 42 });
  const decls = samples.map((k, i) => cDecl(k, `s${i}`)).join("\n");
  const prints = samples
    .map((k, i) => {
      const names = [...k.map((_, j) => `f${j}`), "n", "arr"];
      const offs = names.map((n) => `offsetof(struct s${i}, ${n})`).join(", ");
      const fmt = names.map(() => "%zu").join(" ");
      return `printf("%zu %zu ${fmt}\\n", sizeof(struct s${i}), _Alignof(struct s${i}), ${offs});`;
    })
    .join("\n");
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-codec-"));
  try {
    const src = join(dir, "layout.c");
    writeFileSync(
      src,
      `#include <stddef.h>\n#include <stdio.h>\n#include <linux/types.h>\n${decls}\nint main(void) {\n${prints}\nreturn 0; }\n`,
    );
    execFileSync("cc", ["-O0", "-o", join(dir, "layout"), src]);
    const lines = execFileSync(join(dir, "layout"), { encoding: "utf8" }).trim().split("\n");
    samples.forEach((k, i) => {
      const [size, align, ...offs] = lines[i]!.split(" ").map(Number);
      const codec = codecOf(k);
      assert.equal(codec.size, size, `sizeof ${cDecl(k, "s")}`);
      assert.equal(codec.align, align, `alignof ${cDecl(k, "s")}`);
      assert.deepEqual(Object.values(codec.offsets), offs, `offsets of ${cDecl(k, "s")}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("struct round trip with nested structs and arrays; padding is zero", () => {
  const c = struct({ a: u8, b: u64, n: struct({ x: u16, s: cstring(5) }), arr: array(i32, 2) });
  assert.equal(c.size, 32);
  fc.assert(
    fc.property(
      fc.record({
        a: fc.integer({ min: 0, max: 255 }),
        b: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        n: fc.record({
          x: fc.integer({ min: 0, max: 0xffff }),
          s: fc.string({ maxLength: 5 }).filter((s) => !s.includes("\0") && Buffer.byteLength(s) <= 5),
        }),
        arr: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: 2, maxLength: 2 }),
      }),
      (v) => {
        const b = encode(c, v);
        // fast-check's records have a null prototype; a clone has the ordinary one
        assert.deepEqual(decode(c, b), structuredClone(v));
        assert.deepEqual(b.subarray(1, 8), Buffer.alloc(7), "padding after a is zero");
      },
    ),
  );
});

test("per-CPU codec: one slot of 8 bytes per CPU; one value or one per CPU", () => {
  const p = perCpu(u32, 3);
  assert.equal(p.size, 24);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 3, maxLength: 3 }), (v) => {
      const b = encode(p, v);
      assert.deepEqual(decode(p, b), v);
      for (let i = 0; i < 3; i++) assert.equal(b.readUInt32LE(i * 8 + 4), 0, "slot padding is zero");
    }),
  );
  assert.deepEqual(decode(p, encode(p, 7)), [7, 7, 7]);
  assert.throws(() => encode(p, [1, 2]), InputError);
  const pa = perCpu(array(u8, 2), 2);
  assert.deepEqual(decode(pa, encode(pa, [1, 2])), [
    [1, 2],
    [1, 2],
  ]);
  assert.deepEqual(
    decode(
      pa,
      encode(pa, [
        [1, 2],
        [3, 4],
      ]),
    ),
    [
      [1, 2],
      [3, 4],
    ],
  );
  assert.equal(parseCpuList("0-3,5,7-8\n"), 7);
  assert.equal(parseCpuList("0"), 1);
  assert.throws(() => parseCpuList("x"), InputError);
  assert.throws(() => parseCpuList("3-1"), InputError);
});
