/**
 * `rawbpf net list [dev DEV] [--json]`: the programs on network devices and the network
 * namespace, as `bpftool net list` shows them (`--json` as bpftool -j), field for field and line
 * for line: XDP (IFLA_XDP of an rtnetlink link dump: by link or by netlink, in any mode), tcx and
 * netkit (BPF_PROG_QUERY per device, as bpftool 7.3 and later print them), cls_bpf filters on
 * every class, every qdisc, the root and clsact ingress/egress (RTM_GETTCLASS, RTM_GETQDISC,
 * RTM_GETTFILTER), the flow dissector (BPF_PROG_QUERY on this namespace) and netfilter links (as
 * bpftool 7.3 and later).
 */
import { closeSync, openSync } from "node:fs";
import { Link, type LinkInfo } from "../link/index.js";
import { NETFILTER_FAMILIES, NETFILTER_HOOKS } from "../link/netfilter.js";
import { withRtnetlink } from "../link/rtnl.js";
import { type TcBpfFilter, walkTcBpf } from "../link/tc.js";
import type { LinkMessage } from "../netlink/route.js";
import { programById } from "../program/list.js";
import { attachTypeNumber } from "../program/types.js";
import { BpfError, InputError } from "../sys/error.js";
import { allIds } from "../sys/obj.js";
import { progQuery } from "../sys/query.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";
import { json } from "./prog.js";

const HELP = `usage: rawbpf net list [dev DEV] [--json]

The BPF programs on this namespace's network devices, as bpftool net list shows them (needs
CAP_NET_ADMIN and CAP_SYS_ADMIN).
  xdp             XDP programs per device, by link or by netlink (devname, ifindex, mode
                  driver/generic/offload, id; multi_attachments when several modes are in use)
  tc              per device: tcx programs (kind tcx/ingress, tcx/egress) and netkit
                  (netkit/primary, netkit/peer) with prog_id, prog_flags, link_id, link_flags;
                  then cls_bpf filters (name, id; act when the filter has actions) on each class
                  and qdisc (kind: the qdisc's, "htb"...), on the root ("root") and on clsact
                  ("clsact/ingress", "clsact/egress"), in the order they are listed
  flow_dissector  the namespace's flow dissector program
  netfilter       netfilter links (pf, hook, prio, flags, id: the program's)
  dev DEV         only this device (flow_dissector and netfilter are listed whatever DEV is)
  --json          as bpftool -j: [{xdp: [...], tc: [...], flow_dissector: [...], netfilter: [...]}]
Everything is read over rtnetlink and bpf() by rawbpf itself (no ip or tc binary). Unlike bpftool
7.1, a filter on a qdisc is listed once, not once per device with a qdisc of the same handle, and
flow_dissector is valid JSON ([{"id": N}]).
`;

type Entry = Record<string, unknown>;

/** One listed object: its --json object and its line in bpftool's text. */
interface Row {
  json: Entry;
  text: string;
}

/** This namespace's devices (an RTM_GETLINK dump), each with its XDP programs, and its cls_bpf filters. */
function devicesAndFilters(only: string | undefined): { devs: LinkMessage[]; filters: TcBpfFilter[] } {
  return withRtnetlink((rt) => {
    let devs = rt.links().sort((a, b) => a.index - b.index);
    if (only !== undefined) {
      devs = devs.filter((d) => d.name === only);
      if (devs.length === 0)
        throw new InputError(`no network device '${only}' in this network namespace (see ip link)`);
    }
    return {
      devs,
      filters: walkTcBpf(
        rt,
        devs.map((d) => d.index),
      ),
    };
  });
}

/** A device's XDP row as bpftool prints it, or undefined when it has no XDP program. */
function xdpOf(dev: LinkMessage): Row | undefined {
  const x = dev.xdp;
  if (x === undefined || x.attached === 0) return undefined;
  const devname = dev.name ?? "";
  const o: Entry = { devname, ifindex: dev.index };
  let text = `${devname}(${dev.index})`;
  if (x.attached === 4) {
    // several modes at once: bpftool's order, generic, driver, offload
    const multi: { mode: string; id: number }[] = [];
    if (x.genericProgId !== undefined) multi.push({ mode: "generic", id: x.genericProgId });
    if (x.driverProgId !== undefined) multi.push({ mode: "driver", id: x.driverProgId });
    if (x.offloadProgId !== undefined) multi.push({ mode: "offload", id: x.offloadProgId });
    o.multi_attachments = multi;
    for (const m of multi) text += ` ${m.mode} id ${m.id}`;
  } else if (x.attached < XDP_MODES.length && x.progId !== undefined) {
    o.mode = XDP_MODES[x.attached];
    o.id = x.progId;
    text += ` ${o.mode} id ${o.id}`;
  }
  return { json: o, text: `${text}\n` };
}

