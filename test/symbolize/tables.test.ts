/**
 * The symbol tables the symboliser builds (in WebAssembly: parsed, sorted, bucket-indexed) against
 * independent readers, on many random addresses and on the edges of symbols, where a sort or a
 * bucket index goes wrong first:
 *   - ELF files (node's binary, libc): ElfSymbols on virtual addresses against llvm-symbolizer-19
 *     on the same file and addresses (names that differ allowed only where nm shows both at one
 *     address: aliases);
 *   - the kernel: KernelSymbols against /proc/kallsyms read and sorted here, in plain JavaScript;
 *   - a kallsyms file written here, out of order in several runs, with several symbols at one
 *     address, module names, and lines the parser must skip, against the same plain reading.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ElfSymbols, KernelSymbols } from "../../src/symbolize/index.js";
import { haveTools, skipUnlessCI } from "../support/ci.js";
import { llvmNames, mappings, random, SYMBOLIZER, segments } from "../support/elf-oracle.js";
import { needsRoot } from "../support/privilege.js";

/** The defined symbols of `file` by nm (both tables): name (without a version) -> addresses; and each sized function. */
function nmSymbols(file: string): {
  byName: Map<string, Set<number>>;
  functions: { address: number; size: number }[];
} {
  const byName = new Map<string, Set<number>>();
  const functions: { address: number; size: number }[] = [];
  for (const args of [
    ["-S", "--defined-only", file],
    ["-S", "-D", "--defined-only", file],
  ]) {
    let text = "";
    try {
      text = execFileSync("nm", args, {
        encoding: "utf8",
        maxBuffer: 1 << 30,
        stdio: ["ignore", "pipe", "ignore"],
      });
    } catch {
      continue;
    }
    for (const m of text.matchAll(/^([0-9a-f]+) (?:([0-9a-f]+) )?(\w) (\S+)$/gm)) {
      const address = Number.parseInt(m[1] as string, 16);
      const name = (m[4] as string).replace(/@.*$/, "");
      let set = byName.get(name);
      if (!set) byName.set(name, (set = new Set()));
      set.add(address);
      if (/[tTwWiI]/.test(m[3] as string) && address > 0)
        functions.push({ address, size: m[2] ? Number.parseInt(m[2], 16) : 0 });
    }
  }
  return { byName, functions };
}

for (const [label, re] of [
  ["node's binary", /\/node$/],
  ["libc", /\/libc\.so\.6$/],
] as const) {
  test(`ELF symbols of ${label}: random addresses and symbol edges agree with llvm-symbolizer`, (t) => {
    if (!haveTools(SYMBOLIZER) || !haveTools("llvm-readelf-19") || !haveTools("nm")) {
      skipUnlessCI(t, `${SYMBOLIZER}, llvm-readelf-19 (llvm-19) and nm (binutils) are needed as the oracle`);
      return;
    }
    const maps = mappings(re);
    assert.ok(maps.length > 0, `this process maps ${label}`);
    const file = realpathSync((maps[0] as { path: string }).path);
    const { byName, functions } = nmSymbols(file);
    const next = random(0xe1f + label.length);
    const vaddrs: number[] = [];
    // the edges of functions nm lists: the first byte, the one before, the last, the one after
    for (let i = 0; i < 1500 && functions.length > 0; i++) {
      const f = functions[Math.floor(next() * functions.length)] as { address: number; size: number };
      vaddrs.push(f.address, f.address - 1);
      if (f.size > 0) vaddrs.push(f.address + f.size - 1, f.address + f.size);
    }
    // and random places of the code (the executable mappings), as file virtual addresses
    const segs = segments(file);
    for (let i = 0; i < 3000; i++) {
      const m = maps[Math.floor(next() * maps.length)] as { start: number; end: number; offset: number };
      const off = m.offset + Math.floor(next() * (m.end - m.start));
      const seg = segs.find((s) => off >= s.offset && off < s.offset + s.size);
      if (seg) vaddrs.push(off - seg.offset + seg.vaddr);
    }
    const table = new ElfSymbols(file, false);
    assert.equal(table.error, undefined, `${file} has symbols`);
    const ours = vaddrs.map((v) => table.at(v)?.name ?? "??");
    const theirs = llvmNames(file, vaddrs);
    assert.equal(theirs.length, ours.length, "llvm-symbolizer answered every address");
    const disagree: string[] = [];
    let named = 0;
    for (let i = 0; i < ours.length; i++) {
      const a = ours[i] as string;
      const b = theirs[i] as string;
      if (a !== "??") named++;
      if (a === b) continue;
      // aliases: two names of one address are both right
      const as = byName.get(a);
      const bs = byName.get(b);
      if (as && bs && [...as].some((x) => bs.has(x))) continue;
      disagree.push(`0x${(vaddrs[i] as number).toString(16)}: rawbpf ${a}, llvm ${b}`);
    }
    assert.ok(named > vaddrs.length / 4, `rawbpf named ${named} of ${vaddrs.length} addresses`);
    assert.deepEqual(disagree.slice(0, 20), [], `${disagree.length} names that disagree in ${file}`);
  });
}

