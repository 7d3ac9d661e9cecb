/**
 * Random verifier-clean programs for differential runs: ALU (all ops, both widths, signed
 * division, movsx, byte swaps), forward jumps, stack memory (stores, loads, sign-extending loads,
 * atomics) and map operations (array lookups and updates through the value pointer, hash update
 * and delete whose errnos land in r0). Every register stays a scalar; the end stores r0..r9 into
 * the result map, so the whole register file is compared.
 */
import fc from "fast-check";
import type { Instruction } from "../../src/isa/insn.js";

const i = (code: number, dst: number, src: number, off: number, imm: number): Instruction => ({
  code,
  dst,
  src,
  off,
  imm,
});
const ldImm = (dst: number, v: bigint): Instruction => ({
  code: 0x18,
  dst,
  src: 0,
  off: 0,
  imm: Number(BigInt.asIntN(32, v)),
  imm2: Number(BigInt.asIntN(32, v >> 32n)),
});
const mapFd = (dst: number, name: string): Instruction => ({
  code: 0x18,
  dst,
  src: 1,
  off: 0,
  imm: 0,
  imm2: 0,
  ref: { kind: "map", name },
});
const mapValue = (dst: number, name: string): Instruction => ({
  code: 0x18,
  dst,
  src: 2,
  off: 0,
  imm: 0,
  imm2: 0,
  ref: { kind: "map", name },
});

const reg = fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
const imm = fc.oneof(
  fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  fc.constantFrom(0, 1, -1, 2, 7, 31, 32, 63, 64, 0x7fffffff, -0x80000000, 0xffff),
);
const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(0n, 1n, 0xffffffffn, 0x80000000n, 1n << 63n, (1n << 64n) - 1n, 0x100000000n),
);

type Item = Instruction[];

const alu: fc.Arbitrary<Item> = fc
  .record({
    wide: fc.boolean(),
    op: fc.constantFrom(0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0),
    x: fc.boolean(),
    dst: reg,
    src: reg,
    imm,
    signed: fc.boolean(),
    sx: fc.constantFrom(0, 8, 16, 32),
    width: fc.constantFrom(16, 32, 64),
    be: fc.boolean(),
  })
  .map(({ wide, op, x, dst, src, imm, signed, sx, width, be }): Item => {
    const cls = wide ? 0x07 : 0x04;
    if (op === 0x80) return [i(0x80 | cls, dst, 0, 0, 0)];
    if (op === 0xd0) {
      if (wide) return [i(0xd7, dst, 0, 0, width)]; // bswap
      return [i(0xd4 | (be ? 8 : 0), dst, 0, 0, width)];
    }
    if (op === 0x60 || op === 0x70 || op === 0xc0) {
      if (!x) return [i(op | cls, dst, 0, 0, (imm >>> 0) % (wide ? 64 : 32))];
      return [i(op | 0x08 | cls, dst, src, 0, 0)];
    }
    let off = 0;
    if (op === 0x30 || op === 0x90) off = signed ? 1 : 0;
    if (op === 0xb0 && x) off = wide ? sx : sx === 32 ? 0 : sx;
    if (!x) {
      let k = imm;
      if ((op === 0x30 || op === 0x90) && k === 0) k = 3;
      return [i(op | cls, dst, 0, op === 0xb0 ? 0 : off, k)];
    }
    return [i(op | 0x08 | cls, dst, src, off, 0)];
  });

/** the stack bytes programs may use: [-64, 0) are zeroed first */
const slotOf = (size: number, n: number) => -64 + (((n >>> 0) % (64 / size)) | 0) * size;
const sizeCode = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 } as const;

const memory: fc.Arbitrary<Item> = fc
  .record({
    kind: fc.constantFrom("st", "stx", "ldx", "ldsx", "atomic"),
    size: fc.constantFrom(1, 2, 4, 8),
    n: fc.nat(),
    dst: reg,
    src: reg,
    imm,
    aop: fc.constantFrom(0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1),
  })
  .map(({ kind, size, n, dst, src, imm, aop }): Item => {
    const sc = sizeCode[size as 1 | 2 | 4 | 8];
    const off = slotOf(size, n);
    switch (kind) {
      case "st":
        return [i(0x62 | sc, 10, 0, off, imm)];
      case "stx":
        return [i(0x63 | sc, 10, src, off, 0)];
      case "ldx":
        return [i(0x61 | sc, dst, 10, off, 0)];
      case "ldsx":
        return size === 8 ? [i(0x61 | sc, dst, 10, off, 0)] : [i(0x81 | sc, dst, 10, off, 0)];
      default: {
        const w = size >= 4 ? size : 8;
        return [i(0xc3 | sizeCode[w as 4 | 8], 10, src, slotOf(w, n), aop)];
      }
    }
  });

const jumpOps = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];

/** Re-initialises r0..r5 after a helper call with constants (r0 optionally kept). */
function refill(from: number, values: bigint[]): Item {
  const out: Item = [];
  for (let r = from; r <= 5; r++) out.push(ldImm(r, values[r] ?? 0n));
  return out;
}

