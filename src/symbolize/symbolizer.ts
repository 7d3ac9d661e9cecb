/**
 * `Symbolizer`: stack addresses to function names. Kernel addresses through /proc/kallsyms,
 * user addresses through the process's mappings (/proc/PID/maps) and the ELF symbols of the
 * mapped files. Each file is read once and kept; each lookup is a binary search.
 */
import { basename } from "node:path";
import { InputError } from "../sys/error.js";
import { ElfSymbols } from "./elf.js";
import { KernelSymbols } from "./kernel.js";
import {
  mappingOf,
  type PerfMap,
  type ProcessMaps,
  perfMapIndex,
  readPerfMap,
  readProcessMaps,
} from "./maps.js";

/** One symbolised frame. */
export interface Frame {
  /** the address looked up */
  address: bigint;
  /** the function's name, or undefined when no symbol holds the address */
  symbol: string | undefined;
  /** bytes from the symbol's start to the address */
  offset: number | undefined;
  /**
   * Where the address is: the mapped file's path for user addresses (`/usr/lib/x86_64-linux-gnu/libc.so.6`),
   * a pseudo mapping (`[vdso]`, `[anon]`), `[kernel]` or a module's name in brackets (`[ext4]`),
   * or `[unknown]` when nothing maps it
   */
  module: string;
  /** whether the address is the kernel's */
  kernel: boolean;
}

/** Options of {@link Symbolizer}. */
export interface SymbolizerOptions {
  /** the kernel symbol file (default /proc/kallsyms) */
  kallsyms?: string;
  /**
   * read a stripped file's symbols from its separate debug file (/usr/lib/debug/.build-id/...,
   * by build id) when one is installed (default true)
   */
  debugFiles?: boolean;
}

interface ProcessEntry {
  maps: ProcessMaps;
  /** the symbol table of each mapping's file, filled on first use (null: a pseudo mapping) */
  tables: (ElfSymbols | null | undefined)[];
  /** the name used for an address of each mapping that no symbol holds: `[libc.so.6]` */
  unknown: (string | undefined)[];
  /** the JIT's symbols (/tmp/perf-PID.map), read on first use; null when there is none */
  jit: PerfMap | null | undefined;
  /**
   * for each mapping, what turns its addresses into its file's virtual addresses (one addition),
   * and the address up to which that holds (the end of the file's segment it starts in; beyond,
   * the segments are searched)
   */
  bias: Float64Array;
  biasEnd: Float64Array;
  /** whether `bias` is known, for each mapping */
  biased: Uint8Array;
  /** the mapping found last (frames of one stack are mostly of one file) */
  last: number;
}

const TWO32 = 2 ** 32;

/**
 * Turns stack addresses into function names: kernel addresses (at or above 0xffff800000000000)
 * through /proc/kallsyms, user addresses of process `pid` through its mappings and the ELF
 * symbols (.symtab, .dynsym) of the mapped files. Tables are read on first use and cached (per
 * file for ELF, per process for mappings: call {@link Symbolizer.forget} when a process may
 * have mapped new files). Usable for the stack ids of any program (a `stack_trace` map's values).
 *
 * @example
 * ```ts
 * const symbolizer = new Symbolizer();
 * symbolizer.stack(stackMap.get(id)!, pid); // ["__libc_write", "uv__fs_write", ..., "main"]
 * ```
 */
export class Symbolizer {
  readonly #kallsyms: string;
  readonly #debugFiles: boolean;
  #kernel: KernelSymbols | undefined;
  readonly #files = new Map<string, ElfSymbols>();
  readonly #processes = new Map<number, ProcessEntry | null>();
  /** the process looked up last, and its entry (frames of one stack are of one process) */
  #lastPid = -1;
  #lastEntry: ProcessEntry | null = null;

  /** A symbolizer with empty caches. */
  constructor(options: SymbolizerOptions = {}) {
    this.#kallsyms = options.kallsyms ?? "/proc/kallsyms";
    this.#debugFiles = options.debugFiles ?? true;
  }

