/** Bad input to the CO-RE parser and engine: typed errors, never a crash, a hang or a read past the end. */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BtfBuilder } from "../../../src/btf/builder.js";
import {
  applyCoreRelocations,
  CoreKind,
  CoreRelocationError,
  encodeCoreRelocations,
  explainPoisonedRejection,
  POISON_IMM,
  parseCoreRelocations,
} from "../../../src/btf/core/index.js";
import { Btf } from "../../../src/btf/decode.js";
import { BtfError } from "../../../src/btf/errors.js";

/** A local BTF with `struct pair { int a; int b; }` and the strings the relocations use. */
function local(): { btf: Btf; strings: Record<string, number>; pair: number } {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const pair = b.struct("pair", [
    { name: "a", type: int },
    { name: "b", type: int },
  ]);
  const strings: Record<string, number> = {};
  for (const s of ["xdp", "0", "0:1", "0:5", "0:1:0"]) strings[s] = b.strings.add(s);
  return { btf: Btf.parse(b.build()), strings, pair };
}

/** A .BTF.ext with one core_relo block: `records` as [insn_off, type_id, access_str_off, kind]. */
function ext(section: number, records: number[][], lie: { count?: number; len?: number } = {}): Uint8Array {
  const body = 4 + 8 + records.length * 16;
  const out = new Uint8Array(32 + body);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  out[2] = 1;
  v.setUint32(4, 32, true);
  v.setUint32(24, 0, true);
  v.setUint32(28, lie.len ?? body, true);
  v.setUint32(32, 16, true);
  v.setUint32(36, section, true);
  v.setUint32(40, lie.count ?? records.length, true);
  records.forEach((r, i) => {
    for (let j = 0; j < 4; j++) v.setUint32(44 + i * 16 + j * 4, r[j]!, true);
  });
  return out;
}

/** r0 = *(u32 *)(r1 + off); exit */
function loadCode(off: number): Uint8Array {
  const code = new Uint8Array(16);
  code[0] = 0x61;
  code[1] = 0x10;
  new DataView(code.buffer).setInt16(2, off, true);
  code[8] = 0x95;
  return code;
}

test("a well-formed relocation is parsed and applied; its record encodes back for the kernel", () => {
  const { btf, strings, pair } = local();
  const relos = parseCoreRelocations(
    ext(strings.xdp!, [[0, pair, strings["0:1"]!, CoreKind.FIELD_BYTE_OFFSET]]),
    btf,
  );
  const list = relos.get("xdp");
  assert.deepEqual(list, [{ insnOffset: 0, typeId: pair, accessString: "0:1", kind: 0 }]);
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  b.struct("pair___renamed", [
    { name: "pad", type: b.int("long", 8, { signed: true }) },
    { name: "b", type: int },
  ]);
  const code = loadCode(4);
  const [r] = applyCoreRelocations(code, list!, btf, Btf.parse(b.build()));
  assert.equal(new DataView(code.buffer).getInt16(2, true), 8, "b moved from 4 to 8");
  assert.equal(r!.local, "struct pair: b");
  assert.match(r!.target!, /struct pair___renamed: b/);
  assert.equal(r!.patch, "off 4 -> 8");
  const rec = encodeCoreRelocations(list!, btf, 16);
  assert.deepEqual([...new Uint32Array(rec.buffer)], [16, pair, strings["0:1"]!, 0]);
});

test("a .BTF.ext that lies about its sizes is a BtfError naming the byte", () => {
  const { btf, strings, pair } = local();
  const rec = [[0, pair, strings["0:1"]!, 0]];
  assert.throws(
    () => parseCoreRelocations(ext(strings.xdp!, rec, { count: 1000 }), btf),
    /1000 records of 16 bytes/,
  );
  assert.throws(
    () => parseCoreRelocations(ext(strings.xdp!, rec, { len: 4096 }), btf),
    /runs past the blob's end/,
  );
  assert.throws(
    () => parseCoreRelocations(ext(strings.xdp!, rec).subarray(0, 20), btf),
    /shorter than its 24-byte header/,
  );
  assert.throws(() => parseCoreRelocations(ext(99999, rec), btf), /string offset 99999/);
});

