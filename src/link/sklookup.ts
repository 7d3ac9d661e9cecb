/**
 * Network-namespace hooks (BPF_LINK_CREATE with a netns descriptor as target): `sk_lookup`
 * programs, which pick the socket an incoming connection or datagram goes to, and
 * `flow_dissector` programs, which take over the kernel's packet dissection.
 */
import { closeSync, openSync, statfsSync } from "node:fs";
import type { Program } from "../program/program.js";
import { attachTypeNumber } from "../program/types.js";
import { BpfError, InputError } from "../sys/error.js";
import { linkCreate } from "../sys/link.js";
import { adoptLink, type Link } from "./link.js";
import { programFd } from "./program.js";

/**
 * A network namespace: a path to its nsfs file (`/proc/self/ns/net`, `/proc/PID/ns/net`,
 * `/run/netns/NAME`), or an open descriptor of one (which stays the caller's). Left out: the
 * namespace of this process.
 */
export type Netns = string | number;

/** The path or descriptor is not a network namespace. */
export class NotANetnsError extends InputError {}

const NSFS_MAGIC = 0x6e736673;

/** Opens a netns path after checking it is in nsfs; returns the descriptor (the caller closes it). */
function openNetns(path: string): number {
  let magic: number;
  try {
    magic = Number(statfsSync(path).type);
  } catch (e) {
    throw new NotANetnsError(
      `cannot use network namespace ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)} ` +
        "(give /proc/self/ns/net, /proc/PID/ns/net of a running process, or /run/netns/NAME)",
    );
  }
  if (magic !== NSFS_MAGIC) {
    throw new NotANetnsError(
      `${path} is not a namespace file (its file system magic is 0x${magic.toString(16)}, nsfs is 0x6e736673): ` +
        "give /proc/self/ns/net, /proc/PID/ns/net or /run/netns/NAME",
    );
  }
  try {
    return openSync(path, "r");
  } catch (e) {
    throw new NotANetnsError(
      `cannot open network namespace ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
}

function attachToNetns(
  program: Program,
  netns: Netns,
  type: "sk_lookup" | "flow_dissector",
  attach: string,
): Link {
  const fd = programFd(program, [type], attach);
  let target: number;
  let owned = false;
  if (typeof netns === "number") {
    if (!Number.isInteger(netns) || netns < 0)
      throw new InputError(`a network namespace descriptor must be a non-negative integer, got ${netns}`);
    target = netns;
  } else if (typeof netns === "string" && netns.length > 0) {
    target = openNetns(netns);
    owned = true;
  } else {
    throw new InputError(
      `a network namespace is a path (/proc/self/ns/net) or a descriptor, got ${String(netns)}`,
    );
  }
  const what = `of ${type} program on network namespace ${String(netns)}`;
  try {
    return adoptLink(
      linkCreate({ progFd: fd, target, attachType: attachTypeNumber(type) }, { what, privilege: "net" }),
    );
  } catch (e) {
    if (type === "flow_dissector" && e instanceof BpfError && e.errnoName === "E2BIG") {
      throw new BpfError(
        e.command,
        e.errno,
        {
          hint: "a network namespace runs one flow_dissector program and one is attached there: close its link (`bpftool net` shows it) or give it this program with update()",
        },
        what,
      );
    }
    throw e;
  } finally {
    if (owned) closeSync(target);
  }
}

/**
 * Attaches an `sk_lookup` program (loaded with `expectedAttachType: "sk_lookup"`) to a network
 * namespace: it runs for every TCP connection request and UDP datagram there before the kernel
 * looks up a socket, and may pick the socket itself (`bpf_sk_assign` with a socket from a sockmap
 * or sockhash) — one listening socket can then serve any address and port range. It returns
 * SK_PASS (1) to go on (with its pick, or to the normal lookup) or SK_DROP (0). Several sk_lookup
 * links may share a namespace; close the link to detach.
 */
export function attachSkLookup(program: Program, netns: Netns = "/proc/self/ns/net"): Link {
  return attachToNetns(program, netns, "sk_lookup", "attachSkLookup");
}

/**
 * Attaches a `flow_dissector` program to a network namespace: the kernel's flow dissector
 * (packet hashing, RPS, flower and fq classifiers) runs it instead of its own parser for packets
 * in that namespace. A program in the initial namespace applies to all. Close the link to detach.
 */
export function attachFlowDissector(program: Program, netns: Netns = "/proc/self/ns/net"): Link {
  return attachToNetns(program, netns, "flow_dissector", "attachFlowDissector");
}