  /** The kernel's symbols, read on first use. */
  get kernel(): KernelSymbols {
    this.#kernel ??= new KernelSymbols(this.#kallsyms);
    return this.#kernel;
  }

  /** The function symbols of the ELF file at `path`, read once. */
  file(path: string): ElfSymbols {
    let t = this.#files.get(path);
    if (t === undefined) {
      t = new ElfSymbols(path, this.#debugFiles);
      this.#files.set(path, t);
    }
    return t;
  }

  /** Drops what is cached about process `pid`'s mappings (not the files' symbols), or about every process. */
  forget(pid?: number): void {
    if (pid === undefined) this.#processes.clear();
    else this.#processes.delete(pid);
    this.#lastPid = -1;
  }

  /**
   * Reads process `pid`'s mappings now (unless already known), so that its addresses can be named
   * after it has exited: a profiler calls this for each process it sees while sampling.
   */
  remember(pid: number): void {
    if (!this.#processes.get(pid)) this.#processes.delete(pid);
    this.#lastPid = -1;
    this.#process(pid);
  }

  #process(pid: number): ProcessEntry | null {
    if (pid === this.#lastPid) return this.#lastEntry;
    let p = this.#processes.get(pid);
    if (p === undefined) {
      const maps = pid > 0 ? readProcessMaps(pid) : undefined;
      p = maps
        ? {
            maps,
            tables: new Array(maps.paths.length),
            unknown: new Array(maps.paths.length),
            jit: undefined,
            bias: new Float64Array(maps.paths.length),
            biasEnd: new Float64Array(maps.paths.length),
            biased: new Uint8Array(maps.paths.length),
            last: 0,
          }
        : null;
      this.#processes.set(pid, p);
    }
    this.#lastPid = pid;
    this.#lastEntry = p;
    return p;
  }

  /**
   * The name of the frame at the address whose high and low 32 bits are `hi` and `lo`, in
   * process `pid` (for user addresses): the function, else `[file]` (the mapped file's base
   * name), `[kernel]` or `[unknown]`. Code no file maps (a JIT's) is named from
   * /tmp/perf-PID.map when the process writes one (`node --perf-basic-prof`). Strings are
   * cached: no allocation once warm.
   */
  nameOf(hi: number, lo: number, pid: number): string {
    if (hi >= 0xffff8000) {
      const i = this.kernel.indexOf(hi, lo);
      return i < 0 ? "[kernel]" : this.kernel.nameAt(i);
    }
    const p = this.#process(pid);
    if (p === null) return "[unknown]";
    const address = hi * TWO32 + lo;
    const { starts, ends } = p.maps;
    let m = p.last;
    if (!(address >= (starts[m] as number) && address < (ends[m] as number))) {
      m = mappingOf(p.maps, address);
      if (m < 0) return this.#jitName(p, pid, address) ?? "[unknown]";
      p.last = m;
    }
    let table = p.tables[m];
    if (table === undefined) {
      const path = p.maps.paths[m] as string;
      table = path.startsWith("/") ? this.file(path) : null;
      p.tables[m] = table;
    }
    if (table === null) {
      const jit = this.#jitName(p, pid, address);
      if (jit !== undefined) return jit;
    } else {
      if (p.biased[m] === 0) {
        const offset = p.maps.offsets[m] as number;
        const start = starts[m] as number;
        const seg = table.segmentAt(offset);
        p.bias[m] = seg === undefined ? 0 : seg.delta + offset - start;
        p.biasEnd[m] = seg === undefined ? 0 : start + seg.end - offset;
        p.biased[m] = 1;
      }
      const vaddr =
        address < (p.biasEnd[m] as number)
          ? address + (p.bias[m] as number)
          : table.virtualAddress(address - (starts[m] as number) + (p.maps.offsets[m] as number));
      const i = vaddr < 0 ? -1 : table.indexOf(vaddr);
      if (i >= 0) return table.nameAt(i);
    }
    let unknown = p.unknown[m];
    if (unknown === undefined) {
      const path = p.maps.paths[m] as string;
      unknown = path.startsWith("[") ? path : `[${basename(path)}]`;
      p.unknown[m] = unknown;
    }
    return unknown;
  }

  /** A JIT's name for `address` from /tmp/perf-PID.map (`node --perf-basic-prof` writes one), if any. */
  #jitName(p: ProcessEntry, pid: number, address: number): string | undefined {
    if (p.jit === undefined) p.jit = readPerfMap(pid);
    if (p.jit === null) return undefined;
    const i = perfMapIndex(p.jit, address);
    return i < 0 ? undefined : p.jit.names[i];
  }

  /** The name of the frame at `address` (see {@link Symbolizer.nameOf}). `pid` defaults to this process. */
  name(address: bigint, pid: number = process.pid): string {
    checkAddress(address);
    return this.nameOf(Number(address >> 32n), Number(address & 0xffffffffn), pid);
  }

  /** Everything known about the frame at `address` in process `pid` (default: this process). */
  frame(address: bigint, pid: number = process.pid): Frame {
    checkAddress(address);
    const hi = Number(address >> 32n);
    const lo = Number(address & 0xffffffffn);
    if (hi >= 0xffff8000) {
      const k = this.kernel;
      const i = k.indexOf(hi, lo);
      if (i < 0) return { address, symbol: undefined, offset: undefined, module: "[kernel]", kernel: true };
      const mod = k.moduleAt(i);
      return {
        address,
        symbol: k.nameAt(i),
        offset: Number(address - k.addressAt(i)),
        module: mod === undefined ? "[kernel]" : `[${mod}]`,
        kernel: true,
      };
    }
    const unknown: Frame = {
      address,
      symbol: undefined,
      offset: undefined,
      module: "[unknown]",
      kernel: false,
    };
    const p = this.#process(pid);
    if (p === null) return unknown;
    const at = hi * TWO32 + lo;
    const m = mappingOf(p.maps, at);
    if (m < 0) return unknown;
    const path = p.maps.paths[m] as string;
    if (!path.startsWith("/")) {
      const jit = this.#jitName(p, pid, at);
      return { ...unknown, module: path, ...(jit === undefined ? {} : { symbol: jit }) };
    }
    const table = this.file(path);
    const vaddr = table.virtualAddress(at - (p.maps.starts[m] as number) + (p.maps.offsets[m] as number));
    const sym = vaddr < 0 ? undefined : table.at(vaddr);
    return {
      address,
      symbol: sym?.name,
      offset: sym === undefined ? undefined : vaddr - sym.address,
      module: path,
      kernel: false,
    };
  }

  /**
   * The names of the frames of one stack, innermost first: `stack` is a `stack_trace` map's value
   * (u64 addresses, little-endian, ending at the first zero) or a list of addresses. User
   * addresses are looked up in process `pid` (default: this process).
   */
  stack(stack: Uint8Array | readonly bigint[] | BigUint64Array, pid: number = process.pid): string[] {
    if (stack instanceof Uint8Array) {
      const view = new DataView(stack.buffer, stack.byteOffset, stack.byteLength);
      // the frames up to the first zero word, then the names into an array of that length
      let n = 0;
      while (
        n * 8 + 8 <= stack.byteLength &&
        (view.getUint32(n * 8, true) | view.getUint32(n * 8 + 4, true)) !== 0
      )
        n++;
      const out = new Array<string>(n);
      for (let k = 0; k < n; k++)
        out[k] = this.nameOf(view.getUint32(k * 8 + 4, true), view.getUint32(k * 8, true), pid);
      return out;
    }
    const out: string[] = [];
    for (const a of stack) {
      if (a === 0n) break;
      out.push(this.name(a, pid));
    }
    return out;
  }
}

function checkAddress(address: unknown): void {
  if (typeof address !== "bigint" || address < 0n || address > 0xffffffffffffffffn)
    throw new InputError(`an address is a bigint from 0 to 2^64-1, got ${String(address)}`);
}
