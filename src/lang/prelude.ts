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

/** A field of a tracepoint's record: a number, or (array fields such as `args`) indexed by a constant. */
export type TracepointField = number & { readonly [index: number]: number };

/** A tracepoint's record: its fields by the names of its format file in tracefs (pointers are u64). */
export interface TracepointContext {
  readonly [field: string]: TracepointField;
}

/** `struct pt_regs` of kprobes and uprobes, by the calling convention's names. */
export interface PtRegs {
  /** the function's first integer argument (x86-64: rdi; arm64: x0), at its entry */
  readonly arg0: u64;
  readonly arg1: u64;
  readonly arg2: u64;
  readonly arg3: u64;
  readonly arg4: u64;
  readonly arg5: u64;
  /** the return value (x86-64: rax; arm64: x0), at the function's return */
  readonly ret: u64;
  /** the instruction pointer */
  readonly ip: u64;
  /** the stack pointer */
  readonly sp: u64;
}

/**
 * A value read from kernel memory typed by BTF: an integer, or a pointer to a struct whose
 * members are read by name (`task.real_parent.tgid`); an array member is its address.
 */
export type KernelValue = number & KernelStruct;

/** A kernel struct's members by name. */
export interface KernelStruct {
  readonly [member: string]: KernelValue;
}

/** A raw tracepoint's arguments (raw_tp, tp_btf) by the names of `btf_trace_NAME`'s prototype. */
export interface RawTracepointContext {
  readonly [arg: string]: KernelValue;
}

/** Probe kinds: kprobes and uprobes are kprobe programs whose context is the registers. */
export type ProbeKind = "kprobe" | "uprobe" | "kretprobe" | "uretprobe";

/**
 * What `program()` takes as its type: a program type with a fixed context (`"xdp"`), a
 * tracepoint with its name (`"tracepoint/syscalls/sys_enter_openat"`), or a probe kind, with an
 * optional attach point the loader reads back (`"uprobe/libc.so.6:malloc"`).
 */
export type ProgramKind =
  | keyof ContextOf
  | `tracepoint/${string}/${string}`
  | `raw_tp/${string}`
  | `tp_btf/${string}`
  | ProbeKind
  | `${ProbeKind}/${string}`;

/** The context type of a program kind. */
export type ContextFor<T extends string> = T extends keyof ContextOf
  ? ContextOf[T]
  : T extends `tracepoint/${string}`
    ? TracepointContext
    : T extends `raw_tp/${string}` | `tp_btf/${string}`
      ? RawTracepointContext
      : PtRegs;

/** What `program()` returns at run time: a marker; the compiler reads the source. */
export interface ProgramDeclaration<T extends string = ProgramKind> {
  readonly kind: "rawbpf.program";
  readonly type: T;
}

/**
 * Declares an eBPF program, written as an arrow function of the context. Export it:
 * `export const count = program("xdp", (ctx) => { ... return XDP_PASS; })`.
 */
export function program<const T extends ProgramKind>(
  type: T,
  _body: (ctx: ContextFor<T>) => number,
): ProgramDeclaration<T> {
  return Object.freeze({ kind: "rawbpf.program", type });
}

/** A codec as the language sees it: its size, and what it reads. */
export interface CodecLike<O = unknown> {
  /** the encoded size in bytes */
  readonly size: number;
  /** decodes one value at `offset` */
  read(buf: never, offset: number): O;
}

/** A codec's value inside a program: integers are numbers, structs objects of them. */
export type LangValue<O> = O extends bigint | number | boolean
  ? number
  : O extends Uint8Array | string
    ? Uint8Array
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
  /** ring buffers: bpf_ringbuf_output of one record; perf event arrays: bpf_perf_event_output (this CPU's) */
  output(value: LangValue<V>, flags?: number): number;
  /** ring buffers: room for one record, or null when the ring is full; submit or discard it */
  reserve(): LangValue<V> | null;
  /** ring buffers: hands a reserved record to the reader */
  submit(record: LangValue<V>, flags?: number): void;
  /** ring buffers: gives a reserved record back unsent */
  discard(record: LangValue<V>, flags?: number): void;
  /**
   * bpf_for_each_map_elem: calls `callback(key, value, state)` for each entry until it returns 1;
   * the callback is its own subprogram (no captured locals). Returns the number of calls.
   */
  forEach<S>(callback: (key: EntryRef<K>, value: EntryRef<V>, state: S) => number, state?: S): number;
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