interface Line {
  address: bigint;
  type: string;
  name: string;
  module: string | undefined;
}

/** A kallsyms text read the plain way: the kernel-half symbols that are not a/A/U, in file order. */
function plainKallsyms(text: string): Line[] {
  const out: Line[] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-9a-fA-F]{16}) (\S) ([^\t]+?)(?:\t+\s*\[?([^\]\s]*)\]?\s*)?$/.exec(line);
    if (!m) continue;
    const address = BigInt(`0x${m[1]}`);
    if (address < 0xffff800000000000n || /[aAU]/.test(m[2] as string)) continue;
    out.push({ address, type: m[2] as string, name: m[3] as string, module: m[4] });
  }
  return out;
}

/** One symbol per address, ascending: the first code symbol (t T w W) listed there, else the first. */
function plainTable(lines: Line[]): Line[] {
  const sorted = lines
    .map((l, i) => ({ l, i }))
    .sort((x, y) => (x.l.address < y.l.address ? -1 : x.l.address > y.l.address ? 1 : x.i - y.i))
    .map((x) => x.l);
  const out: Line[] = [];
  for (const l of sorted) {
    const last = out[out.length - 1];
    if (last && last.address === l.address) {
      if (/[tTwW]/.test(l.type) && !/[tTwW]/.test(last.type)) out[out.length - 1] = l;
      continue;
    }
    out.push(l);
  }
  return out;
}

/** Checks `kernel` against `table` on each symbol's address, the byte before the next, and random places between. */
function checkKernel(
  kernel: KernelSymbols,
  table: Line[],
  pick: (i: number) => boolean,
  seed: number,
): number {
  const next = random(seed);
  let checked = 0;
  const wrong: string[] = [];
  for (let i = 0; i + 1 < table.length; i++) {
    if (!pick(i)) continue;
    const s = table[i] as Line;
    const gap = (table[i + 1] as Line).address - s.address;
    for (const a of [s.address, s.address + gap - 1n, s.address + BigInt(Math.floor(next() * Number(gap)))]) {
      const found = kernel.at(a);
      checked++;
      if (found?.name !== s.name || found.address !== s.address || found.module !== s.module)
        wrong.push(
          `0x${a.toString(16)}: ${found?.name} [${found?.module}], kallsyms says ${s.name} [${s.module}]`,
        );
    }
  }
  assert.deepEqual(wrong.slice(0, 20), [], `${wrong.length} kernel addresses named wrong`);
  return checked;
}

test("kernel symbols: random addresses and symbol edges agree with /proc/kallsyms read plainly", (t) => {
  if (!needsRoot(t)) return;
  const table = plainTable(plainKallsyms(readFileSync("/proc/kallsyms", "latin1")));
  const kernel = new KernelSymbols();
  // BPF programs and modules come and go while other tests run: compare the kernel image's symbols
  const next = random(1313);
  const checked = checkKernel(
    kernel,
    table,
    (i) =>
      (table[i] as Line).module === undefined && (table[i + 1] as Line).module === undefined && next() < 0.05,
    99,
  );
  assert.ok(checked > 3000, `${checked} addresses checked`);
  assert.ok(kernel.size >= table.filter((l) => l.module === undefined).length, "every image symbol is kept");
});

