/**
 * rawbpf's WebAssembly for symbol tables, in AssemblyScript, compiled by scripts/build-wasm.mjs into
 * symbols.wasm.ts beside this file. Its glue is src/symbolize/wasm.ts; its users are the kernel's
 * symbols (/proc/kallsyms, src/symbolize/kernel.ts) and an ELF file's (src/symbolize/elf.ts).
 *
 * Why WebAssembly: a symboliser is often made for one profile, so its tables are read once, cold.
 * The work is a loop over 100,000+ entries (kallsyms lines, ELF symbols) and a sort; JavaScript
 * runs such a loop in the interpreter until the JIT has caught up, which on first use costs several
 * times the loop itself. WebAssembly is compiled before it runs.
 *
 * One fresh instance per table: the glue reads the file's bytes straight into this memory
 * ({@link take}), has them parsed and sorted here, and keeps views of the sorted arrays (and of
 * the names, decoded by the glue when asked for). An ELF table is parsed and sorted in a scratch
 * instance the process reuses ({@link reset}), and only what it keeps is copied to its own. Nothing
 * here allocates but {@link take}; memory only grows while the table is built.
 */

let top: usize = 0;

/** Takes `bytes` of memory after what is taken, 16-byte aligned; 0 when the memory cannot grow so far. */
export function take(bytes: u32): usize {
  if (top === 0) top = (__heap_base + 15) & ~(<usize>15);
  const at = top;
  const end = <u64>at + <u64>bytes + 15;
  if (end > 0xffffffff) return 0;
  const have = (<u64>memory.size()) << 16;
  if (end > have && memory.grow(<i32>((end - have + 0xffff) >> 16)) < 0) return 0;
  top = <usize>(end & ~(<u64>15));
  return at;
}

/** Gives back everything taken: the next {@link take} starts again at the bottom (a scratch instance reused for table after table). */
export function reset(): void {
  top = 0;
}

// ---- /proc/kallsyms ----

/** The lowest kernel address's high 32 bits (0xffff800000000000): keys are offsets from it. */
const KERNEL_BASE_HI: u32 = 0xffff8000;

/** The 8 hex digits at `p` as a number, or -1 when one is not a hex digit. */
function hex8(p: usize): i64 {
  let v: u32 = 0;
  for (let i: usize = 0; i < 8; i++) {
    const c = <u32>load<u8>(p + i);
    let d: u32 = c - 0x30;
    if (d >= 10) {
      d = (c | 0x20) - 0x61;
      if (d >= 6) return -1;
      d += 10;
    }
    v = (v << 4) | d;
  }
  return <i64>v;
}

/** Where the first newline at or after `p` is (before `end`), else `end`: 8 bytes at a time. */
function lineEnd(p: usize, end: usize): usize {
  while (p + 8 <= end) {
    const x = load<u64>(p) ^ 0x0a0a0a0a0a0a0a0a;
    const t = (x - 0x0101010101010101) & ~x & 0x8080808080808080;
    if (t !== 0) return p + <usize>(ctz(t) >> 3);
    p += 8;
  }
  while (p < end && load<u8>(p) !== 0x0a) p++;
  return p;
}

let zeroLines: u32 = 0;

/** How many lines the last {@link kallsyms} saw with address 0 (what a reader without CAP_SYSLOG gets). */
export function zeros(): u32 {
  return zeroLines;
}

/** Whether the `len` bytes at `at` are the name whose first 8 bytes (little-endian, zero-padded) are `lo` and next 2 `hi`. */
function nameIs(at: usize, len: usize, n: usize, lo: u64, hi: u32): bool {
  if (len !== n) return false;
  const mask: u64 = n >= 8 ? 0xffffffffffffffff : ((<u64>1) << ((<u64>n) << 3)) - 1;
  return (load<u64>(at) & mask) === lo && (n <= 8 || <u32>load<u16>(at + 8) === hi);
}

/**
 * Where the kernel image's text and init text start and end, and where the image ends, as keys:
 * the addresses of `_stext`, `_etext`, `_sinittext`, `_einittext` and `_end` (-1 when not
 * listed), and how many local data symbols (d, b, r) the image lists (many when the kernel has
 * CONFIG_KALLSYMS_ALL). Written by {@link kallsyms} to its `ranges` (6 f64).
 */
