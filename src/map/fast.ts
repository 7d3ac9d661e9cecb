/**
 * Element access without codec calls for the common integer codecs: typed-array views over a
 * map's own key and value buffers (allocated by MapElemOps, 8-byte aligned). Anything the fast
 * path does not take (a bigint key for u32, a fraction, a raw Uint8Array, an out-of-range
 * number) goes to the generic path, which writes or throws exactly as the codec does.
 *
 * The kind is a small integer tested inline by BpfMap, so its call sites stay monomorphic however
 * many maps with different codecs a program uses.
 */
import type { AnyCodec } from "../codec/codec.js";
import { i32, i64, u32, u64, u64n } from "../codec/int.js";

/** Typed arrays use the host byte order; the codecs write little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const U64_MAX = 0xffffffffffffffffn;
const TWO_32 = 0x100000000;

/** Codec kinds with a fast path; OTHER goes through the codec. */
export const Kind = { OTHER: 0, U32: 1, I32: 2, U64: 3, U64N: 4, I64: 5 } as const;

/** The fast-path kind of `codec` over `buf` (OTHER unless little-endian and 8-byte aligned). */
export function kindOf(codec: AnyCodec, buf: Buffer): number {
  if (!LITTLE_ENDIAN || buf.byteOffset % 8 !== 0 || buf.byteLength < 8) return Kind.OTHER;
  if (codec === u32) return Kind.U32;
  if (codec === i32) return Kind.I32;
  if (codec === u64) return Kind.U64;
  if (codec === u64n) return Kind.U64N;
  if (codec === i64) return Kind.I64;
  return Kind.OTHER;
}

/** Integer views over the first 8 bytes of a buffer. */
export class IntViews {
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly u64: BigUint64Array;
  readonly i64: BigInt64Array;

  constructor(buf: Buffer) {
    this.u32 = new Uint32Array(buf.buffer, buf.byteOffset, 2);
    this.i32 = new Int32Array(buf.buffer, buf.byteOffset, 1);
    this.u64 = new BigUint64Array(buf.buffer, buf.byteOffset, 1);
    this.i64 = new BigInt64Array(buf.buffer, buf.byteOffset, 1);
  }
}

/** Stores `v` through the views when `kind` takes it as it is; false when the codec must do it. */
export function writeFast(kind: number, views: IntViews, v: unknown): boolean {
  switch (kind) {
    case Kind.U32:
      if (typeof v === "number" && v >>> 0 === v) {
        views.u32[0] = v;
        return true;
      }
      return false;
    case Kind.I32:
      if (typeof v === "number" && (v | 0) === v) {
        views.i32[0] = v;
        return true;
      }
      return false;
    case Kind.U64:
    case Kind.U64N:
      if (typeof v === "number" && v >>> 0 === v) {
        views.u32[0] = v;
        views.u32[1] = 0;
        return true;
      }
      if (kind === Kind.U64 && typeof v === "bigint" && v >= 0n && v <= U64_MAX) {
        views.u64[0] = v;
        return true;
      }
      return false;
    case Kind.I64:
      if (typeof v === "bigint" && v === BigInt.asIntN(64, v)) {
        views.i64[0] = v;
        return true;
      }
      return false;
    default:
      return false;
  }
}

/** Sentinel of {@link readFast}: the codec must read this one. */
export const SLOW: unique symbol = Symbol("slow");

/** Loads the value through the views, or {@link SLOW} (OTHER, or a u64n of 2^53 or more). */
export function readFast(kind: number, views: IntViews): unknown {
  switch (kind) {
    case Kind.U64:
      return views.u64[0];
    case Kind.U64N: {
      const hi = views.u32[1]!;
      // 2^53 or more: the codec throws its typed error
      return hi > 0x1fffff ? SLOW : hi * TWO_32 + views.u32[0]!;
    }
    case Kind.U32:
      return views.u32[0];
    case Kind.I32:
      return views.i32[0];
    case Kind.I64:
      return views.i64[0];
    default:
      return SLOW;
  }
}
