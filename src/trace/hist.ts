/**
 * Histograms and counts printed as bpftrace prints `hist()`, `lhist()` and `count()` maps, pure.
 * The buckets are bpftrace's: log2 bucket 0 holds negative values, 1 holds 0, and i >= 2 holds
 * [2^(i-2), 2^(i-1)); linear bucket 0 holds values below `min`, i holds
 * [min + (i-1)·step, min + i·step), and the last (`(max-min)/step + 1`) holds `max` and above.
 *
 * The text is bpftrace 0.17's (Debian 12's, the one test/trace compares with on this machine):
 * `@name: ` then one row per bucket from the first non-empty to the last, each a 16-column
 * left-aligned label, an 8-column count and a 52-column bar of `@`, then an empty line. bpftrace
 * 0.21 and later differ in two details: no space after `@name:`, and a linear bucket holding one
 * value printed `[3]` rather than `[3, 4)`.
 */
import { InputError } from "../sys/error.js";

/** The bpftrace log2 bucket of `value`: 0 for negatives, 1 for 0, floor(log2(value)) + 2 above. */
export function log2Bucket(value: bigint | number): number {
  const v = BigInt(value);
  if (v < 0n) return 0;
  if (v === 0n) return 1;
  return v.toString(2).length + 1;
}

/** Linear histogram bounds (bpftrace's `lhist(value, min, max, step)`). */
export interface LinearBounds {
  min: number;
  max: number;
  step: number;
}

function checkBounds(b: LinearBounds): number {
  const { min, max, step } = b ?? ({} as LinearBounds);
  if (![min, max, step].every(Number.isSafeInteger) || step <= 0 || max <= min)
    throw new InputError(
      `linear histogram bounds are integers with min < max and step > 0, got min ${String(min)}, max ${String(max)}, step ${String(step)}`,
    );
  return Math.floor((max - min) / step);
}

/** The bpftrace lhist bucket of `value`: 0 below min, (value - min) / step + 1 inside, the last at max and above. */
export function linearBucket(value: bigint | number, bounds: LinearBounds): number {
  const buckets = checkBounds(bounds);
  const v = Number(value);
  if (v < bounds.min) return 0;
  if (v >= bounds.max) return buckets + 1;
  return Math.floor((v - bounds.min) / bounds.step) + 1;
}

/** bpftrace's label of 2^power: 1K for 2^10, 1M, 1G, 1T. */
function powerLabel(power: number): string {
  const suffixes = ["", "K", "M", "G", "T"];
  const decade = Math.min(4, Math.floor(power / 10));
  return `${2 ** (power - 10 * decade)}${suffixes[decade]}`;
}

/** bpftrace's label of a linear bound: 0, a multiple of 1M as nM, of 1K as nK, else the number. */
function linearLabel(n: number): string {
  if (n === 0) return "0";
  if (n % 1048576 === 0) return `${n / 1048576}M`;
  if (n % 1024 === 0) return `${n / 1024}K`;
  return String(n);
}

function counts(values: readonly (bigint | number)[]): bigint[] {
  if (!Array.isArray(values)) throw new InputError("histogram counts are an array, one count per bucket");
  return values.map((v, i) => {
    const c = typeof v === "bigint" ? v : Number.isSafeInteger(v) ? BigInt(v) : Number.NaN;
    if (typeof c !== "bigint" || c < 0n)
      throw new InputError(`bucket ${i}'s count must be a non-negative integer, got ${String(v)}`);
    return c;
  });
}

/** The rows of buckets first..last, each label given, with bars scaled to `max` as bpftrace does (32-bit float). */
function rows(values: bigint[], label: (i: number) => string): string {
  let first = -1;
  let last = -1;
  let max = 0n;
  values.forEach((v, i) => {
    if (v > 0n) {
      if (first === -1) first = i;
      last = i;
    }
    if (v > max) max = v;
  });
  if (first === -1) return "";
  let out = "";
  const maxF = Math.fround(Number(max));
  for (let i = first; i <= last; i++) {
    const v = values[i] as bigint;
    const width = Math.trunc(Math.fround(Math.fround(Math.fround(Number(v)) / maxF) * 52));
    out += `${label(i).padEnd(16)}${String(v).padStart(8)} |${"@".repeat(width).padEnd(52)}|\n`;
  }
  return out;
}

