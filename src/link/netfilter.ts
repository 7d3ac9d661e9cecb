/** Netfilter hooks: a `netfilter` program at one hook of one protocol family (BPF_LINK_CREATE, BPF_NETFILTER). */
import type { Program } from "../program/program.js";
import { attachTypeNumber } from "../program/types.js";
import { InputError } from "../sys/error.js";
import { linkCreate } from "../sys/link.js";
import { adoptLink, type Link } from "./link.js";
import { programFd } from "./program.js";

/** The protocol families a netfilter program can hook: IPv4 (NFPROTO_IPV4) or IPv6 (NFPROTO_IPV6). */
export type NetfilterFamily = "ipv4" | "ipv6";

/**
 * The hooks of the IP stack (`enum nf_inet_hooks`): `"prerouting"` (every packet received, before
 * routing), `"local_in"` (received for this host), `"forward"` (routed through), `"local_out"`
 * (sent by this host), `"postrouting"` (every packet leaving).
 */
export type NetfilterHook = "prerouting" | "local_in" | "forward" | "local_out" | "postrouting";

/** NFPROTO_* numbers by family. */
export const NETFILTER_FAMILIES: Readonly<Record<NetfilterFamily, number>> = { ipv4: 2, ipv6: 10 };
/** NF_INET_* numbers by hook. */
export const NETFILTER_HOOKS: Readonly<Record<NetfilterHook, number>> = {
  prerouting: 0,
  local_in: 1,
  forward: 2,
  local_out: 3,
  postrouting: 4,
};

/** BPF_F_NETFILTER_IP_DEFRAG: packets reach the program reassembled. */
const NETFILTER_IP_DEFRAG = 1;
/** NF_IP_PRI_CONNTRACK_DEFRAG: with `defrag`, the priority must come after reassembly. */
const PRI_DEFRAG = -400;

/** Options of {@link attachNetfilter}. */
export interface NetfilterOptions {
  /** the protocol family */
  family: NetfilterFamily;
  /** the hook */
  hook: NetfilterHook;
  /**
   * where the program runs among the hook's functions (iptables' filter table is 0, conntrack
   * -200): lower runs first. An integer other than the two extremes (-2147483648, 2147483647),
   * which the kernel keeps for itself.
   */
  priority: number;
  /** reassemble IP fragments before the program sees them (BPF_F_NETFILTER_IP_DEFRAG; priority must then be above -400) */
  defrag?: boolean;
}

/**
 * Attaches a `netfilter` program (loaded with `expectedAttachType: "netfilter"`) to a netfilter
 * hook of this network namespace: it runs for every packet of that family at that hook and
 * returns NF_DROP (0) or NF_ACCEPT (1). Its context is `struct bpf_nf_ctx` (the hook state and
 * the `sk_buff`). Close the link to detach.
 */
export function attachNetfilter(program: Program, options: NetfilterOptions): Link {
  if (options === null || typeof options !== "object")
    throw new InputError("attachNetfilter needs options { family, hook, priority }");
  const { family, hook, priority, defrag = false } = options;
  if (typeof family !== "string" || !Object.hasOwn(NETFILTER_FAMILIES, family)) {
    throw new InputError(`a netfilter family is 'ipv4' or 'ipv6', got ${JSON.stringify(family)}`);
  }
  if (typeof hook !== "string" || !Object.hasOwn(NETFILTER_HOOKS, hook)) {
    throw new InputError(
      `a netfilter hook is one of ${Object.keys(NETFILTER_HOOKS).join(", ")}, got ${JSON.stringify(hook)}`,
    );
  }
  if (
    typeof priority !== "number" ||
    !Number.isInteger(priority) ||
    priority <= -0x80000000 ||
    priority >= 0x7fffffff
  ) {
    throw new InputError(
      `a netfilter priority is an integer from -2147483647 to 2147483646 (the kernel keeps the two extremes), got ${String(priority)}`,
    );
  }
  if (typeof defrag !== "boolean") throw new InputError(`defrag is true or false, got ${String(defrag)}`);
  if (defrag && priority <= PRI_DEFRAG) {
    throw new InputError(
      `with defrag the program must run after reassembly: priority above ${PRI_DEFRAG} (NF_IP_PRI_CONNTRACK_DEFRAG), got ${priority}`,
    );
  }
  const fd = programFd(program, ["netfilter"], "attachNetfilter", " (with expectedAttachType 'netfilter')");
  const link = linkCreate(
    {
      progFd: fd,
      target: 0,
      attachType: attachTypeNumber("netfilter"),
      extra: {
        kind: "netfilter",
        pf: NETFILTER_FAMILIES[family],
        hooknum: NETFILTER_HOOKS[hook],
        priority,
        flags: defrag ? NETFILTER_IP_DEFRAG : 0,
      },
    },
    { what: `of netfilter program at ${family} ${hook} (priority ${priority})`, privilege: "net" },
  );
  return adoptLink(link);
}

/** The name of a netfilter family number (`"ipv4"`), or `family <n>`. */
export function netfilterFamilyName(pf: number): string {
  for (const [name, n] of Object.entries(NETFILTER_FAMILIES)) if (n === pf) return name;
  return `family ${pf}`;
}

/** The name of a netfilter hook number (`"local_in"`), or `hook <n>`. */
export function netfilterHookName(hooknum: number): string {
  for (const [name, n] of Object.entries(NETFILTER_HOOKS)) if (n === hooknum) return name;
  return `hook ${hooknum}`;
}