function imageMarks(at: usize, len: usize, key: f64, type: u32, ranges: usize): void {
  if (type === 0x64 || type === 0x62 || type === 0x72) {
    store<f64>(ranges + 40, load<f64>(ranges + 40) + 1);
    return;
  }
  if (load<u8>(at) !== 0x5f) return;
  let slot: i32 = -1;
  if (nameIs(at, len, 6, 0x74786574735f, 0)) slot = 0;
  else if (nameIs(at, len, 6, 0x74786574655f, 0)) slot = 1;
  else if (nameIs(at, len, 10, 0x657474696e69735f, 0x7478)) slot = 2;
  else if (nameIs(at, len, 10, 0x657474696e69655f, 0x7478)) slot = 3;
  else if (nameIs(at, len, 4, 0x646e655f, 0)) slot = 4;
  if (slot >= 0) store<f64>(ranges + ((<usize>slot) << 3), key);
}

/**
 * Parses the kallsyms text of `len` bytes at `text` ("ffffffff81000000 T _stext" a line, a
 * module's lines ending "\t[ext4]"): for each kernel-half address whose type is not a/A/U, in file
 * order, the key (offset from 0xffff800000000000, an exact double), where the name starts and ends
 * (memory addresses), where the module's name starts and ends (0, 0 for the kernel image), and the
 * type letter. The output arrays hold at least len / 21 + 1 entries (a line is at least 21 bytes).
 * Writes the image's marks to `ranges` (see {@link imageMarks}). Returns how many were written.
 */
export function kallsyms(
  text: usize,
  len: u32,
  keys: usize,
  nameStart: usize,
  nameEnd: usize,
  modStart: usize,
  modEnd: usize,
  types: usize,
  ranges: usize,
): u32 {
  const end = text + <usize>len;
  let count: u32 = 0;
  zeroLines = 0;
  for (let r: usize = 0; r < 5; r++) store<f64>(ranges + (r << 3), -1);
  store<f64>(ranges + 40, 0);
  for (let at = text; at < end; ) {
    const e = lineEnd(at, end);
    if (e - at > 19 && load<u8>(at + 16) === 0x20) {
      const hi = hex8(at);
      const lo = hex8(at + 8);
      const type = <u32>load<u8>(at + 17);
      if (hi === 0 && lo === 0) zeroLines++;
      else if (hi >= <i64>KERNEL_BASE_HI && lo >= 0 && type !== 0x61 && type !== 0x41 && type !== 0x55) {
        // a module's symbols end with "\t[module]"
        let tab: usize = 0;
        if (load<u8>(e - 1) === 0x5d) {
          for (let c = e - 1; c > at + 19; c--) {
            if (load<u8>(c) === 0x09) {
              tab = c;
              break;
            }
          }
        }
        let ms: usize = 0;
        let me: usize = 0;
        if (tab !== 0) {
          ms = tab + 1;
          me = e;
          while (ms < me && (load<u8>(ms) === 0x20 || load<u8>(ms) === 0x09)) ms++;
          while (me > ms) {
            const c = load<u8>(me - 1);
            if (c !== 0x20 && c !== 0x09 && c !== 0x0d) break;
            me--;
          }
          if (me - ms >= 2 && load<u8>(ms) === 0x5b && load<u8>(me - 1) === 0x5d) {
            ms++;
            me--;
          }
        }
        const k = <usize>count;
        const key = <f64>(<u32>hi - KERNEL_BASE_HI) * 4294967296.0 + <f64>lo;
        if (tab === 0) imageMarks(at + 19, e - at - 19, key, type, ranges);
        store<f64>(keys + (k << 3), key);
        store<u32>(nameStart + (k << 2), <u32>(at + 19));
        store<u32>(nameEnd + (k << 2), <u32>(tab !== 0 ? tab : e));
        store<u32>(modStart + (k << 2), <u32>ms);
        store<u32>(modEnd + (k << 2), <u32>me);
        store<u8>(types + k, <u8>type);
        count++;
      }
    }
    at = e + 1;
  }
  return count;
}

/**
 * The order of the `count` keys (f64) at `keys`, ascending and stable, written as u32 indices at
 * `order` (`other`: as much room again): a natural merge sort, one pass when the keys are in order
 * already (kallsyms lists the kernel image in order, then modules and BPF programs). Returns where
 * the order ended up: `order` or `other`.
 */
