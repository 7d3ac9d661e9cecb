/**
 * The BPF side of histograms: kernel-syntax assembly that computes a value's bpftrace bucket in a
 * register (to use as the key of a counts map), and reading such a map back as bucket counts.
 */
import type { AnyCodec } from "../codec/index.js";
import type { BpfMap } from "../map/map.js";
import { InputError } from "../sys/error.js";

const REG = /^r[0-9]$/;
let labels = 0;

function regs(...names: string[]): void {
  for (const r of names)
    if (!REG.test(r)) throw new InputError(`a register is r0 to r9, got ${JSON.stringify(r)}`);
  if (new Set(names).size !== names.length)
    throw new InputError(`the registers must differ, got ${names.join(", ")}`);
}

/**
 * Assembly (for `asm`) that sets `dst` to the bpftrace log2 bucket of the signed 64-bit value in
 * `src` (0 for negatives, 1 for 0, floor(log2(v)) + 2 above; {@link log2Bucket} in TypeScript),
 * using `tmp` and `scratch` (all four registers distinct; `src` is left as it was).
 */
export function log2BucketAsm(src: string, dst: string, tmp: string, scratch: string): string {
  regs(src, dst, tmp, scratch);
  const L = `__log2_${labels++}`;
  const lines = [
    `${dst} = 0`,
    `if ${src} s< 0 goto ${L}_done`,
    `${dst} = 1`,
    `if ${src} == 0 goto ${L}_done`,
    `${dst} = 2`,
    `${tmp} = ${src}`,
  ];
  for (const shift of [32, 16, 8, 4, 2, 1]) {
    lines.push(
      `${scratch} = ${tmp}`,
      `${scratch} >>= ${shift}`,
      `if ${scratch} == 0 goto ${L}_${shift}`,
      `${tmp} = ${scratch}`,
      `${dst} += ${shift}`,
      `${L}_${shift}:`,
    );
  }
  lines.push(`${L}_done:`);
  return lines.join("\n");
}

/**
 * Assembly that sets `dst` to the bpftrace linear bucket of the signed value in `src` for
 * `lhist(v, min, max, step)` ({@link linearBucket} in TypeScript), `src` left as it was.
 */
export function linearBucketAsm(
  src: string,
  dst: string,
  bounds: { min: number; max: number; step: number },
): string {
  regs(src, dst);
  const { min, max, step } = bounds;
  if (
    ![min, max, step].every((n) => Number.isSafeInteger(n) && Math.abs(n) < 2 ** 31) ||
    step <= 0 ||
    max <= min
  )
    throw new InputError("linear bounds are 32-bit integers with min < max and step > 0");
  const buckets = Math.floor((max - min) / step);
  const L = `__lin_${labels++}`;
  return [
    `${dst} = 0`,
    `if ${src} s< ${min} goto ${L}_done`,
    `${dst} = ${buckets + 1}`,
    `if ${src} s>= ${max} goto ${L}_done`,
    `${dst} = ${src}`,
    `${dst} -= ${min}`,
    `${dst} /= ${step}`,
    `${dst} += 1`,
    `${L}_done:`,
  ].join("\n");
}

/**
 * The bucket counts of a map whose keys are bucket indexes (u32 or u64) and whose values are u64
 * counts (per-CPU values summed), as an array indexed by bucket (missing buckets 0).
 */
export function histogramCounts(map: BpfMap<AnyCodec, AnyCodec>): bigint[] {
  const out: bigint[] = [];
  for (const [k, v] of map.entries()) {
    const index = Number(typeof k === "bigint" || typeof k === "number" ? k : readIndex(k as Uint8Array));
    const count = sum(v);
    if (!Number.isSafeInteger(index) || index < 0 || index > 1 << 20)
      throw new InputError(`a histogram map's key is a bucket index, got ${String(index)}`);
    while (out.length <= index) out.push(0n);
    out[index] = (out[index] as bigint) + count;
  }
  return out;
}

function readIndex(b: Uint8Array): bigint {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.byteLength === 4) return BigInt(v.getUint32(0, true));
  if (b.byteLength === 8) return v.getBigUint64(0, true);
  throw new InputError(`a histogram map's key is a u32 or u64 bucket index, got ${b.byteLength} bytes`);
}

function sum(v: unknown): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number") return BigInt(v);
  if (Array.isArray(v)) return v.reduce((a: bigint, x) => a + sum(x), 0n);
  if (v instanceof Uint8Array) {
    const d = new DataView(v.buffer, v.byteOffset, v.byteLength);
    let s = 0n;
    for (let at = 0; at + 8 <= v.byteLength; at += 8) s += d.getBigUint64(at, true);
    return s;
  }
  throw new InputError(`a histogram map's value is a u64 count, got ${typeof v}`);
}
