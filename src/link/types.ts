/** Link types by the names bpftool uses (`enum bpf_link_type` of Linux 6.18, `BPF_LINK_TYPE_` dropped). */

const LINK_TYPE_NAMES = [
  "unspec",
  "raw_tracepoint",
  "tracing",
  "cgroup",
  "iter",
  "netns",
  "xdp",
  "perf_event",
  "kprobe_multi",
  "struct_ops",
  "netfilter",
  "tcx",
  "uprobe_multi",
  "netkit",
  "sockmap",
] as const;

/** A link type as bpftool spells it: `"xdp"`, `"tcx"`, `"cgroup"`, `"raw_tracepoint"`... */
export type LinkType = (typeof LINK_TYPE_NAMES)[number];

/** Every link type name, in kernel order. */
export const linkTypes: readonly LinkType[] = LINK_TYPE_NAMES;

/** The name of a link type number, or `type <n>` for numbers this table does not know. */
export function linkTypeName(value: number): LinkType | `type ${number}` {
  return LINK_TYPE_NAMES[value] ?? `type ${value}`;
}

/** `enum bpf_perf_event_type`, as bpftool names the kinds of perf_event link. */
const PERF_EVENT_TYPE_NAMES = ["unspec", "uprobe", "uretprobe", "kprobe", "kretprobe", "tracepoint", "event"];

/** The name of a perf_event link's event type (`"tracepoint"`), or `type <n>` when unknown. */
export function perfEventTypeName(value: number): string {
  return PERF_EVENT_TYPE_NAMES[value] ?? `type ${value}`;
}
