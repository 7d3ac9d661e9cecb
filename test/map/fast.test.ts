/**
 * The integer fast paths of BpfMap (typed-array views over the map's buffers) agree with the
 * codecs: the same bytes reach the kernel, the same values come back, the same inputs are refused.
 * Checked through a real map, against the codec as the oracle.
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

const inputs = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
  fc.double({ noNaN: false }),
  fc.constantFrom(-0, 0.5, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 2 ** 64),
  fc.bigInt({ min: -(1n << 64n), max: 1n << 65n }),
  fc.constantFrom("1", null, undefined, true),
);

for (const [name, codec] of Object.entries({ u32, i32, u64, u64n, i64 })) {
  test(`${name}: a map's set/get agree with the codec for keys and values`, (t) => {
    if (!needsRoot(t)) return;
    using m = BpfMap.create({ type: "hash", key: codec, value: codec, maxEntries: 64 });
    fc.assert(
      fc.property(inputs, (x) => {
        const expected = viaCodec(codec, x);
        let got: { bytes: Buffer } | { error: string };
        try {
          m.set(x as never, x as never);
          const raw = m.getBatchRaw();
          assert.equal(raw.count, 1);
          const value = Buffer.from(raw.values.subarray(0, codec.size));
          assert.deepEqual(Buffer.from(raw.keys.subarray(0, codec.size)), value, "key and value bytes agree");
          got = { bytes: value };
          assert.deepEqual(m.get(x as never), codec.read(value, 0));
          assert.ok(m.delete(x as never));
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
          got = { error: `${(e as Error).name}: ${(e as Error).message}` };
        }
        assert.deepEqual(got, expected);
      }),
      { numRuns: 400 },
    );
  });
}
