/**
 * The oracle side of symbolisation tests and benches, read without rawbpf: this process's
 * executable file mappings (/proc/self/maps) and a file's PT_LOAD segments (llvm-readelf-19), which
 * turn a runtime address into the file address llvm-symbolizer wants.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

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
