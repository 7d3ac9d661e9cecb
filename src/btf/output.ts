/**
 * A growable byte sink for printers: strings are copied in as they come (ASCII fast path, UTF-8
 * otherwise), so a big output is one buffer instead of millions of small strings to collect.
 */
const utf8 = new TextEncoder();

export class Output {
  private buf: Uint8Array;
  private at = 0;

  constructor(
    initial = 1 << 16,
    private readonly limit = Number.POSITIVE_INFINITY,
    private readonly onLimit: () => Error = () => new RangeError("output too large"),
  ) {
    this.buf = new Uint8Array(initial);
  }

  private grow(need: number): void {
    if (this.at + need > this.limit) throw this.onLimit();
    let size = this.buf.length * 2;
    while (size < this.at + need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }

  /** Appends a string. */
  put(s: string): void {
    const n = s.length;
    if (this.at + n * 3 > this.buf.length) this.grow(n * 3);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.at = at + utf8.encodeInto(s.slice(i), buf.subarray(at)).written;
        return;
      }
      buf[at++] = c;
    }
    this.at = at;
  }

  /** Appends a non-negative integer. */
  putNumber(x: number): void {
    this.put(String(x));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at;
  }

  /** The output as bytes (a view, valid until the next put). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }

  /** The output as a string. */
  text(): string {
    const b = this.buf;
    return Buffer.from(b.buffer, b.byteOffset, this.at).toString("utf8");
  }
}
