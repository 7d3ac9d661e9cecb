/**
 * `rawbpf net list [dev DEV] [--json]`: the programs on network devices and the network
 * namespace, as `bpftool net list` shows them (`--json` as bpftool -j): XDP (IFLA_XDP of an
 * rtnetlink link dump: by link or by netlink, in any mode), tcx and netkit (BPF_PROG_QUERY per
 * device), cls_bpf filters on clsact ingress/egress (RTM_GETTFILTER), the flow dissector
 * (BPF_PROG_QUERY on this namespace) and netfilter links.
 */
import { closeSync, openSync } from "node:fs";
import { Link, type LinkInfo } from "../link/index.js";
import { withRtnetlink } from "../link/rtnl.js";
import { tcFilters } from "../link/tc.js";
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
  tc              tcx programs (kind tcx/ingress, tcx/egress), netkit (netkit/primary, netkit/peer),
                  then cls_bpf filters on the clsact qdisc (clsact/ingress, clsact/egress: name, id),
                  in the order they run
  flow_dissector  the namespace's flow dissector program
  netfilter       netfilter links (pf, hook, prio, flags)
  dev DEV         only this device
  --json          as bpftool -j: [{xdp: [...], tc: [...], flow_dissector: [...], netfilter: [...]}]
Everything is read over rtnetlink and bpf() by rawbpf itself (no ip or tc binary). Filters on
other qdiscs than clsact are not listed.
`;

/** This namespace's devices (an RTM_GETLINK dump), each with its XDP programs. */
function devices(): LinkMessage[] {
  return withRtnetlink((rt) => rt.links()).sort((a, b) => a.index - b.index);
}

const XDP_MODES = ["", "driver", "generic", "offload"] as const;

/** A device's XDP entry as bpftool prints it, or undefined when it has no XDP program. */
function xdpOf(dev: LinkMessage): Record<string, unknown> | undefined {
  const x = dev.xdp;
  if (x === undefined || x.attached === 0) return undefined;
  const o: Record<string, unknown> = { devname: dev.name ?? "", ifindex: dev.index };
  if (x.attached === 4) {
    // several modes at once: bpftool's order, generic, driver, offload
    const multi: { mode: string; id: number }[] = [];
    if (x.genericProgId !== undefined) multi.push({ mode: "generic", id: x.genericProgId });
    if (x.driverProgId !== undefined) multi.push({ mode: "driver", id: x.driverProgId });
    if (x.offloadProgId !== undefined) multi.push({ mode: "offload", id: x.offloadProgId });
    o.multi_attachments = multi;
  } else if (x.attached < XDP_MODES.length && x.progId !== undefined) {
    o.mode = XDP_MODES[x.attached];
    o.id = x.progId;
  }
  return o;
}

/** Every link's info (links gone since the listing are left out). */
function links(): LinkInfo[] {
  const out: LinkInfo[] = [];
  for (const id of allIds("link")) {
    try {
      using link = Link.fromId(id);
      out.push(link.info());
    } catch (e) {
      if (e instanceof BpfError && e.errnoName === "ENOENT") continue;
      throw e;
    }
  }
  return out;
}

const TC_KINDS = [
  ["tcx_ingress", "tcx/ingress"],
  ["tcx_egress", "tcx/egress"],
  ["netkit_primary", "netkit/primary"],
  ["netkit_peer", "netkit/peer"],
] as const;

/** The tcx and netkit programs of a device, in the order they run. */
function tcOf(dev: { name: string; ifindex: number }): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [type, kind] of TC_KINDS) {
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
      const o: Record<string, unknown> = { devname: dev.name, ifindex: dev.ifindex, kind };
      if (p?.name) o.name = p.fullName;
      o.prog_id = id;
      if (r.linkIds[i]) o.link_id = r.linkIds[i];
      out.push(o);
    });
  }
  // cls_bpf filters on the clsact qdisc, after tcx (as the kernel runs them)
  for (const direction of ["ingress", "egress"] as const) {
    for (const f of tcFilters(dev.ifindex, direction)) {
      const o: Record<string, unknown> = {
        devname: dev.name,
        ifindex: dev.ifindex,
        kind: `clsact/${direction}`,
      };
      if (f.name) o.name = f.name;
      o.id = f.programId;
      out.push(o);
    }
  }
  return out;
}

/** The flow dissector of this network namespace. */
function flowDissector(): Record<string, unknown>[] {
  const fd = openSync("/proc/self/ns/net", "r");
  try {
    const r = progQuery(fd, attachTypeNumber("flow_dissector"), 0, { what: "on this network namespace" });
    return r.progIds.map((id) => ({ id }));
  } catch (e) {
    if (e instanceof BpfError && e.errnoName === "EINVAL") return [];
    throw e;
  } finally {
    closeSync(fd);
  }
}

/** bpftool's text: `lo(1) generic id 7`, `lo(1) clsact/ingress rawbpf id 9`, `id 12`. */
function text(out: Record<string, Record<string, unknown>[]>): string {
  const lines: string[] = [];
  for (const [section, rows] of Object.entries(out)) {
    lines.push(`${section}:`);
    for (const r of rows) {
      const parts: string[] = [];
      if (r.devname !== undefined) parts.push(`${r.devname}(${r.ifindex})`);
      for (const [k, v] of Object.entries(r)) {
        if (k === "devname" || k === "ifindex") continue;
        if (k === "multi_attachments")
          for (const m of v as { mode: string; id: number }[]) parts.push(`${m.mode} id ${m.id}`);
        else parts.push(k === "kind" || k === "mode" || k === "name" ? String(v) : `${k} ${v}`);
      }
      lines.push(parts.join(" "));
    }
    lines.push("");
  }
  return `${lines.join("\n")}`;
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
  let devs = devices();
  if (only !== undefined) {
    devs = devs.filter((d) => d.name === only);
    if (devs.length === 0)
      throw new InputError(`no network device '${only}' in this namespace (see ip link)`);
  }
  const xdp = devs.map(xdpOf).filter((x) => x !== undefined);
  const all = only === undefined ? links() : [];
  const tc = devs.flatMap((d) => tcOf({ name: d.name ?? "", ifindex: d.index }));
  const out: Record<string, Record<string, unknown>[]> = {
    xdp,
    tc,
    flow_dissector: only === undefined ? flowDissector() : [],
    netfilter:
      only === undefined
        ? all
            .filter((l) => l.type === ("netfilter" as string))
            .map((l) => {
              const { id, programId, type: _t, ...rest } = l as unknown as Record<string, unknown>;
              return { ...rest, prog_id: programId, link_id: id };
            })
        : [],
  };
  io.stdout(args.bools.has("json") ? `${json([out])}\n` : text(out));
  return 0;
}