const mapOp: fc.Arbitrary<Item> = fc
  .record({
    kind: fc.constantFrom("arr", "hashUpdate", "hashDelete", "hashLookup"),
    a: reg,
    b: reg,
    flags: fc.constantFrom(0, 0, 1, 2),
    values: fc.array(u64, { minLength: 6, maxLength: 6 }),
    atomicAdd: fc.boolean(),
  })
  .map(({ kind, a, b, flags, values }): Item => {
    const out: Item = [];
    if (kind === "arr") {
      // key = a & 3 (a 32-bit store), value[0] += b (or atomically)
      out.push(
        i(0xbc, 1, a, 0, 0),
        i(0x54, 1, 0, 0, 3),
        i(0x63, 10, 1, -72, 0),
        i(0xbf, 6 === b ? 7 : 6, b, 0, 0),
      );
      const keep = 6 === b ? 7 : 6;
      out.push(i(0xbf, 2, 10, 0, 0), i(0x07, 2, 0, 0, -72), mapFd(1, "arr"), i(0x85, 0, 0, 0, 1));
      const body: Item = [
        i(0x79, 1, 0, 0, 0),
        i(0x0f, 1, keep, 0, 0),
        i(0x7b, 0, 1, 0, 0),
        i(0xdb, 0, keep, 8, 0),
      ];
      out.push(i(0x15, 0, 0, body.length, 0), ...body);
      out.push(...refill(0, values));
      return out;
    }
    // key = a & 7 (u64), value = b
    out.push(i(0xbf, 1, a, 0, 0), i(0x57, 1, 0, 0, 7), i(0x7b, 10, 1, -80, 0), i(0x7b, 10, b, -88, 0));
    out.push(mapFd(1, "hash"), i(0xbf, 2, 10, 0, 0), i(0x07, 2, 0, 0, -80));
    if (kind === "hashUpdate") {
      out.push(i(0xbf, 3, 10, 0, 0), i(0x07, 3, 0, 0, -88), i(0xb7, 4, 0, 0, flags), i(0x85, 0, 0, 0, 2));
      out.push(...refill(1, values));
    } else if (kind === "hashDelete") {
      out.push(i(0x85, 0, 0, 0, 3), ...refill(1, values));
    } else {
      out.push(
        i(0x85, 0, 0, 0, 1),
        i(0x15, 0, 0, 2, 0),
        i(0x79, 0, 0, 0, 0),
        i(0x05, 0, 0, 1, 0),
        i(0xb7, 0, 0, 0, -1),
      );
      out.push(...refill(1, values));
    }
    return out;
  });

const plain = fc.oneof(
  { weight: 6, arbitrary: alu },
  { weight: 3, arbitrary: memory },
  { weight: 1, arbitrary: mapOp },
);

interface JumpSpec {
  wide: boolean;
  op: number;
  x: boolean;
  dst: number;
  src: number;
  imm: number;
  skip: number;
}
const jump: fc.Arbitrary<JumpSpec> = fc.record({
  wide: fc.boolean(),
  op: fc.constantFrom(...jumpOps),
  x: fc.boolean(),
  dst: reg,
  src: reg,
  imm,
  skip: fc.integer({ min: 1, max: 4 }),
});

const slots = (item: Item) => item.reduce((n, x) => n + (x.code === 0x18 ? 2 : 1), 0);

/** A whole program: init, body, and the end that stores r0..r9 in `result`. */
export const arbitraryProgram: fc.Arbitrary<Instruction[]> = fc
  .record({
    init: fc.array(u64, { minLength: 10, maxLength: 10 }),
    body: fc.array(
      fc.oneof(
        { weight: 4, arbitrary: plain.map((p) => ({ p })) },
        { weight: 1, arbitrary: jump.map((j) => ({ j })) },
      ),
      {
        minLength: 1,
        maxLength: 40,
      },
    ),
  })
  .map(({ init, body }) => {
    const items: Item[] = [];
    for (let r = 0; r <= 9; r++) items.push([ldImm(r, init[r]!)]);
    for (let k = 0; k < 8; k++) items.push([i(0x7a, 10, 0, -64 + 8 * k, 0)]);
    const plainItems: (Item | JumpSpec)[] = body.map((b) => ("p" in b ? b.p : b.j));
    const resolved: Item[] = [];
    for (let k = 0; k < plainItems.length; k++) {
      const it = plainItems[k]!;
      if (Array.isArray(it)) {
        resolved.push(it);
        continue;
      }
      const j = it as JumpSpec;
      let off = 0;
      let n = 0;
      for (let m = k + 1; m < plainItems.length && n < j.skip; m++, n++) {
        const x = plainItems[m]!;
        off += Array.isArray(x) ? slots(x) : 1;
      }
      const cls = j.wide ? 0x05 : 0x06;
      resolved.push([j.x ? i(j.op | 0x08 | cls, j.dst, j.src, off, 0) : i(j.op | cls, j.dst, 0, off, j.imm)]);
    }
    items.push(...resolved);
    const end: Item = [
      i(0x7b, 10, 1, -128, 0),
      mapValue(1, "result"),
      i(0x7b, 1, 0, 0, 0),
      i(0x79, 0, 10, -128, 0),
      i(0x7b, 1, 0, 8, 0),
    ];
    for (let r = 2; r <= 9; r++) end.push(i(0x7b, 1, r, 8 * r, 0));
    end.push(i(0x79, 0, 1, 0, 0), i(0x95, 0, 0, 0, 0));
    items.push(end);
    return items.flat();
  });