const XDP_MODES = ["", "driver", "generic", "offload"] as const;

/** Every netfilter link's info (links gone since the listing are left out). */
function netfilterLinks(): (LinkInfo & { type: "netfilter" })[] {
  const out: (LinkInfo & { type: "netfilter" })[] = [];
  for (const id of allIds("link")) {
    try {
      using link = Link.fromId(id);
      const info = link.info();
      if (info.type === "netfilter") out.push(info);
    } catch (e) {
      if (e instanceof BpfError && e.errnoName === "ENOENT") continue;
      throw e;
    }
  }
  return out;
}

const TCX_KINDS = [
  ["tcx_ingress", "tcx/ingress"],
  ["tcx_egress", "tcx/egress"],
  ["netkit_primary", "netkit/primary"],
  ["netkit_peer", "netkit/peer"],
] as const;

/** The set bits of `flags` as their values, lowest first (bpftool's prog_flags, link_flags). */
function bits(flags: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < 32; j++) if ((flags >>> j) & 1) out.push(2 ** j);
  return out;
}

/** The tcx and netkit programs of a device, in the order they run, as bpftool 7.3+ prints them. */
function tcxOf(dev: { name: string; ifindex: number }): Row[] {
  const out: Row[] = [];
  for (const [type, kind] of TCX_KINDS) {
    let r: ReturnType<typeof progQuery>;
    try {
      r = progQuery(dev.ifindex, attachTypeNumber(type), 0, { what: `on ${dev.name}` });
    } catch (e) {
      // not a netkit device, an older kernel, or the device went away
      if (e instanceof BpfError && ["EINVAL", "ENODEV", "EOPNOTSUPP", "ENOTSUPP"].includes(e.errnoName))
        continue;
      throw e;
    }
    r.progIds.forEach((id, i) => {
      const p = programById(id);
      const o: Entry = { devname: dev.name, ifindex: dev.ifindex, kind };
      let text = `${dev.name}(${dev.ifindex}) ${kind}`;
      if (p?.name) {
        o.name = p.fullName;
        text += ` ${p.fullName}`;
      }
      o.prog_id = id;
      text += ` prog_id ${id} `;
      const progFlags = bits(r.progFlags[i] ?? 0);
      const linkId = r.linkIds[i] ?? 0;
      const linkFlags = bits(r.linkFlags[i] ?? 0);
      o.prog_flags = progFlags;
      if (progFlags.length > 0) text += `prog_flags ${progFlags.map((f) => `${f} `).join("")}`;
      o.link_id = linkId;
      o.link_flags = linkFlags;
      if (linkId) {
        text += `link_id ${linkId} `;
        if (linkFlags.length > 0) text += `link_flags ${linkFlags.map((f) => `${f} `).join("")}`;
      }
      out.push({ json: o, text: `${text}\n` });
    });
  }
  return out;
}

/** A cls_bpf filter's row, as bpftool's do_filter_dump prints it. */
function filterRow(devname: string, f: TcBpfFilter): Row {
  const o: Entry = {};
  let text = "";
  if (devname !== "") {
    o.devname = devname;
    text += devname;
  }
  o.ifindex = f.ifindex;
  o.kind = f.attachPoint;
  text += `(${f.ifindex}) ${f.attachPoint}`;
  if (f.name !== undefined) {
    o.name = f.name;
    text += ` ${f.name}`;
  }
  if (f.programId !== undefined) {
    o.id = f.programId;
    text += ` id ${f.programId}`;
  }
  if (f.actions !== undefined) {
    o.act = f.actions.map((a) => ({ ...a }));
    text += ` act [${f.actions.map((a) => `{${a.name ?? ""}${a.id !== undefined ? ` id ${a.id}` : ""}}`).join("")}] `;
  }
  return { json: o, text: `${text}\n` };
}

