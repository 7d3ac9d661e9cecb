/** A process's memory mappings, from /proc/PID/maps: which file (and file offset) holds an address. */
import { readFileSync } from "node:fs";

/** The executable mappings of one process, sorted by start address. */
export interface ProcessMaps {
  /** start addresses (user addresses are below 2^47, exact as numbers) */
  starts: Float64Array;
  ends: Float64Array;
  /** the file offset each mapping starts at */
  offsets: Float64Array;
  /** the mapped file's path, or a pseudo name (`[vdso]`, `[anon]`) */
  paths: string[];
}

const LINE = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ \d+\s*(.*)$/;

/**
 * The executable mappings of process `pid` (read from /proc/PID/maps), or undefined when the
 * process is gone or cannot be read.
 */
export function readProcessMaps(pid: number): ProcessMaps | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/maps`, "latin1");
  } catch {
    return undefined;
  }
  const starts: number[] = [];
  const ends: number[] = [];
  const offsets: number[] = [];
  const paths: string[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    if (m[3]?.[2] !== "x") continue;
    starts.push(Number.parseInt(m[1] as string, 16));
    ends.push(Number.parseInt(m[2] as string, 16));
    offsets.push(Number.parseInt(m[4] as string, 16));
    const path = (m[5] as string).replace(/ \(deleted\)$/, "");
    paths.push(path === "" ? "[anon]" : path);
  }
  return {
    starts: Float64Array.from(starts),
    ends: Float64Array.from(ends),
    offsets: Float64Array.from(offsets),
    paths,
  };
}

/**
 * The index of the range holding `address` among ranges sorted by start (`starts[i]` up to, not
 * including, `ends[i]`), or -1: the last start at or below it, by binary search, then its end.
 */
function rangeOf(starts: ArrayLike<number>, ends: ArrayLike<number>, address: number): number {
  let a = 0;
  let b = starts.length - 1;
  if (b < 0 || address < (starts[0] as number)) return -1;
  while (a < b) {
    const m = (a + b + 1) >>> 1;
    if ((starts[m] as number) <= address) a = m;
    else b = m - 1;
  }
  return address < (ends[a] as number) ? a : -1;
}

/** The index of the mapping of `maps` holding `address`, or -1. */
export function mappingOf(maps: ProcessMaps, address: number): number {
  return rangeOf(maps.starts, maps.ends, address);
}

/** A JIT's symbols from /tmp/perf-PID.map: code ranges sorted by start, the later entry kept at one start. */
export interface PerfMap {
  starts: Float64Array;
  ends: Float64Array;
  names: string[];
}

/**
 * The symbols a JIT wrote for process `pid` in /tmp/perf-PID.map (`START SIZE NAME` a line, hex;
 * `node --perf-basic-prof`, the JVM's perf-map-agent...), or null when there is no such file.
 */
export function readPerfMap(pid: number): PerfMap | null {
  let text: string;
  try {
    text = readFileSync(`/tmp/perf-${pid}.map`, "utf8");
  } catch {
    return null;
  }
  const entries: { start: number; end: number; name: string; order: number }[] = [];
  for (const line of text.split("\n")) {
    const a = line.indexOf(" ");
    const b = a < 0 ? -1 : line.indexOf(" ", a + 1);
    if (b < 0) continue;
    const start = Number.parseInt(line.slice(0, a), 16);
    const size = Number.parseInt(line.slice(a + 1, b), 16);
    if (!Number.isFinite(start) || !Number.isFinite(size)) continue;
    entries.push({ start, end: start + size, name: line.slice(b + 1), order: entries.length });
  }
  // code moves and is rewritten: at one start, the entry written last is the one that runs
  entries.sort((x, y) => x.start - y.start || y.order - x.order);
  const kept = entries.filter((e, i) => i === 0 || e.start !== (entries[i - 1] as { start: number }).start);
  return {
    starts: Float64Array.from(kept, (e) => e.start),
    ends: Float64Array.from(kept, (e) => e.end),
    names: kept.map((e) => e.name),
  };
}

/** The index of the entry of `map` whose range holds `address`, or -1. */
export function perfMapIndex(map: PerfMap, address: number): number {
  return rangeOf(map.starts, map.ends, address);
}
