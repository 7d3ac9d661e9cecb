/**
 * `rawbpf cgroup tree [ROOT] [--effective] [--json]` and `rawbpf cgroup show CGROUP`: the programs
 * attached to each cgroup (BPF_PROG_QUERY on the cgroup's directory for every cgroup attach type),
 * as `bpftool cgroup tree` shows them (`--json` as bpftool -j).
 */
import { closeSync, constants, openSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { programById } from "../program/list.js";
import { attachTypeName, attachTypes } from "../program/types.js";
import { BpfError, InputError } from "../sys/error.js";
import { progQuery, QUERY_EFFECTIVE } from "../sys/query.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";
import { json } from "./prog.js";

const HELP = `usage: rawbpf cgroup tree [ROOT] [--effective] [--json]
       rawbpf cgroup show CGROUP [--effective] [--json]

The programs attached to cgroups (cgroup v2), as bpftool cgroup shows them (needs CAP_SYS_ADMIN).
  tree [ROOT]   every cgroup under ROOT (default: the cgroup2 mount) that has programs
  show CGROUP   the programs of one cgroup directory
  --effective   what runs for the cgroup: its ancestors' programs included
  --json        as bpftool -j: [{cgroup, programs: [{id, attach_type, attach_flags, name, attach_btf_*}]}]
`;

/** The attach types a cgroup takes, by number. */
const CGROUP_TYPES = attachTypes
  .map((name, n) => [name, n] as const)
  .filter(([name]) => name.startsWith("cgroup_") || name === "lsm_cgroup")
  .map(([, n]) => n);

/** A program attached to a cgroup, as bpftool -j prints it. */
interface Attached {
  id: number;
  attach_type: string;
  attach_flags: string;
  name: string;
  attach_btf_name: string;
  attach_btf_obj_id: number;
  attach_btf_id: number;
}

/** The name of the kernel function an lsm_cgroup program attaches to ("" for the others). */
async function attachBtfName(objId: number, typeId: number): Promise<string> {
  if (typeId === 0) return "";
  const { parseKernelBtf, readBtfById, vmlinuxBtf } = await import("../btf/kernel.js");
  const btf = objId === 0 ? vmlinuxBtf() : parseKernelBtf(readBtfById(objId));
  return btf.nameOf(typeId);
}

function flagsText(flags: number): string {
  if (flags === 0) return "";
  if (flags === 1) return "override";
  if (flags === 2) return "multi";
  return `unknown(${flags.toString(16)})`;
}

/** The cgroup2 mount point, from /proc/mounts. */
function cgroupRoot(): string {
  for (const line of readFileSync("/proc/mounts", "latin1").split("\n")) {
    const [, dir, type] = line.split(" ");
    if (type === "cgroup2" && dir) return dir.replace(/\\040/g, " ");
  }
  throw new InputError("no cgroup v2 filesystem is mounted (mount -t cgroup2 none /sys/fs/cgroup)");
}

/** The programs attached to the cgroup at `path` (none when it went away meanwhile). */
async function attached(path: string, effective: boolean): Promise<Attached[]> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return [];
    throw new InputError(
      `cannot open the cgroup ${path}: ${code ?? String(e)} (is it a cgroup v2 directory?)`,
    );
  }
  try {
    const out: Attached[] = [];
    for (const type of CGROUP_TYPES) {
      let r: ReturnType<typeof progQuery>;
      try {
        r = progQuery(fd, type, effective ? QUERY_EFFECTIVE : 0, { what: `on cgroup ${path}` });
      } catch (e) {
        // a type this kernel does not know for cgroups, or not a cgroup v2 directory
        if (e instanceof BpfError && (e.errnoName === "EINVAL" || e.errnoName === "EBADF")) continue;
        throw e;
      }
      for (const id of r.progIds) {
        const p = programById(id);
        if (!p) continue; // detached since the query
        out.push({
          id,
          attach_type: attachTypeName(type),
          attach_flags: effective ? "" : flagsText(r.attachFlags),
          name: p.fullName,
          attach_btf_name: await attachBtfName(p.attachBtfObjId, p.attachBtfId),
          attach_btf_obj_id: p.attachBtfObjId,
          attach_btf_id: p.attachBtfId,
        });
      }
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Throws a one-line InputError when `path` is not a directory that can be opened. */
function checkDir(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new InputError(`${path} is not a cgroup directory (${code}); cgroups live under the cgroup2 mount`);
  }
  closeSync(fd);
}

/** Every directory under `root` (root first, then depth-first), as nftw walks it. */
function* cgroups(root: string): Generator<string> {
  yield root;
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    return; // removed while walking
  }
  for (const e of entries) if (e.isDirectory()) yield* cgroups(join(root, e.name));
}

function text(rows: { cgroup: string; programs: Attached[] }[]): string {
  const lines = ["CgroupPath", "ID       AttachType      AttachFlags     Name"];
  for (const r of rows) {
    lines.push(r.cgroup);
    for (const p of r.programs)
      lines.push(
        `    ${String(p.id).padEnd(8)} ${p.attach_type.padEnd(15)} ${p.attach_flags.padEnd(15)} ${p.name}`,
      );
  }
  return `${lines.join("\n")}\n`;
}

/** Runs `rawbpf cgroup ...`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { booleans: ["json", "effective"], aliases: { j: "json" } });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  const [verb, ...rest] = args.positionals;
  const effective = args.bools.has("effective");
  const asJson = args.bools.has("json");
  if (verb === "tree") {
    if (rest.length > 1) throw new UsageError(`unexpected argument '${rest[1]}'`);
    const root = rest[0] ?? cgroupRoot();
    checkDir(root);
    const rows: { cgroup: string; programs: Attached[] }[] = [];
    for (const dir of cgroups(root)) {
      const programs = await attached(dir, effective);
      if (programs.length > 0) rows.push({ cgroup: dir, programs });
    }
    io.stdout(asJson ? `${json(rows)}\n` : text(rows));
    return 0;
  }
  if (verb === "show") {
    if (rest.length !== 1) throw new UsageError("show takes one cgroup directory");
    checkDir(rest[0]!);
    const programs = await attached(rest[0]!, effective);
    io.stdout(asJson ? `${json(programs)}\n` : text([{ cgroup: rest[0]!, programs }]));
    return 0;
  }
  throw new UsageError(verb ? `unknown verb '${verb}' (tree or show)` : "missing verb: tree or show");
}
