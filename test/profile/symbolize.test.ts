/**
 * The symboliser against independent readers: user frames (addresses in node's binary and in
 * libc, as this process maps them) against llvm-symbolizer-19 on the same file and virtual
 * address (the virtual address computed here from llvm-readelf's program headers, not by
 * rawbpf), names that differ allowed only when nm shows both at one address (aliases); kernel
 * frames against /proc/kallsyms sorted by coreutils' sort.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { KernelSymbols, Symbolizer } from "../../src/symbolize/index.js";
import { haveTools, skipUnlessCI } from "../support/ci.js";
import {
  llvmNames,
  type Mapping,
  mappings,
  nmText,
  random,
  randomPlace,
  SYMBOLIZER,
  segments,
} from "../support/elf-oracle.js";
import { needsRoot } from "../support/privilege.js";

/** Each defined function or object symbol of `file` as nm -S lists it: name, address, size. */
function nmSized(file: string): { name: string; address: number; size: number }[] {
  const text = execFileSync("nm", ["-S", "--defined-only", file], { encoding: "utf8", maxBuffer: 1 << 30 });
  const out: { name: string; address: number; size: number }[] = [];
  for (const m of text.matchAll(/^([0-9a-f]+) ([0-9a-f]+) [tTwWiIdDbBrR] (\S+)$/gm))
    out.push({
      name: (m[3] as string).replace(/@.*$/, ""),
      address: Number.parseInt(m[1] as string, 16),
      size: Number.parseInt(m[2] as string, 16),
    });
  return out;
}

/** The separate debug file of `file` by its build id (llvm-readelf's notes), when installed. */
function debugFileOf(file: string): string | undefined {
  const id = /Build ID: ([0-9a-f]+)/.exec(
    execFileSync("llvm-readelf-19", ["-n", file], { encoding: "utf8" }),
  )?.[1];
  const path = id && `/usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`;
  return path && existsSync(path) ? path : undefined;
}

/** name -> addresses, from nm (defined symbols of both tables, and of the debug file). */
function nmAddresses(file: string): Map<string, Set<number>> {
  const map = new Map<string, Set<number>>();
  const debug = debugFileOf(file);
  const runs = [
    ["--defined-only", file],
    ["-D", "--defined-only", file],
  ];
  if (debug) runs.push(["--defined-only", debug]);
  for (const args of runs) {
    const text = nmText(args);
    if (text === undefined) continue;
    for (const line of text.split("\n")) {
      const m = /^([0-9a-f]+) \w (\S+)$/.exec(line);
      if (!m) continue;
      const name = (m[2] as string).replace(/@.*$/, "");
      let set = map.get(name);
      if (!set) map.set(name, (set = new Set()));
      set.add(Number.parseInt(m[1] as string, 16));
    }
  }
  return map;
}

