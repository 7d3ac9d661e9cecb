/**
 * Histograms and counts: rawbpf's text against bpftrace's own for the same values (bpftrace run
 * here on a BEGIN probe, when it is installed), and the BPF-side bucket code against the
 * TypeScript bucket functions, run in the kernel with BPF_PROG_TEST_RUN.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { u32, u64 } from "../../src/codec/index.js";
import { asm } from "../../src/isa/template.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { InputError } from "../../src/sys/error.js";
import {
  countTable,
  formatHist,
  histogramCounts,
  linearBucket,
  linearBucketAsm,
  log2Bucket,
  log2BucketAsm,
  printCounts,
  printHistMap,
} from "../../src/trace/index.js";
import { skipUnlessCI } from "../support/ci.js";
import { needsRoot } from "../support/privilege.js";

/** Deterministic values across many magnitudes, negatives and zeros included. */
function values(n: number, seed: number): number[] {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const mag = x % 31;
    const v = Math.floor((x / 2147483648) * 2 ** mag);
    out.push(i % 17 === 0 ? 0 : i % 23 === 0 ? -v - 1 : v);
  }
  return out;
}

function bucketCounts(vs: number[], bucket: (v: number) => number): number[] {
  const counts: number[] = [];
  for (const v of vs) {
    const b = bucket(v);
    while (counts.length <= b) counts.push(0);
    counts[b] = (counts[b] as number) + 1;
  }
  return counts;
}

function bpftrace(script: string): string | undefined {
  const r = spawnSync("bpftrace", ["-e", script], { encoding: "utf8", timeout: 120_000 });
  if (r.error) return undefined;
  assert.equal(r.status, 0, `bpftrace ran: ${r.stderr}`);
  return r.stdout;
}

test("log2 buckets: bpftrace's (0 negatives, 1 zero, floor(log2)+2)", () => {
  assert.deepEqual(
    [-5, 0, 1, 2, 3, 4, 7, 8, 1023, 1024, 2 ** 40].map((v) => log2Bucket(v)),
    [0, 1, 2, 3, 3, 4, 4, 5, 11, 12, 42],
  );
  assert.equal(log2Bucket(2n ** 63n - 1n), 64);
  const b = { min: 10, max: 50, step: 5 };
  assert.deepEqual(
    [9, 10, 14, 15, 49, 50, 1000].map((v) => linearBucket(v, b)),
    [0, 1, 1, 2, 8, 9, 9],
  );
  assert.throws(() => linearBucket(1, { min: 5, max: 5, step: 1 }), InputError);
  assert.equal(formatHist([0, 0, 0]), "", "an empty histogram prints nothing");
});

test("hist(), lhist() and count() maps print as bpftrace prints them", (t) => {
  const h = values(300, 7);
  const l = values(200, 11).map((v) => v % 1500);
  const k = values(200, 13).map((v) => (v % 9000) - 100);
  const bounds = { min: 0, max: 1000, step: 100 };
  const kb = { min: 0, max: 8192, step: 1024 };
  const counts = new Map<string, number>([
    ["read", 3],
    ["write", 17],
    ["open", 8],
    ["close", 1],
  ]);
  const script = [
    "BEGIN {",
    ...h.map((v) => `@h = hist(${v});`),
    ...l.map((v) => `@l = lhist(${v}, ${bounds.min}, ${bounds.max}, ${bounds.step});`),
    ...k.map((v) => `@m = lhist(${v}, ${kb.min}, ${kb.max}, ${kb.step});`),
    ...h.slice(0, 40).map((v, i) => `@k["${i % 3 === 0 ? "a" : "b"}"] = hist(${v});`),
    ...[...counts].flatMap(([name, n]) => Array.from({ length: n }, () => `@c["${name}"] = count();`)),
    "exit(); }",
  ].join(" ");
  const theirs = bpftrace(script);
  if (theirs === undefined) return skipUnlessCI(t, "bpftrace is not installed (the oracle)");
  const keyed = ["a", "b"].map((key) => ({
    key,
    counts: bucketCounts(
      h.slice(0, 40).filter((_, i) => (i % 3 === 0 ? "a" : "b") === key),
      log2Bucket,
    ),
  }));
  // bpftrace prints its maps in name order at exit: count maps as lines, histograms as blocks
  const ours =
    printCounts("c", counts) +
    printHistMap("h", [{ counts: bucketCounts(h, log2Bucket) }]) +
    printHistMap("k", keyed) +
    printHistMap("l", [{ counts: bucketCounts(l, (v) => linearBucket(v, bounds)) }], bounds) +
    printHistMap("m", [{ counts: bucketCounts(k, (v) => linearBucket(v, kb)) }], kb);
  const body = theirs.slice(theirs.indexOf("@"));
  assert.equal(ours, body, "the same text, byte for byte");
});

test("count tables: largest first, top N, aligned", () => {
  const text = countTable(
    [
      ["sshd", 5n],
      ["node", 120n],
      ["bash", 5n],
      ["systemd-journald", 9n],
    ],
    { top: 3, headers: ["COMM", "CALLS"] },
  );
  assert.equal(
    text,
    [
      "COMM              CALLS",
      "node                120",
      "systemd-journald      9",
      "bash                  5",
      "",
    ].join("\n"),
  );
});

test("the BPF bucket code computes the same buckets as the TypeScript functions (in the kernel)", (t) => {
  if (!needsRoot(t)) return;
  const bounds = { min: -100, max: 900, step: 50 };
  using program = Program.load({
    type: "syscall",
    flags: 1 << 4, // BPF_F_SLEEPABLE: syscall programs must be
    instructions: asm`
      r6 = *(u64 *)(r1 + 0)
      ${log2BucketAsm("r6", "r7", "r8", "r9")}
      ${linearBucketAsm("r6", "r8", bounds)}
      r8 <<= 16
      r0 = r7
      r0 |= r8
      exit
    `,
  });
  const vs = [...values(400, 3), -1, 0, 1, 2, 3, 2 ** 52, -(2 ** 40), 899, 900, -100, -101];
  for (const v of vs) {
    const ctx = Buffer.alloc(8);
    ctx.writeBigInt64LE(BigInt(v));
    const r = program.testRun({ ctx, ctxOutSize: 0 }).retval;
    assert.equal(r & 0xffff, log2Bucket(v), `log2 bucket of ${v}`);
    assert.equal(r >>> 16, linearBucket(v, bounds), `linear bucket of ${v}`);
  }
});

test("histogramCounts reads a map of bucket -> count back as an array", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 64 });
  map.set(3, 5n);
  map.set(1, 2n);
  map.set(7, 1n);
  assert.deepEqual(histogramCounts(map), [0n, 2n, 0n, 5n, 0n, 0n, 0n, 1n]);
  using per = BpfMap.create({ type: "percpu_array", key: u32, value: u64, maxEntries: 4 });
  assert.deepEqual(histogramCounts(per), [0n, 0n, 0n, 0n], "per-CPU values summed");
});
