/**
 * Program types and attach types by the names bpftool uses, and their kernel numbers
 * (`enum bpf_prog_type`, `enum bpf_attach_type` of Linux 6.18).
 */
import { InputError } from "../sys/error.js";

/** Program type names in `enum bpf_prog_type` order, starting at 1 (0 is BPF_PROG_TYPE_UNSPEC). */
const PROG_TYPE_NAMES = [
  "socket_filter",
  "kprobe",
  "sched_cls",
  "sched_act",
  "tracepoint",
  "xdp",
  "perf_event",
  "cgroup_skb",
  "cgroup_sock",
  "lwt_in",
  "lwt_out",
  "lwt_xmit",
  "sock_ops",
  "sk_skb",
  "cgroup_device",
  "sk_msg",
  "raw_tracepoint",
  "cgroup_sock_addr",
  "lwt_seg6local",
  "lirc_mode2",
  "sk_reuseport",
  "flow_dissector",
  "cgroup_sysctl",
  "raw_tracepoint_writable",
  "cgroup_sockopt",
  "tracing",
  "struct_ops",
  "ext",
  "lsm",
  "sk_lookup",
  "syscall",
  "netfilter",
] as const;

/** A program type as bpftool spells it, e.g. `"socket_filter"`, `"xdp"`. */
export type ProgramType = (typeof PROG_TYPE_NAMES)[number];

/** Attach type names in `enum bpf_attach_type` order, starting at 0. */
const ATTACH_TYPE_NAMES = [
  "cgroup_inet_ingress",
  "cgroup_inet_egress",
  "cgroup_inet_sock_create",
  "cgroup_sock_ops",
  "sk_skb_stream_parser",
  "sk_skb_stream_verdict",
  "cgroup_device",
  "sk_msg_verdict",
  "cgroup_inet4_bind",
  "cgroup_inet6_bind",
  "cgroup_inet4_connect",
  "cgroup_inet6_connect",
  "cgroup_inet4_post_bind",
  "cgroup_inet6_post_bind",
  "cgroup_udp4_sendmsg",
  "cgroup_udp6_sendmsg",
  "lirc_mode2",
  "flow_dissector",
  "cgroup_sysctl",
  "cgroup_udp4_recvmsg",
  "cgroup_udp6_recvmsg",
  "cgroup_getsockopt",
  "cgroup_setsockopt",
  "trace_raw_tp",
  "trace_fentry",
  "trace_fexit",
  "modify_return",
  "lsm_mac",
  "trace_iter",
  "cgroup_inet4_getpeername",
  "cgroup_inet6_getpeername",
  "cgroup_inet4_getsockname",
  "cgroup_inet6_getsockname",
  "xdp_devmap",
  "cgroup_inet_sock_release",
  "xdp_cpumap",
  "sk_lookup",
  "xdp",
  "sk_skb_verdict",
  "sk_reuseport_select",
  "sk_reuseport_select_or_migrate",
  "perf_event",
  "trace_kprobe_multi",
  "lsm_cgroup",
  "struct_ops",
  "netfilter",
  "tcx_ingress",
  "tcx_egress",
  "trace_uprobe_multi",
  "cgroup_unix_connect",
  "cgroup_unix_sendmsg",
  "cgroup_unix_recvmsg",
  "cgroup_unix_getpeername",
  "cgroup_unix_getsockname",
  "netkit_primary",
  "netkit_peer",
  "trace_kprobe_session",
  "trace_uprobe_session",
] as const;

/** An attach type as bpftool spells it (the kernel's `BPF_` name in lower case), e.g. `"cgroup_inet_ingress"`. */
export type AttachType = (typeof ATTACH_TYPE_NAMES)[number];

/** Every program type name, in kernel order. */
export const programTypes: readonly ProgramType[] = PROG_TYPE_NAMES;
/** Every attach type name, in kernel order. */
export const attachTypes: readonly AttachType[] = ATTACH_TYPE_NAMES;

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The name in `names` closest to `input` (by edit distance, or containing it). */
export function closestName(input: string, names: readonly string[]): string | undefined {
  const s = input.toLowerCase();
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const n of names) {
    const d = n.includes(s) || s.includes(n) ? Math.abs(n.length - s.length) * 0.5 : distance(s, n);
    if (d < bestD) {
      bestD = d;
      best = n;
    }
  }
  return bestD <= Math.max(3, s.length / 2) ? best : undefined;
}

/** An unknown program or attach type name. */
export class UnknownTypeError extends InputError {
  /** the closest known name, when one is close */
  readonly suggestion: string | undefined;
  constructor(what: string, input: string, names: readonly string[]) {
    const suggestion = closestName(input, names);
    super(
      `unknown ${what} '${input}'${suggestion ? ` — did you mean '${suggestion}'?` : ""} ` +
        `(known: ${names.join(", ")})`,
    );
    this.suggestion = suggestion;
  }
}

