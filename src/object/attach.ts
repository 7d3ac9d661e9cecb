/**
 * Where a program's section says it attaches, made into a link (libbpf's auto-attach): tracepoints,
 * raw tracepoints, tp_btf / fentry / fexit / fmod_ret / lsm, uprobes with `binary:function` in the
 * section; cgroup programs and xdp / tc programs when a target is given. Sections that name no
 * place (`socket`, `tracepoint` with no target...) are skipped, with the reason.
 */
import type { AnyCodec } from "../codec/index.js";
import { attachCgroup, type Cgroup, type CgroupAttachType } from "../link/cgroup.js";
import type { Interface } from "../link/iface.js";
import type { Link } from "../link/link.js";
import { attachTcx, attachXdp } from "../link/net.js";
import { attachFlowDissector, attachSkLookup, type Netns } from "../link/sklookup.js";
import { attachTracepoint } from "../link/tracepoint.js";
import { attachRawTracepoint, attachTracing, type TracingAttachType } from "../link/tracing.js";
import { attachUprobe, attachUprobeMulti, uprobeOffset } from "../link/uprobe.js";
import type { BpfMap } from "../map/map.js";
import type { Program } from "../program/program.js";
import { InputError } from "../sys/error.js";
import { attachUsdt } from "../usdt/attach.js";
import type { SectionDef } from "./sections.js";

/** Targets for programs whose section cannot say where they attach. */
export interface ObjectAttachOptions {
  /** attach only these programs (default: every loaded one whose section says where) */
  programs?: readonly string[];
  /** the cgroup (a cgroup v2 directory, or its descriptor) for cgroup_skb/..., cgroup/... programs */
  cgroup?: Cgroup;
  /** the network interface (name or index) for xdp programs and tc/tcx ingress/egress ones */
  interface?: Interface;
  /** uprobes: only in this process */
  pid?: number;
  /**
   * the network namespace for `sk_lookup` and `flow_dissector` programs: a path to its file
   * (`/proc/self/ns/net`, `/proc/PID/ns/net`, `/run/netns/NAME`) or an open descriptor of it
   */
  netns?: Netns;
}

/** Why a program was not attached. */
export type SkipReason = string;

const TRACING: Readonly<Record<string, TracingAttachType>> = {
  trace_fentry: "trace_fentry",
  trace_fexit: "trace_fexit",
  modify_return: "modify_return",
  trace_raw_tp: "trace_raw_tp",
  lsm_mac: "lsm_mac",
};

function uprobePlace(target: string, section: string): { binary: string; place: string | number } {
  const colon = target.lastIndexOf(":");
  if (colon <= 0 || colon === target.length - 1)
    throw new InputError(
      `section '${section}' does not say where to probe: a uprobe section is uprobe/BINARY:FUNCTION[+OFFSET] ` +
        '(e.g. SEC("uprobe//usr/lib/x86_64-linux-gnu/libc.so.6:malloc"))',
    );
  const binary = target.slice(0, colon);
  const fn = target.slice(colon + 1);
  const plus = /^(.+)\+(0x[0-9a-fA-F]+|\d+)$/.exec(fn);
  if (plus) return { binary, place: uprobeOffset(binary, plus[1] as string) + Number(plus[2]) };
  if (/^(0x[0-9a-fA-F]+|\d+)$/.test(fn)) return { binary, place: Number(fn) };
  return { binary, place: fn };
}

/**
 * Attaches one program where its section says (or where `options` say for cgroup, xdp and tc
 * programs); returns the reason instead when it cannot tell where.
 */
export function attachBySection(
  program: Program,
  section: string,
  def: SectionDef,
  options: ObjectAttachOptions,
  map: (name: string) => BpfMap<AnyCodec, AnyCodec> | undefined = () => undefined,
): Link | SkipReason {
  const rule = def.rule.replace(/\+$/, "");
  const t = def.target;
  if (rule === "usdt" || rule === "usdt.s") {
    // usdt/BINARY:PROVIDER:NAME; libbpf's usdt.bpf.h reads its arguments from __bpf_usdt_specs
    const m = /^(.+):([^:]+):([^:]+)$/.exec(t);
    if (!m) return "a usdt section names no BINARY:PROVIDER:NAME";
    const specs = map("__bpf_usdt_specs");
    const attached = attachUsdt(program, {
      binary: m[1] as string,
      provider: m[2] as string,
      name: m[3] as string,
      ...(specs === undefined ? {} : { specs }),
      ...(options.pid === undefined ? {} : { pid: options.pid }),
    });
    return attached.links[0] as Link;
  }
  if (def.programType === "tracepoint") {
    const slash = t.indexOf("/");
    if (slash <= 0) return "a tracepoint section names no CATEGORY/NAME";
    return attachTracepoint(program, t.slice(0, slash), t.slice(slash + 1));
  }
  if (def.programType === "raw_tracepoint" || def.programType === "raw_tracepoint_writable") {
    if (!t) return "a raw tracepoint section names no tracepoint";
    return attachRawTracepoint(program, t);
  }
  if ((def.programType === "tracing" || def.programType === "lsm") && def.attachType) {
    const attachType = TRACING[def.attachType];
    if (!attachType || !t)
      return `a ${rule} section attaches only with a target given at load or through its own link`;
    return attachTracing(program, { attachType });
  }
  if (def.programType === "kprobe" && /^u(ret)?probe(\.s)?$/.test(rule)) {
    if (!t) return "a uprobe section with no BINARY:FUNCTION";
    const { binary, place } = uprobePlace(t, section);
    return attachUprobe(program, binary, place, {
      retprobe: rule.startsWith("uretprobe"),
      ...(options.pid === undefined ? {} : { pid: options.pid }),
    });
  }
  if (def.programType === "kprobe" && /^u(ret)?probe\.multi(\.s)?$/.test(rule)) {
    if (!t) return "a uprobe.multi section with no BINARY:FUNCTION";
    const { binary, place } = uprobePlace(t, section);
    if (typeof place === "string" && /[*?[]/.test(place))
      return "uprobe.multi patterns (globs) are not supported yet: attach with attachUprobeMulti and a list of names";
    return attachUprobeMulti(program, binary, [place], {
      retprobe: rule.startsWith("uretprobe"),
      ...(options.pid === undefined ? {} : { pid: options.pid }),
    });
  }
  if (def.programType === "kprobe") return "kprobes cannot be attached by rawbpf yet";
  const at = def.attachType;
  if (at && (at.startsWith("cgroup_") || at === "lsm_cgroup")) {
    if (options.cgroup === undefined) return "a cgroup program: give attach({ cgroup })";
    return attachCgroup(program, options.cgroup, at as CgroupAttachType);
  }
  if (def.programType === "xdp" && (at === "xdp" || at === undefined)) {
    if (options.interface === undefined) return "an xdp program: give attach({ interface })";
    return attachXdp(program, options.interface);
  }
  if (def.programType === "sched_cls" && (at === "tcx_ingress" || at === "tcx_egress")) {
    if (options.interface === undefined) return "a tc program: give attach({ interface })";
    return attachTcx(program, options.interface, at === "tcx_ingress" ? "ingress" : "egress");
  }
  if ((def.programType === "sk_lookup" || def.programType === "flow_dissector") && at === def.programType) {
    if (options.netns === undefined) return `a ${def.programType} program: give attach({ netns })`;
    return at === "sk_lookup"
      ? attachSkLookup(program, options.netns)
      : attachFlowDissector(program, options.netns);
  }
  return `section '${section}' does not say where to attach`;
}
