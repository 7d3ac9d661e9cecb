import { BtfError } from "./errors.js";

/** Looks strings up in an existing (base) string table. */
export interface StringSource {
  /** offset of `s` in the table, or undefined */
  stringOffset(s: string): number | undefined;
  /** the first offset past the table (where a split table starts) */
  readonly stringsEnd: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/**
 * A deduplicated BTF string table: each distinct string is stored once, offset 0 is "".
 * It can start from the bytes of an existing table (so offsets already in use stay valid) and,
 * for split BTF, from a base table whose strings are reused instead of copied.
 */
export class StringTable {
  private readonly offsets = new Map<string, number>();
  private chunks: Uint8Array[] = [];
  private size = 0;
  private readonly start: number;

  constructor(options: { seed?: Uint8Array; base?: StringSource } = {}) {
    this.base = options.base;
    this.start = options.base ? options.base.stringsEnd : 0;
    const seed = options.seed;
    if (seed && seed.length > 0) {
      if ((!options.base && seed[0] !== 0) || seed[seed.length - 1] !== 0) {
        throw new BtfError("a string table must start (unless split) and end with a NUL byte");
      }
      this.chunks.push(seed);
      this.size = seed.length;
      let at = 0;
      while (at < seed.length) {
        const end = seed.indexOf(0, at);
        const s = decoder.decode(seed.subarray(at, end));
        if (!this.offsets.has(s)) this.offsets.set(s, this.start + at);
        at = end + 1;
      }
    } else if (!options.base) {
      this.add("");
    }
  }

  private readonly base: StringSource | undefined;

  /** The offset of `s`, adding it if it is not there yet. */
  add(s: string): number {
    if (s === "" && !this.offsets.has("")) {
      // split BTF: "" is offset 0 of the base table
      if (this.base) return 0;
    }
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    if (this.base) {
      const inBase = this.base.stringOffset(s);
      if (inBase !== undefined) return inBase;
    }
    const bytes = encoder.encode(s);
    if (bytes.includes(0)) throw new BtfError(`the name ${JSON.stringify(s)} contains a NUL character`);
    const off = this.start + this.size;
    const chunk = new Uint8Array(bytes.length + 1);
    chunk.set(bytes);
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.offsets.set(s, off);
    return off;
  }

  /** Length of this table in bytes (not counting a base). */
  get length(): number {
    return this.size;
  }

  /** The table's bytes. */
  bytes(): Uint8Array {
    if (this.chunks.length !== 1) {
      const all = new Uint8Array(this.size);
      let at = 0;
      for (const c of this.chunks) {
        all.set(c, at);
        at += c.length;
      }
      this.chunks = [all];
    }
    return this.chunks[0] ?? new Uint8Array(0);
  }
}
