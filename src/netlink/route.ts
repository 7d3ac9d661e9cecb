/**
 * rtnetlink (NETLINK_ROUTE) messages rawbpf needs, as bytes: links (get, set up, create a netkit
 * pair, delete, and their XDP and netkit details), the clsact qdisc, and cls_bpf filters. Pure:
 * builders return a request's bytes, parsers read the kernel's answers.
 */

import { NetlinkFormatError } from "./errors.js";
import {
  type Attributes,
  attrString,
  attrU8,
  attrU32,
  type Message,
  MessageWriter,
  NlmFlags,
  parseAttributes,
} from "./message.js";

/** rtnetlink message types. */
export const Rtm = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWQDISC: 36,
  DELQDISC: 37,
  GETQDISC: 38,
  NEWTCLASS: 40,
  DELTCLASS: 41,
  GETTCLASS: 42,
  NEWTFILTER: 44,
  DELTFILTER: 45,
  GETTFILTER: 46,
} as const;

/** The name of an rtnetlink message type, for error messages ("RTM_NEWLINK"). */
export function rtmName(type: number): string {
  for (const [name, n] of Object.entries(Rtm)) if (n === type) return `RTM_${name}`;
  return `rtnetlink message ${type}`;
}

// IFLA_* (linux/if_link.h)
const IFLA_IFNAME = 3;
const IFLA_LINK = 5;
const IFLA_LINKINFO = 18;
const IFLA_XDP = 43;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_XDP_ATTACHED = 2;
const IFLA_XDP_FLAGS = 3;
const IFLA_XDP_PROG_ID = 4;
const IFLA_XDP_DRV_PROG_ID = 5;
const IFLA_XDP_SKB_PROG_ID = 6;
const IFLA_XDP_HW_PROG_ID = 7;
const IFLA_NETKIT_PEER_INFO = 1;
const IFLA_NETKIT_PRIMARY = 2;
const IFLA_NETKIT_POLICY = 3;
const IFLA_NETKIT_PEER_POLICY = 4;
const IFLA_NETKIT_MODE = 5;
/** AF_PACKET: the family of a link dump request. */
const AF_PACKET = 17;
/** IFF_UP */
export const IFF_UP = 1;

/** Size of struct ifinfomsg. */
const IFINFOMSG_LEN = 16;
/** Size of struct tcmsg. */
const TCMSG_LEN = 20;

/** struct ifinfomsg. */
export interface IfInfo {
  family?: number;
  /** ARPHRD_* */
  type?: number;
  index?: number;
  /** IFF_* */
  flags?: number;
  /** which IFF_* bits `flags` changes */
  change?: number;
}

/** The 16 bytes of struct ifinfomsg. */
export function ifinfomsg(i: IfInfo = {}): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b.writeUInt8(i.family ?? 0, 0);
  b.writeUInt16LE(i.type ?? 0, 2);
  b.writeInt32LE(i.index ?? 0, 4);
  b.writeUInt32LE((i.flags ?? 0) >>> 0, 8);
  b.writeUInt32LE((i.change ?? 0) >>> 0, 12);
  return b;
}

/** struct tcmsg. */
export interface TcInfo {
  ifindex: number;
  handle?: number;
  parent?: number;
  /** filters: priority << 16 | protocol (network order) */
  info?: number;
}

/** The 20 bytes of struct tcmsg. */
export function tcmsg(t: TcInfo): Buffer {
  const b = Buffer.alloc(TCMSG_LEN);
  b.writeInt32LE(t.ifindex, 4);
  b.writeUInt32LE((t.handle ?? 0) >>> 0, 8);
  b.writeUInt32LE((t.parent ?? 0) >>> 0, 12);
  b.writeUInt32LE((t.info ?? 0) >>> 0, 16);
  return b;
}

const REQ_ACK = NlmFlags.REQUEST | NlmFlags.ACK;

/** RTM_GETLINK of one interface by index. */
export function getLinkRequest(seq: number, ifindex: number): Buffer {
  return new MessageWriter(Rtm.GETLINK, NlmFlags.REQUEST, seq).bytes(ifinfomsg({ index: ifindex })).finish();
}

/** RTM_GETLINK dump: every interface of the namespace (AF_PACKET, as `ip link` and bpftool ask). */
export function getLinksRequest(seq: number): Buffer {
  return new MessageWriter(Rtm.GETLINK, NlmFlags.REQUEST | NlmFlags.DUMP, seq)
    .bytes(ifinfomsg({ family: AF_PACKET }))
    .finish();
}

