/**
 * The symbol tables the symboliser builds (in WebAssembly: parsed, sorted, bucket-indexed) against
 * independent readers, on many random addresses and on the edges of symbols, where a sort or a
 * bucket index goes wrong first:
 *   - ELF files (node's binary, libc): ElfSymbols on virtual addresses against llvm-symbolizer-19
 *     on the same file and addresses, name for name (rawbpf follows llvm's rule: sizeless labels
 *     reach up to the next symbol, the largest symbol of one address is kept, the later in the
 *     table on a tie);
 *   - a small shared library assembled here with each kind of symbol llvm keeps or leaves out
 *     (labels inside and after functions, aliases, objects, ifuncs, absolute, TLS and unloaded
 *     symbols), on every byte of its code, with its .symtab and stripped to its .dynsym;
 *   - the kernel: KernelSymbols against the kernel's own names (`%pS`, printed by bpf_snprintf in a
 *     BPF program run here), and against /proc/kallsyms read and sorted here, in plain JavaScript;
 *   - a kallsyms file written here, out of order in several runs, with several symbols at one
 *     address, module names, and lines the parser must skip, against the same plain reading.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { asm, loadAssembled } from "../../src/index.js";
import { ElfSymbols, KernelSymbols } from "../../src/symbolize/index.js";
import { haveTools, skipUnlessCI } from "../support/ci.js";
import {
  llvmNames,
  mappings,
  nmText,
  random,
  randomPlace,
  SYMBOLIZER,
  segments,
} from "../support/elf-oracle.js";
import { needsRoot } from "../support/privilege.js";

/** The defined code symbols of `file` by nm (both tables; sized functions and labels without a size): address and size. */
function nmFunctions(file: string): { address: number; size: number }[] {
  const functions: { address: number; size: number }[] = [];
  for (const args of [
    ["-S", "--defined-only", file],
    ["-S", "-D", "--defined-only", file],
  ]) {
    const text = nmText(args);
    if (text === undefined) continue;
    for (const m of text.matchAll(/^([0-9a-f]+) (?:([0-9a-f]+) )?(\w) (\S+)$/gm)) {
      const address = Number.parseInt(m[1] as string, 16);
      if (/[tTwWiI]/.test(m[3] as string) && address > 0)
        functions.push({ address, size: m[2] ? Number.parseInt(m[2], 16) : 0 });
    }
  }
  return functions;
}

/**
 * A shared library with each kind of symbol llvm-symbolizer keeps or leaves out
 * (SymbolizableObjectFile::addSymbol): a function with a label inside it (the label names the
 * rest of the function), padding after a function (no name), a label after the padding, a large
 * and a small function at one address (the large one is kept), two of one size at one address
 * (the later in the table), an object, an ifunc, a label, a label named in UTF-8 at the end; an absolute symbol inside
 * the padding, a TLS object and a label in a section that is not loaded (none of them names
 * anything).
 */
const LABELS_S = `
	.text
	.globl	sized
	.type	sized, @function
sized:
	.fill	16, 1, 0x90
inner_label:
	.fill	48, 1, 0x90
	.size	sized, 64
	.fill	16, 1, 0xcc
after_pad:
	.fill	32, 1, 0x90
	.globl	big
	.type	big, @function
	.globl	small
	.type	small, @function
small:
big:
	.fill	40, 1, 0x90
	.size	big, 40
	.size	small, 8
	.globl	twin_a
	.type	twin_a, @function
	.globl	twin_b
	.type	twin_b, @function
twin_a:
twin_b:
	.fill	24, 1, 0x90
	.size	twin_a, 24
	.size	twin_b, 24
	.type	table, @object
table:
	.fill	32, 1, 0
	.size	table, 32
	.fill	8, 1, 0xcc
	.type	chooser, @gnu_indirect_function
	.globl	chooser
chooser:
	.fill	16, 1, 0x90
	.size	chooser, 16
last_label:
	.fill	16, 1, 0x90
"caf\u00e9_\u03bb_label":
	.fill	16, 1, 0x90
	.globl	absolute_sym
	.set	absolute_sym, sized + 0x45
	.section	.tbss,"awT",@nobits
	.type	tls_var, @object
tls_var:
	.zero	8
	.size	tls_var, 8
	.section	.unloaded,"",@progbits
unloaded_label:
	.fill	64, 1, 0
`;

