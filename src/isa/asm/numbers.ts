/** Number literals of both dialects: decimal and `0x` hexadecimal, sign handled by the parsers. */

/**
 * Parses an unsigned decimal or `0x` hexadecimal literal. Returns a number when it is exact as a
 * double, a bigint when it is larger, or undefined when the text is not a literal.
 */
export function parseUnsigned(text: string): number | bigint | undefined {
  const n = text.length;
  if (n === 0) return undefined;
  if (n > 2 && text.charCodeAt(0) === 48 && (text.charCodeAt(1) | 0x20) === 120) {
    let v = 0;
    for (let i = 2; i < n; i++) {
      const c = text.charCodeAt(i);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if ((c | 0x20) >= 97 && (c | 0x20) <= 102) d = (c | 0x20) - 87;
      else return undefined;
      v = v * 16 + d;
    }
    if (v <= Number.MAX_SAFE_INTEGER) return v;
    return BigInt(text);
  }
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    v = v * 10 + (c - 48);
  }
  if (v <= Number.MAX_SAFE_INTEGER) return v;
  return BigInt(text);
}

/** {@link parseUnsigned} of `src[start, end)`, making no string unless the value needs a bigint. */
export function parseUnsignedAt(src: string, start: number, end: number): number | bigint | undefined {
  const n = end - start;
  if (n <= 0) return undefined;
  let v = 0;
  if (n > 2 && src.charCodeAt(start) === 48 && (src.charCodeAt(start + 1) | 0x20) === 120) {
    for (let i = start + 2; i < end; i++) {
      const c = src.charCodeAt(i);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if ((c | 0x20) >= 97 && (c | 0x20) <= 102) d = (c | 0x20) - 87;
      else return undefined;
      v = v * 16 + d;
    }
  } else {
    for (let i = start; i < end; i++) {
      const c = src.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
      v = v * 10 + (c - 48);
    }
  }
  if (v <= Number.MAX_SAFE_INTEGER) return v;
  return BigInt(src.slice(start, end));
}

const TWO_32 = 0x1_0000_0000;

/** Whether `v` fits a 32-bit immediate, signed or unsigned (it is then stored as int32). */
export function fitsImm32(v: number | bigint): boolean {
  return typeof v === "number" && v >= -0x8000_0000 && v < TWO_32;
}

/** Whether `v` fits the signed 16-bit offset. */
export function fitsOff16(v: number | bigint): boolean {
  return typeof v === "number" && v >= -0x8000 && v <= 0x7fff;
}

/** Splits a 64-bit value (signed or unsigned) into its low and high int32 halves, or undefined. */
export function splitImm64(v: number | bigint): [number, number] | undefined {
  const b = typeof v === "bigint" ? v : BigInt(v);
  if (b < -(1n << 63n) || b >= 1n << 64n) return undefined;
  const u = BigInt.asUintN(64, b);
  return [Number(BigInt.asIntN(32, u)), Number(BigInt.asIntN(32, u >> 32n))];
}

/** Negates a parsed literal. */
export function negate(v: number | bigint): number | bigint {
  return typeof v === "bigint" ? -v : -v;
}
