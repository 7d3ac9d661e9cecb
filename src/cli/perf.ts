/**
 * `rawbpf perf list [--json]`: the programs that processes hold attached to perf events and raw
 * tracepoints (every descriptor of every process asked with BPF_TASK_FD_QUERY), as
 * `bpftool perf list` shows them (`--json` as bpftool -j).
 */
import { readdirSync, readlinkSync } from "node:fs";
import { FD_TYPE_NAMES, type TaskFdQueryResult, taskFdQuery } from "../sys/query.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";
import { json } from "./prog.js";

const HELP = `usage: rawbpf perf list [--links] [--json]

The BPF programs attached to perf events (tracepoints, kprobes, uprobes) and raw tracepoints,
by the process and descriptor that hold them, as bpftool perf list shows them (needs
CAP_SYS_ADMIN). Links the kernel holds without a process descriptor are in rawbpf link list.
  --links  also the perf-event links no process holds a perf event descriptor of (rawbpf's
           tracepoint and uprobe links): {link_id, prog_id, fd_type, ...what the link says}
  --json   as bpftool -j: [{pid, fd, prog_id, fd_type, tracepoint | func, offset | filename, offset}]
`;

/** The descriptors worth asking about: perf events and BPF links (raw tracepoints). */
function candidate(target: string): boolean {
  return target === "anon_inode:[perf_event]" || target === "anon_inode:bpf_link";
}

/** One attachment as bpftool -j prints it. */
function entry(pid: number, fd: number, q: TaskFdQueryResult): Record<string, unknown> {
  const o: Record<string, unknown> = { pid, fd, prog_id: q.progId };
  const type = FD_TYPE_NAMES[q.fdType];
  switch (type) {
    case "raw_tracepoint":
    case "tracepoint":
      o.fd_type = type;
      o.tracepoint = q.name;
      break;
    case "kprobe":
    case "kretprobe":
      o.fd_type = type;
      if (q.name !== "") {
        o.func = q.name;
        o.offset = q.probeOffset;
      } else o.addr = q.probeAddr;
      break;
    case "uprobe":
    case "uretprobe":
      o.fd_type = type;
      o.filename = q.name;
      o.offset = q.probeOffset;
      break;
    default:
      break;
  }
  return o;
}

function text(o: Record<string, unknown>): string {
  const parts = [
    o.link_id === undefined
      ? `pid ${o.pid}  fd ${o.fd}: prog_id ${o.prog_id}`
      : `link ${o.link_id}: prog_id ${o.prog_id}`,
  ];
  if (o.fd_type) parts.push(String(o.fd_type));
  if (o.tracepoint !== undefined) parts.push(String(o.tracepoint));
  if (o.func !== undefined) parts.push(`func ${o.func}  offset ${o.offset}`);
  if (o.addr !== undefined) parts.push(`addr ${o.addr}`);
  if (o.filename !== undefined) parts.push(`filename ${o.filename}  offset ${o.offset}`);
  return `${parts.join("  ")}\n`;
}

/** Every attachment held by a process descriptor, by pid and descriptor. */
function attachments(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const pids = readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .sort((a, b) => a - b);
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or a kernel thread
    }
    for (const f of fds.map(Number).sort((a, b) => a - b)) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${f}`);
      } catch {
        continue; // closed meanwhile
      }
      if (!candidate(target)) continue;
      const q = taskFdQuery(pid, f, { what: `for pid ${pid} fd ${f}` });
      if (q) out.push(entry(pid, f, q));
    }
  }
  return out;
}

/** The perf-event links, as `--links` adds them. */
async function perfLinks(): Promise<Record<string, unknown>[]> {
  const { Link } = await import("../link/index.js");
  const { allIds } = await import("../sys/obj.js");
  const out: Record<string, unknown>[] = [];
  for (const id of allIds("link")) {
    let info: Record<string, unknown>;
    try {
      using link = Link.fromId(id);
      info = link.info() as unknown as Record<string, unknown>;
    } catch (e) {
      if ((e as { errnoName?: string }).errnoName === "ENOENT") continue; // gone since listed
      throw e;
    }
    if (info.type !== "perf_event") continue;
    const { id: linkId, programId, type: _type, eventType, ...rest } = info;
    out.push({ link_id: linkId, prog_id: programId, fd_type: eventType, ...rest });
  }
  return out;
}

/** Runs `rawbpf perf ...`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { booleans: ["json", "links"], aliases: { j: "json" } });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  const [verb, ...rest] = args.positionals;
  if (verb !== "list" && verb !== "show")
    throw new UsageError(verb ? `unknown verb '${verb}' (list)` : "missing verb: list");
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
  const all = attachments();
  if (args.bools.has("links")) all.push(...(await perfLinks()));
  io.stdout(args.bools.has("json") ? `${json(all)}\n` : all.map(text).join(""));
  return 0;
}