for (const [label, re] of [
  ["node's binary", /\/node$/],
  ["libc", /\/libc\.so\.6$/],
] as const) {
  test(`user frames in ${label} agree with llvm-symbolizer`, (t) => {
    if (!haveTools(SYMBOLIZER) || !haveTools("llvm-readelf-19")) {
      skipUnlessCI(t, `${SYMBOLIZER} and llvm-readelf-19 (llvm-19) are needed as the oracle`);
      return;
    }
    const maps = mappings(re);
    assert.ok(maps.length > 0, `this process maps ${label}`);
    const file = (maps[0] as Mapping).path;
    const segs = segments(file);
    const next = random(0x5eed + label.length);
    const runtime: number[] = [];
    const vaddrs: number[] = [];
    for (let i = 0; i < 400; i++) {
      const { m, offset: off } = randomPlace(maps, next);
      const at = m.start + off - m.offset;
      const seg = segs.find((s) => off >= s.offset && off < s.offset + s.size);
      if (!seg) continue;
      runtime.push(at);
      vaddrs.push(off - seg.offset + seg.vaddr);
    }
    assert.ok(runtime.length > 300, `${runtime.length} addresses inside loadable segments`);
    // the file's own symbols, as llvm-symbolizer reads them without a debug file
    const symbolizer = new Symbolizer({ debugFiles: false });
    const ours = runtime.map((a) => symbolizer.name(BigInt(a)));
    const theirs = llvmNames(file, vaddrs);
    assert.equal(theirs.length, ours.length, "llvm-symbolizer answered every address");
    let nm: Map<string, Set<number>> | undefined;
    const disagree: string[] = [];
    let named = 0;
    for (let i = 0; i < ours.length; i++) {
      const a = ours[i] as string;
      const b = theirs[i] as string;
      if (b !== "??") named++;
      if (a === b || (b === "??" && a.startsWith("["))) continue;
      // aliases: two names of one address are both right
      nm ??= nmAddresses(file);
      const as = nm.get(a);
      const bs = nm.get(b);
      if (as && bs && [...as].some((x) => bs.has(x))) continue;
      disagree.push(`0x${(vaddrs[i] as number).toString(16)}: rawbpf ${a}, llvm ${b}`);
    }
    assert.ok(named > 50, `llvm-symbolizer named ${named} of the sampled addresses`);
    assert.deepEqual(disagree, [], `names that disagree in ${file}`);
    // with the separate debug file (libc6-dbg), when one is installed: each name is a symbol of
    // it (nm) that holds the address
    const debug = debugFileOf(file);
    if (debug === undefined) return;
    const full = new Symbolizer();
    assert.equal(full.file(file).debugFile, debug, "the debug file found by build id");
    const byName = new Map<string, { address: number; size: number }[]>();
    for (const s of nmSized(debug)) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
    const wrong: string[] = [];
    let symbolised = 0;
    for (let i = 0; i < runtime.length; i++) {
      const name = full.name(BigInt(runtime[i] as number));
      const v = vaddrs[i] as number;
      if (name.startsWith("[")) continue;
      symbolised++;
      const holds = (byName.get(name) ?? []).some(
        (s) => s.address <= v && (s.size === 0 || v < s.address + s.size),
      );
      if (!holds) wrong.push(`0x${v.toString(16)}: ${name}`);
    }
    const own = ours.filter((n) => !n.startsWith("[")).length;
    assert.ok(symbolised >= own, `the debug file names at least as many (${symbolised}, ${own} without it)`);
    assert.deepEqual(wrong, [], `names that nm says do not hold the address in ${debug}`);
  });
}

test("kernel frames: the nearest kallsyms symbol at or below the address", (t) => {
  if (!needsRoot(t)) return;
  // the oracle: kallsyms sorted by coreutils (hex addresses of equal width sort as text)
  const sorted = execFileSync("sh", ["-c", "grep -v '^0000000000000000' /proc/kallsyms | sort -s -k1,1"], {
    encoding: "latin1",
    maxBuffer: 1 << 28,
  })
    .split("\n")
    .filter((l) => l.length > 19 && !/^\S+ [aAU] /.test(l))
    .map((l) => {
      const name = (l.slice(19).split("\t")[0] as string).trim();
      return { address: BigInt(`0x${l.slice(0, 16)}`), name };
    })
    .filter((s) => s.address >= 0xffff800000000000n);
  const kernel = new KernelSymbols();
  const symbolizer = new Symbolizer();
  const next = random(77);
  for (let i = 0; i < 300; i++) {
    const k = Math.floor(next() * (sorted.length - 1));
    const lo = sorted[k]!.address;
    let hi = lo;
    for (let j = k + 1; j < sorted.length && hi === lo; j++) hi = sorted[j]!.address;
    if (hi === lo) continue;
    const address = lo + BigInt(Math.floor(next() * Number(hi - lo)));
    const names = new Set(sorted.filter((s) => s.address === lo).map((s) => s.name));
    const found = kernel.at(address);
    assert.ok(found, `a symbol for 0x${address.toString(16)}`);
    assert.equal(found.address, lo, `0x${address.toString(16)}: nearest symbol address`);
    assert.ok(
      names.has(found.name),
      `0x${address.toString(16)}: ${found.name} is one of ${[...names].join(", ")}`,
    );
    assert.equal(symbolizer.name(address), found.name);
  }
  // a stack map value: little-endian words, ending at the first zero
  const a = sorted[1000]!;
  const raw = Buffer.alloc(32);
  raw.writeBigUInt64LE(a.address, 0);
  raw.writeBigUInt64LE(a.address + 1n, 8);
  const stack = symbolizer.stack(raw);
  assert.equal(stack.length, 2, "stops at the zero word");
  assert.ok(stack.every((n) => n === stack[0]));
});

test("addresses nothing maps, and files without symbols, are named plainly", () => {
  const symbolizer = new Symbolizer();
  assert.equal(symbolizer.name(0x10n), "[unknown]");
  assert.equal(symbolizer.frame(0x10n).module, "[unknown]");
  assert.throws(() => symbolizer.name(-1n), /bigint/);
  const missing = symbolizer.file("/nonexistent/file.so");
  assert.equal(missing.size, 0);
  assert.match(missing.error ?? "", /ENOENT|no such file/i);
});
