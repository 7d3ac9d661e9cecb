/**
 * Element access without codec calls for the common integer codecs: typed-array views over a
 * map's own key and value buffers (allocated by MapElemOps, 8-byte aligned). Anything the fast
 * path does not take (a bigint key for u32, a fraction, a raw Uint8Array, an out-of-range
 * number) goes to the generic path, which writes or throws exactly as the codec does.
 */
import type { AnyCodec } from "../codec/codec.js";
import { i32, i64, u32, u64, u64n } from "../codec/int.js";

/** Typed arrays use the host byte order; the codecs write little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const U64_MAX = 0xffffffffffffffffn;
const TWO_32 = 0x100000000;

/** Writes a key or value into the map's buffer. */
export type Writer = (value: unknown) => void;
/** Reads the value out of the map's buffer. */
export type Reader = () => unknown;

function viewable(buf: Buffer): boolean {
  return LITTLE_ENDIAN && buf.byteOffset % 8 === 0 && buf.byteLength >= 8;
}

/**
 * A writer for `codec` into the start of `buf`: a typed-array store for u32 / i32 / u64 / u64n
 * numbers (and u64 bigints), `generic` for everything else.
 */
export function fastWriter(codec: AnyCodec, buf: Buffer, generic: Writer): Writer {
  if (!viewable(buf)) return generic;
  const w32 = new Uint32Array(buf.buffer, buf.byteOffset, 2);
  if (codec === u32) {
    return (v) => {
      if (typeof v === "number" && v >>> 0 === v) w32[0] = v;
      else generic(v);
    };
  }
  if (codec === i32) {
    return (v) => {
      if (typeof v === "number" && (v | 0) === v) w32[0] = v;
      else generic(v);
    };
  }
  if (codec === u64 || codec === u64n) {
    const bigints = codec === u64;
    const w64 = new BigUint64Array(buf.buffer, buf.byteOffset, 1);
    return (v) => {
      if (typeof v === "number" && v >>> 0 === v) {
        w32[0] = v;
        w32[1] = 0;
      } else if (bigints && typeof v === "bigint" && v >= 0n && v <= U64_MAX) {
        w64[0] = v;
      } else generic(v);
    };
  }
  if (codec === i64) {
    const w64 = new BigInt64Array(buf.buffer, buf.byteOffset, 1);
    return (v) => {
      if (typeof v === "bigint" && v === BigInt.asIntN(64, v)) w64[0] = v;
      else generic(v);
    };
  }
  return generic;
}

/**
 * A reader of `codec` at the start of `buf`: a typed-array load for u32 / i32 / u64 / i64 / u64n
 * (one bigint at most, where Buffer#readBigUInt64LE makes three), `codec.read` for the rest.
 */
export function fastReader(codec: AnyCodec, buf: Buffer): Reader {
  if (viewable(buf)) {
    if (codec === u32) {
      const r = new Uint32Array(buf.buffer, buf.byteOffset, 1);
      return () => r[0];
    }
    if (codec === i32) {
      const r = new Int32Array(buf.buffer, buf.byteOffset, 1);
      return () => r[0];
    }
    if (codec === u64) {
      const r = new BigUint64Array(buf.buffer, buf.byteOffset, 1);
      return () => r[0];
    }
    if (codec === i64) {
      const r = new BigInt64Array(buf.buffer, buf.byteOffset, 1);
      return () => r[0];
    }
    if (codec === u64n) {
      const r = new Uint32Array(buf.buffer, buf.byteOffset, 2);
      return () => {
        const hi = r[1]!;
        // 2^53 or more: the codec throws its typed error
        return hi > 0x1fffff ? codec.read(buf, 0) : hi * TWO_32 + r[0]!;
      };
    }
  }
  return () => codec.read(buf, 0);
}