/** RTM_NEWLINK that sets an interface up (or down). */
export function setLinkUpRequest(seq: number, ifindex: number, up: boolean): Buffer {
  return new MessageWriter(Rtm.NEWLINK, REQ_ACK, seq)
    .bytes(ifinfomsg({ index: ifindex, flags: up ? IFF_UP : 0, change: IFF_UP }))
    .finish();
}

/** RTM_DELLINK of one interface (a netkit pair goes with either end). */
export function deleteLinkRequest(seq: number, ifindex: number): Buffer {
  return new MessageWriter(Rtm.DELLINK, REQ_ACK, seq).bytes(ifinfomsg({ index: ifindex })).finish();
}

/** `enum netkit_mode`: L3 (no Ethernet header, the default) or L2. */
export const NetkitModes = { l2: 0, l3: 1 } as const;
/** `enum netkit_action` as a default policy: forward packets (NETKIT_PASS) or drop them (NETKIT_DROP). */
export const NetkitPolicies = { forward: 0, blackhole: 2 } as const;

/** What a new netkit pair is. */
export interface NetkitSpec {
  /** the primary device's name (the end whose index programs attach with) */
  name: string;
  /** the peer device's name */
  peerName: string;
  mode?: keyof typeof NetkitModes;
  /** what the primary does with packets when no program decides */
  policy?: keyof typeof NetkitPolicies;
  /** what the peer does with packets when no program decides */
  peerPolicy?: keyof typeof NetkitPolicies;
}

/**
 * RTM_NEWLINK creating a pair of devices of `kind` (NLM_F_CREATE | NLM_F_EXCL): `name`, and in
 * IFLA_INFO_DATA what `data` writes, then the peer as attribute 1 (IFLA_NETKIT_PEER_INFO,
 * VETH_INFO_PEER: an ifinfomsg and the peer's own attributes).
 */
export function newPairRequest(
  seq: number,
  kind: string,
  name: string,
  peerName: string,
  data?: (w: MessageWriter) => void,
): Buffer {
  const w = new MessageWriter(Rtm.NEWLINK, REQ_ACK | NlmFlags.CREATE | NlmFlags.EXCL, seq)
    .bytes(ifinfomsg())
    .string(IFLA_IFNAME, name)
    .begin(IFLA_LINKINFO)
    .string(IFLA_INFO_KIND, kind)
    .begin(IFLA_INFO_DATA);
  data?.(w);
  w.begin(IFLA_NETKIT_PEER_INFO, false).bytes(ifinfomsg()).string(IFLA_IFNAME, peerName).end();
  return w.end().end().finish();
}

/** RTM_NEWLINK creating a netkit pair. */
export function newNetkitRequest(seq: number, spec: NetkitSpec): Buffer {
  return newPairRequest(seq, "netkit", spec.name, spec.peerName, (w) => {
    if (spec.mode !== undefined) w.u32(IFLA_NETKIT_MODE, NetkitModes[spec.mode]);
    if (spec.policy !== undefined) w.u32(IFLA_NETKIT_POLICY, NetkitPolicies[spec.policy]);
    if (spec.peerPolicy !== undefined) w.u32(IFLA_NETKIT_PEER_POLICY, NetkitPolicies[spec.peerPolicy]);
  });
}

/** The XDP program(s) on an interface, as IFLA_XDP reports them. */
export interface LinkXdp {
  /** XDP_ATTACHED_*: 0 none, 1 driver, 2 generic (skb), 3 offload (hw), 4 several */
  attached: number;
  /** the program's id when one mode is in use */
  progId?: number;
  /** the driver-mode program's id */
  driverProgId?: number;
  /** the generic-mode program's id */
  genericProgId?: number;
  /** the offloaded program's id */
  offloadProgId?: number;
  /** XDP_FLAGS_* it was attached with (where the kernel reports them) */
  flags?: number;
}

/** An interface as RTM_NEWLINK (the answer to GETLINK) describes it. */
export interface LinkMessage {
  index: number;
  /** ARPHRD_* */
  type: number;
  /** IFF_* */
  flags: number;
  name?: string;
  /** IFLA_LINK: the peer's index, for pairs */
  link?: number;
  /** IFLA_INFO_KIND: `"netkit"`, `"veth"`... (none for physical devices and lo) */
  kind?: string;
  xdp?: LinkXdp;
  /** for netkit devices: which end, its default policies and mode */
  netkit?: { primary: boolean; policy?: number; peerPolicy?: number; mode?: number };
}