export function stableOrder(keys: usize, count: u32, order: usize, other: usize): usize {
  for (let i: u32 = 0; i < count; i++) store<u32>(order + ((<usize>i) << 2), i);
  let a = order;
  let b = other;
  let runs: u32 = 0;
  do {
    // one pass: merge each pair of ascending runs of a into b
    runs = 0;
    let i: u32 = 0;
    while (i < count) {
      let j: u32 = i + 1;
      while (j < count && keyAt(keys, a, j) >= keyAt(keys, a, j - 1)) j++;
      let k: u32 = j;
      if (j < count) {
        k = j + 1;
        while (k < count && keyAt(keys, a, k) >= keyAt(keys, a, k - 1)) k++;
      }
      runs++;
      if (i === 0 && j === count) return a; // one run: sorted
      let x = i;
      let y = j;
      let o = i;
      while (x < j && y < k) {
        if (keyAt(keys, a, y) < keyAt(keys, a, x)) {
          store<u32>(b + ((<usize>o) << 2), load<u32>(a + ((<usize>y) << 2)));
          y++;
        } else {
          store<u32>(b + ((<usize>o) << 2), load<u32>(a + ((<usize>x) << 2)));
          x++;
        }
        o++;
      }
      for (; x < j; x++, o++) store<u32>(b + ((<usize>o) << 2), load<u32>(a + ((<usize>x) << 2)));
      for (; y < k; y++, o++) store<u32>(b + ((<usize>o) << 2), load<u32>(a + ((<usize>y) << 2)));
      i = k;
    }
    const t = a;
    a = b;
    b = t;
  } while (runs > 1);
  return a;
}

/** The key of the `i`th index of `order`. */
function keyAt(keys: usize, order: usize, i: u32): f64 {
  return load<f64>(keys + ((<usize>load<u32>(order + ((<usize>i) << 2))) << 3));
}

/**
 * One kernel symbol per address, in the order `order` (from {@link stableOrder}): the first code
 * symbol (t T w W) listed at an address, else the first symbol. Writes the kept entries' key,
 * name and module places to the `out*` arrays, and to `outImage` a byte each, 1 for the kernel
 * image's symbols (no module); returns how many.
 */
export function kernelUnique(
  count: u32,
  order: usize,
  keys: usize,
  nameStart: usize,
  nameEnd: usize,
  modStart: usize,
  modEnd: usize,
  types: usize,
  outKeys: usize,
  outStart: usize,
  outEnd: usize,
  outModStart: usize,
  outModEnd: usize,
  outImage: usize,
): u32 {
  let kept: usize = 0;
  let lastText = false;
  for (let k: u32 = 0; k < count; k++) {
    const i = <usize>load<u32>(order + ((<usize>k) << 2));
    const key = load<f64>(keys + (i << 3));
    const t = <u32>load<u8>(types + i);
    const code = t === 0x74 || t === 0x54 || t === 0x77 || t === 0x57;
    let at = kept;
    if (kept > 0 && load<f64>(outKeys + ((kept - 1) << 3)) === key) {
      if (!code || lastText) continue;
      at = kept - 1; // a code symbol replaces the data symbol listed first at its address
    } else {
      kept++;
    }
    lastText = code;
    store<f64>(outKeys + (at << 3), key);
    store<u32>(outStart + (at << 2), load<u32>(nameStart + (i << 2)));
    store<u32>(outEnd + (at << 2), load<u32>(nameEnd + (i << 2)));
    store<u32>(outModStart + (at << 2), load<u32>(modStart + (i << 2)));
    store<u32>(outModEnd + (at << 2), load<u32>(modEnd + (i << 2)));
    store<u8>(outImage + at, load<u32>(modStart + (i << 2)) === load<u32>(modEnd + (i << 2)) ? 1 : 0);
  }
  return <u32>kept;
}

// ---- ELF symbol tables ----

const STT_NOTYPE: u32 = 0;
const STT_OBJECT: u32 = 1;
const STT_FUNC: u32 = 2;
const STT_GNU_IFUNC: u32 = 10;
/** SHN_LORESERVE: section indices from here on are not sections (SHN_ABS, SHN_COMMON, SHN_XINDEX...) */
const SHN_LORESERVE: u32 = 0xff00;
const EM_ARM: u32 = 40;
const EM_AARCH64: u32 = 183;
const EM_RISCV: u32 = 243;

