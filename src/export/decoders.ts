/**
 * Label decoders: a key field's bytes to a label value. A chain reads the bytes with its first
 * decoder; later ones (enum, ifname, comm, cgroup, ksym) map the number the chain has so far.
 * Lookups (interfaces, processes, cgroups, kernel symbols) are cached for one scrape; what cannot be
 * resolved (a process that exited) keeps its number.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { endianness } from "node:os";
import { join } from "node:path";

const LE = endianness() === "LE";
const INT_SIZES = (n: number) => n === 1 || n === 2 || n === 4 || n === 8;

/** Reads an unsigned integer of `size` bytes (host order) as a number when exact, else a bigint. */
export function readUint(buf: Buffer, off: number, size: number): number | bigint {
  switch (size) {
    case 1:
      return buf[off]!;
    case 2:
      return LE ? buf.readUInt16LE(off) : buf.readUInt16BE(off);
    case 4:
      return LE ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
    default: {
      const lo = LE ? buf.readUInt32LE(off) : buf.readUInt32BE(off + 4);
      const hi = LE ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off);
      return hi < 0x200000 ? hi * 0x100000000 + lo : (BigInt(hi) << 32n) | BigInt(lo);
    }
  }
}

function readInt(buf: Buffer, off: number, size: number): number | bigint {
  switch (size) {
    case 1:
      return buf.readInt8(off);
    case 2:
      return LE ? buf.readInt16LE(off) : buf.readInt16BE(off);
    case 4:
      return LE ? buf.readInt32LE(off) : buf.readInt32BE(off);
    default: {
      const v = LE ? buf.readBigInt64LE(off) : buf.readBigInt64BE(off);
      return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
    }
  }
}

/** Formats an IPv6 address (16 bytes, network order) in its RFC 5952 short form. */
export function formatIpv6(buf: Buffer, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(buf.readUInt16BE(off + 2 * i));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** One step of a chain: bytes (first step) or the previous value to a label value. */
type Step = (buf: Buffer, off: number, prev: string | undefined) => string;

/** Lookups shared by the decoders, cached until {@link DecoderCache.reset} (once a scrape). */
export class DecoderCache {
  #ifnames: Map<number, string> | undefined;
  #comms = new Map<number, string>();
  #cgroups: Map<string, string> | undefined;
  #ksyms: { addrs: BigUint64Array; names: string[] } | undefined;

  reset(): void {
    this.#ifnames = undefined;
    this.#comms.clear();
    this.#cgroups = undefined;
  }

  ifname(index: number): string | undefined {
    if (!this.#ifnames) {
      this.#ifnames = new Map();
      try {
        for (const name of readdirSync("/sys/class/net")) {
          try {
            this.#ifnames.set(Number(readFileSync(`/sys/class/net/${name}/ifindex`, "utf8")), name);
          } catch {}
        }
      } catch {}
    }
    return this.#ifnames.get(index);
  }

  comm(pid: number): string | undefined {
    let c = this.#comms.get(pid);
    if (c === undefined) {
      try {
        c = readFileSync(`/proc/${pid}/comm`, "utf8").replace(/\n$/, "");
      } catch {
        c = "";
      }
      this.#comms.set(pid, c);
    }
    return c === "" ? undefined : c;
  }

  cgroup(id: string): string | undefined {
    if (!this.#cgroups) {
      this.#cgroups = new Map();
      const root = cgroup2Root();
      if (root) {
        const walk = (dir: string, rel: string, depth: number) => {
          try {
            this.#cgroups!.set(String(statSync(dir, { bigint: true }).ino), rel || "/");
          } catch {
            return;
          }
          if (depth > 32) return;
          let entries: import("node:fs").Dirent[];
          try {
            entries = readdirSync(dir, { withFileTypes: true });
          } catch {
            return;
          }
          for (const e of entries)
            if (e.isDirectory()) walk(join(dir, e.name), `${rel}/${e.name}`, depth + 1);
        };
        walk(root, "", 0);
      }
    }
    return this.#cgroups.get(id);
  }

  ksym(addr: bigint): string | undefined {
    if (!this.#ksyms) {
      const pairs: [bigint, string][] = [];
      try {
        for (const line of readFileSync("/proc/kallsyms", "utf8").split("\n")) {
          const sp = line.indexOf(" ");
          if (sp < 0) continue;
          const a = BigInt(`0x${line.slice(0, sp)}`);
          if (a === 0n) continue;
          const name = line.slice(sp + 3).split(/[\t ]/)[0]!;
          pairs.push([a, name]);
        }
      } catch {}
      pairs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      this.#ksyms = { addrs: BigUint64Array.from(pairs.map((p) => p[0])), names: pairs.map((p) => p[1]) };
    }
    const { addrs, names } = this.#ksyms;
    let lo = 0;
    let hi = addrs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (addrs[mid]! <= addr) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? undefined : names[found];
  }
}

let cgroupRootCache: string | null | undefined;
function cgroup2Root(): string | null {
  if (cgroupRootCache !== undefined) return cgroupRootCache;
  cgroupRootCache = null;
  try {
    for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
      const f = line.split(" ");
      if (f[2] === "cgroup2") {
        cgroupRootCache = f[1]!;
        break;
      }
    }
  } catch {}
  return cgroupRootCache;
}

