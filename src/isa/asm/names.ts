/**
 * The kernel's names in assembly text: `offsetof(struct __sk_buff, protocol)`,
 * `sizeof(struct task_struct)`, enumerators of the kernel's BTF (`XDP_PASS`, `BPF_ANY`) and the
 * uapi `#define`s that BTF lacks (`ETH_P_IP`, `TC_ACT_SHOT`: {@link UAPI_CONSTANTS}).
 *
 * The assembler stays pure: it is handed the BTF (anything shaped like `src/btf`'s `Btf`, or a
 * function giving one, called only when the text uses a BTF name), or it uses the default set
 * with {@link setDefaultAsmBtf} (the public API and the command line set the running kernel's).
 */

/** A BTF type as the assembler reads it: the fields of `src/btf`'s plain-data model it needs. */
export interface AsmBtfType {
  readonly kind: string;
  readonly name?: string;
  readonly size?: number;
  /** the referenced type (typedef, modifiers) or an array's element type */
  readonly type?: number;
  /** an array's number of elements */
  readonly length?: number;
  readonly members?: readonly {
    readonly name: string;
    readonly type: number;
    readonly bitOffset: number;
    readonly bitfieldSize: number;
  }[];
  readonly values?: readonly { readonly name: string; readonly value: number | bigint }[];
}

/** What the assembler needs of a BTF object; `Btf` from `src/btf` (and `rawbpf`) fits. */
export interface AsmBtf {
  readonly startId: number;
  readonly endId: number;
  /** the BTF kind number (BTF_KIND_*) of type `id` */
  kindOf(id: number): number;
  /** type `id`, decoded */
  type(id: number): AsmBtfType;
  /** every type id with this name */
  findIds(name: string): number[];
  /** the size in bytes of type `id`, through typedefs, modifiers and arrays */
  sizeOf(id: number): number;
  /** type `id` with typedefs and modifiers (const, volatile, restrict, type tags) skipped */
  resolve(id: number): number;
}

/** The BTF option: an object, or a function that gives one when the text first needs it. */
export type AsmBtfOption = AsmBtf | (() => AsmBtf);

let defaultBtf: (() => AsmBtf) | undefined;

/**
 * Sets the BTF the assembler uses when `assemble()` is given none (the public API sets the running
 * kernel's `/sys/kernel/btf/vmlinux`, read only when a text first uses a BTF name).
 */
export function setDefaultAsmBtf(provider: (() => AsmBtf) | undefined): void {
  defaultBtf = provider;
}

/**
 * uapi constants that are `#define`s, so absent from BTF (values from include/uapi/linux/*.h):
 * Ethernet protocols, IP protocols the kernel's enum lacks, tc actions, and a few sizes.
 */
export const UAPI_CONSTANTS: Readonly<Record<string, number>> = Object.freeze({
  // linux/if_ether.h
  ETH_ALEN: 6,
  ETH_TLEN: 2,
  ETH_HLEN: 14,
  ETH_ZLEN: 60,
  ETH_DATA_LEN: 1500,
  ETH_FRAME_LEN: 1514,
  ETH_FCS_LEN: 4,
  ETH_P_LOOP: 0x0060,
  ETH_P_IP: 0x0800,
  ETH_P_ARP: 0x0806,
  ETH_P_8021Q: 0x8100,
  ETH_P_8021AD: 0x88a8,
  ETH_P_IPV6: 0x86dd,
  ETH_P_MPLS_UC: 0x8847,
  ETH_P_MPLS_MC: 0x8848,
  ETH_P_LLDP: 0x88cc,
  ETH_P_ALL: 0x0003,
  // netinet/in.h, linux/in6.h: the IPPROTO_* of IPv6 extension headers are #defines
  IPPROTO_HOPOPTS: 0,
  IPPROTO_ROUTING: 43,
  IPPROTO_FRAGMENT: 44,
  IPPROTO_ICMPV6: 58,
  IPPROTO_NONE: 59,
  IPPROTO_DSTOPTS: 60,
  IPPROTO_MH: 135,
  // linux/pkt_cls.h
  TC_ACT_UNSPEC: -1,
  TC_ACT_OK: 0,
  TC_ACT_RECLASSIFY: 1,
  TC_ACT_SHOT: 2,
  TC_ACT_PIPE: 3,
  TC_ACT_STOLEN: 4,
  TC_ACT_QUEUED: 5,
  TC_ACT_REPEAT: 6,
  TC_ACT_REDIRECT: 7,
  TC_ACT_TRAP: 8,
  // linux/if_packet.h
  PACKET_HOST: 0,
  PACKET_BROADCAST: 1,
  PACKET_MULTICAST: 2,
  PACKET_OTHERHOST: 3,
  PACKET_OUTGOING: 4,
  // linux/socket.h
  AF_UNSPEC: 0,
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  AF_PACKET: 17,
  // linux/fcntl.h (open flags, octal in the header)
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  O_CREAT: 0o100,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
});

/** A problem with a name, turned into a positioned error by the parser. */
export class NameError extends Error {}

const K_STRUCT = 4;
const K_UNION = 5;
const K_ENUM = 6;
const K_ENUM64 = 19;

/** Enumerator values of each BTF object, indexed once. */
const enumerators = new WeakMap<AsmBtf, Map<string, number | bigint | null>>();

