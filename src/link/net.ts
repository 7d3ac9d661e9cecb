/** Network hooks: XDP and tcx links on an interface (BPF_LINK_CREATE). */

import type { LinkXdp } from "../netlink/route.js";
import type { Program } from "../program/program.js";
import { attachTypeNumber } from "../program/types.js";
import { BpfError, InputError } from "../sys/error.js";
import { linkCreate, XdpFlags } from "../sys/link.js";
import { type Interface, resolveInterface } from "./iface.js";
import { adoptLink, type Link } from "./link.js";
import { programFd } from "./program.js";
import { withRtnetlink } from "./rtnl.js";

/**
 * Where an XDP program runs: `"generic"` (in the kernel's receive path, on any interface: XDP_FLAGS_SKB_MODE),
 * `"driver"` (in the driver, before any allocation: XDP_FLAGS_DRV_MODE) or `"offload"` (on the
 * NIC: XDP_FLAGS_HW_MODE, for programs loaded for that device).
 */
export type XdpMode = "generic" | "driver" | "offload";

const XDP_MODES: Readonly<Record<XdpMode, number>> = {
  generic: XdpFlags.SKB_MODE,
  driver: XdpFlags.DRV_MODE,
  offload: XdpFlags.HW_MODE,
};

/** Options of {@link attachXdp}. */
export interface XdpOptions {
  /** the attach mode; left out, the kernel picks driver mode where the driver has XDP, else generic */
  mode?: XdpMode;
}

/**
 * Attaches an `xdp` program to an interface (a name like `"eth0"` or an index): every packet the
 * interface receives runs it first, and its return value decides (XDP_DROP 1, XDP_PASS 2,
 * XDP_TX 3, XDP_REDIRECT 4). Only one XDP link per interface and mode; close the link to detach.
 */
export function attachXdp(program: Program, iface: Interface, options: XdpOptions = {}): Link {
  const fd = programFd(program, ["xdp"], "attachXdp");
  const mode = options.mode;
  let flags = 0;
  if (mode !== undefined) {
    if (typeof mode !== "string" || !Object.hasOwn(XDP_MODES, mode)) {
      throw new InputError(
        `an XDP mode is 'generic', 'driver' or 'offload', got ${JSON.stringify(mode)} (leave it out to let the kernel choose)`,
      );
    }
    flags = XDP_MODES[mode];
  }
  const ifindex = resolveInterface(iface);
  const what = `of XDP program on interface ${String(iface)}`;
  let link: number;
  try {
    link = linkCreate(
      { progFd: fd, target: ifindex, attachType: attachTypeNumber("xdp"), flags },
      { what, privilege: "net" },
    );
  } catch (e) {
    if (e instanceof BpfError && (e.errnoName === "EEXIST" || e.errnoName === "EBUSY")) {
      throw new BpfError(e.command, e.errno, { hint: xdpBusyHint(ifindex, String(iface)) }, what);
    }
    throw e;
  }
  return adoptLink(link);
}

/** What is already on an interface that refused an XDP attach, from its IFLA_XDP. */
function xdpBusyHint(ifindex: number, iface: string): string {
  let xdp: LinkXdp | undefined;
  try {
    xdp = withRtnetlink((rt) => rt.link(ifindex)).xdp;
  } catch {
    xdp = undefined;
  }
  const modes: [string, number | undefined][] =
    xdp === undefined
      ? []
      : xdp.attached === 4
        ? [
            ["driver", xdp.driverProgId],
            ["generic", xdp.genericProgId],
            ["offload", xdp.offloadProgId],
          ]
        : [[["", "driver", "generic", "offload"][xdp.attached] ?? "", xdp.progId]];
  const there = modes
    .filter(([m, id]) => m !== "" && id !== undefined && id !== 0)
    .map(([m, id]) => `program ${id} in ${m} mode`);
  return (
    `${iface} already has an XDP program${there.length ? ` (${there.join(", ")})` : ""}: one per mode, and driver and ` +
    "generic mode cannot be used at once; close its link (`rawbpf link list` or `bpftool net` shows it) or update() it"
  );
}

/** The direction of a tcx link: packets the interface receives, or packets it sends. */
export type TcxDirection = "ingress" | "egress";

/** Options of {@link attachTcx}. */
export interface TcxOptions {
  /**
   * Attach only if the interface's tcx programs are still at this revision (the kernel counts
   * every change), else the kernel refuses with ESTALE. Left out (0): no check.
   */
  expectedRevision?: bigint | number;
}

/**
 * Attaches a `sched_cls` program to an interface's tcx hook (`"ingress"` or `"egress"`), after
 * those already there. Its return value decides: TCX_NEXT (-1) runs the next program, TCX_PASS
 * (0) passes the packet, TCX_DROP (2) drops it, TCX_REDIRECT (7) redirects it. Close the link to
 * detach.
 */
export function attachTcx(
  program: Program,
  iface: Interface,
  direction: TcxDirection,
  options: TcxOptions = {},
): Link {
  const fd = programFd(program, ["sched_cls"], "attachTcx");
  if (direction !== "ingress" && direction !== "egress") {
    throw new InputError(`a tcx direction is 'ingress' or 'egress', got ${JSON.stringify(direction)}`);
  }
  const rev = options.expectedRevision ?? 0;
  if (
    !(
      (typeof rev === "bigint" && rev >= 0n) ||
      (typeof rev === "number" && Number.isInteger(rev) && rev >= 0)
    )
  ) {
    throw new InputError(`expectedRevision must be a non-negative integer, got ${String(rev)}`);
  }
  const ifindex = resolveInterface(iface);
  const link = linkCreate(
    {
      progFd: fd,
      target: ifindex,
      attachType: attachTypeNumber(direction === "ingress" ? "tcx_ingress" : "tcx_egress"),
      extra: { kind: "tcx", relative: 0, expectedRevision: BigInt(rev) },
    },
    { what: `of tcx program on ${String(iface)} ${direction}`, privilege: "net" },
  );
  return adoptLink(link);
}
