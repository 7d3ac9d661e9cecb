/**
 * Kernel symbols from /proc/kallsyms: every symbol's address, sorted once, searched by binary
 * search; names are decoded from the file's bytes only for the symbols asked for. Addresses are
 * kept as float64 offsets from the bottom of the kernel's half of the address space (0xffff800000000000), which are exact (below 2^47), so a lookup from a stack
 * map's raw words needs no bigint.
 */
import { closeSync, fstatSync, openSync } from "node:fs";
import { InputError } from "../sys/error.js";
import { readInto, SortedKeys, symbolEngine, take } from "./wasm.js";

/** The lowest kernel address on x86-64 and arm64 (48-bit virtual addresses): the base of the offsets kept. */
export const KERNEL_BASE = 0xffff800000000000n;
const KERNEL_BASE_HI = 0xffff8000;
const TWO32 = 2 ** 32;

/** Whether `key` is in the range [start, end). */
function inRange(range: [number, number], key: number): boolean {
  return key >= range[0] && key < range[1];
}

/** One kernel symbol, as {@link KernelSymbols.at} finds it. */
export interface KernelSymbol {
  /** the symbol's name (`"do_sys_openat2"`) */
  name: string;
  /** its address */
  address: bigint;
  /** the module that holds it (`"ext4"`, `"bpf"` for BPF programs), or undefined for the kernel image */
  module: string | undefined;
}

/**
 * The kernel's symbols (from /proc/kallsyms, or a file in its format), for turning addresses into
 * names. Made once and reused: the file is read in one piece into the memory of a WebAssembly
 * engine (src/symbolize/wasm.ts), parsed and sorted there (addresses into a Float64Array, names
 * kept as places in the text and decoded when first asked for); a lookup is a binary search.
 */
export class KernelSymbols {
  /** address offsets from {@link KERNEL_BASE}, ascending, one per distinct address */
  readonly #keys: Float64Array;
  /** the keys with a bucket index over them */
  readonly #index: SortedKeys;
  /** where each symbol's name starts and ends in #text */
  readonly #nameStart: Uint32Array;
  readonly #nameEnd: Uint32Array;
  /** where each symbol's module name starts and ends in #text (equal: the kernel image) */
  readonly #modStart: Uint32Array;
  readonly #modEnd: Uint32Array;
  /** 1 for each symbol of the kernel image (no module): a byte each, for lookups */
  readonly #image: Uint8Array;
  /** names and modules decoded so far */
  readonly #names: (string | undefined)[];
  readonly #modules: (string | undefined)[];
  /** the engine's memory, which holds the file's text at #from */
  readonly #memory: Buffer;
  readonly #from: number;
  readonly #to: number;
  /** the file's text as one string, made on the first name asked for: each name is a substring of it (no copy) */
  #text: string | undefined;
  /** the file read */
  readonly path: string;
  /**
   * The key ranges [start, end) of the image where the kernel's own lookup names addresses
   * (kallsyms.c, is_ksym_addr): its text (_stext to _etext) and init text (_sinittext to
   * _einittext), or the whole image (_stext to _end) when the kernel lists its data symbols
   * (CONFIG_KALLSYMS_ALL). A file without _stext (not a kernel's) is not limited.
   */
  readonly #text1: [number, number];
  readonly #text2: [number, number];

