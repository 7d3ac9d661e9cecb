/**
 * Kernel symbols from /proc/kallsyms: every symbol's address, sorted once, searched by binary
 * search. Addresses are kept as float64 offsets from the bottom of the kernel's half of the
 * address space (0xffff800000000000), which are exact (below 2^47), so a lookup from a stack
 * map's raw words needs no bigint.
 */
import { readFileSync } from "node:fs";
import { InputError } from "../sys/error.js";

/** The lowest kernel address on x86-64 and arm64 (48-bit virtual addresses): the base of the offsets kept. */
export const KERNEL_BASE = 0xffff800000000000n;
const KERNEL_BASE_HI = 0xffff8000;
const TWO32 = 2 ** 32;

/** One kernel symbol, as {@link KernelSymbols.at} finds it. */
export interface KernelSymbol {
  /** the symbol's name (`"do_sys_openat2"`) */
  name: string;
  /** its address */
  address: bigint;
  /** the module that holds it (`"ext4"`, `"bpf"` for BPF programs), or undefined for the kernel image */
  module: string | undefined;
}

/** kallsyms type letters of code: preferred when several symbols share an address. */
function isText(type: number): boolean {
  return type === 0x74 || type === 0x54 || type === 0x77 || type === 0x57; // t T w W
}

/**
 * The kernel's symbols (from /proc/kallsyms, or a file in its format), for turning addresses into
 * names. Made once and reused: a lookup is a binary search over a Float64Array.
 */
export class KernelSymbols {
  /** address offsets from {@link KERNEL_BASE}, ascending, one per distinct address */
  readonly #keys: Float64Array;
  readonly #names: string[];
  readonly #modules: (string | undefined)[];
  /** the file read */
  readonly path: string;

  /** Reads `path` (default /proc/kallsyms; root sees real addresses, others zeros). */
  constructor(path = "/proc/kallsyms") {
    this.path = path;
    let text: string;
    try {
      text = readFileSync(path, "latin1");
    } catch (e) {
      throw new InputError(`cannot read kernel symbols from ${path} (${(e as NodeJS.ErrnoException).code})`);
    }
    const keys: number[] = [];
    const names: string[] = [];
    const modules: (string | undefined)[] = [];
    const types: number[] = [];
    let zeros = 0;
    let sorted = true;
    for (let at = 0; at < text.length; ) {
      let end = text.indexOf("\n", at);
      if (end < 0) end = text.length;
      // "ffffffff81000000 T _stext" or "ffffffffc0a01000 t ext4_fill_super\t[ext4]"
      if (end - at > 19 && text.charCodeAt(at + 16) === 0x20) {
        const hi = Number.parseInt(text.slice(at, at + 8), 16);
        const lo = Number.parseInt(text.slice(at + 8, at + 16), 16);
        const type = text.charCodeAt(at + 17);
        if (hi === 0 && lo === 0) zeros++;
        else if (hi >= KERNEL_BASE_HI && type !== 0x61 && type !== 0x41 && type !== 0x55) {
          // a module's symbols end with "\t[module]" (a bounded search: most lines have no tab)
          let tab = -1;
          for (let c = end - 1; c > at + 19; c--) {
            if (text.charCodeAt(c) === 0x09) {
              tab = c;
              break;
            }
            if (text.charCodeAt(c) !== 0x5d && tab === -1 && c === end - 1) break; // no "]" at the end
          }
          const nameEnd = tab < 0 ? end : tab;
          let mod: string | undefined;
          if (tab >= 0) {
            const m = text.slice(tab + 1, end).trim();
            mod = m.startsWith("[") && m.endsWith("]") ? m.slice(1, -1) : m;
          }
          const key = (hi - KERNEL_BASE_HI) * TWO32 + lo;
          if (keys.length > 0 && key < (keys[keys.length - 1] as number)) sorted = false;
          keys.push(key);
          names.push(text.slice(at + 19, nameEnd));
          modules.push(mod);
          types.push(type);
        }
      }
      at = end + 1;
    }
    if (keys.length === 0 && zeros > 0) {
      throw new InputError(
        `${path} shows every address as 0: reading kernel addresses needs root (CAP_SYSLOG) or kernel.kptr_restrict=0`,
      );
    }
    let order = Array.from(keys.keys());
    if (!sorted) order.sort((a, b) => (keys[a] as number) - (keys[b] as number) || a - b);
    // one entry per address: the first code symbol listed there, else the first symbol
    const outKeys: number[] = [];
    const outNames: string[] = [];
    const outModules: (string | undefined)[] = [];
    let lastText = false;
    for (const i of order) {
      const k = keys[i] as number;
      const text = isText(types[i] as number);
      if (outKeys.length > 0 && outKeys[outKeys.length - 1] === k) {
        if (text && !lastText) {
          outNames[outNames.length - 1] = names[i] as string;
          outModules[outModules.length - 1] = modules[i];
          lastText = true;
        }
        continue;
      }
      outKeys.push(k);
      outNames.push(names[i] as string);
      outModules.push(modules[i]);
      lastText = text;
    }
    order = [];
    this.#keys = Float64Array.from(outKeys);
    this.#names = outNames;
    this.#modules = outModules;
  }

  /** How many distinct addresses have a symbol. */
  get size(): number {
    return this.#keys.length;
  }

  /**
   * The index of the symbol at or below the kernel address whose high and low 32 bits are `hi`
   * and `lo`, or -1 (a user address, or below the first symbol). No allocation.
   */
  indexOf(hi: number, lo: number): number {
    if (hi < KERNEL_BASE_HI) return -1;
    const key = (hi - KERNEL_BASE_HI) * TWO32 + lo;
    const keys = this.#keys;
    let a = 0;
    let b = keys.length - 1;
    if (b < 0 || key < (keys[0] as number)) return -1;
    while (a < b) {
      const m = (a + b + 1) >>> 1;
      if ((keys[m] as number) <= key) a = m;
      else b = m - 1;
    }
    return a;
  }

  /** The name of the symbol at index `i` of {@link KernelSymbols.indexOf}. */
  nameAt(i: number): string {
    return this.#names[i] as string;
  }

  /** The module of the symbol at index `i` (undefined for the kernel image). */
  moduleAt(i: number): string | undefined {
    return this.#modules[i];
  }

  /** The address of the symbol at index `i`. */
  addressAt(i: number): bigint {
    return KERNEL_BASE + BigInt(this.#keys[i] as number);
  }

  /** The symbol that holds kernel address `address` (the nearest at or below it), or undefined. */
  at(address: bigint): KernelSymbol | undefined {
    if (address < KERNEL_BASE || address > 0xffffffffffffffffn) return undefined;
    const i = this.indexOf(Number(address >> 32n), Number(address & 0xffffffffn));
    if (i < 0) return undefined;
    return { name: this.nameAt(i), address: this.addressAt(i), module: this.moduleAt(i) };
  }
}