test("a kallsyms file out of order, with shared addresses and modules, is read as a plain sort reads it", () => {
  const next = random(4242);
  const lines: string[] = [];
  const hex = (a: bigint) => a.toString(16).padStart(16, "0");
  // the image, in order; then modules and BPF programs in several out-of-order runs
  let at = 0xffffffff81000000n;
  for (let i = 0; i < 5000; i++) {
    at += BigInt(1 + Math.floor(next() * 300));
    const r = next();
    if (r < 0.05) {
      // several symbols at one address: data first, then code, then more code
      lines.push(`${hex(at)} D data_${i}`, `${hex(at)} t code_${i}`, `${hex(at)} T other_${i}`);
    } else if (r < 0.08) {
      lines.push(`${hex(at)} A absolute_${i}`, `${hex(at)} U undefined_${i}`);
    } else if (r < 0.1) {
      lines.push(`0000000000000000 T hidden_${i}`);
    } else if (r < 0.12) {
      lines.push(`${hex(at)} b bss_${i}`, `${hex(at)} W weak_${i}`);
    } else {
      lines.push(`${hex(at)} ${"tTwWdr"[Math.floor(next() * 6)]} sym_${i}`);
    }
  }
  for (let run = 0; run < 7; run++) {
    let m = 0xffffffffc0000000n + BigInt(Math.floor(next() * 2 ** 24));
    const mod = run % 2 === 0 ? `mod${run}` : "bpf";
    for (let i = 0; i < 200; i++) {
      m += BigInt(1 + Math.floor(next() * 500));
      lines.push(`${hex(m)} t ${mod}_fn_${run}_${i}\t[${mod}]`);
    }
  }
  // a last run that lists again, under other names, addresses listed before: the first listed stays
  const listed = lines.filter((l) => /^ffffffffc/.test(l));
  for (let i = 0; i < 300; i++) {
    const l = listed[Math.floor(next() * listed.length)] as string;
    lines.push(`${l.slice(0, 16)} ${next() < 0.5 ? "t" : "d"} again_${i}\t[late]`);
  }
  lines.push("", "not a symbol line", "ffffffff8100zz00 T bad_hex");
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-kallsyms-"));
  try {
    const path = join(dir, "kallsyms");
    writeFileSync(path, `${lines.join("\n")}\n`);
    const table = plainTable(plainKallsyms(readFileSync(path, "latin1")));
    const kernel = new KernelSymbols(path);
    assert.equal(kernel.size, table.length, "one symbol per distinct address");
    const checked = checkKernel(kernel, table, () => true, 7);
    assert.ok(checked > 15000, `${checked} addresses checked`);
    assert.equal(kernel.at(0xffffffff80000000n), undefined, "nothing below the first symbol");
    // a reader without CAP_SYSLOG sees only zeros
    writeFileSync(path, "0000000000000000 T _stext\n0000000000000000 t foo\t[ext4]\n");
    assert.throws(() => new KernelSymbols(path), /every address as 0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("damaged and non-ELF files give an empty table that says why", () => {
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-elfsyms-"));
  try {
    const libc = mappings(/\/libc\.so\.6$/)[0]?.path ?? process.execPath;
    const bytes = readFileSync(libc);
    const cut = join(dir, "cut.so");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100)); // the section headers are at the end
    const damaged = new ElfSymbols(cut, false);
    assert.equal(damaged.size, 0);
    assert.match(damaged.error ?? "", /truncated|past/, `the error says the file is cut: ${damaged.error}`);
    const text = join(dir, "text.so");
    writeFileSync(text, "#!/bin/sh\necho not an ELF file\n");
    assert.match(new ElfSymbols(text).error ?? "", /not an ELF file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
