/** Integer, floating point and boolean codecs. */
import { InputError } from "../sys/error.js";
import type { Codec } from "./codec.js";
import { show } from "./codec.js";

function bad(description: string, value: unknown, range: string): InputError {
  return new InputError(`${description} must be ${range}, got ${show(value)}`);
}

function smallUint(description: string, size: 1 | 2 | 4): Codec<number> {
  const max = 2 ** (size * 8) - 1;
  const range = `an integer from 0 to ${max}`;
  const write =
    size === 1
      ? (buf: Buffer, offset: number, v: number) => {
          buf[offset] = v;
        }
      : size === 2
        ? (buf: Buffer, offset: number, v: number) => {
            buf[offset] = v;
            buf[offset + 1] = v >>> 8;
          }
        : (buf: Buffer, offset: number, v: number) => {
            buf[offset] = v;
            buf[offset + 1] = v >>> 8;
            buf[offset + 2] = v >>> 16;
            buf[offset + 3] = v >>> 24;
          };
  const read =
    size === 1
      ? (buf: Buffer, offset: number) => buf[offset]!
      : size === 2
        ? (buf: Buffer, offset: number) => buf[offset]! | (buf[offset + 1]! << 8)
        : (buf: Buffer, offset: number) =>
            (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16)) +
            buf[offset + 3]! * 0x1000000;
  return Object.freeze({
    size,
    align: size,
    description,
    write(buf: Buffer, offset: number, value: number) {
      // the fast test covers integers in range; everything else (fractions, NaN, strings) fails it
      if (typeof value !== "number" || !(value >= 0 && value <= max) || Math.floor(value) !== value) {
        throw bad(description, value, range);
      }
      write(buf, offset, value);
    },
    read,
  });
}

function smallInt(description: string, size: 1 | 2 | 4): Codec<number> {
  const half = 2 ** (size * 8 - 1);
  const range = `an integer from ${-half} to ${half - 1}`;
  const bits = 32 - size * 8;
  return Object.freeze({
    size,
    align: size,
    description,
    write(buf: Buffer, offset: number, value: number) {
      if (typeof value !== "number" || !(value >= -half && value < half) || Math.floor(value) !== value) {
        throw bad(description, value, range);
      }
      buf[offset] = value;
      if (size > 1) buf[offset + 1] = value >> 8;
      if (size > 2) {
        buf[offset + 2] = value >> 16;
        buf[offset + 3] = value >> 24;
      }
    },
    read(buf: Buffer, offset: number) {
      let v = buf[offset]!;
      if (size > 1) v |= buf[offset + 1]! << 8;
      if (size > 2) v |= (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24);
      return (v << bits) >> bits;
    },
  });
}

/** Unsigned 8-bit integer (`__u8`). */
export const u8: Codec<number> = smallUint("u8", 1);
/** Unsigned 16-bit integer (`__u16`). */
export const u16: Codec<number> = smallUint("u16", 2);
/** Unsigned 32-bit integer (`__u32`). */
export const u32: Codec<number> = smallUint("u32", 4);
/** Signed 8-bit integer (`__s8`). */
export const i8: Codec<number> = smallInt("i8", 1);
/** Signed 16-bit integer (`__s16`). */
export const i16: Codec<number> = smallInt("i16", 2);
/** Signed 32-bit integer (`__s32`). */
export const i32: Codec<number> = smallInt("i32", 4);

const U64_MAX = 0xffffffffffffffffn;
const I64_MIN = -0x8000000000000000n;
const I64_MAX = 0x7fffffffffffffffn;

function toBigInt(value: bigint | number, description: string, range: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  throw bad(description, value, range);
}

/** Unsigned 64-bit integer (`__u64`): takes a bigint or a safe integer, gives a bigint. */
export const u64: Codec<bigint | number, bigint> = Object.freeze({
  size: 8,
  align: 8,
  description: "u64",
  write(buf: Buffer, offset: number, value: bigint | number) {
    if (typeof value === "number" && value >= 0 && value <= 0xffffffff && Math.floor(value) === value) {
      // common case without a bigint: two 32-bit halves
      buf.writeUInt32LE(value, offset);
      buf.writeUInt32LE(0, offset + 4);
      return;
    }
    const range = "an integer from 0 to 2^64-1 (a bigint, or a number up to 2^53-1)";
    const v = toBigInt(value, "u64", range);
    if (v < 0n || v > U64_MAX) throw bad("u64", value, range);
    buf.writeBigUInt64LE(v, offset);
  },
  read(buf: Buffer, offset: number): bigint {
    return buf.readBigUInt64LE(offset);
  },
});

/** Signed 64-bit integer (`__s64`): takes a bigint or a safe integer, gives a bigint. */
export const i64: Codec<bigint | number, bigint> = Object.freeze({
  size: 8,
  align: 8,
  description: "i64",
  write(buf: Buffer, offset: number, value: bigint | number) {
    const range = "an integer from -2^63 to 2^63-1 (a bigint, or a safe integer)";
    const v = toBigInt(value, "i64", range);
    if (v < I64_MIN || v > I64_MAX) throw bad("i64", value, range);
    buf.writeBigInt64LE(v, offset);
  },
  read(buf: Buffer, offset: number): bigint {
    return buf.readBigInt64LE(offset);
  },
});

/**
 * Unsigned 64-bit integer read as a plain number, for counters that stay below 2^53: no bigint
 * is allocated on read. Reading a value of 2^53 or more throws InputError (use {@link u64}).
 */
export const u64n: Codec<number> = Object.freeze({
  size: 8,
  align: 8,
  description: "u64 (as a number)",
  write(buf: Buffer, offset: number, value: number) {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      throw bad("u64 (as a number)", value, "an integer from 0 to 2^53-1");
    }
    const lo = value % 0x100000000;
    buf.writeUInt32LE(lo, offset);
    buf.writeUInt32LE((value - lo) / 0x100000000, offset + 4);
  },
  read(buf: Buffer, offset: number): number {
    const hi = buf.readUInt32LE(offset + 4);
    if (hi > 0x1fffff) {
      throw new InputError(
        `u64 value ${buf.readBigUInt64LE(offset)}n is 2^53 or more and cannot be read exactly as a number: use the u64 codec (bigint)`,
      );
    }
    return hi * 0x100000000 + buf.readUInt32LE(offset);
  },
});

/** IEEE 754 single precision (`float`). */
export const f32: Codec<number> = Object.freeze({
  size: 4,
  align: 4,
  description: "f32",
  write(buf: Buffer, offset: number, value: number) {
    if (typeof value !== "number") throw bad("f32", value, "a number");
    buf.writeFloatLE(value, offset);
  },
  read: (buf: Buffer, offset: number) => buf.readFloatLE(offset),
});

/** IEEE 754 double precision (`double`). */
export const f64: Codec<number> = Object.freeze({
  size: 8,
  align: 8,
  description: "f64",
  write(buf: Buffer, offset: number, value: number) {
    if (typeof value !== "number") throw bad("f64", value, "a number");
    buf.writeDoubleLE(value, offset);
  },
  read: (buf: Buffer, offset: number) => buf.readDoubleLE(offset),
});

/** A one-byte boolean (`_Bool`/`bool`): writes 0 or 1, reads any non-zero byte as true. */
export const bool: Codec<boolean> = Object.freeze({
  size: 1,
  align: 1,
  description: "bool",
  write(buf: Buffer, offset: number, value: boolean) {
    if (typeof value !== "boolean") throw bad("bool", value, "true or false");
    buf[offset] = value ? 1 : 0;
  },
  read: (buf: Buffer, offset: number) => buf[offset] !== 0,
});
