/**
 * Program sections by libbpf's convention (the `section_defs` table of libbpf.c): a section name
 * gives the program type, the expected attach type, where it attaches, and whether it is
 * sleepable. A name ending in `+` in libbpf's table matches itself and `NAME/anything`; the others
 * match exactly. A leading `?` marks a program that is not loaded unless asked for.
 */
import { closestName } from "../program/types.js";
import { InputError } from "../sys/error.js";

/** What a program section says about its programs. */
export interface SectionDef {
  /** the program type (bpftool's spelling) */
  readonly programType: string;
  /** the expected attach type, when the kernel wants one at load */
  readonly attachType: string | undefined;
  /** what follows the prefix: a tracepoint `CAT/NAME`, a BTF function, `binary:function`... ("" when none) */
  readonly target: string;
  /** `.s` forms: loaded with BPF_F_SLEEPABLE */
  readonly sleepable: boolean;
  /** `?` prefix: not loaded unless named */
  readonly autoload: boolean;
  /** xdp.frags: BPF_F_XDP_HAS_FRAGS */
  readonly xdpFrags: boolean;
  /** the section's attach target is a BTF id found by name at load (fentry, tp_btf, lsm, iter...) */
  readonly btfTarget: boolean;
  /** the section's name in libbpf's table that matched (`tracepoint+`) */
  readonly rule: string;
  /** what rawbpf cannot load yet about this section ("USDT probes"), or undefined */
  readonly notYet: string | undefined;
}

const SLEEPABLE = 1;
const FRAGS = 2;
const BTF = 4;