test("an assembled library's labels, aliases and left-out symbols are named as llvm-symbolizer names them, on every byte", (t) => {
  if (!haveTools(SYMBOLIZER, "clang-19", "strip", "llvm-readelf-19")) {
    skipUnlessCI(t, `${SYMBOLIZER}, clang-19, strip and llvm-readelf-19 are needed`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-labels-"));
  try {
    const source = join(dir, "labels.s");
    const full = join(dir, "labels.so");
    const stripped = join(dir, "stripped.so");
    writeFileSync(source, LABELS_S);
    execFileSync("clang-19", ["-shared", "-nostdlib", "-o", full, source]);
    execFileSync("strip", ["-o", stripped, full]);
    const text = /^\s*\[\s*\d+\] \.text\s+PROGBITS\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)/m.exec(
      execFileSync("llvm-readelf-19", ["-SW", full], { encoding: "utf8" }),
    );
    assert.ok(text, "llvm-readelf shows the library's .text");
    const start = Number.parseInt(text[1] as string, 16);
    const size = Number.parseInt(text[2] as string, 16);
    // every byte of the code and a little around it, and low addresses (where the TLS object and the unloaded label are)
    const vaddrs = [0, 1, 8, 0x40, 0x800];
    for (let a = start - 16; a < start + size + 16; a++) vaddrs.push(a);
    for (const [file, expect] of [
      [
        full,
        [
          "sized",
          "inner_label",
          "after_pad",
          "big",
          "table",
          "chooser",
          "last_label",
          "caf\u00e9_\u03bb_label",
        ],
      ],
      [stripped, ["sized", "big", "chooser"]],
    ] as const) {
      const table = new ElfSymbols(file, false);
      const ours = vaddrs.map((v) => table.at(v)?.name ?? "??");
      const theirs = llvmNames(file, vaddrs);
      const disagree = ours.flatMap((a, i) =>
        a === theirs[i] ? [] : [`0x${(vaddrs[i] as number).toString(16)}: rawbpf ${a}, llvm ${theirs[i]}`],
      );
      assert.deepEqual(
        disagree.slice(0, 20),
        [],
        `${disagree.length} addresses of ${file} named differently`,
      );
      // the sample reaches each kind of symbol (llvm's answers, so a changed assembler shows here)
      for (const name of expect) assert.ok(theirs.includes(name), `llvm-symbolizer names ${name} in ${file}`);
      assert.ok(theirs.includes("??"), `some addresses of ${file} have no name`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

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
    const functions = nmFunctions(file);
    const next = random(0xe1f + label.length);
    const vaddrs: number[] = [];
    // the edges of functions nm lists: the first byte, the one before, the last, the one after
    for (let i = 0; i < 1500 && functions.length > 0; i++) {
      const f = functions[Math.floor(next() * functions.length)] as { address: number; size: number };
      vaddrs.push(f.address, f.address - 1);
      if (f.size > 0) vaddrs.push(f.address + f.size - 1, f.address + f.size);
      // a label without a size reaches up to the next symbol: a place after it
      else vaddrs.push(f.address + 1 + Math.floor(next() * 256));
    }
    // and random places of the code (the executable mappings), as file virtual addresses
    const segs = segments(file);
    for (let i = 0; i < 3000; i++) {
      const { offset: off } = randomPlace(maps, next);
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
      if (ours[i] !== "??") named++;
      if (ours[i] !== theirs[i])
        disagree.push(`0x${(vaddrs[i] as number).toString(16)}: rawbpf ${ours[i]}, llvm ${theirs[i]}`);
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
  // BPF programs and modules come and go while other tests run: compare the kernel image's code
  // symbols (the kernel names only its text, unless it lists its data too: see the %pS test)
  const next = random(1313);
  const code = (l: Line) => l.module === undefined && /[tTwW]/.test(l.type);
  const checked = checkKernel(
    kernel,
    table,
    (i) =>
      code(table[i] as Line) &&
      code(table[i + 1] as Line) &&
      !/^_e(init)?text$/.test((table[i] as Line).name) &&
      next() < 0.05,
    99,
  );
  assert.ok(checked > 3000, `${checked} addresses checked`);
  assert.ok(kernel.size >= table.filter((l) => l.module === undefined).length, "every image symbol is kept");
});

/**
 * The kernel's own name for each of `addresses`: `%pS` printed by bpf_snprintf in a syscall
 * program run once an address ("name+0xoff/0xsize", " [module]" after a module's; the address in
 * hex when no symbol holds it), as "name+0xoff [module]" or "none".
 */
function kernelPrints(addresses: bigint[]): string[] {
  // zero the 128 bytes of stack the program uses, print into 120 of them, copy those to the context
  const zero = Array.from({ length: 16 }, (_, i) => `*(u64 *)(r10 - ${8 * (i + 1)}) = r7`).join("\n");
  const copy = Array.from(
    { length: 15 },
    (_, i) => `r1 = *(u64 *)(r10 - ${120 - 8 * i})\n*(u64 *)(r6 + ${8 + 8 * i}) = r1`,
  ).join("\n");
  using loaded = loadAssembled(
    asm`
      .rodata fmt "%pS"
      r6 = r1
      r7 = 0
      ${zero}
      r1 = *(u64 *)(r6 + 0)
      *(u64 *)(r10 - 128) = r1
      r1 = r10
      r1 += -120
      r2 = 120
      r3 = fmt
      r4 = r10
      r4 += -128
      r5 = 8
      call bpf_snprintf
      ${copy}
      r0 = 0
      exit
    `,
    { type: "syscall", flags: 1 << 4 },
  );
  const ctx = Buffer.alloc(128);
  return addresses.map((a) => {
    ctx.fill(0);
    ctx.writeBigUInt64LE(a);
    loaded.program.testRun({ ctx, ctxOutSize: 0 });
    const printed = ctx.toString("latin1", 8, ctx.indexOf(0, 8));
    const m = /^(.+)\+0x([0-9a-f]+)\/0x[0-9a-f]+(?: \[(.+)\])?$/.exec(printed);
    if (!m) {
      assert.equal(BigInt(printed), a, `the kernel prints a symbol or the address, got ${printed}`);
      return "none";
    }
    return `${m[1]}+0x${m[2]}${m[3] ? ` [${m[3]}]` : ""}`;
  });
}

test("kernel symbols: addresses are named as the kernel itself prints them (%pS)", (t) => {
  if (!needsRoot(t)) return;
  const kernel = new KernelSymbols();
  const table = plainKallsyms(readFileSync("/proc/kallsyms", "latin1")).filter((l) => l.module === undefined);
  const next = random(0x9e5);
  const addresses: bigint[] = [];
  // the image's symbols (BPF programs and modules come and go while other tests run): starts, the
  // byte before, a random place up to the next symbol
  for (let n = 0; n < 3000; n++) {
    const i = Math.floor(next() * (table.length - 1));
    const s = (table[i] as Line).address;
    const gap = Number((table[i + 1] as Line).address - s);
    addresses.push(s, s - 1n, s + BigInt(Math.floor(next() * Math.max(gap, 1))));
  }
  // the edges of the image's text, init text and the image
  for (const l of table)
    if (/^_(s|e)(init)?text$|^_end$/.test(l.name)) addresses.push(l.address - 1n, l.address, l.address + 1n);
  const theirs = kernelPrints(addresses);
  const ours = addresses.map((a) => {
    const s = kernel.at(a);
    return s ? `${s.name}+0x${(a - s.address).toString(16)}${s.module ? ` [${s.module}]` : ""}` : "none";
  });
  const wrong = ours.flatMap((o, i) =>
    o === theirs[i]
      ? []
      : [`0x${(addresses[i] as bigint).toString(16)}: rawbpf ${o}, the kernel ${theirs[i]}`],
  );
  assert.deepEqual(
    wrong.slice(0, 20),
    [],
    `${wrong.length} of ${addresses.length} addresses named otherwise`,
  );
  assert.ok(theirs.filter((x) => x === "none").length < theirs.length / 2, "the kernel named most addresses");
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

test("a file's string table is mapped, not read; without the native binding it is read, and the names are the same", (t) => {
  if (!haveTools("nm")) {
    skipUnlessCI(t, "nm (binutils) is needed for the addresses");
    return;
  }
  const file = realpathSync(process.execPath);
  const strtab = /^\s*\[\s*\d+\] \.strtab\s+STRTAB\s+[0-9a-f]+\s+([0-9a-f]+)/m.exec(
    execFileSync("readelf", ["-SW", file], { encoding: "utf8" }),
  );
  assert.ok(strtab, `readelf shows ${file}'s .strtab`);
  const page = Number.parseInt(strtab[1] as string, 16) & ~0xfff;
  // the mappings of the file at the string table's page: what this process maps of it besides its
  // code (tables read earlier and not yet collected keep theirs)
  const mapped = () =>
    readFileSync("/proc/self/maps", "utf8")
      .split("\n")
      .filter((l) => l.endsWith(file) && Number.parseInt(l.split(/\s+/)[2] as string, 16) === page).length;
  const next = random(0x57a7);
  const functions = nmFunctions(file);
  const vaddrs = Array.from({ length: 2000 }, () => {
    const f = functions[Math.floor(next() * functions.length)] as { address: number; size: number };
    return f.address + Math.floor(next() * Math.max(1, f.size));
  });
  const before = mapped();
  const table = new ElfSymbols(file, false);
  const ours = vaddrs.map((v) => table.at(v)?.name ?? "??");
  assert.equal(mapped(), before + 1, "reading the table mapped its string table");
  // a child process where loading koffi fails, as on a platform it has no binary for
  // (test/support/no-koffi.mjs)
  const root = join(import.meta.dirname, "..", "..");
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-strtab-"));
  try {
    writeFileSync(join(dir, "vaddrs.json"), JSON.stringify(vaddrs));
    const out = execFileSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--import",
        pathToFileURL(join(root, "test", "support", "no-koffi.mjs")).href,
        "--input-type=module",
        "-e",
        `import { readFileSync } from "node:fs";
         import { ElfSymbols } from ${JSON.stringify(pathToFileURL(join(root, "src", "symbolize", "index.ts")).href)};
         const vaddrs = JSON.parse(readFileSync(${JSON.stringify(join(dir, "vaddrs.json"))}, "utf8"));
         const table = new ElfSymbols(${JSON.stringify(file)}, false);
         const names = vaddrs.map((v) => table.at(v)?.name ?? "??");
         const mapped = readFileSync("/proc/self/maps", "utf8").split("\\n")
           .some((l) => l.endsWith(${JSON.stringify(file)}) && Number.parseInt(l.split(/\\s+/)[2], 16) === ${page});
         process.stdout.write(JSON.stringify({ names, mapped, error: table.error }));`,
      ],
      { encoding: "utf8", cwd: root },
    );
    const child = JSON.parse(out) as { names: string[]; mapped: boolean; error?: string };
    assert.equal(child.error, undefined, "the child read the symbols");
    assert.equal(child.mapped, false, "without koffi the string table is read, not mapped");
    assert.ok(ours.filter((n) => n !== "??").length > vaddrs.length / 2, "most addresses are named");
    assert.deepEqual(child.names, ours, "the names read and the names mapped are the same");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
