/**
 * netkit devices: a pair made over rtnetlink (no `ip` binary), and `sched_cls` programs on either
 * end through BPF_LINK_CREATE (BPF_NETKIT_PRIMARY, BPF_NETKIT_PEER), both given the primary's
 * index.
 */
import { deleteLinkRequest, type NetkitSpec, newNetkitRequest, setLinkUpRequest } from "../netlink/route.js";
import type { Program } from "../program/program.js";
import { attachTypeNumber } from "../program/types.js";
import { BpfError, InputError } from "../sys/error.js";
import { interfaceIndex, linkCreate } from "../sys/link.js";
import { type Interface, resolveInterface } from "./iface.js";
import { adoptLink, type Link } from "./link.js";
import { programFd } from "./program.js";
import { withRtnetlink } from "./rtnl.js";

/** The interface is not the primary end of a netkit pair. */
export class NotANetkitError extends InputError {}

/** Options of {@link createNetkit}. */
export interface NetkitOptions {
  /** the primary device's name (programs for both ends attach through it) */
  name: string;
  /** the peer device's name */
  peerName: string;
  /** `"l3"` (the kernel's default: IP packets, no Ethernet header) or `"l2"` */
  mode?: "l2" | "l3";
  /** what the primary does with packets when no program decides: `"forward"` (default) or `"blackhole"` */
  policy?: "forward" | "blackhole";
  /** the same for the peer */
  peerPolicy?: "forward" | "blackhole";
}

/** One end of a netkit pair. */
export interface NetkitEnd {
  /** the device's name */
  name: string;
  /** the device's index */
  index: number;
}

/** A netkit pair made by {@link createNetkit}; `delete()` (or `using`) removes both devices. */
export class NetkitPair implements Disposable {
  /** the primary end */
  readonly primary: NetkitEnd;
  /** the peer end */
  readonly peer: NetkitEnd;
  #deleted = false;

  /** Not public: made by {@link createNetkit}. */
  constructor(primary: NetkitEnd, peer: NetkitEnd) {
    this.primary = primary;
    this.peer = peer;
  }

