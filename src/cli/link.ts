/** `rawbpf link list | show ID [--json]`: the links the kernel has, as bpftool link show lists them. */
import { Link, type LinkInfo } from "../link/index.js";
import { BpfError, InputError } from "../sys/error.js";
import { allIds } from "../sys/obj.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";

const HELP = `usage: rawbpf link list [--json]
       rawbpf link show ID [--json]

Lists the links loaded in the kernel (programs attached to hooks: tracepoints, XDP, tc, cgroups...)
with the program each runs and what the kernel says of its hook. Needs CAP_SYS_ADMIN.
  --json   one JSON array (list) or object (show)
`;

/** One link's line: `ID: TYPE  prog N  key value ...`. */
function line(info: LinkInfo): string {
  const { id, type, programId, ...details } = info as LinkInfo & Record<string, unknown>;
  const parts = [`${id}: ${type}`, `prog ${programId}`];
  for (const [key, value] of Object.entries(details)) {
    if (value === undefined || value === "") continue;
    parts.push(`${key} ${String(value)}`);
  }
  return parts.join("  ");
}

/** JSON with bigints (cookies, cgroup ids) as numbers where exact, else as strings. */
function json(value: unknown): string {
  return JSON.stringify(value, (_, v) =>
    typeof v === "bigint" ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v,
  );
}

/** The info of link `id`, or undefined when it went away since it was listed. */
function infoOf(id: number): LinkInfo | undefined {
  try {
    using link = Link.fromId(id);
    return link.info();
  } catch (e) {
    if (e instanceof BpfError && e.errnoName === "ENOENT") return undefined;
    throw e;
  }
}

/** Runs `rawbpf link ...`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { booleans: ["json"] });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  const [verb, ...rest] = args.positionals;
  const asJson = args.bools.has("json");
  if (verb === "list") {
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    const infos: LinkInfo[] = [];
    for (const id of allIds("link")) {
      const info = infoOf(id);
      if (info) infos.push(info);
    }
    io.stdout(asJson ? `${json(infos)}\n` : infos.map((i) => `${line(i)}\n`).join(""));
    return 0;
  }
  if (verb === "show") {
    if (rest.length !== 1) throw new UsageError("show takes one link id");
    const id = Number(rest[0]);
    if (!Number.isInteger(id) || id < 1 || id > 0xffffffff)
      throw new UsageError(`a link id is an integer from 1 to 4294967295, not '${rest[0]}'`);
    const info = infoOf(id);
    // thrown, so that with --json it is a JSON failure like every other
    if (!info) throw new InputError(`no link with id ${id}`);
    io.stdout(asJson ? `${json(info)}\n` : `${line(info)}\n`);
    return 0;
  }
  throw new UsageError(verb ? `unknown verb '${verb}' (list or show)` : "missing verb: list or show");
}