/** Reads an interface's message. */
export function parseLink(m: Message): LinkMessage {
  const p = m.payload;
  if (p.length < IFINFOMSG_LEN)
    throw new NetlinkFormatError(`an ifinfomsg needs 16 bytes, got ${p.length}`, 16);
  const attrs = parseAttributes(p, IFINFOMSG_LEN);
  const out: LinkMessage = { index: p.readInt32LE(4), type: p.readUInt16LE(2), flags: p.readUInt32LE(8) };
  const name = attrString(attrs.get(IFLA_IFNAME));
  if (name !== undefined) out.name = name;
  const link = attrU32(attrs.get(IFLA_LINK));
  if (link !== undefined) out.link = link;
  const info = nested(attrs, IFLA_LINKINFO);
  if (info) {
    const kind = attrString(info.get(IFLA_INFO_KIND));
    if (kind !== undefined) out.kind = kind;
    const data = nested(info, IFLA_INFO_DATA);
    if (kind === "netkit" && data) {
      out.netkit = { primary: attrU8(data.get(IFLA_NETKIT_PRIMARY)) === 1 };
      const policy = attrU32(data.get(IFLA_NETKIT_POLICY));
      if (policy !== undefined) out.netkit.policy = policy;
      const peerPolicy = attrU32(data.get(IFLA_NETKIT_PEER_POLICY));
      if (peerPolicy !== undefined) out.netkit.peerPolicy = peerPolicy;
      const mode = attrU32(data.get(IFLA_NETKIT_MODE));
      if (mode !== undefined) out.netkit.mode = mode;
    }
  }
  const xdp = nested(attrs, IFLA_XDP);
  if (xdp) {
    const x: LinkXdp = { attached: attrU8(xdp.get(IFLA_XDP_ATTACHED)) ?? 0 };
    const put = (key: Exclude<keyof LinkXdp, "attached">, type: number) => {
      const v = attrU32(xdp.get(type));
      if (v !== undefined) x[key] = v;
    };
    put("progId", IFLA_XDP_PROG_ID);
    put("driverProgId", IFLA_XDP_DRV_PROG_ID);
    put("genericProgId", IFLA_XDP_SKB_PROG_ID);
    put("offloadProgId", IFLA_XDP_HW_PROG_ID);
    put("flags", IFLA_XDP_FLAGS);
    out.xdp = x;
  }
  return out;
}

function nested(attrs: Attributes, type: number): Attributes | undefined {
  const p = attrs.get(type);
  return p === undefined ? undefined : parseAttributes(p);
}

// ---- tc ----------------------------------------------------------------------------------------

const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_BPF_ACT = 1;
const TCA_BPF_FD = 6;
const TCA_BPF_NAME = 7;
const TCA_BPF_FLAGS = 8;
const TCA_BPF_TAG = 10;
const TCA_BPF_ID = 11;
/** TCA_BPF_FLAG_ACT_DIRECT: the program's return value is the verdict. */
const TCA_BPF_FLAG_ACT_DIRECT = 1;

/** TC_H_ROOT: the root of a device's egress qdisc tree, as a filter or qdisc parent. */
export const TC_H_ROOT = 0xffffffff;
/** TC_H_CLSACT: the clsact qdisc's parent; its handle is ffff:0. */
export const TC_H_CLSACT = 0xfffffff1;
const CLSACT_HANDLE = 0xffff0000;
/** The filter parents of clsact: ffff:fff2 (ingress) and ffff:fff3 (egress). */
export const TC_PARENTS = { ingress: 0xfffffff2, egress: 0xfffffff3 } as const;
/** htons(ETH_P_ALL): a filter for every protocol. */
const ETH_P_ALL_BE = 0x0300;

/** RTM_NEWQDISC adding the clsact qdisc to an interface (NLM_F_EXCL: EEXIST when it has one). */
export function newClsactRequest(seq: number, ifindex: number): Buffer {
  return new MessageWriter(Rtm.NEWQDISC, REQ_ACK | NlmFlags.CREATE | NlmFlags.EXCL, seq)
    .bytes(tcmsg({ ifindex, handle: CLSACT_HANDLE, parent: TC_H_CLSACT }))
    .string(TCA_KIND, "clsact")
    .finish();
}

