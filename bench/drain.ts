/**
 * What the event-reader benches share: the C baseline built against libbpf on the spot, and the
 * drain comparison itself (JS and C rounds interleaved, the best round of each, the sums of both
 * sides checked equal, the heap growth of one JS drain).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Compiles `source` (C against libbpf) into bench/.build/NAME and returns the binary's path. */
export function buildBaseline(name: string, source: string): string {
  const dir = fileURLToPath(new URL("./.build/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  const src = `${dir}${name}.c`;
  const bin = `${dir}${name}`;
  writeFileSync(src, source);
  execFileSync("cc", ["-O2", "-o", bin, src, "-lbpf"]);
  return bin;
}

/** The part of a record both readers hand out that the benches touch. */
export interface DrainedRecord {
  readonly bytes: Uint8Array;
  readonly offset: number;
  readonly length: number;
}

/** One bench: how to fill and drain the JS side, and how to run the C side. */
export interface DrainBench<R extends DrainedRecord> {
  /** what is drained ("records", "samples"), for messages */
  unit: string;
  /** how many each fill writes */
  count: number;
  rounds: number;
  /** fills the JS side with `count` items */
  fill(): void;
  /** drains the JS side into `onRecord`; returns how many were delivered */
  drain(onRecord: (r: R) => void): number;
  /** how many drains one C run does (its sum covers them all) */
  cDrains: number;
  /** one C run: its best ns per item, and its sum over `cDrains` drains */
  runC(): { perItem: number; sum: number };
}

/** What {@link compareDrains} measured: ns per item of each side, and one JS drain's heap growth. */
export interface DrainResult {
  ours: number;
  base: number;
  allocated: string;
}

/**
 * Times the JS drain against the C one, round by round in turns, keeping the best of each. Every
 * callback adds the item's first byte and its length to a sum (a small integer: adding to it
 * allocates nothing); the sums of both sides must agree, or the work was unequal.
 */
export function compareDrains<R extends DrainedRecord>(b: DrainBench<R>): DrainResult {
  let sum = 0;
  let drainSum = 0;
  const onRecord = (r: R): void => {
    sum += r.bytes[r.offset]! + r.length;
  };
  const drain = (): number => {
    b.fill();
    sum = 0;
    const t0 = process.hrtime.bigint();
    const n = b.drain(onRecord);
    const t = Number(process.hrtime.bigint() - t0);
    if (n !== b.count) throw new Error(`consumed ${n} ${b.unit}, not ${b.count}`);
    drainSum = sum;
    return t / b.count;
  };
  // warm up the JIT (and fault in the mappings)
  for (let i = 0; i < 5; i++) drain();

  let ours = Number.POSITIVE_INFINITY;
  let base = Number.POSITIVE_INFINITY;
  let cSum = 0;
  for (let round = 0; round < b.rounds; round++) {
    ours = Math.min(ours, drain());
    const c = b.runC();
    base = Math.min(base, c.perItem);
    cSum = c.sum;
  }

  // allocation: heap growth over one drain (garbage collected first), the least of 5
  const gc = (globalThis as { gc?: () => void }).gc;
  let allocated = "n/a (run with --expose-gc)";
  if (gc) {
    let least = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 5; i++) {
      b.fill();
      sum = 0;
      gc();
      const before = process.memoryUsage().heapUsed;
      b.drain(onRecord);
      least = Math.min(least, process.memoryUsage().heapUsed - before);
    }
    allocated = `${Math.max(0, least)} bytes of heap over ${b.count} ${b.unit}`;
  }

  if (drainSum * b.cDrains !== cSum) {
    throw new Error(`sums differ: JS ${drainSum} a drain, C ${cSum} over ${b.cDrains}`);
  }
  return { ours, base, allocated };
}

/** Prints the result as the other benches do: one row, ns per item and the ratio. */
export function printDrain(title: string, row: string, unit: string, r: DrainResult): void {
  console.log(title);
  console.log(
    `${"operation".padEnd(42)} ${`ns/${unit} JS`.padStart(12)} ${`ns/${unit} C`.padStart(13)} ${"JS/C".padStart(6)}   (goal: none set)`,
  );
  console.log(
    `${row.padEnd(42)} ${r.ours.toFixed(2).padStart(12)} ${r.base.toFixed(2).padStart(13)} ${(r.ours / r.base).toFixed(3).padStart(6)}`,
  );
  console.log(`allocation in consume: ${r.allocated}`);
}
