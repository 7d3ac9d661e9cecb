/**
 * The output of rawbpf's WebAssembly for BTF: written last in memory, after everything else, so
 * that it grows in place ({@link room}), up to a bound that malformed BTF cannot talk it past.
 */
import { checkString, ERR_TOO_BIG, fail, reach, S, SLEN, taken } from "./memory.as";

/** indentation stops at 13 tabs, as libbpf's btf_dump (bpftool) stops */
const MAX_TABS: i32 = 13;

/** the output: where it starts, the write position, the end of memory, the most it may reach */
let OUT: usize = 0;
let at: usize = 0;
let END: usize = 0;
let LIMIT: usize = 0;
let FRAME: u32 = 0;

/** Where the output starts (after a print): `head` bytes left for the caller first. */
export function outputAt(): usize {
  return OUT;
}

/**
 * Starts the output after all memory taken so far, leaving `head` bytes for the caller's opening
 * lines and `tail` for its closing ones; `blob` is the size of the blobs, which bounds the output
 * (64 times it, and 1 MiB more).
 */
export function startOutput(head: u32, tail: u32, blob: u32): void {
  FRAME = head + tail;
  OUT = taken();
  // in 64 bits, and at most the 4 GiB a 32-bit memory has (a blob past 64 MiB would wrap)
  const limit = <u64>OUT + <u64>64 * blob + (1 << 20) + FRAME;
  LIMIT = limit < 0xffffffff ? <usize>limit : 0xffffffff;
  END = OUT + <usize>blob + FRAME + 4096;
  if (END > LIMIT) END = LIMIT;
  reach(END);
  at = OUT + head;
}

/** Ends the output with room for the `tail` bytes; returns its length, head and tail included. */
export function endOutput(tail: u32): u32 {
  room(tail);
  return <u32>(at - OUT) + tail;
}

/** Makes room for `need` more bytes of output. */
export function room(need: usize): void {
  if (at + need <= END) return;
  if (at + need > LIMIT) fail(ERR_TOO_BIG, <f64>(LIMIT - OUT - FRAME), 0, -1);
  let size = END - OUT;
  if (size < need) size = need;
  let end = END + size;
  if (end > LIMIT) end = LIMIT;
  reach(end);
  END = (<usize>memory.size()) << 16;
  if (END > LIMIT) END = LIMIT;
}

/** Writes a word of the printers' own (ASCII). */
export function word(t: string): void {
  let p = changetype<usize>(t);
  const n = <usize>t.length;
  let a = at;
  const end = a + n;
  if (end + 3 > END) {
    room(n);
    for (let i: usize = 0; i < n; i++) store<u8>(a + i, load<u16>(p + (i << 1)));
    at = end;
    return;
  }
  // four characters at a time, the low bytes of four UTF-16 units (up to 3 bytes past the word
  // are written too: what comes next overwrites them)
  while (a < end) {
    const x = load<u64>(p);
    store<u32>(
      a,
      <u32>((x & 0xff) | ((x >> 8) & 0xff00) | ((x >> 16) & 0xff0000) | ((x >> 24) & 0xff000000)),
    );
    a += 4;
    p += 8;
  }
  at = end;
}

/** Writes the string at `off` (its bytes as they are). */
export function text(off: u32): void {
  if (off >= SLEN) checkString(off);
  let p = S + off;
  let a = at;
  // eight bytes at a time while there is room for them (the strings are followed by 8 zero
  // bytes): all of them are written, the ones up to the first NUL count
  while (a + 8 <= END) {
    const v = load<u64>(p);
    store<u64>(a, v);
    const zero = (v - 0x0101010101010101) & ~v & 0x8080808080808080;
    if (zero !== 0) {
      at = a + <usize>(ctz(zero) >> 3);
      return;
    }
    a += 8;
    p += 8;
  }
  for (let c = load<u8>(p); c !== 0; c = load<u8>(++p)) {
    if (a === END) {
      at = a;
      room(1);
    }
    store<u8>(a, c);
    a++;
  }
  at = a;
}

/** Writes a number. */
export function num(x: u64): void {
  if (at + 20 > END) room(20);
  let digits: usize = 1;
  for (let t = x; t >= 10; t /= 10) digits++;
  at += digits;
  let d = at;
  while (x >= 10) {
    const q = x / 10;
    store<u8>(--d, <u32>(48 + x - q * 10));
    x = q;
  }
  store<u8>(--d, <u32>(48 + x));
}

/** A new line and `level` tabs (13 at most). */
export function line(level: i32): void {
  if (level > MAX_TABS) level = MAX_TABS;
  const a = at;
  if (a + 16 > END) {
    room(1 + level);
    store<u8>(a, 10);
    for (let t = 1; t <= level; t++) store<u8>(a + t, 9);
  } else {
    // a new line and 15 tabs; the ones past `level` are overwritten by what comes next
    store<u64>(a, 0x090909090909090a);
    store<u64>(a, 0x0909090909090909, 8);
  }
  at = a + 1 + level;
}