/** RTM_DELQDISC removing an interface's clsact qdisc (and every filter on it). */
export function deleteClsactRequest(seq: number, ifindex: number): Buffer {
  return new MessageWriter(Rtm.DELQDISC, REQ_ACK, seq)
    .bytes(tcmsg({ ifindex, handle: CLSACT_HANDLE, parent: TC_H_CLSACT }))
    .finish();
}

/** Where a cls_bpf filter goes. */
export interface BpfFilterSpec {
  ifindex: number;
  direction: keyof typeof TC_PARENTS;
  /** 1..65535: lower runs first */
  priority: number;
  /** the filter's handle within its priority, 1..0xffffffff */
  handle: number;
  /**
   * the tc parent (a qdisc `major:0` or a class `major:minor`, as one u32) instead of clsact's
   * `direction`: a filter on a classful qdisc's own block or one of its classes
   */
  parent?: number;
}

/** RTM_NEWTFILTER adding a cls_bpf filter in direct-action mode running program `progFd`. */
export function newBpfFilterRequest(
  seq: number,
  f: BpfFilterSpec & { progFd: number; name: string },
): Buffer {
  return new MessageWriter(Rtm.NEWTFILTER, REQ_ACK | NlmFlags.CREATE | NlmFlags.EXCL, seq)
    .bytes(
      tcmsg({
        ifindex: f.ifindex,
        handle: f.handle,
        parent: f.parent ?? TC_PARENTS[f.direction],
        info: ((f.priority << 16) | ETH_P_ALL_BE) >>> 0,
      }),
    )
    .string(TCA_KIND, "bpf")
    .begin(TCA_OPTIONS)
    .u32(TCA_BPF_FD, f.progFd)
    .string(TCA_BPF_NAME, f.name)
    .u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT)
    .end()
    .finish();
}

/** RTM_DELTFILTER removing one filter. */
export function deleteFilterRequest(seq: number, f: BpfFilterSpec): Buffer {
  return new MessageWriter(Rtm.DELTFILTER, REQ_ACK, seq)
    .bytes(
      tcmsg({
        ifindex: f.ifindex,
        handle: f.handle,
        parent: f.parent ?? TC_PARENTS[f.direction],
        info: ((f.priority << 16) | ETH_P_ALL_BE) >>> 0,
      }),
    )
    .string(TCA_KIND, "bpf")
    .finish();
}

/**
 * RTM_GETTFILTER dump of the filters under one parent of an interface: a clsact direction, or a
 * tc handle as one u32 (a qdisc's `major:0`, a class's `major:minor`, {@link TC_H_ROOT}).
 */
export function getFiltersRequest(
  seq: number,
  ifindex: number,
  parent: keyof typeof TC_PARENTS | number,
): Buffer {
  return new MessageWriter(Rtm.GETTFILTER, NlmFlags.REQUEST | NlmFlags.DUMP, seq)
    .bytes(tcmsg({ ifindex, parent: typeof parent === "number" ? parent : TC_PARENTS[parent] }))
    .finish();
}

/**
 * RTM_GETQDISC dump. The kernel answers with the qdiscs of every interface of the namespace
 * whatever `ifindex` says (read each answer's own ifindex); `ifindex` is sent as bpftool and tc do.
 */
export function getQdiscsRequest(seq: number, ifindex = 0): Buffer {
  return new MessageWriter(Rtm.GETQDISC, NlmFlags.REQUEST | NlmFlags.DUMP, seq)
    .bytes(tcmsg({ ifindex }))
    .finish();
}

/** RTM_GETTCLASS dump: the classes of every qdisc of one interface. */
export function getClassesRequest(seq: number, ifindex: number): Buffer {
  return new MessageWriter(Rtm.GETTCLASS, NlmFlags.REQUEST | NlmFlags.DUMP, seq)
    .bytes(tcmsg({ ifindex }))
    .finish();
}

/** A qdisc or a class as the kernel describes it (RTM_NEWQDISC, RTM_NEWTCLASS answers). */
export interface TcObjectMessage {
  ifindex: number;
  /** the qdisc's `major:0` or the class's `major:minor`, as one u32 (0: a default qdisc) */
  handle: number;
  /** the parent's handle (TC_H_ROOT for a root qdisc) */
  parent: number;
  /** the qdisc kind ("htb", "clsact", "noqueue"; for a class, its qdisc's kind) */
  kind?: string;
}