  /** Removes the pair (RTM_DELLINK of the primary takes the peer along); a second call does nothing. */
  delete(): void {
    if (this.#deleted) return;
    this.#deleted = true;
    const index = this.primary.index;
    withRtnetlink((rt) => {
      const seq = rt.seq();
      try {
        rt.talk(deleteLinkRequest(seq, index), seq, `of netkit device ${this.primary.name}`);
      } catch (e) {
        // gone already (deleted by someone else, or its namespace went away)
        if (!(e instanceof BpfError && e.errnoName === "ENODEV")) throw e;
      }
    });
  }

  /** The same as delete(), for `using`. */
  [Symbol.dispose](): void {
    this.delete();
  }
}

function checkName(name: unknown, what: string): string {
  if (typeof name !== "string" || name.length === 0 || name.length > 15 || /[\s/:\0]/.test(name)) {
    throw new InputError(
      `${what} must be an interface name of 1 to 15 characters without spaces, '/' or ':', got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

function checkChoice<T extends string>(value: unknown, choices: readonly T[], what: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !choices.includes(value as T)) {
    throw new InputError(
      `${what} is ${choices.map((c) => `'${c}'`).join(" or ")}, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

/**
 * Creates a netkit pair in this network namespace over rtnetlink (RTM_NEWLINK, kind "netkit"),
 * both ends down. Needs CAP_NET_ADMIN and a kernel with netkit (Linux 6.7+, CONFIG_NETKIT).
 */
export function createNetkit(options: NetkitOptions): NetkitPair {
  if (options === null || typeof options !== "object")
    throw new InputError("createNetkit needs options { name, peerName }");
  const spec: NetkitSpec = {
    name: checkName(options.name, "name"),
    peerName: checkName(options.peerName, "peerName"),
  };
  if (spec.name === spec.peerName)
    throw new InputError(`the two ends need different names, both are '${spec.name}'`);
  const mode = checkChoice(options.mode, ["l2", "l3"] as const, "mode");
  if (mode) spec.mode = mode;
  const policy = checkChoice(options.policy, ["forward", "blackhole"] as const, "policy");
  if (policy) spec.policy = policy;
  const peerPolicy = checkChoice(options.peerPolicy, ["forward", "blackhole"] as const, "peerPolicy");
  if (peerPolicy) spec.peerPolicy = peerPolicy;
  const what = `of netkit pair ${spec.name}/${spec.peerName}`;
  withRtnetlink((rt) => {
    const seq = rt.seq();
    try {
      rt.talk(newNetkitRequest(seq, spec), seq, what);
    } catch (e) {
      if (e instanceof BpfError && e.errnoName === "EOPNOTSUPP") {
        throw new BpfError(
          e.command,
          e.errno,
          {
            hint: `this kernel has no netkit driver (it needs Linux 6.7 or later built with CONFIG_NETKIT; ${e.hint})`,
          },
          what,
        );
      }
      throw e;
    }
  });
  const pair = new NetkitPair(
    { name: spec.name, index: interfaceIndex(spec.name) },
    { name: spec.peerName, index: interfaceIndex(spec.peerName) },
  );
  return pair;
}

/** Sets an interface up (or down, with `up: false`) over rtnetlink, as `ip link set DEV up` does. */
export function setInterfaceUp(iface: Interface, up = true): void {
  const index = resolveInterface(iface);
  withRtnetlink((rt) => {
    const seq = rt.seq();
    rt.talk(setLinkUpRequest(seq, index, up), seq, `of interface ${String(iface)}`);
  });
}

/** Options of {@link attachNetkit}. */
export interface NetkitAttachOptions {
  /** attach only if the end's programs are still at this revision, else ESTALE (0 or left out: no check) */
  expectedRevision?: bigint | number;
}

/**
 * Attaches a `sched_cls` program to one end of a netkit pair: `"primary"` runs it on the packets
 * the primary device sends (into the peer), `"peer"` on those the peer sends. Both are given the
 * primary device (its name or index); a peer device is refused before the kernel with a
 * {@link NotANetkitError} naming the primary. The program returns NETKIT_NEXT (-1), NETKIT_PASS
 * (0), NETKIT_DROP (2) or NETKIT_REDIRECT (7). Close the link to detach.
 */
export function attachNetkit(
  program: Program,
  primary: Interface,
  end: "primary" | "peer",
  options: NetkitAttachOptions = {},
): Link {
  const fd = programFd(program, ["sched_cls"], "attachNetkit");
  if (end !== "primary" && end !== "peer")
    throw new InputError(`a netkit end is 'primary' or 'peer', got ${JSON.stringify(end)}`);
  const rev = options.expectedRevision ?? 0;
  if (
    !(
      (typeof rev === "bigint" && rev >= 0n) ||
      (typeof rev === "number" && Number.isInteger(rev) && rev >= 0)
    )
  )
    throw new InputError(`expectedRevision must be a non-negative integer, got ${String(rev)}`);
  const ifindex = resolveInterface(primary);
  const dev = withRtnetlink((rt) => rt.link(ifindex, `of interface ${String(primary)}`));
  if (dev.kind !== "netkit") {
    throw new NotANetkitError(
      `${String(primary)} is ${dev.kind ? `a ${dev.kind} device` : "not a netkit device"}: attachNetkit needs the primary end of a netkit pair (createNetkit makes one)`,
    );
  }
  if (dev.netkit?.primary !== true) {
    const peer = dev.link ?? 0;
    throw new NotANetkitError(
      `${String(primary)} is the peer end of a netkit pair: give the primary (interface index ${peer}) with end '${end}' — both ends attach through the primary`,
    );
  }
  const link = linkCreate(
    {
      progFd: fd,
      target: ifindex,
      attachType: attachTypeNumber(end === "primary" ? "netkit_primary" : "netkit_peer"),
      extra: { kind: "netkit", relative: 0, expectedRevision: BigInt(rev) },
    },
    { what: `of sched_cls program on netkit ${String(primary)} (${end})`, privilege: "net" },
  );
  return adoptLink(link);
}
