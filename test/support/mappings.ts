/**
 * What a process has mapped (/proc/self/maps), for the leak checks of the event readers: their
 * kernel mappings, and the read-only zero pages a closed reader leaves under stale views until
 * the garbage collector frees those views.
 */
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
/** The garbage collector, callable from a test. */
export const gc = runInNewContext("gc") as () => void;

function mapsLines(): string[] {
  return readFileSync("/proc/self/maps", "utf8").trimEnd().split("\n");
}

/**
 * Lines of /proc/self/maps that map a kernel object whose anon inode is named `name`
 * (`"bpf-map"` for a BPF map, `"perf_event"` for a perf event's ring).
 */
export function mappingsOf(name: string): number {
  return mapsLines().filter((l) => l.includes(name)).length;
}

/**
 * Bytes of read-only private anonymous memory: where closed readers' placeholders live (the
 * kernel merges neighbouring ones into one line, so bytes are counted, not lines). Node itself
 * keeps a constant amount of it (V8's read-only space).
 */
export function placeholderBytes(): number {
  let bytes = 0;
  for (const line of mapsLines()) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) r--p 00000000 00:00 0\s*$/.exec(line);
    if (m) bytes += Number.parseInt(m[2]!, 16) - Number.parseInt(m[1]!, 16);
  }
  return bytes;
}

/** Collects garbage until the placeholder bytes are back to `bytes` (finalizers run after a GC, in a later task). */
export async function settle(bytes: number): Promise<number> {
  let now = placeholderBytes();
  for (let i = 0; i < 50 && now !== bytes; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    now = placeholderBytes();
  }
  return now;
}