/**
 * The rows of a log2 histogram (one count per bpftrace bucket, index as {@link log2Bucket} gives),
 * as bpftrace prints them: `[4, 8)                 3 |@@@...|`. Empty when every count is 0.
 */
export function formatHist(values: readonly (bigint | number)[]): string {
  return rows(counts(values), (i) =>
    i === 0 ? "(..., 0)" : i === 1 ? "[0]" : i === 2 ? "[1]" : `[${powerLabel(i - 2)}, ${powerLabel(i - 1)})`,
  );
}

/** The rows of a linear histogram (one count per {@link linearBucket} index), as bpftrace prints them. */
export function formatLinearHist(values: readonly (bigint | number)[], bounds: LinearBounds): string {
  const buckets = checkBounds(bounds);
  const { min, max, step } = bounds;
  return rows(counts(values), (i) =>
    i === 0
      ? `(..., ${linearLabel(min)})`
      : i === buckets + 1
        ? `[${linearLabel(max)}, ...)`
        : `[${linearLabel((i - 1) * step + min)}, ${linearLabel(i * step + min)})`,
  );
}

/** A histogram for {@link printHistMap}: log2 by default, linear with `bounds`. */
export interface HistEntry {
  /** the map key it is printed under (`@name[key]`), none for a scalar histogram */
  key?: string;
  counts: readonly (bigint | number)[];
}

/**
 * A histogram map printed as bpftrace prints it at exit: for each entry (fewest counts first,
 * as bpftrace sorts them), `@name[key]: ` (or `@name: `), its rows, an empty line.
 */
export function printHistMap(name: string, entries: readonly HistEntry[], bounds?: LinearBounds): string {
  const total = (e: HistEntry) => counts(e.counts).reduce((a, b) => a + b, 0n);
  const sorted = [...entries].sort((a, b) => {
    const d = total(a) - total(b);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  });
  let out = "";
  for (const e of sorted) {
    out += `@${name}${e.key === undefined ? "" : `[${e.key}]`}: \n`;
    out += bounds === undefined ? formatHist(e.counts) : formatLinearHist(e.counts, bounds);
    out += "\n";
  }
  return out;
}

/**
 * A count map printed as bpftrace prints it: `@name[key]: value` lines, smallest value first
 * (ties in key order).
 */
export function printCounts(
  name: string,
  entries: Iterable<readonly [string | number | bigint, bigint | number]>,
): string {
  const list = [...entries].map(([k, v]) => [String(k), BigInt(v)] as const);
  list.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return list.map(([k, v]) => `@${name}[${k}]: ${v}\n`).join("");
}

/** Options of {@link countTable}. */
export interface CountTableOptions {
  /** only the `top` largest counts */
  top?: number;
  /** the column headers (default "KEY", "COUNT") */
  headers?: readonly [string, string];
}

/**
 * Counts as a table, largest first (ties in key order): a header line, then one line per key with
 * the key left-aligned and the count right-aligned, columns as wide as their widest cell.
 */
export function countTable(
  entries: Iterable<readonly [string | number | bigint, bigint | number]>,
  options: CountTableOptions = {},
): string {
  const [kh, vh] = options.headers ?? ["KEY", "COUNT"];
  let list = [...entries].map(([k, v]) => [String(k), BigInt(v)] as const);
  list.sort((a, b) => (a[1] > b[1] ? -1 : a[1] < b[1] ? 1 : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (options.top !== undefined) {
    if (!Number.isSafeInteger(options.top) || options.top < 0)
      throw new InputError(`top is a count of rows, got ${options.top}`);
    list = list.slice(0, options.top);
  }
  const kw = Math.max(kh.length, ...list.map(([k]) => k.length));
  const vw = Math.max(vh.length, ...list.map(([, v]) => String(v).length));
  return [
    `${kh.padEnd(kw)}  ${vh.padStart(vw)}`,
    ...list.map(([k, v]) => `${k.padEnd(kw)}  ${String(v).padStart(vw)}`),
  ]
    .map((l) => `${l}\n`)
    .join("");
}
