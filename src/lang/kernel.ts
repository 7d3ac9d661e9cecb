/**
 * What the compiler knows of the kernel without asking it: uapi constants by name and the
 * context structures of the program types it compiles. These are the kernel's stable ABI
 * (uapi headers); the tests check every offset against the running kernel's BTF.
 */
import { UAPI_CONSTANTS } from "../isa/asm/names.js";
import { I32, type IntType, U32 } from "./types.js";

/** uapi constants a program may name (`XDP_PASS`, `ETH_P_IP`, `BPF_ANY`...). */
export const KERNEL_CONSTANTS: Readonly<Record<string, number>> = Object.freeze({
  // the uapi #defines the assembler knows too (checked against the system headers in test/isa)
  ...UAPI_CONSTANTS,
  // and enumerators of the kernel's BTF that the assembler reads from BTF, fixed here
  // enum xdp_action
  XDP_ABORTED: 0,
  XDP_DROP: 1,
  XDP_PASS: 2,
  XDP_TX: 3,
  XDP_REDIRECT: 4,
  // IP protocols (linux/in.h: an enum)
  IPPROTO_IP: 0,
  IPPROTO_ICMP: 1,
  IPPROTO_TCP: 6,
  IPPROTO_UDP: 17,
  IPPROTO_IPV6: 41,
  IPPROTO_GRE: 47,
  IPPROTO_SCTP: 132,
  // map update flags
  BPF_ANY: 0,
  BPF_NOEXIST: 1,
  BPF_EXIST: 2,
  BPF_F_LOCK: 4,
  // perf/ringbuf
  BPF_F_CURRENT_CPU: 0xffffffff,
  // bpf_sk_lookup_tcp/udp: the network namespace of the packet's device (-1L)
  BPF_F_CURRENT_NETNS: -1,
  BPF_RB_NO_WAKEUP: 1,
  BPF_RB_FORCE_WAKEUP: 2,
  // socket filter verdicts are byte counts; sk_skb / cgroup
  SK_DROP: 0,
  SK_PASS: 1,
});

/** A field of a context structure. */
export interface ContextField {
  readonly offset: number;
  readonly type: IntType;
  /** a fixed array of `type` (`ctx.args[2]`, a constant index) */
  readonly length?: number;
  /** a pointer to a kernel struct: its BTF id (tp_btf and raw_tp arguments) */
  readonly kernel?: number;
  /** a `char *` (a tracepoint record's): where the string it points to lives, for strncmp */
  readonly string?: "user" | "kernel";
  /** why the kernel refuses a program's read of this field (a compile error at the read) */
  readonly refused?: string;
}

/** How a program type reaches its packet, if it has one. */
export type PacketAccess =
  /** direct: data and data_end fields, bounds checked against each other */
  | { readonly kind: "direct"; readonly data: number; readonly end: number }
  /** through bpf_skb_load_bytes (socket filters: no direct packet access) */
  | { readonly kind: "load_bytes" }
  | { readonly kind: "none" };

/** The context of a program type. */
export interface ContextSpec {
  /** the kernel's struct name */
  readonly struct: string;
  /** the TypeScript type name rawbpf ships for it */
  readonly typeName: string;
  readonly fields: ReadonlyMap<string, ContextField>;
  readonly packet: PacketAccess;
  /** fields a program may assign */
  readonly writable?: ReadonlySet<string>;
  /** kernel pointers are read directly (tp_btf) rather than with bpf_probe_read_kernel */
  readonly direct?: boolean;
}

const f = (offset: number, type: IntType = U32): ContextField => ({ offset, type });

const XDP_MD: ContextSpec = {
  struct: "xdp_md",
  typeName: "XdpContext",
  fields: new Map([
    ["data", f(0)],
    ["data_end", f(4)],
    ["data_meta", f(8)],
    ["ingress_ifindex", f(12)],
    ["rx_queue_index", f(16)],
    ["egress_ifindex", f(20)],
  ]),
  packet: { kind: "direct", data: 0, end: 4 },
};

const SK_BUFF_FIELDS = new Map([
  ["len", f(0)],
  ["pkt_type", f(4)],
  ["mark", f(8)],
  ["queue_mapping", f(12)],
  ["protocol", f(16)],
  ["vlan_present", f(20)],
  ["vlan_tci", f(24)],
  ["vlan_proto", f(28)],
  ["priority", f(32)],
  ["ingress_ifindex", f(36)],
  ["ifindex", f(40)],
  ["tc_index", f(44)],
  ["hash", f(68)],
  ["tc_classid", f(72)],
  ["data", f(76)],
  ["data_end", f(80)],
  ["napi_id", f(84)],
  ["family", f(88)],
  ["remote_ip4", f(92)],
  ["local_ip4", f(96)],
  ["remote_port", f(132)],
  ["local_port", f(136)],
  ["data_meta", f(140)],
  ["wire_len", f(160)],
  ["gso_segs", f(164)],
  ["gso_size", f(176)],
]);

function skb(packet: PacketAccess): ContextSpec {
  return {
    struct: "__sk_buff",
    typeName: "SkBuffContext",
    fields: SK_BUFF_FIELDS,
    packet,
    writable: new Set(["mark", "priority"]),
  };
}

/** Program types the compiler knows a context for. */
export const CONTEXTS: ReadonlyMap<string, ContextSpec> = new Map([
  ["xdp", XDP_MD],
  ["sched_cls", skb({ kind: "direct", data: 76, end: 80 })],
  ["sched_act", skb({ kind: "direct", data: 76, end: 80 })],
  ["socket_filter", skb({ kind: "load_bytes" })],
  ["cgroup_skb", skb({ kind: "load_bytes" })],
]);

/** `int` returns of helpers are this; `long` and pointers are i64/u64. */
export const HELPER_INT = I32;
