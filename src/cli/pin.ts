/**
 * `--pin PATH` checked before anything is loaded: the directory must exist and be on a bpffs, and
 * the name must be new. The filesystem is found in /proc/self/mountinfo (pure code: no statfs).
 */
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { InputError } from "../sys/error.js";

/** The filesystem type and mount point that `dir` (a real, absolute path) is on, from mountinfo's text. */
export function filesystemOf(
  dir: string,
  mountinfo: string,
): { type: string; mountPoint: string } | undefined {
  let best: { type: string; mountPoint: string } | undefined;
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 6 || fields[4] === undefined) continue;
    const mountPoint = fields[4].replace(/\\([0-7]{3})/g, (_, o: string) =>
      String.fromCharCode(Number.parseInt(o, 8)),
    );
    const inside = mountPoint === "/" || dir === mountPoint || dir.startsWith(`${mountPoint}/`);
    // the last mount of the longest matching point is the one on top
    if (inside && (!best || mountPoint.length >= best.mountPoint.length))
      best = { type: fields[dash + 1] ?? "", mountPoint };
  }
  return best;
}

/** Throws an InputError saying what is wrong with `path` as a place to pin, or returns. */
export function checkPinPath(path: string, mountinfo?: string): void {
  if (path === "") throw new InputError("--pin needs a path, like /sys/fs/bpf/my_prog");
  const full = resolve(path);
  if (existsSync(full)) {
    const what = statSync(full).isDirectory() ? "a directory" : "a file";
    throw new InputError(
      `--pin ${path}: ${full} exists (it is ${what}); pin at a new name inside a bpffs directory, ` +
        `like ${full.replace(/\/$/, "")}${what === "a directory" ? "/my_prog" : " (remove the old pin first: rm it)"}`,
    );
  }
  const dir = dirname(full);
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    throw new InputError(
      `--pin ${path}: the directory ${dir} does not exist (mkdir it inside a bpffs, like /sys/fs/bpf)`,
    );
  }
  let info = mountinfo;
  if (info === undefined) {
    try {
      info = readFileSync("/proc/self/mountinfo", "utf8");
    } catch {
      return; // no /proc: the kernel will say
    }
  }
  const fs = filesystemOf(real, info);
  if (fs && fs.type !== "bpf")
    throw new InputError(
      `--pin ${path}: ${dir} is on a filesystem of type ${fs.type} (mounted at ${fs.mountPoint}), not a bpffs: ` +
        `pins live in a bpffs, e.g. /sys/fs/bpf/${basename(full)} (mount one with: mount -t bpf bpf /sys/fs/bpf)`,
    );
}