/** A kernel pointer a helper returns, or null: check it (`if (p === null) return 0;`) before use. */
type MaybeKernel = (...args: unknown[]) => KernelValue | null;

/**
 * The helpers that return a pointer to a kernel struct, typed for `tsc` as the compiler types
 * them: null until checked; `sk_lookup_tcp`, `sk_lookup_udp` and `skc_lookup_tcp` acquire a
 * socket that `sk_release` must release on every path.
 */
export interface PointerHelpers {
  /** `struct bpf_sock *` or null, acquired: release it with `helpers.sk_release(sk)` */
  readonly sk_lookup_tcp: MaybeKernel;
  /** `struct bpf_sock *` or null, acquired: release it with `helpers.sk_release(sk)` */
  readonly sk_lookup_udp: MaybeKernel;
  /** `struct bpf_sock *` (any state, request and timewait included) or null, acquired */
  readonly skc_lookup_tcp: MaybeKernel;
  readonly sk_fullsock: MaybeKernel;
  readonly tcp_sock: MaybeKernel;
  readonly get_listener_sock: MaybeKernel;
  readonly skc_to_tcp_sock: MaybeKernel;
  readonly skc_to_tcp6_sock: MaybeKernel;
  readonly skc_to_tcp_timewait_sock: MaybeKernel;
  readonly skc_to_tcp_request_sock: MaybeKernel;
  readonly skc_to_udp6_sock: MaybeKernel;
  readonly skc_to_unix_sock: MaybeKernel;
  readonly skc_to_mptcp_sock: MaybeKernel;
  readonly sock_from_file: MaybeKernel;
  /** the current `struct task_struct *`, never null */
  readonly get_current_task_btf: () => KernelValue;
  /** this CPU's copy of a per-CPU kernel variable (`helpers.this_cpu_ptr(ksyms.runqueues)`) */
  readonly this_cpu_ptr: (variable: KernelValue) => KernelValue;
  /** CPU `cpu`'s copy of a per-CPU kernel variable, or null when there is no such CPU */
  readonly per_cpu_ptr: (variable: KernelValue, cpu: number) => KernelValue | null;
}

/**
 * The kernel's per-CPU variables by name (`ksyms.runqueues`, from vmlinux BTF's `.data..percpu`),
 * for `helpers.this_cpu_ptr` and `helpers.per_cpu_ptr`.
 */
export const ksyms: { readonly [name: string]: KernelValue } = new Proxy(
  {},
  {
    get: () => {
      throw new Error("ksyms are read only inside an eBPF program: compile the program with rawbpf");
    },
  },
);

/** Every helper of the kernel by its name without `bpf_`: `helpers.ktime_get_ns()`. */
export const helpers: Helpers = new Proxy(
  {},
  {
    get: () => () => {
      throw new Error("helpers run only inside an eBPF program: compile the program with rawbpf");
    },
  },
) as Helpers;

/** The type of {@link helpers}: every helper by name, the pointer-returning ones typed as such. */
export type Helpers = PointerHelpers & {
  /** the helper `bpf_NAME`, with its signature from the kernel's helper table */
  readonly [name: string]: (...args: unknown[]) => KernelValue;
};

/** The value of a codec inside a program: `type Event = Struct<typeof Event>`. */
export type Struct<C> = C extends CodecLike<infer O> ? LangValue<O> : never;

function outside(name: string): never {
  throw new Error(`${name} runs only inside an eBPF program: compile the program with rawbpf`);
}

/**
 * A zeroed local of a codec's type, on the program's stack: `const e = zero(Event)`
 * (`Event` a top-level `struct({...})`).
 */