  /** Reads `path` (default /proc/kallsyms; root sees real addresses, others zeros). */
  constructor(path = "/proc/kallsyms") {
    this.path = path;
    const e = symbolEngine();
    let text: { at: number; length: number };
    let fd = -1;
    try {
      fd = openSync(path, "r");
      // /proc/kallsyms says size 0: start with 4 MiB (less than most kernels list, so the growing is
      // exercised wherever it is read), doubled as needed
      text = readInto(e, fd, Math.max(fstatSync(fd).size + 1, 1 << 22), path);
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(
        `cannot read kernel symbols from ${path} (${(err as NodeJS.ErrnoException).code})`,
      );
    } finally {
      if (fd >= 0) closeSync(fd);
    }
    // a symbol line is at least 21 bytes: "ADDRESS(16) T N\n"
    const most = Math.floor(text.length / 21) + 1;
    const keys = take(e, most * 8, path);
    const nameStart = take(e, most * 4, path);
    const nameEnd = take(e, most * 4, path);
    const modStart = take(e, most * 4, path);
    const modEnd = take(e, most * 4, path);
    const types = take(e, most, path);
    const ranges = take(e, 48, path);
    const count = e.kallsyms(text.at, text.length, keys, nameStart, nameEnd, modStart, modEnd, types, ranges);
    // the kernel names an address of its image only in its text (all of the image when it lists its data too)
    const [stext, etext, sinit, einit, end, data] = new Float64Array(e.memory.buffer, ranges, 6);
    const mark = (x: number | undefined, none: number) => (x === undefined || x < 0 ? none : x);
    if (mark(stext, -1) < 0) {
      // no _stext (a file not from a kernel): nothing limits
      this.#text1 = [0, Number.POSITIVE_INFINITY];
      this.#text2 = [0, 0];
    } else if ((data as number) > 0) {
      this.#text1 = [stext as number, mark(end, Number.POSITIVE_INFINITY)];
      this.#text2 = [0, 0];
    } else {
      this.#text1 = [stext as number, mark(etext, Number.POSITIVE_INFINITY)];
      this.#text2 = [mark(sinit, 0), mark(einit, 0)];
    }
    if (count === 0 && e.zeros() > 0) {
      throw new InputError(
        `${path} shows every address as 0: reading kernel addresses needs root (CAP_SYSLOG) or kernel.kptr_restrict=0`,
      );
    }
    const order = e.stableOrder(keys, count, take(e, count * 4 + 4, path), take(e, count * 4 + 4, path));
    // one entry per address: the first code symbol listed there, else the first symbol
    const outKeys = take(e, count * 8 + 8, path);
    const outStart = take(e, count * 4 + 4, path);
    const outEnd = take(e, count * 4 + 4, path);
    const outModStart = take(e, count * 4 + 4, path);
    const outModEnd = take(e, count * 4 + 4, path);
    const outImage = take(e, count + 1, path);
    const kept = e.kernelUnique(
      count,
      order,
      keys,
      nameStart,
      nameEnd,
      modStart,
      modEnd,
      types,
      outKeys,
      outStart,
      outEnd,
      outModStart,
      outModEnd,
      outImage,
    );
    this.#index = new SortedKeys(e, outKeys, kept, path);
    // the memory grows no more: views of it stay valid
    const memory = e.memory.buffer;
    this.#keys = this.#index.keys;
    this.#nameStart = new Uint32Array(memory, outStart, kept);
    this.#nameEnd = new Uint32Array(memory, outEnd, kept);
    this.#modStart = new Uint32Array(memory, outModStart, kept);
    this.#modEnd = new Uint32Array(memory, outModEnd, kept);
    this.#image = new Uint8Array(memory, outImage, kept);
    this.#names = new Array(kept);
    this.#modules = new Array(kept);
    this.#memory = Buffer.from(memory);
    this.#from = text.at;
    this.#to = text.at + text.length;
  }

  /** How many distinct addresses have a symbol. */
  get size(): number {
    return this.#keys.length;
  }

  /**
   * The index of the symbol holding the kernel address whose high and low 32 bits are `hi` and
   * `lo`, as the kernel's own lookup finds it (what `%pS` prints): the nearest symbol at or below
   * it, the first listed at its address; an address of the kernel image only inside its text
   * (or, when the kernel lists its data symbols, inside the image). -1 when none (a user address,
   * below the first symbol, outside the image's text). No allocation.
   */
  indexOf(hi: number, lo: number): number {
    if (hi < KERNEL_BASE_HI) return -1;
    const key = (hi - KERNEL_BASE_HI) * TWO32 + lo;
    const i = this.#index.floor(key);
    if (i < 0 || this.#image[i] === 0) return i;
    return inRange(this.#text1, key) || inRange(this.#text2, key) ? i : -1;
  }

  /** The name of the symbol at index `i` of {@link KernelSymbols.indexOf}. */
  nameAt(i: number): string {
    let name = this.#names[i];
    if (name === undefined) {
      this.#text ??= this.#memory.toString("latin1", this.#from, this.#to);
      name = this.#text.slice(
        (this.#nameStart[i] as number) - this.#from,
        (this.#nameEnd[i] as number) - this.#from,
      );
      this.#names[i] = name;
    }
    return name;
  }

  /** The module of the symbol at index `i` (undefined for the kernel image). */
  moduleAt(i: number): string | undefined {
    const start = this.#modStart[i] as number;
    const end = this.#modEnd[i] as number;
    if (start === end) return undefined;
    let name = this.#modules[i];
    if (name === undefined) {
      this.#text ??= this.#memory.toString("latin1", this.#from, this.#to);
      name = this.#text.slice(start - this.#from, end - this.#from);
      this.#modules[i] = name;
    }
    return name;
  }

  /** The address of the symbol at index `i`. */
  addressAt(i: number): bigint {
    return KERNEL_BASE + BigInt(this.#keys[i] as number);
  }

  /** The symbol that holds kernel address `address` (as {@link KernelSymbols.indexOf} finds it), or undefined. */
  at(address: bigint): KernelSymbol | undefined {
    if (address < KERNEL_BASE || address > 0xffffffffffffffffn) return undefined;
    const i = this.indexOf(Number(address >> 32n), Number(address & 0xffffffffn));
    if (i < 0) return undefined;
    return { name: this.nameAt(i), address: this.addressAt(i), module: this.moduleAt(i) };
  }
}