/** libbpf's table: name (`+` = prefix), program type, attach type, flags. */
const DEFS: readonly (readonly [string, string, string | undefined, number?])[] = [
  ["socket", "socket_filter", undefined],
  ["sk_reuseport/migrate", "sk_reuseport", "sk_reuseport_select_or_migrate"],
  ["sk_reuseport", "sk_reuseport", "sk_reuseport_select"],
  ["kprobe+", "kprobe", undefined],
  ["uprobe+", "kprobe", undefined],
  ["uprobe.s+", "kprobe", undefined, SLEEPABLE],
  ["kretprobe+", "kprobe", undefined],
  ["uretprobe+", "kprobe", undefined],
  ["uretprobe.s+", "kprobe", undefined, SLEEPABLE],
  ["kprobe.multi+", "kprobe", "trace_kprobe_multi"],
  ["kretprobe.multi+", "kprobe", "trace_kprobe_multi"],
  ["kprobe.session+", "kprobe", "trace_kprobe_session"],
  ["uprobe.multi+", "kprobe", "trace_uprobe_multi"],
  ["uretprobe.multi+", "kprobe", "trace_uprobe_multi"],
  ["uprobe.session+", "kprobe", "trace_uprobe_session"],
  ["uprobe.multi.s+", "kprobe", "trace_uprobe_multi", SLEEPABLE],
  ["uretprobe.multi.s+", "kprobe", "trace_uprobe_multi", SLEEPABLE],
  ["uprobe.session.s+", "kprobe", "trace_uprobe_session", SLEEPABLE],
  ["ksyscall+", "kprobe", undefined],
  ["kretsyscall+", "kprobe", undefined],
  // as libbpf does where the kernel has uprobe_multi links: every site of the probe in one link
  ["usdt+", "kprobe", "trace_uprobe_multi"],
  ["usdt.s+", "kprobe", "trace_uprobe_multi", SLEEPABLE],
  ["tc/ingress", "sched_cls", "tcx_ingress"],
  ["tc/egress", "sched_cls", "tcx_egress"],
  ["tcx/ingress", "sched_cls", "tcx_ingress"],
  ["tcx/egress", "sched_cls", "tcx_egress"],
  ["tc", "sched_cls", undefined],
  ["classifier", "sched_cls", undefined],
  ["action", "sched_act", undefined],
  ["netkit/primary", "sched_cls", "netkit_primary"],
  ["netkit/peer", "sched_cls", "netkit_peer"],
  ["tracepoint+", "tracepoint", undefined],
  ["tp+", "tracepoint", undefined],
  ["raw_tracepoint+", "raw_tracepoint", undefined],
  ["raw_tp+", "raw_tracepoint", undefined],
  ["raw_tracepoint.w+", "raw_tracepoint_writable", undefined],
  ["raw_tp.w+", "raw_tracepoint_writable", undefined],
  ["tp_btf+", "tracing", "trace_raw_tp", BTF],
  ["fentry+", "tracing", "trace_fentry", BTF],
  ["fmod_ret+", "tracing", "modify_return", BTF],
  ["fexit+", "tracing", "trace_fexit", BTF],
  ["fentry.s+", "tracing", "trace_fentry", BTF | SLEEPABLE],
  ["fmod_ret.s+", "tracing", "modify_return", BTF | SLEEPABLE],
  ["fexit.s+", "tracing", "trace_fexit", BTF | SLEEPABLE],
  ["freplace+", "ext", undefined, BTF],
  ["lsm+", "lsm", "lsm_mac", BTF],
  ["lsm.s+", "lsm", "lsm_mac", BTF | SLEEPABLE],
  ["lsm_cgroup+", "lsm", "lsm_cgroup", BTF],
  ["iter+", "tracing", "trace_iter", BTF],
  ["iter.s+", "tracing", "trace_iter", BTF | SLEEPABLE],
  ["syscall", "syscall", undefined, SLEEPABLE],
  ["xdp.frags/devmap", "xdp", "xdp_devmap", FRAGS],
  ["xdp/devmap", "xdp", "xdp_devmap"],
  ["xdp.frags/cpumap", "xdp", "xdp_cpumap", FRAGS],
  ["xdp/cpumap", "xdp", "xdp_cpumap"],
  ["xdp.frags", "xdp", "xdp", FRAGS],
  ["xdp", "xdp", "xdp"],
  ["perf_event", "perf_event", undefined],
  ["lwt_in", "lwt_in", undefined],
  ["lwt_out", "lwt_out", undefined],
  ["lwt_xmit", "lwt_xmit", undefined],
  ["lwt_seg6local", "lwt_seg6local", undefined],
  ["sockops", "sock_ops", "cgroup_sock_ops"],
  ["sk_skb/stream_parser", "sk_skb", "sk_skb_stream_parser"],
  ["sk_skb/stream_verdict", "sk_skb", "sk_skb_stream_verdict"],
  ["sk_skb/verdict", "sk_skb", "sk_skb_verdict"],
  ["sk_skb", "sk_skb", undefined],
  ["sk_msg", "sk_msg", "sk_msg_verdict"],
  ["lirc_mode2", "lirc_mode2", "lirc_mode2"],
  ["flow_dissector", "flow_dissector", "flow_dissector"],
  ["cgroup_skb/ingress", "cgroup_skb", "cgroup_inet_ingress"],
  ["cgroup_skb/egress", "cgroup_skb", "cgroup_inet_egress"],
  ["cgroup/skb", "cgroup_skb", undefined],
  ["cgroup/sock_create", "cgroup_sock", "cgroup_inet_sock_create"],
  ["cgroup/sock_release", "cgroup_sock", "cgroup_inet_sock_release"],
  ["cgroup/sock", "cgroup_sock", "cgroup_inet_sock_create"],
  ["cgroup/post_bind4", "cgroup_sock", "cgroup_inet4_post_bind"],
  ["cgroup/post_bind6", "cgroup_sock", "cgroup_inet6_post_bind"],
  ["cgroup/bind4", "cgroup_sock_addr", "cgroup_inet4_bind"],
  ["cgroup/bind6", "cgroup_sock_addr", "cgroup_inet6_bind"],
  ["cgroup/connect4", "cgroup_sock_addr", "cgroup_inet4_connect"],
  ["cgroup/connect6", "cgroup_sock_addr", "cgroup_inet6_connect"],
  ["cgroup/connect_unix", "cgroup_sock_addr", "cgroup_unix_connect"],
  ["cgroup/sendmsg4", "cgroup_sock_addr", "cgroup_udp4_sendmsg"],
  ["cgroup/sendmsg6", "cgroup_sock_addr", "cgroup_udp6_sendmsg"],
  ["cgroup/sendmsg_unix", "cgroup_sock_addr", "cgroup_unix_sendmsg"],
  ["cgroup/recvmsg4", "cgroup_sock_addr", "cgroup_udp4_recvmsg"],
  ["cgroup/recvmsg6", "cgroup_sock_addr", "cgroup_udp6_recvmsg"],
  ["cgroup/recvmsg_unix", "cgroup_sock_addr", "cgroup_unix_recvmsg"],
  ["cgroup/getpeername4", "cgroup_sock_addr", "cgroup_inet4_getpeername"],
  ["cgroup/getpeername6", "cgroup_sock_addr", "cgroup_inet6_getpeername"],
  ["cgroup/getpeername_unix", "cgroup_sock_addr", "cgroup_unix_getpeername"],
  ["cgroup/getsockname4", "cgroup_sock_addr", "cgroup_inet4_getsockname"],
  ["cgroup/getsockname6", "cgroup_sock_addr", "cgroup_inet6_getsockname"],
  ["cgroup/getsockname_unix", "cgroup_sock_addr", "cgroup_unix_getsockname"],
  ["cgroup/sysctl", "cgroup_sysctl", "cgroup_sysctl"],
  ["cgroup/getsockopt", "cgroup_sockopt", "cgroup_getsockopt"],
  ["cgroup/setsockopt", "cgroup_sockopt", "cgroup_setsockopt"],
  ["cgroup/dev", "cgroup_device", "cgroup_device"],
  ["struct_ops+", "struct_ops", undefined],
  ["struct_ops.s+", "struct_ops", undefined, SLEEPABLE],
  ["sk_lookup", "sk_lookup", "sk_lookup"],
  ["netfilter", "netfilter", "netfilter"],
];