export function zero<C extends CodecLike>(_codec: C): Struct<C> {
  return outside("zero");
}

/**
 * Compares the first `n` bytes of `s` (default: the constant's length) with a constant string,
 * as C's strncmp: 0 when equal. Compiled to bpf_strncmp against the constant, which the compiler
 * places in a frozen read-only map. `s` is a byte array or `arr.subarray(i)`, a char array in
 * kernel memory (`task.comm`, a tracepoint record's `ctx.newcomm`), or a tracepoint record's
 * `char *` field (`ctx.filename`: user memory on a system call's tracepoint), which the compiler
 * copies to the stack first.
 */
export function strncmp(
  _s: Uint8Array | KernelValue | TracepointField,
  _constant: string,
  _n?: number,
): number {
  return outside("strncmp");
}

/** bpf_probe_read_user_str(dst, dst's size, src): the length copied (with the NUL) or a negative errno. */
export function probeReadUserStr(_dst: Uint8Array | object, _src: number): number {
  return outside("probeReadUserStr");
}

/** bpf_probe_read_kernel_str(dst, dst's size, src): the length copied (with the NUL) or a negative errno. */
export function probeReadKernelStr(_dst: Uint8Array | object, _src: number): number {
  return outside("probeReadKernelStr");
}

/** bpf_probe_read_user(dst, dst's size, src): 0 or a negative errno. */
export function probeReadUser(_dst: Uint8Array | object, _src: number): number {
  return outside("probeReadUser");
}

/** bpf_probe_read_kernel(dst, dst's size, src): 0 or a negative errno. */
export function probeReadKernel(_dst: Uint8Array | object, _src: number): number {
  return outside("probeReadKernel");
}

/** What `config()` returns at run time: a marker; the compiler reads the source. */
export interface ConfigDeclaration {
  readonly kind: "rawbpf.config";
}

/**
 * Read-only configuration set at load time: `const cfg = config({ pid: u32, verbose: u8 })`.
 * Programs read `cfg.pid`; the loader stores the values (`configValue`) in the map the compiler
 * reports under the same name, and freezes it (BPF_F_RDONLY_PROG: the verifier treats the
 * values as constants).
 */
export function config<const F extends Record<string, CodecLike<number | bigint | boolean>>>(
  _fields: F,
): { readonly [K in keyof F]: number } {
  return Object.freeze({ kind: "rawbpf.config" }) as unknown as { readonly [K in keyof F]: number };
}

/**
 * bpf_loop: calls `callback(i, state)` for i = 0 .. count-1 until it returns 1 (0 goes on); the
 * callback is compiled as its own subprogram and may not capture locals: pass a stack struct as
 * `state` and use it through the callback's second parameter. Returns the number of calls.
 */
export function bpfLoop<S>(_count: number, _callback: (index: u64, state: S) => number, _state?: S): number {
  return outside("bpfLoop");
}

/**
 * What a kfunc returns: a number, a reference to an integer (`.value`, a kfunc returning a
 * pointer to one), or a kernel struct read by member (a reference a kfunc such as
 * `bpf_task_from_pid` acquired: `task.tgid`).
 */
export type KfuncResult = KernelValue & { readonly value: number };

/**
 * Kernel functions by name (`kfuncs.bpf_iter_num_new(it, 0, 10)`), their BTF ids resolved at
 * load. A kfunc returning a pointer to an integer gives a reference or null: check it, then read
 * `.value`. A kfunc that acquires a reference (`bpf_task_from_pid`, `bpf_cgroup_from_id`,
 * `bpf_cpumask_create`...) gives a kernel struct, null until checked, that the program gives back
 * with its release kfunc (`kfuncs.bpf_task_release(task)`) on every path.
 */
export const kfuncs: {
  /** the kfunc NAME, with its prototype from the kernel's BTF */
  readonly [name: string]: (...args: unknown[]) => KfuncResult | null;
} = new Proxy(
  {},
  {
    get: () => () => {
      throw new Error("kfuncs run only inside an eBPF program: compile the program with rawbpf");
    },
  },
);