/**
 * Whether the NUL-terminated name at `at` is a mapping symbol of machine `machine` (ARM's `$a`,
 * `$d`, `$t`; AArch64's and RISC-V's `$d`, `$x`; RISC-V's `.L0 ` label), which llvm-symbolizer
 * leaves out (ELFObjectFile::getSymbolFlags marks them SF_FormatSpecific). Reads at most 5 bytes
 * before `limit`.
 */
function mappingSymbol(at: usize, limit: usize, machine: u32): bool {
  if ((machine !== EM_ARM && machine !== EM_AARCH64 && machine !== EM_RISCV) || at + 2 > limit) return false;
  const c0 = <u32>load<u8>(at);
  const c1 = <u32>load<u8>(at + 1);
  if (machine === EM_ARM) return c0 === 0x24 && (c1 === 0x61 || c1 === 0x64 || c1 === 0x74);
  if (c0 === 0x24 && (c1 === 0x64 || c1 === 0x78)) return true;
  // RISC-V's ".L0 " exactly: ".L0 " and its NUL
  return (
    machine === EM_RISCV &&
    at + 5 <= limit &&
    c0 === 0x2e &&
    c1 === 0x4c &&
    load<u8>(at + 2) === 0x30 &&
    load<u8>(at + 3) === 0x20 &&
    load<u8>(at + 4) === 0
  );
}

/**
 * Appends the symbols llvm-symbolizer looks addresses up in (SymbolizableObjectFile::addSymbol),
 * of the `n` Elf64_Sym entries at `table` (the entry at `table` is skipped when `first` is 1: a
 * symbol table's null entry), to the arrays at `starts` (u64), `sizes` (f64) and `names` (u32:
 * `strBase` + st_name, where the string table is in the memory that keeps the names; names at or
 * past `strSize` are skipped), from index `count` on: the function (FUNC, IFUNC), object and
 * untyped (NOTYPE: assembly labels) symbols of a section that is loaded — `alloc` holds a byte
 * per section (`shnum` of them), 1 when the section has SHF_ALLOC — leaving out undefined and
 * absolute symbols and machine `machine`'s mapping symbols (whose names are read at `strings`, a
 * copy of the string table in this memory, for the machines that have them; 0 otherwise).
 * Returns the new count.
 */
export function elfSymbols(
  table: usize,
  n: u32,
  first: u32,
  strings: usize,
  strSize: u32,
  strBase: u32,
  alloc: usize,
  shnum: u32,
  machine: u32,
  starts: usize,
  sizes: usize,
  names: usize,
  count: u32,
): u32 {
  let c = <usize>count;
  const mapping = strings !== 0 && (machine === EM_ARM || machine === EM_AARCH64 || machine === EM_RISCV);
  const limit = strings + <usize>strSize;
  for (let i: u32 = first; i < n; i++) {
    const p = table + <usize>i * 24;
    const info = load<u32>(p + 4); // st_info, st_other, st_shndx
    const kind = info & 0xf;
    if (kind !== STT_FUNC && kind !== STT_GNU_IFUNC && kind !== STT_OBJECT && kind !== STT_NOTYPE) continue;
    const section = info >> 16;
    // SHN_UNDEF, the reserved indices, and sections that are not loaded
    if (section === 0 || section >= SHN_LORESERVE || section >= shnum) continue;
    if (load<u8>(alloc + <usize>section) === 0) continue;
    const name = load<u32>(p);
    if (name >= strSize) continue;
    if (mapping && mappingSymbol(strings + <usize>name, limit, machine)) continue;
    store<u64>(starts + (c << 3), load<u64>(p + 8));
    store<f64>(sizes + (c << 3), <f64>load<u64>(p + 16));
    store<u32>(names + (c << 2), strBase + name);
    c++;
  }
  return <u32>c;
}

/**
 * Sorts the `count` symbols (`starts` (u64, sorted in place), `sizes`, `names` from
 * {@link elfSymbols}) by address and keeps one per address as llvm-symbolizer does (a stable sort
 * by address and size, the last of each address kept): the largest, the later in the table on a
 * tie. A stable least-significant-digit radix sort of the addresses carrying each symbol's index:
 * as few passes as the largest address needs (at most 16 bits a digit), the keys and indices
 * ping-ponging between `starts`/`order` and `keys2`/`order2` (`count` u64 and u32 each), the
 * digits counted in one sweep into `counts` (4 × 64 Ki u32). Writes the kept starts and ends
 * (start + size) side by side to `outPairs` (f64 pairs) and the names to `outNames`; returns how
 * many.
 */
