/**
 * The integer fast path of map VALUES, found by mutation testing (npm run mutate -- src/map):
 * fast.test.ts sets the same input as key and value, so a value the fast path wrongly took was
 * always refused first by the key's codec. Here the key is a fixed valid u32 and only the value
 * varies; the codec is the oracle for the bytes that reach the kernel and for what is refused, and
 * values written as raw bytes are read back as the codec reads them (u64n past 2^53 included).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { AnyCodec } from "../../src/codec/codec.js";
import { i32, i64, u32, u64, u64n } from "../../src/codec/int.js";
import { BpfMap } from "../../src/map/map.js";
import { needsRoot } from "../support/privilege.js";

/** Whatever the codec makes of `x`: its bytes, or the error's class and message. */
function viaCodec(codec: AnyCodec, x: unknown): { bytes: Buffer } | { error: string } {
  const buf = Buffer.alloc(codec.size);
  try {
    (codec.write as (b: Buffer, o: number, v: unknown) => void)(buf, 0, x);
    return { bytes: buf };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

/** Whatever the codec reads from `bytes`: the value, or the error's class and message. */
function readViaCodec(codec: AnyCodec, bytes: Buffer): { value: unknown } | { error: string } {
  try {
    return { value: codec.read(bytes, 0) };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

const inputs = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
  fc.double({ noNaN: false }),
  fc.constantFrom(-1, -0, 0.5, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 2 ** 64),
  fc.bigInt({ min: -(1n << 64n), max: 1n << 65n }),
  fc.constantFrom(-1n, 0n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n, 1n << 64n, -(1n << 63n)),
  fc.constantFrom("1", null, undefined, true, 1.5),
);

for (const [name, codec] of Object.entries({ u32, i32, u64, u64n, i64 })) {
  test(`${name} values under a u32 key: set/get agree with the codec`, (t) => {
    if (!needsRoot(t)) return;
    using m = BpfMap.create({ type: "hash", key: u32, value: codec, maxEntries: 4 });
    fc.assert(
      fc.property(inputs, (x) => {
        const expected = viaCodec(codec, x);
        let got: { bytes: Buffer } | { error: string };
        try {
          m.set(7, x as never);
          const raw = m.getBatchRaw();
          assert.equal(raw.count, 1);
          got = { bytes: Buffer.from(raw.values.subarray(0, codec.size)) };
          assert.deepEqual(m.get(7), codec.read(got.bytes, 0), "read back as the codec reads it");
          assert.ok(m.delete(7));
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
          got = { error: `${(e as Error).name}: ${(e as Error).message}` };
        }
        assert.deepEqual(got, expected, `value ${typeof x} ${String(x)}`);
      }),
      { numRuns: 300 },
    );
  });

  test(`${name} values written as raw bytes read back as the codec reads them`, (t) => {
    if (!needsRoot(t)) return;
    using m = BpfMap.create({ type: "hash", key: u32, value: codec, maxEntries: 4 });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: codec.size, maxLength: codec.size }), (bytes) => {
        m.set(3, bytes);
        let got: { value: unknown } | { error: string };
        try {
          got = { value: m.get(3) };
        } catch (e) {
          got = { error: `${(e as Error).name}: ${(e as Error).message}` };
        }
        assert.deepEqual(
          got,
          readViaCodec(codec, Buffer.from(bytes)),
          `bytes ${Buffer.from(bytes).toString("hex")}`,
        );
      }),
      { numRuns: 300, examples: [[new Uint8Array(codec.size).fill(0xff)], [new Uint8Array(codec.size)]] },
    );
  });
}