test("a type id past the end, an unknown kind, a misaligned offset are CoreRelocationErrors", () => {
  const { btf, strings, pair } = local();
  const bad = (r: number[], re: RegExp) =>
    assert.throws(
      () => parseCoreRelocations(ext(strings.xdp!, [r]), btf),
      (e: unknown) => e instanceof CoreRelocationError && re.test(e.message),
    );
  bad([0, 500, strings["0:1"]!, 0], /type id 500 does not exist/);
  bad([0, pair, strings["0:1"]!, 13], /unknown relocation kind 13/);
  bad([4, pair, strings["0:1"]!, 0], /not a multiple of 8/);
  bad([0, pair, 1 << 20, 0], /access string offset/);
});

test("an access string out of range, or an instruction that disagrees with the BTF, is refused", () => {
  const { btf, pair } = local();
  const apply = (accessString: string, code: Uint8Array, kind = 0, insnOffset = 0) =>
    applyCoreRelocations(code, [{ insnOffset, typeId: pair, accessString, kind }], btf, btf);
  assert.throws(() => apply("0:5", loadCode(4)), /member 5 of a 2-member struct pair/);
  assert.throws(() => apply("0:1:0", loadCode(4)), /neither members nor elements/);
  assert.throws(() => apply("0:x", loadCode(4)), /not a list of indexes/);
  assert.throws(() => apply("1", loadCode(4), CoreKind.TYPE_SIZE), /must be "0"/);
  assert.throws(
    () => apply("0:1", loadCode(12)),
    /offset is 12, but the compiler's value for this relocation is 4/,
  );
  assert.throws(() => apply("0:1", loadCode(4), 0, 64), /not an instruction of this 16-byte code/);
});

test("a field missing from the target poisons the instruction, and a verifier log at it is explained", () => {
  const { btf, pair } = local();
  const b = new BtfBuilder();
  b.struct("pair", [{ name: "a", type: b.int("int", 4, { signed: true }) }]);
  const code = loadCode(4);
  const results = applyCoreRelocations(
    code,
    [{ insnOffset: 0, typeId: pair, accessString: "0:1", kind: 0 }],
    btf,
    Btf.parse(b.build()),
  );
  assert.equal(results[0]!.poisoned, true);
  assert.equal(code[0], 0x85, "a call");
  assert.equal(new DataView(code.buffer).getInt32(4, true), POISON_IMM);
  const log = "0: R1=ctx() R10=fp0\n0: (85) call unknown#195896080\ninvalid func unknown#195896080\n";
  const message = explainPoisonedRejection(log, results);
  assert.ok(message, "explained");
  assert.match(
    message,
    /struct pair: b: none of the 1 target candidate \(\[2\] struct pair\) has this field/,
  );
  assert.equal(
    explainPoisonedRejection("0: (b7) r0 = 0\n", results),
    undefined,
    "other rejections are not ours",
  );
});

test("random and mutated .BTF.ext blobs give typed errors only", () => {
  const { btf, strings, pair } = local();
  const good = ext(strings.xdp!, [
    [0, pair, strings["0:1"]!, 0],
    [8, pair, strings["0"]!, CoreKind.TYPE_SIZE],
  ]);
  const typed = (blob: Uint8Array) => {
    try {
      const m = parseCoreRelocations(blob, btf);
      for (const list of m.values()) {
        try {
          applyCoreRelocations(new Uint8Array(64), list, btf, btf);
        } catch (e) {
          if (!(e instanceof BtfError)) throw e;
        }
      }
    } catch (e) {
      if (!(e instanceof BtfError)) throw e;
    }
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 128 }), (bytes) => typed(bytes)),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.nat(good.length - 1), fc.nat(255), (at, value) => {
      const m = new Uint8Array(good);
      m[at] = value;
      typed(m);
    }),
    { numRuns: 500 },
  );
});
