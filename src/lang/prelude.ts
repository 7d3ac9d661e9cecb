/**
 * What a program's source imports from rawbpf to be type-checked by `tsc`: the integer types,
 * the context types, `program` and `map` (descriptors at run time: the compiler reads the source,
 * not these values), `helpers`, `atomicAdd` and the kernel's constants.
 */
import { KERNEL_CONSTANTS } from "./kernel.js";

/** Integer types with BPF semantics (see docs/language.md). In `tsc` they are all `number`. */
export type u8 = number;
export type u16 = number;
export type u32 = number;
export type u64 = number;
export type i8 = number;
export type i16 = number;
export type i32 = number;
export type i64 = number;

/** Reads of the packet: an unsigned value, or null when the packet is too short. */
export interface PacketReader {
  /** the byte at `offset` */
  u8(offset: number): number | null;
  /** 16 bits at `offset`, host order */
  u16(offset: number): number | null;
  /** 32 bits at `offset`, host order */
  u32(offset: number): number | null;
  /** 16 bits at `offset`, network order (big-endian) turned to a number */
  be16(offset: number): number | null;
  /** 32 bits at `offset`, network order */
  be32(offset: number): number | null;
}

/** `struct xdp_md` */
export interface XdpContext extends PacketReader {
  readonly data: u32;
  readonly data_end: u32;
  readonly data_meta: u32;
  readonly ingress_ifindex: u32;
  readonly rx_queue_index: u32;
  readonly egress_ifindex: u32;
}

/** `struct __sk_buff` (the fields the compiler knows) */
export interface SkBuffContext extends PacketReader {
  readonly len: u32;
  readonly pkt_type: u32;
  mark: u32;
  readonly queue_mapping: u32;
  readonly protocol: u32;
  readonly vlan_present: u32;
  readonly vlan_tci: u32;
  readonly vlan_proto: u32;
  priority: u32;
  readonly ingress_ifindex: u32;
  readonly ifindex: u32;
  readonly tc_index: u32;
  readonly hash: u32;
  readonly tc_classid: u32;
  readonly data: u32;
  readonly data_end: u32;
  readonly napi_id: u32;
  readonly family: u32;
  readonly remote_ip4: u32;
  readonly local_ip4: u32;
  readonly remote_port: u32;
  readonly local_port: u32;
  readonly data_meta: u32;
  readonly wire_len: u32;
  readonly gso_segs: u32;
  readonly gso_size: u32;
}

/** Program types the compiler has a context for, and their context types. */
export interface ContextOf {
  xdp: XdpContext;
  sched_cls: SkBuffContext;
  sched_act: SkBuffContext;
  socket_filter: SkBuffContext;
  cgroup_skb: SkBuffContext;
}

/** What `program()` returns at run time: a marker; the compiler reads the source. */
export interface ProgramDeclaration<T extends keyof ContextOf = keyof ContextOf> {
  readonly kind: "rawbpf.program";
  readonly type: T;
}

/**
 * Declares an eBPF program, written as an arrow function of the context. Export it:
 * `export const count = program("xdp", (ctx) => { ... return XDP_PASS; })`.
 */
export function program<const T extends keyof ContextOf>(
  type: T,
  _body: (ctx: ContextOf[T]) => number,
): ProgramDeclaration<T> {
  return Object.freeze({ kind: "rawbpf.program", type });
}

/** A codec as the language sees it: its size, and what it reads. */
export interface CodecLike<O = unknown> {
  readonly size: number;
  read(buf: never, offset: number): O;
}

/** A codec's value inside a program: integers are numbers, structs objects of them. */
export type LangValue<O> = O extends bigint | number | boolean
  ? number
  : O extends readonly unknown[]
    ? LangValue<O[number]>[]
    : O extends object
      ? { -readonly [K in keyof O]: LangValue<O[K]> }
      : number;

/** A map entry as `lookup` gives it: a reference into the map (struct values: their fields). */
export type EntryRef<O> = O extends bigint | number | boolean ? { value: number } : LangValue<O>;

/** A map declared for programs: created by the loader from the spec the compiler reports. */
export interface ProgramMap<K, V> {
  readonly kind: "rawbpf.map";
  readonly type: string;
  /** a reference to the value, or null when the key is absent */
  lookup(key: LangValue<K>): EntryRef<V> | null;
  /** bpf_map_update_elem: 0 or a negative errno */
  update(key: LangValue<K>, value: LangValue<V>, flags?: number): number;
  /** bpf_map_delete_elem: 0 or a negative errno */
  delete(key: LangValue<K>): number;
  /** ring buffers: bpf_ringbuf_output of one record */
  output(value: LangValue<V>, flags?: number): number;
}

/** The spec of a program map: codecs give the sizes; the compiler reads them from the source. */
export interface ProgramMapSpec<KC, VC> {
  key?: KC;
  value?: VC;
  maxEntries: number;
  flags?: readonly string[];
}

/** Declares a map a program uses: `const counts = map("array", { key: u32, value: u64, maxEntries: 4 })`. */
export function map<KC extends CodecLike = CodecLike<never>, VC extends CodecLike = CodecLike<never>>(
  type: string,
  spec: ProgramMapSpec<KC, VC>,
): ProgramMap<KC extends CodecLike<infer K> ? K : never, VC extends CodecLike<infer V> ? V : never> {
  const m = { kind: "rawbpf.map", type, spec } as const;
  return Object.freeze(m) as unknown as ProgramMap<
    KC extends CodecLike<infer K> ? K : never,
    VC extends CodecLike<infer V> ? V : never
  >;
}

/** Every helper of the kernel by its name without `bpf_`: `helpers.ktime_get_ns()`. */
export const helpers: { readonly [name: string]: (...args: unknown[]) => number } = new Proxy(
  {},
  {
    get: () => () => {
      throw new Error("helpers run only inside an eBPF program: compile the program with rawbpf");
    },
  },
);

/** `lock *field += value`: an atomic add to a field of a map value. */
export function atomicAdd(_field: number, _value: number): void {
  throw new Error("atomicAdd runs only inside an eBPF program: compile the program with rawbpf");
}

export const {
  XDP_ABORTED,
  XDP_DROP,
  XDP_PASS,
  XDP_TX,
  XDP_REDIRECT,
  TC_ACT_UNSPEC,
  TC_ACT_OK,
  TC_ACT_RECLASSIFY,
  TC_ACT_SHOT,
  TC_ACT_PIPE,
  TC_ACT_STOLEN,
  TC_ACT_QUEUED,
  TC_ACT_REPEAT,
  TC_ACT_REDIRECT,
  ETH_P_IP,
  ETH_P_ARP,
  ETH_P_8021Q,
  ETH_P_IPV6,
  ETH_P_8021AD,
  ETH_HLEN,
  IPPROTO_IP,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_IPV6,
  IPPROTO_GRE,
  IPPROTO_ICMPV6,
  IPPROTO_SCTP,
  BPF_ANY,
  BPF_NOEXIST,
  BPF_EXIST,
  BPF_F_LOCK,
  BPF_F_CURRENT_CPU,
  BPF_RB_NO_WAKEUP,
  BPF_RB_FORCE_WAKEUP,
  SK_DROP,
  SK_PASS,
} = KERNEL_CONSTANTS as Record<string, number>;