/** The flow dissector of this network namespace (bpftool asks for one id). */
function flowDissector(): Row[] {
  const fd = openSync("/proc/self/ns/net", "r");
  try {
    const r = progQuery(fd, attachTypeNumber("flow_dissector"), 0, { what: "on this network namespace" });
    return r.progIds.length === 1 ? [{ json: { id: r.progIds[0] }, text: `id ${r.progIds[0]}` }] : [];
  } catch (e) {
    if (e instanceof BpfError && e.errnoName === "EINVAL") return [];
    throw e;
  } finally {
    closeSync(fd);
  }
}

const PF_NAMES: Record<number, string> = {
  1: "inet",
  2: "ip",
  3: "arp",
  5: "netdev",
  7: "bridge",
  10: "ip6",
};
const INET_HOOKS = ["prerouting", "input", "forward", "output", "postrouting"];
const ARP_HOOKS = ["input", "output"];

/** A number back from rawbpf's netfilter name (`"ipv4"`, `"local_in"`, `"family 7"`, `"hook 9"`). */
function nfNumber(name: string, table: Readonly<Record<string, number>>): number {
  return table[name] ?? Number(name.split(" ").pop());
}

/** Netfilter links as bpftool 7.3+ prints them: sorted by pf, hook, prio, flags; `id` is the program's. */
function netfilterRows(): Row[] {
  const links = netfilterLinks().map((l) => ({
    pf: nfNumber(l.family, NETFILTER_FAMILIES),
    hook: nfNumber(l.hook, NETFILTER_HOOKS),
    prio: l.priority,
    flags: l.defrag ? 1 : 0,
    id: l.programId,
  }));
  links.sort((a, b) => a.pf - b.pf || a.hook - b.hook || a.prio - b.prio || a.flags - b.flags);
  return links.map((l) => {
    const pfname = PF_NAMES[l.pf];
    const hooks = [1, 2, 7, 10].includes(l.pf) ? INET_HOOKS : l.pf === 3 ? ARP_HOOKS : [];
    const hookname = hooks[l.hook];
    let text = pfname ? `\n\t${pfname}` : `\n\tpf: ${l.pf}`;
    text += hookname ? ` ${hookname}` : `, hook ${l.hook},`;
    text += ` prio ${l.prio}`;
    if (l.flags) text += ` flags 0x${l.flags.toString(16)}`;
    text += ` prog_id ${l.id}`;
    return { json: l, text };
  });
}

/** bpftool's text: each section's name, its rows, a blank line. */
function text(sections: Record<string, Row[]>): string {
  let out = "";
  for (const [name, rows] of Object.entries(sections)) {
    out += `${name}:\n`;
    for (const r of rows) out += r.text;
    out += "\n";
  }
  return out;
}

/** Runs `rawbpf net ...`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { booleans: ["json"], aliases: { j: "json" } });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  const [verb, ...rest] = args.positionals;
  if (verb !== "list" && verb !== "show")
    throw new UsageError(verb ? `unknown verb '${verb}' (list)` : "missing verb: list");
  let only: string | undefined;
  if (rest.length > 0) {
    if (rest[0] !== "dev" || rest.length !== 2) throw new UsageError("net list takes 'dev DEV' or nothing");
    only = rest[1];
  }
  const flow = flowDissector();
  const { devs, filters } = devicesAndFilters(only);
  const tc: Row[] = [];
  for (const d of devs) {
    const name = d.name ?? "";
    tc.push(...tcxOf({ name, ifindex: d.index }));
    for (const f of filters) if (f.ifindex === d.index) tc.push(filterRow(name, f));
  }
  const sections: Record<string, Row[]> = {
    xdp: devs.map(xdpOf).filter((x) => x !== undefined),
    tc,
    flow_dissector: flow,
    netfilter: netfilterRows(),
  };
  if (args.bools.has("json")) {
    const out: Record<string, Entry[]> = {};
    for (const [name, rows] of Object.entries(sections)) out[name] = rows.map((r) => r.json);
    io.stdout(`${json([out])}\n`);
  } else io.stdout(text(sections));
  return 0;
}