/** Every section name (or prefix) libbpf's convention knows, for suggestions. */
export const KNOWN_SECTIONS: readonly string[] = DEFS.map(([n]) => n.replace(/\+$/, ""));

/** A section name that names no program type. */
export class UnknownSectionError extends InputError {
  /** the section's name */
  readonly section: string;
  /** near known names */
  readonly suggestions: readonly string[];
  constructor(section: string) {
    const base = section.replace(/^\?/, "");
    const head = base.split("/")[0] ?? base;
    const near = [closestName(head, KNOWN_SECTIONS), closestName(base, KNOWN_SECTIONS)].filter(
      (x, i, a): x is string => x !== undefined && a.indexOf(x) === i,
    );
    super(
      `section '${section}' names no program type libbpf's convention knows` +
        (near.length ? ` — did you mean ${near.map((n) => `'${n}'`).join(" or ")}?` : "") +
        ' (a program section is e.g. SEC("xdp"), SEC("tracepoint/syscalls/sys_enter_openat"), ' +
        'SEC("kprobe/do_unlinkat"); functions in .text are subprograms)',
    );
    this.section = section;
    this.suggestions = near;
  }
}

/** A program whose section rawbpf recognises but cannot load yet (usdt). */
export class UnsupportedSectionError extends InputError {
  /** the program's section */
  readonly section: string;
  constructor(program: string, section: string, what: string) {
    super(
      `program '${program}' is in section '${section}': ${what} are not supported yet by rawbpf's object ` +
        "loader (it would load as a plain kprobe program and never fire). Load the object's other programs " +
        "with obj.load({ programs: [...] }), or mark the section '?' so it is not loaded by default",
    );
    this.section = section;
  }
}

/**
 * What a program section means, by libbpf's rules; `undefined` for a name no rule matches.
 */
export function matchSection(section: string): SectionDef | undefined {
  const autoload = !section.startsWith("?");
  const name = autoload ? section : section.slice(1);
  for (const [rule, programType, attachType, flags = 0] of DEFS) {
    let target: string;
    if (rule.endsWith("+")) {
      const prefix = rule.slice(0, -1);
      if (name === prefix) target = "";
      else if (name.startsWith(`${prefix}/`)) target = name.slice(prefix.length + 1);
      else continue;
    } else if (name === rule) target = "";
    else continue;
    return {
      programType,
      attachType,
      target,
      sleepable: (flags & SLEEPABLE) !== 0,
      autoload,
      xdpFrags: (flags & FRAGS) !== 0,
      btfTarget: (flags & BTF) !== 0,
      rule,
      notYet: undefined,
    };
  }
  return undefined;
}

/**
 * What a section name means (libbpf's convention: program type, expected attach type, target);
 * an unknown name is an {@link UnknownSectionError} naming the nearest known ones.
 */
export function sectionDef(section: string): SectionDef {
  const def = matchSection(section);
  if (def === undefined) throw new UnknownSectionError(section);
  return def;
}
