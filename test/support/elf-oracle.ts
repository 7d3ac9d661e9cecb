/**
 * The oracle side of symbolisation tests and benches, read without rawbpf: this process's
 * executable file mappings (/proc/self/maps) and a file's PT_LOAD segments (llvm-readelf-19), which
 * turn a runtime address into the file address llvm-symbolizer wants.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The symboliser the tests and benches compare with. */
export const SYMBOLIZER = "llvm-symbolizer-19";

/** A small seeded generator, so a failure can be replayed. */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * A random place of `maps`, spread evenly over their bytes (picking a mapping first gives a
 * one-page mapping as many picks as the whole text): the mapping and the place's file offset.
 */
export function randomPlace<M extends Mapping>(
  maps: readonly M[],
  next: () => number,
): { m: M; offset: number } {
  const total = maps.reduce((n, m) => n + (m.end - m.start), 0);
  let at = Math.floor(next() * total);
  for (const m of maps) {
    if (at < m.end - m.start) return { m, offset: m.offset + at };
    at -= m.end - m.start;
  }
  throw new Error("randomPlace: no mapping");
}

/** What binutils' `nm ARGS` prints (an independent reader of symbol tables); undefined where it fails (no symbols). */
export function nmText(args: readonly string[]): string | undefined {
  try {
    return execFileSync("nm", args, {
      encoding: "utf8",
      maxBuffer: 1 << 30,
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    return undefined;
  }
}

/**
 * llvm-symbolizer's function name for each virtual address of `file` ("??" when none), from the
 * file alone: no separate debug file (an empty --debug-file-directory), no debuginfod.
 */
export function llvmNames(file: string, vaddrs: number[]): string[] {
  const empty = mkdtempSync(join(tmpdir(), "rawbpf-nodebug-"));
  try {
    const out = execFileSync(
      SYMBOLIZER,
      [
        `--obj=${file}`,
        "--no-inlines",
        "--no-demangle",
        "--functions=linkage",
        "--no-debuginfod",
        `--debug-file-directory=${empty}`,
      ],
      { input: vaddrs.map((a) => `0x${a.toString(16)}`).join("\n"), encoding: "utf8", maxBuffer: 1 << 28 },
    );
    return out
      .split("\n\n")
      .filter((b) => b.trim() !== "")
      .map((b) => b.trim().split("\n")[0] as string);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}

/** One executable mapping of a file. */
export interface Mapping {
  start: number;
  end: number;
  offset: number;
  path: string;
}

/** This process's executable mappings of files whose name matches `re`, from /proc/self/maps. */
export function mappings(re: RegExp): Mapping[] {
  const out: Mapping[] = [];
  for (const line of readFileSync("/proc/self/maps", "latin1").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) ..x. ([0-9a-f]+) \S+ \d+\s+(\/\S+)$/.exec(line);
    if (m && re.test(m[4] as string))
      out.push({
        start: Number.parseInt(m[1] as string, 16),
        end: Number.parseInt(m[2] as string, 16),
        offset: Number.parseInt(m[3] as string, 16),
        path: m[4] as string,
      });
  }
  return out;
}

/** PT_LOAD segments of `file`, from llvm-readelf: the virtual address of a file offset. */
export function segments(file: string): { offset: number; vaddr: number; size: number }[] {
  const text = execFileSync("llvm-readelf-19", ["-lW", file], { encoding: "utf8" });
  return [...text.matchAll(/^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/gm)].map(
    (m) => ({
      offset: Number.parseInt(m[1] as string, 16),
      vaddr: Number.parseInt(m[2] as string, 16),
      size: Number.parseInt(m[3] as string, 16),
    }),
  );
}
