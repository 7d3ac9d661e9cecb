/**
 * `rawbpf net list [dev DEV] [--json]`: the programs on network devices and the network
 * namespace, as `bpftool net list` shows them (`--json` as bpftool -j): XDP (from the kernel's XDP
 * links), tcx and netkit (BPF_PROG_QUERY per device), the flow dissector (BPF_PROG_QUERY on this
 * namespace) and netfilter links.
 */
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { Link, type LinkInfo } from "../link/index.js";
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
  xdp             XDP programs attached by link, per device (devname, ifindex, mode when the
                  link's info knows it, id, link_id)
  tc              tcx programs (kind tcx/ingress, tcx/egress) and netkit (netkit/primary, netkit/peer),
                  in the order they run
  flow_dissector  the namespace's flow dissector program
  netfilter       netfilter links (pf, hook, prio, flags)
  dev DEV         only this device
  --json          as bpftool -j: [{xdp: [...], tc: [...], flow_dissector: [...], netfilter: [...]}]
XDP and tc programs attached through netlink (ip link, tc filter) rather than by link are not
listed: rawbpf does not read netlink here.
`;

/** This namespace's devices: name and index, from /sys/class/net. */
function devices(): { name: string; ifindex: number }[] {
  const out: { name: string; ifindex: number }[] = [];
  for (const name of readdirSync("/sys/class/net")) {
    try {
      out.push({ name, ifindex: Number(readFileSync(`/sys/class/net/${name}/ifindex`, "latin1")) });
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a.ifindex - b.ifindex);
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

function text(out: Record<string, Record<string, unknown>[]>): string {
  const lines: string[] = [];
  for (const [section, rows] of Object.entries(out)) {
    lines.push(`${section}:`);
    for (const r of rows) {
      const parts: string[] = [];
      if (r.devname !== undefined) parts.push(`${r.devname}(${r.ifindex})`);
      for (const [k, v] of Object.entries(r))
        if (k !== "devname" && k !== "ifindex")
          parts.push(k === "kind" || k === "mode" ? String(v) : `${k} ${v}`);
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
      throw new InputError(`no network device '${only}' in this namespace (see ls /sys/class/net)`);
  }
  const byIndex = new Map(devs.map((d) => [d.ifindex, d.name]));
  const all = links();
  const xdp: Record<string, unknown>[] = [];
  for (const l of all) {
    if (l.type !== "xdp") continue;
    const name = byIndex.get(l.ifindex);
    if (name === undefined) continue;
    // the mode, where the link's info reads it from rtnetlink (IFLA_XDP), in bpftool's place
    const mode = (l as { mode?: string }).mode;
    xdp.push({
      devname: name,
      ifindex: l.ifindex,
      ...(mode ? { mode } : {}),
      id: l.programId,
      link_id: l.id,
    });
  }
  xdp.sort((a, b) => Number(a.ifindex) - Number(b.ifindex));
  const tc = devs.flatMap(tcOf);
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