/** Reads a qdisc's or a class's message. */
export function parseTcObject(m: Message): TcObjectMessage {
  const p = m.payload;
  if (p.length < TCMSG_LEN) throw new NetlinkFormatError(`a tcmsg needs 20 bytes, got ${p.length}`, 16);
  const out: TcObjectMessage = {
    ifindex: p.readInt32LE(4),
    handle: p.readUInt32LE(8),
    parent: p.readUInt32LE(12),
  };
  const kind = attrString(parseAttributes(p, TCMSG_LEN).get(TCA_KIND));
  if (kind !== undefined) out.kind = kind;
  return out;
}

// TCA_ACT_* (linux/pkt_cls.h) and TCA_ACT_BPF_* (linux/tc_act/tc_bpf.h)
const TCA_ACT_KIND = 1;
const TCA_ACT_OPTIONS = 2;
const TCA_ACT_MAX_PRIO = 32;
const TCA_ACT_BPF_PARMS = 2;
const TCA_ACT_BPF_NAME = 6;
const TCA_ACT_BPF_ID = 9;

/** One action of a filter (TCA_BPF_ACT), in the order the filter runs them. */
export interface FilterAction {
  /** its place in the list (the attribute's type, 1 first) */
  order: number;
  /** "bpf", "mirred", "gact"... */
  kind?: string;
  /** for a bpf action (act_bpf): its program's name and id, and whether its parameters came */
  bpf?: { name?: string; id?: number; hasParms: boolean };
}

/** A filter as the kernel describes it. */
export interface FilterMessage {
  ifindex: number;
  handle: number;
  parent: number;
  priority: number;
  /** the protocol (host order: 3 for ETH_P_ALL) */
  protocol: number;
  kind?: string;
  /** for cls_bpf filters */
  bpf?: {
    progId?: number;
    name?: string;
    tag?: string;
    directAction: boolean;
    /** the filter's actions, when it has any (TCA_BPF_ACT) */
    actions?: FilterAction[];
  };
}

function parseActions(payload: Buffer): FilterAction[] {
  const byOrder = parseAttributes(payload);
  const out: FilterAction[] = [];
  for (let order = 0; order <= TCA_ACT_MAX_PRIO; order++) {
    const one = byOrder.get(order);
    if (one === undefined) continue;
    const attrs = parseAttributes(one);
    const a: FilterAction = { order };
    const kind = attrString(attrs.get(TCA_ACT_KIND));
    if (kind !== undefined) a.kind = kind;
    const opts = attrs.get(TCA_ACT_OPTIONS);
    if (kind === "bpf" && opts !== undefined) {
      const o = parseAttributes(opts);
      const bpf: NonNullable<FilterAction["bpf"]> = { hasParms: o.has(TCA_ACT_BPF_PARMS) };
      const name = attrString(o.get(TCA_ACT_BPF_NAME));
      if (name !== undefined) bpf.name = name;
      const id = attrU32(o.get(TCA_ACT_BPF_ID));
      if (id !== undefined) bpf.id = id;
      a.bpf = bpf;
    }
    out.push(a);
  }
  return out;
}

/** Reads a filter's message. */
export function parseFilter(m: Message): FilterMessage {
  const p = m.payload;
  if (p.length < TCMSG_LEN) throw new NetlinkFormatError(`a tcmsg needs 20 bytes, got ${p.length}`, 16);
  const info = p.readUInt32LE(16);
  const out: FilterMessage = {
    ifindex: p.readInt32LE(4),
    handle: p.readUInt32LE(8),
    parent: p.readUInt32LE(12),
    priority: info >>> 16,
    protocol: ((info & 0xff) << 8) | ((info >> 8) & 0xff),
  };
  const attrs = parseAttributes(p, TCMSG_LEN);
  const kind = attrString(attrs.get(TCA_KIND));
  if (kind !== undefined) out.kind = kind;
  const opts = nested(attrs, TCA_OPTIONS);
  if (kind === "bpf" && opts) {
    const bpf: NonNullable<FilterMessage["bpf"]> = {
      directAction: ((attrU32(opts.get(TCA_BPF_FLAGS)) ?? 0) & TCA_BPF_FLAG_ACT_DIRECT) !== 0,
    };
    const id = attrU32(opts.get(TCA_BPF_ID));
    if (id !== undefined) bpf.progId = id;
    const name = attrString(opts.get(TCA_BPF_NAME));
    if (name !== undefined) bpf.name = name;
    const tag = opts.get(TCA_BPF_TAG);
    if (tag !== undefined) bpf.tag = tag.toString("hex");
    const actions = opts.get(TCA_BPF_ACT);
    if (actions !== undefined) bpf.actions = parseActions(actions);
    out.bpf = bpf;
  }
  return out;
}
