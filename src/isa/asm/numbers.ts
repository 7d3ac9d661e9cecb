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

const C_SUFFIXES = new Set(["u", "l", "ul", "lu", "ll", "ull", "llu"]);

/**
 * Parses a C integer literal of `src[start, end)` as llvm-mc reads it: decimal, `0x` hexadecimal,
 * `0b` binary or `0` octal, with an optional `u`/`l`/`ul`/`ll`/`ull` suffix in either case.
 * Returns a number when exact as a double, a bigint when larger, undefined when not a literal.
 */
export function parseCIntegerAt(src: string, start: number, end: number): number | bigint | undefined {
  // the suffix: at most one u and one l or ll, in either order
  let e = end;
  let us = 0;
  let ls = 0;
  while (e > start + 1) {
    const c = src.charCodeAt(e - 1) | 0x20;
    if (c === 117) us++;
    else if (c === 108) ls++;
    else break;
    e--;
  }
  if (us > 1 || ls > 2) return undefined;
  if (e < end) {
    const suffix = src.slice(e, end);
    if (!C_SUFFIXES.has(suffix.toLowerCase()) || /lL|Ll/.test(suffix)) return undefined;
  }
  const n = e - start;
  if (n <= 0) return undefined;
  const c0 = src.charCodeAt(start);
  const c1 = n > 1 ? src.charCodeAt(start + 1) | 0x20 : 0;
  let radix = 10;
  let from = start;
  if (c0 === 48 && c1 === 120) {
    radix = 16;
    from += 2;
  } else if (c0 === 48 && c1 === 98) {
    radix = 2;
    from += 2;
  } else if (c0 === 48 && n > 1) {
    radix = 8;
    from += 1;
  }
  if (from >= e) return undefined;
  let v = 0;
  for (let i = from; i < e; i++) {
    const c = src.charCodeAt(i);
    const l = c | 0x20;
    const d = c >= 48 && c <= 57 ? c - 48 : l >= 97 && l <= 102 ? l - 87 : 99;
    if (d >= radix) return undefined;
    v = v * radix + d;
  }
  if (v <= Number.MAX_SAFE_INTEGER) return v;
  let b = 0n;
  const r = BigInt(radix);
  for (let i = from; i < e; i++) {
    const c = src.charCodeAt(i);
    const l = c | 0x20;
    b = b * r + BigInt(c >= 48 && c <= 57 ? c - 48 : l - 87);
  }
  return b;
}