function enumeratorsOf(btf: AsmBtf): Map<string, number | bigint | null> {
  let table = enumerators.get(btf);
  if (table !== undefined) return table;
  table = new Map();
  for (let id = 1; id < btf.endId; id++) {
    const k = btf.kindOf(id);
    if (k !== K_ENUM && k !== K_ENUM64) continue;
    for (const { name, value } of btf.type(id).values ?? []) {
      const prev = table.get(name);
      // the same name with two values (in two enums) is ambiguous: null
      if (prev === undefined) table.set(name, value);
      else if (prev !== null && BigInt(prev) !== BigInt(value)) table.set(name, null);
    }
  }
  enumerators.set(btf, table);
  return table;
}

/** Resolves the kernel's names for one assembly run; the BTF is read at the first BTF name. */
export class KernelNames {
  private btf: AsmBtf | undefined;

  constructor(private readonly option: AsmBtfOption | undefined) {}

  private kernelBtf(what: string): AsmBtf {
    if (this.btf !== undefined) return this.btf;
    const option = this.option ?? defaultBtf;
    if (option === undefined)
      throw new NameError(
        `${what} needs the kernel's BTF: pass { btf } to assemble() (rawbpf's public API and command line use /sys/kernel/btf/vmlinux)`,
      );
    try {
      this.btf = typeof option === "function" ? option() : option;
    } catch (e) {
      throw new NameError(`${what} needs the kernel's BTF, which could not be read: ${(e as Error).message}`);
    }
    return this.btf;
  }

  /** The value of a constant by name: a uapi #define, else an enumerator of the BTF; undefined when neither. */
  constant(name: string): number | bigint | undefined {
    const uapi = UAPI_CONSTANTS[name];
    if (uapi !== undefined && Object.hasOwn(UAPI_CONSTANTS, name)) return uapi;
    const v = enumeratorsOf(this.kernelBtf(`the name '${name}'`)).get(name);
    if (v === null)
      throw new NameError(`'${name}' is an enumerator of two kernel enums with different values`);
    return v;
  }

  /** The id of `struct NAME`, `union NAME`, `enum NAME` or a type name (`u32`, `__be16`, a typedef). */
  typeId(keyword: string, name: string, what: string): number {
    const btf = this.kernelBtf(what);
    const spelled = keyword === "" ? name : `${keyword} ${name}`;
    const candidates = btf.findIds(name);
    let fwd = false;
    for (const id of candidates) {
      const t = btf.type(id);
      const kind = t.kind;
      if (keyword === "") {
        if (kind === "typedef" || kind === "int" || kind === "float") return id;
      } else if (kind === keyword || (keyword === "enum" && kind === "enum64")) return id;
      else if (kind === "fwd") fwd = true;
    }
    if (fwd)
      throw new NameError(`${spelled} is only declared in the kernel's BTF, not defined: it has no layout`);
    throw new NameError(`the kernel's BTF has no ${keyword === "" ? `type named '${name}'` : spelled}`);
  }

  /** `sizeof(TYPE)`, `TYPE` given by {@link typeId}. */
  sizeOf(id: number): number {
    return (this.btf as AsmBtf).sizeOf(id);
  }

  /**
   * The byte offset of a field path (`real_parent`, `a.b.c`, `arr[2].x`) in type `id`: members
   * of anonymous structs and unions are found as C finds them.
   */
  offsetOf(id: number, path: readonly (string | number)[], spelled: string): number {
    const btf = this.btf as AsmBtf;
    let bits = 0;
    let at = btf.resolve(id);
    let where = spelled;
    for (const step of path) {
      const t = btf.type(at);
      if (typeof step === "number") {
        if (t.kind !== "array") throw new NameError(`${where} is not an array: [${step}] cannot index it`);
        const elem = t.type as number;
        if (step < 0 || step >= (t.length as number))
          throw new NameError(`${where} has ${t.length} elements: [${step}] is out of bounds`);
        bits += step * btf.sizeOf(elem) * 8;
        at = btf.resolve(elem);
        where = `${where}[${step}]`;
        continue;
      }
      if (t.kind !== "struct" && t.kind !== "union")
        throw new NameError(`${where} is a ${t.kind}, not a struct or union: it has no member '${step}'`);
      const found = findMember(btf, at, step, 0);
      if (found === undefined) {
        const names = (t.members ?? []).map((m) => m.name).filter((n) => n !== "");
        const near = names.filter((n) => close(n, step)).slice(0, 4);
        throw new NameError(
          `${where} has no member '${step}'${near.length > 0 ? ` (did you mean ${near.join(", ")}?)` : ""}`,
        );
      }
      if (found.bitfieldSize !== 0 || found.bitOffset % 8 !== 0)
        throw new NameError(`'${step}' is a bitfield of ${where}: it has no byte offset`);
      bits += found.bitOffset;
      at = btf.resolve(found.type);
      where = `${where}.${step}`;
    }
    return bits / 8;
  }
}

interface Found {
  type: number;
  bitOffset: number;
  bitfieldSize: number;
}

/** The member `name` of struct/union `id`, looking into anonymous members; offsets from `id`. */
function findMember(btf: AsmBtf, id: number, name: string, depth: number): Found | undefined {
  if (depth > 32) return undefined;
  const members = btf.type(id).members ?? [];
  for (const m of members) if (m.name === name) return m;
  for (const m of members) {
    if (m.name !== "") continue;
    const inner = btf.resolve(m.type);
    const k = btf.kindOf(inner);
    if (k !== K_STRUCT && k !== K_UNION) continue;
    const f = findMember(btf, inner, name, depth + 1);
    if (f !== undefined)
      return { type: f.type, bitOffset: m.bitOffset + f.bitOffset, bitfieldSize: f.bitfieldSize };
  }
  return undefined;
}

/** Whether two names are one or two edits apart (a typo). */
function close(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 2) return false;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = cur;
  }
  return (prev[b.length] as number) <= 2;
}