/** `lock *field += value`: an atomic add to a field of a map value. */
export function atomicAdd(_field: number, _value: number): void {
  throw new Error("atomicAdd runs only inside an eBPF program: compile the program with rawbpf");
}

/* The kernel's constants by name, each the value in KERNEL_CONSTANTS (uapi headers, checked in test/lang). */
/** XDP action `XDP_ABORTED`, a value an XDP program returns */
export const XDP_ABORTED: number = KERNEL_CONSTANTS.XDP_ABORTED as number;
/** XDP action `XDP_DROP`, a value an XDP program returns */
export const XDP_DROP: number = KERNEL_CONSTANTS.XDP_DROP as number;
/** XDP action `XDP_PASS`, a value an XDP program returns */
export const XDP_PASS: number = KERNEL_CONSTANTS.XDP_PASS as number;
/** XDP action `XDP_TX`, a value an XDP program returns */
export const XDP_TX: number = KERNEL_CONSTANTS.XDP_TX as number;
/** XDP action `XDP_REDIRECT`, a value an XDP program returns */
export const XDP_REDIRECT: number = KERNEL_CONSTANTS.XDP_REDIRECT as number;
/** tc action `TC_ACT_UNSPEC`, a value a tc/tcx program returns */
export const TC_ACT_UNSPEC: number = KERNEL_CONSTANTS.TC_ACT_UNSPEC as number;
/** tc action `TC_ACT_OK`, a value a tc/tcx program returns */
export const TC_ACT_OK: number = KERNEL_CONSTANTS.TC_ACT_OK as number;
/** tc action `TC_ACT_RECLASSIFY`, a value a tc/tcx program returns */
export const TC_ACT_RECLASSIFY: number = KERNEL_CONSTANTS.TC_ACT_RECLASSIFY as number;
/** tc action `TC_ACT_SHOT`, a value a tc/tcx program returns */
export const TC_ACT_SHOT: number = KERNEL_CONSTANTS.TC_ACT_SHOT as number;
/** tc action `TC_ACT_PIPE`, a value a tc/tcx program returns */
export const TC_ACT_PIPE: number = KERNEL_CONSTANTS.TC_ACT_PIPE as number;
/** tc action `TC_ACT_STOLEN`, a value a tc/tcx program returns */
export const TC_ACT_STOLEN: number = KERNEL_CONSTANTS.TC_ACT_STOLEN as number;
/** tc action `TC_ACT_QUEUED`, a value a tc/tcx program returns */
export const TC_ACT_QUEUED: number = KERNEL_CONSTANTS.TC_ACT_QUEUED as number;
/** tc action `TC_ACT_REPEAT`, a value a tc/tcx program returns */
export const TC_ACT_REPEAT: number = KERNEL_CONSTANTS.TC_ACT_REPEAT as number;
/** tc action `TC_ACT_REDIRECT`, a value a tc/tcx program returns */
export const TC_ACT_REDIRECT: number = KERNEL_CONSTANTS.TC_ACT_REDIRECT as number;
/** EtherType `ETH_P_IP` (linux/if_ether.h), as it stands in a packet's protocol field */
export const ETH_P_IP: number = KERNEL_CONSTANTS.ETH_P_IP as number;
/** EtherType `ETH_P_ARP` (linux/if_ether.h), as it stands in a packet's protocol field */
export const ETH_P_ARP: number = KERNEL_CONSTANTS.ETH_P_ARP as number;
/** EtherType `ETH_P_8021Q` (linux/if_ether.h), as it stands in a packet's protocol field */
export const ETH_P_8021Q: number = KERNEL_CONSTANTS.ETH_P_8021Q as number;
/** EtherType `ETH_P_IPV6` (linux/if_ether.h), as it stands in a packet's protocol field */
export const ETH_P_IPV6: number = KERNEL_CONSTANTS.ETH_P_IPV6 as number;
/** EtherType `ETH_P_8021AD` (linux/if_ether.h), as it stands in a packet's protocol field */
export const ETH_P_8021AD: number = KERNEL_CONSTANTS.ETH_P_8021AD as number;
/** `ETH_HLEN`: the length of an Ethernet header (14 bytes) */
export const ETH_HLEN: number = KERNEL_CONSTANTS.ETH_HLEN as number;
/** IP protocol number `IPPROTO_IP` (linux/in.h) */
export const IPPROTO_IP: number = KERNEL_CONSTANTS.IPPROTO_IP as number;
/** IP protocol number `IPPROTO_ICMP` (linux/in.h) */
export const IPPROTO_ICMP: number = KERNEL_CONSTANTS.IPPROTO_ICMP as number;
/** IP protocol number `IPPROTO_TCP` (linux/in.h) */
export const IPPROTO_TCP: number = KERNEL_CONSTANTS.IPPROTO_TCP as number;
/** IP protocol number `IPPROTO_UDP` (linux/in.h) */
export const IPPROTO_UDP: number = KERNEL_CONSTANTS.IPPROTO_UDP as number;
/** IP protocol number `IPPROTO_IPV6` (linux/in.h) */
export const IPPROTO_IPV6: number = KERNEL_CONSTANTS.IPPROTO_IPV6 as number;
/** IP protocol number `IPPROTO_GRE` (linux/in.h) */
export const IPPROTO_GRE: number = KERNEL_CONSTANTS.IPPROTO_GRE as number;
/** IP protocol number `IPPROTO_ICMPV6` (linux/in.h) */
export const IPPROTO_ICMPV6: number = KERNEL_CONSTANTS.IPPROTO_ICMPV6 as number;
/** IP protocol number `IPPROTO_SCTP` (linux/in.h) */
export const IPPROTO_SCTP: number = KERNEL_CONSTANTS.IPPROTO_SCTP as number;
/** map update flag `BPF_ANY` (bpf_map_update_elem) */
export const BPF_ANY: number = KERNEL_CONSTANTS.BPF_ANY as number;
/** map update flag `BPF_NOEXIST` (bpf_map_update_elem) */
export const BPF_NOEXIST: number = KERNEL_CONSTANTS.BPF_NOEXIST as number;
/** map update flag `BPF_EXIST` (bpf_map_update_elem) */
export const BPF_EXIST: number = KERNEL_CONSTANTS.BPF_EXIST as number;
/** flag `BPF_F_LOCK` of the map helpers and perf event output */
export const BPF_F_LOCK: number = KERNEL_CONSTANTS.BPF_F_LOCK as number;
/** flag `BPF_F_CURRENT_CPU` of the map helpers and perf event output */
export const BPF_F_CURRENT_CPU: number = KERNEL_CONSTANTS.BPF_F_CURRENT_CPU as number;
/** `BPF_F_CURRENT_NETNS` (-1): bpf_sk_lookup_tcp/udp look in the packet's network namespace */
export const BPF_F_CURRENT_NETNS: number = KERNEL_CONSTANTS.BPF_F_CURRENT_NETNS as number;
/** ring buffer flag `BPF_RB_NO_WAKEUP` (bpf_ringbuf_output/submit) */
export const BPF_RB_NO_WAKEUP: number = KERNEL_CONSTANTS.BPF_RB_NO_WAKEUP as number;
/** ring buffer flag `BPF_RB_FORCE_WAKEUP` (bpf_ringbuf_output/submit) */
export const BPF_RB_FORCE_WAKEUP: number = KERNEL_CONSTANTS.BPF_RB_FORCE_WAKEUP as number;
/** socket verdict `SK_DROP` (sk_skb, sk_msg, sk_lookup programs) */
export const SK_DROP: number = KERNEL_CONSTANTS.SK_DROP as number;
/** socket verdict `SK_PASS` (sk_skb, sk_msg, sk_lookup programs) */
export const SK_PASS: number = KERNEL_CONSTANTS.SK_PASS as number;
