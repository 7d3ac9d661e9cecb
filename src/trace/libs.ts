/**
 * Library names to paths, for uprobes: `"libc"` (or `"c"`, `"libc.so.6"`) becomes the file a
 * process maps (`/proc/PID/maps`), or the one the dynamic linker would load (`/etc/ld.so.cache`,
 * read here, then the standard directories), for this machine's architecture.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, realpathSync } from "node:fs";
import { basename, join } from "node:path";
import { InputError } from "../sys/error.js";

/** No library by that name in the process or on the system. */
export class LibraryNotFoundError extends InputError {
  /** the name asked for */
  readonly library: string;
  constructor(library: string, where: string, known: readonly string[]) {
    super(
      `no library '${library}' ${where}` +
        (known.length > 0 ? ` (near: ${known.slice(0, 6).join(", ")})` : "") +
        ': give its path, or a name like "libc", "c" or "libc.so.6"',
    );
    this.library = library;
  }
}

/** e_machine of this process's architecture. */
const MACHINE: Record<string, number> = {
  x64: 62,
  arm64: 183,
  ia32: 3,
  arm: 40,
  riscv64: 243,
  s390x: 22,
  ppc64: 21,
};

/** Whether `path` is a 64-bit (or this arch's) ELF for this architecture. */
function rightArch(path: string): boolean {
  const want = MACHINE[process.arch];
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const head = Buffer.alloc(20);
    if (readSync(fd, head, 0, 20, 0) < 20 || head.readUInt32BE(0) !== 0x7f454c46) return false;
    return want === undefined || head.readUInt16LE(18) === want;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Whether the file name `file` (libc.so.6, libssl.so.3, ld-linux-x86-64.so.2) is what `name` means. */
export function libraryMatches(name: string, file: string): boolean {
  if (file === name) return true;
  const stem = name.startsWith("lib") || name.startsWith("ld-") ? name : `lib${name}`;
  if (stem.includes(".so")) return file === stem || file.startsWith(`${stem}.`);
  return (
    file === `${stem}.so` ||
    file.startsWith(`${stem}.so.`) ||
    (file.startsWith(`${stem}-`) && file.includes(".so"))
  );
}

/** The files a process maps (whole paths), from /proc/PID/maps. */
function mappedFiles(pid: number): string[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/maps`, "latin1");
  } catch (e) {
    throw new InputError(
      `cannot read /proc/${pid}/maps (${(e as NodeJS.ErrnoException).code}): is ${pid} a running process?`,
    );
  }
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const at = line.indexOf("/");
    if (at < 0) continue;
    const path = line.slice(at);
    if (!path.endsWith(" (deleted)")) out.add(path);
  }
  return [...out];
}

/**
 * The libraries of /etc/ld.so.cache (glibc's "glibc-ld.so.cache1.1" format): each soname and its
 * path, in the cache's order (the dynamic linker's preference).
 */
export function ldSoCache(path = "/etc/ld.so.cache"): { name: string; path: string; flags: number }[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return [];
  }
  const MAGIC = "glibc-ld.so.cache1.1";
  // an old-format cache ("ld.so-1.7.0") may come first; the new one follows, 8-byte aligned
  const base = bytes.indexOf(MAGIC);
  if (base < 0) return [];
  const count = bytes.readUInt32LE(base + 20);
  const entries = base + 48;
  if (entries + count * 24 > bytes.length) return [];
  const str = (offset: number): string => {
    if (offset >= bytes.length) return "";
    const end = bytes.indexOf(0, offset);
    return bytes.toString("latin1", offset, end < 0 ? bytes.length : end);
  };
  const out: { name: string; path: string; flags: number }[] = [];
  for (let i = 0; i < count; i++) {
    const at = entries + i * 24;
    // new-format string offsets are from the start of the new-format header
    out.push({
      flags: bytes.readInt32LE(at),
      name: str(base + bytes.readUInt32LE(at + 4)),
      path: str(base + bytes.readUInt32LE(at + 8)),
    });
  }
  return out;
}

/** Where the dynamic linker looks when the cache does not say. */
const STANDARD_DIRS = [
  `/lib/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`,
  `/usr/lib/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`,
  "/lib64",
  "/usr/lib64",
  "/lib",
  "/usr/lib",
  "/usr/local/lib",
];

/** Options of {@link resolveLibrary}. */
export interface ResolveLibraryOptions {
  /** the process whose mapped copy to find (its /proc/PID/maps); by default the system's */
  pid?: number;
}

/**
 * The path of the library `name` (`"libc"`, `"c"`, `"libc.so.6"`, `"libpthread"`...): with `pid`,
 * the file that process maps, else the one /etc/ld.so.cache names for this architecture, else the
 * first in the standard directories. A name with a `/` is taken as a path and must exist.
 * @throws LibraryNotFoundError (with the near names it saw)
 */
export function resolveLibrary(name: string, options: ResolveLibraryOptions = {}): string {
  if (typeof name !== "string" || name.length === 0 || name.includes("\0"))
    throw new InputError(`a library is a name like "libc" or a path, got ${JSON.stringify(name)}`);
  if (name.includes("/")) {
    if (!existsSync(name)) throw new LibraryNotFoundError(name, "at that path (no such file)", []);
    return name;
  }
  const pid = options.pid;
  if (pid !== undefined) {
    if (!Number.isSafeInteger(pid) || pid <= 0)
      throw new InputError(`a pid is a positive integer, got ${String(pid)}`);
    const files = mappedFiles(pid);
    const hit = files.find((f) => libraryMatches(name, basename(f)));
    if (hit === undefined)
      throw new LibraryNotFoundError(
        name,
        `mapped by process ${pid}`,
        files.map((f) => basename(f)).filter((f) => f.includes(".so")),
      );
    // a process in another mount namespace: its files are under its root
    const root = `/proc/${pid}/root`;
    try {
      if (realpathSync(root) !== "/") return join(root, hit);
    } catch {
      // no access to its root: the path as it maps it
    }
    return hit;
  }
  const cache = ldSoCache();
  for (const e of cache) if (libraryMatches(name, e.name) && rightArch(e.path)) return e.path;
  for (const dir of STANDARD_DIRS) {
    let list: string[];
    try {
      list = readdirSync(dir);
    } catch {
      continue;
    }
    const hit = list.filter((f) => libraryMatches(name, f)).sort()[0];
    if (hit !== undefined && rightArch(join(dir, hit))) return join(dir, hit);
  }
  throw new LibraryNotFoundError(
    name,
    "in /etc/ld.so.cache or the standard library directories",
    cache.map((e) => e.name).filter((n) => n.includes(name.replace(/^lib/, ""))),
  );
}