/** The number so far: the previous step's text, or the field read as an unsigned integer. */
function numberOf(buf: Buffer, off: number, size: number, prev: string | undefined): string {
  return prev ?? String(readUint(buf, off, size));
}

interface DecoderDef {
  sizes: (n: number) => boolean;
  sizeText: string;
  make: (size: number, cache: DecoderCache, values?: Record<string, string>) => Step;
}

/** The decoders a label may name, with the key sizes each takes. */
export const DECODERS = {
  uint: {
    sizes: INT_SIZES,
    sizeText: "1, 2, 4 or 8 bytes",
    make: (size) => (buf, off) => String(readUint(buf, off, size)),
  },
  int: {
    sizes: INT_SIZES,
    sizeText: "1, 2, 4 or 8 bytes",
    make: (size) => (buf, off) => String(readInt(buf, off, size)),
  },
  hex: {
    sizes: (n) => n >= 1,
    sizeText: "any size",
    make: (size) =>
      INT_SIZES(size)
        ? (buf, off) => `0x${readUint(buf, off, size).toString(16)}`
        : (buf, off) => buf.toString("hex", off, off + size),
  },
  string: {
    sizes: (n) => n >= 1,
    sizeText: "any size (a fixed, NUL-padded string)",
    make: (size) => (buf, off) => {
      let end = buf.indexOf(0, off);
      if (end < 0 || end > off + size) end = off + size;
      return buf.toString("utf8", off, end);
    },
  },
  ipv4: {
    sizes: (n) => n === 4,
    sizeText: "4 bytes (network order)",
    make: () => (buf, off) => `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`,
  },
  ipv6: {
    sizes: (n) => n === 16,
    sizeText: "16 bytes (network order)",
    make: () => (buf, off) => formatIpv6(buf, off),
  },
  enum: {
    sizes: INT_SIZES,
    sizeText: "1, 2, 4 or 8 bytes",
    make: (size, _cache, values = {}) => {
      const table = new Map(Object.entries(values));
      return (buf, off, prev) => {
        const n = numberOf(buf, off, size, prev);
        return table.get(n) ?? n;
      };
    },
  },
  ifname: {
    sizes: INT_SIZES,
    sizeText: "1, 2, 4 or 8 bytes (an ifindex)",
    make: (size, cache) => (buf, off, prev) => {
      const n = numberOf(buf, off, size, prev);
      return cache.ifname(Number(n)) ?? n;
    },
  },
  comm: {
    sizes: (n) => n === 4 || n === 8,
    sizeText: "4 bytes (a pid) or 8 (bpf_get_current_pid_tgid(): the tgid is the upper half)",
    make: (size, cache) => (buf, off, prev) => {
      let pid: number;
      if (prev !== undefined) pid = Number(prev);
      else if (size === 4) pid = readUint(buf, off, 4) as number;
      else pid = LE ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off);
      return cache.comm(pid) ?? String(pid);
    },
  },
  cgroup: {
    sizes: (n) => n === 8,
    sizeText: "8 bytes (a cgroup id, bpf_get_current_cgroup_id())",
    make: (size, cache) => (buf, off, prev) => {
      const n = numberOf(buf, off, size, prev);
      return cache.cgroup(n) ?? n;
    },
  },
  ksym: {
    sizes: (n) => n === 8,
    sizeText: "8 bytes (a kernel address)",
    make: (size, cache) => (buf, off, prev) => {
      const n = numberOf(buf, off, size, prev);
      return cache.ksym(BigInt(n)) ?? `0x${BigInt(n).toString(16)}`;
    },
  },
} satisfies Record<string, DecoderDef>;

/** A decoder's name. */
export type DecoderName = keyof typeof DECODERS;

/** Compiles a chain of decoders for a `size`-byte field. */
export function compileChain(
  size: number,
  chain: readonly { name: DecoderName; values?: Record<string, string> }[],
  cache: DecoderCache,
): (buf: Buffer, off: number) => string {
  const steps = chain.map((d) => (DECODERS[d.name] as DecoderDef).make(size, cache, d.values));
  if (steps.length === 1) {
    const s = steps[0]!;
    return (buf, off) => s(buf, off, undefined);
  }
  return (buf, off) => {
    let v: string | undefined;
    for (const s of steps) v = s(buf, off, v);
    return v!;
  };
}