function normalise(input: string, prefix: string): string {
  const s = input.trim().toLowerCase();
  return s.startsWith(prefix) ? s.slice(prefix.length) : s;
}

/** The kernel number (`enum bpf_prog_type`) of a program type name; also accepts `BPF_PROG_TYPE_XDP`. */
export function programTypeNumber(name: string): number {
  if (typeof name !== "string")
    throw new InputError(`program type must be a name like 'xdp', got ${typeof name}`);
  const i = (PROG_TYPE_NAMES as readonly string[]).indexOf(normalise(name, "bpf_prog_type_"));
  if (i < 0) throw new UnknownTypeError("program type", name, PROG_TYPE_NAMES);
  return i + 1;
}

/** The name of a program type number, or `type <n>` for numbers this table does not know. */
export function programTypeName(value: number): string {
  return PROG_TYPE_NAMES[value - 1] ?? (value === 0 ? "unspec" : `type ${value}`);
}

/** The kernel number (`enum bpf_attach_type`) of an attach type name; also accepts `BPF_XDP`. */
export function attachTypeNumber(name: string): number {
  if (typeof name !== "string")
    throw new InputError(`attach type must be a name like 'xdp', got ${typeof name}`);
  const i = (ATTACH_TYPE_NAMES as readonly string[]).indexOf(normalise(name, "bpf_"));
  if (i < 0) throw new UnknownTypeError("attach type", name, ATTACH_TYPE_NAMES);
  return i;
}

/** The name of an attach type number, or `attach type <n>` when unknown. */
export function attachTypeName(value: number): string {
  return ATTACH_TYPE_NAMES[value] ?? `attach type ${value}`;
}

/**
 * The fewest bytes of packet data a test run of this program type needs (the kernel rejects
 * shorter input with EINVAL): an Ethernet header (14 bytes) for the skb and XDP families.
 */
export function minTestRunData(type: string): number {
  return SKB_TEST_RUN.has(type) || type === "sk_skb" || type === "xdp" || type === "flow_dissector" ? 14 : 0;
}

/** The program types whose test run builds a socket buffer (the kernel's `bpf_prog_test_run_skb`). */
const SKB_TEST_RUN: ReadonlySet<string> = new Set([
  "socket_filter",
  "sched_cls",
  "sched_act",
  "cgroup_skb",
  "lwt_in",
  "lwt_out",
  "lwt_xmit",
  "lwt_seg6local",
]);

/**
 * Why the kernel refuses this packet for a test run of a program of `type`, when it does for what
 * the packet says rather than its length alone: the socket-buffer families (BPF_PROG_TEST_RUN's
 * `bpf_prog_test_run_skb`) read the addresses of an IPv4 or IPv6 packet, and a packet whose
 * Ethernet type says IPv4 (0x0800) or IPv6 (0x86dd) but which is too short for that header is
 * refused with EINVAL (a fix of 2026 in net/bpf/test_run.c, in the stable kernels too: 6.18
 * here). Undefined when nothing is wrong.
 */
export function testRunPacketProblem(type: string, data: Uint8Array | undefined): string | undefined {
  if (!SKB_TEST_RUN.has(type) || data === undefined || data.byteLength < 14) return undefined;
  const ethertype = ((data[12] as number) << 8) | (data[13] as number);
  const header = ethertype === 0x0800 ? 20 : ethertype === 0x86dd ? 40 : 0;
  if (data.byteLength - 14 >= header) return undefined;
  const ip = header === 20 ? "IPv4" : "IPv6";
  return `the packet's Ethernet type says ${ip} (0x${ethertype.toString(16).padStart(4, "0")}) but ${data.byteLength - 14} bytes follow the Ethernet header, fewer than an ${ip} header's ${header}: the kernel reads the addresses from it and refuses the packet`;
}

/**
 * What loading a program type needs beyond CAP_BPF, as the kernel's `is_net_admin_prog_type`
 * and `is_perfmon_prog_type` decide: `"net"` (CAP_NET_ADMIN), `"perfmon"` (CAP_PERFMON) or `"bpf"`.
 */
export function loadPrivilege(type: string): "bpf" | "net" | "perfmon" {
  switch (type) {
    case "sched_cls":
    case "sched_act":
    case "xdp":
    case "lwt_in":
    case "lwt_out":
    case "lwt_xmit":
    case "lwt_seg6local":
    case "sk_skb":
    case "sk_msg":
    case "flow_dissector":
    case "cgroup_device":
    case "cgroup_sock":
    case "cgroup_sock_addr":
    case "cgroup_sockopt":
    case "cgroup_sysctl":
    case "sock_ops":
    case "ext":
    case "netfilter":
      return "net";
    case "kprobe":
    case "tracepoint":
    case "perf_event":
    case "raw_tracepoint":
    case "raw_tracepoint_writable":
    case "tracing":
    case "lsm":
    case "struct_ops":
      return "perfmon";
    default:
      return "bpf";
  }
}