export function elfSort(
  count: u32,
  starts: usize,
  sizes: usize,
  names: usize,
  order: usize,
  keys2: usize,
  order2: usize,
  counts: usize,
  outPairs: usize,
  outNames: usize,
): u32 {
  let max: u64 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const v = load<u64>(starts + ((<usize>i) << 3));
    if (v > max) max = v;
    store<u32>(order + ((<usize>i) << 2), i);
  }
  const bits: u32 = max === 0 ? 1 : 64 - <u32>clz(max);
  const passes: u32 = (bits + 15) >> 4;
  const digit: u32 = (bits + passes - 1) / passes;
  const radix: usize = (<usize>1) << digit;
  const mask: u64 = <u64>radix - 1;
  memory.fill(counts, 0, (radix * <usize>passes) << 2);
  for (let k: u32 = 0; k < count; k++) {
    const v = load<u64>(starts + ((<usize>k) << 3));
    for (let p: u32 = 0; p < passes; p++) {
      const at = counts + ((<usize>p * radix + <usize>((v >> <u64>(p * digit)) & mask)) << 2);
      store<u32>(at, load<u32>(at) + 1);
    }
  }
  let ka = starts;
  let ia = order;
  let kb = keys2;
  let ib = order2;
  for (let p: u32 = 0; p < passes; p++) {
    const c = counts + ((<usize>p * radix) << 2);
    let sum: u32 = 0;
    for (let d: usize = 0; d < radix; d++) {
      const n = load<u32>(c + (d << 2));
      store<u32>(c + (d << 2), sum);
      sum += n;
    }
    const shift = <u64>(p * digit);
    for (let k: u32 = 0; k < count; k++) {
      const v = load<u64>(ka + ((<usize>k) << 3));
      const at = c + ((<usize>((v >> shift) & mask)) << 2);
      const to = <usize>load<u32>(at);
      store<u32>(at, <u32>to + 1);
      store<u64>(kb + (to << 3), v);
      store<u32>(ib + (to << 2), load<u32>(ia + ((<usize>k) << 2)));
    }
    let t = ka;
    ka = kb;
    kb = t;
    t = ia;
    ia = ib;
    ib = t;
  }
  let kept: usize = 0;
  for (let k: u32 = 0; k < count; ) {
    const start = load<u64>(ka + ((<usize>k) << 3));
    let best = <usize>load<u32>(ia + ((<usize>k) << 2));
    let bestSize = load<f64>(sizes + (best << 3));
    let j: u32 = k + 1;
    for (; j < count && load<u64>(ka + ((<usize>j) << 3)) === start; j++) {
      const i = <usize>load<u32>(ia + ((<usize>j) << 2));
      const size = load<f64>(sizes + (i << 3));
      // the order within one address is the table's (the sort is stable): the later wins a tie
      if (size >= bestSize) {
        best = i;
        bestSize = size;
      }
    }
    store<f64>(outPairs + (kept << 4), <f64>start);
    store<f64>(outPairs + (kept << 4) + 8, <f64>start + bestSize);
    store<u32>(outNames + (kept << 2), load<u32>(names + (best << 2)));
    kept++;
    k = j;
  }
  return <u32>kept;
}

/**
 * A bucket index over the `count` ascending keys (f64, each the first of `stride` numbers) at `keys`, for lookups that search a
 * bucket rather than the whole array: bucket b covers keys from `min` + b * `width` on, and
 * `out[b]` (u32, for b from 0 to `buckets`) is the index of the first key at or above its start.
 */
export function bucketIndex(
  keys: usize,
  count: u32,
  stride: u32,
  min: f64,
  width: f64,
  out: usize,
  buckets: u32,
): void {
  let k: u32 = 0;
  const step = (<usize>stride) << 3;
  for (let b: u32 = 0; b <= buckets; b++) {
    const start = min + <f64>b * width;
    while (k < count && load<f64>(keys + <usize>k * step) < start) k++;
    store<u32>(out + ((<usize>b) << 2), k);
  }
}
