/**
 * The ELF reader that places uprobes, against binutils as the oracle: for functions of binaries
 * compiled on the spot (PIE and not) and of libc.so.6, our file offset equals the one computed
 * from `readelf -sW` (the symbol's address) and `readelf -lW` (the PT_LOAD segments), and nm
 * agrees with readelf on the addresses. Bad files are typed errors naming the file; cut and
 * mutated files give typed errors only (fast-check).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { elfFunctionOffset, readElfParts } from "../../src/elf/exec.js";
import {
  AmbiguousSymbolError,
  ElfFormatError,
  SymbolNotFoundError,
  UnreadableBinaryError,
  uprobeOffset,
} from "../../src/link/index.js";

const MAIN = `
#include <stdio.h>
__attribute__((noinline)) int rawbpf_alpha(int x) { return x + 1; }
__attribute__((noinline)) long rawbpf_beta(long x) { return x * 3; }
__attribute__((noinline, weak)) int rawbpf_weak(int x) { return x - 1; }
__attribute__((noinline)) static int rawbpf_local(int x) { return x ^ 5; }
__attribute__((noinline)) static int rawbpf_twice(int x) { return x + 7; }
int rawbpf_other(int);
int rawbpf_data = 3;
int main(int argc, char **argv) {
  (void)argv;
  printf("%d\\n", rawbpf_alpha(argc) + (int)rawbpf_beta(argc) + rawbpf_weak(argc) + rawbpf_local(argc) +
                   rawbpf_twice(argc) + rawbpf_other(argc) + rawbpf_data);
  return 0;
}
`;

/** A second file with its own static rawbpf_twice: two local functions by one name. */
const OTHER = `
__attribute__((noinline)) static int rawbpf_twice(int x) { return x * 11; }
int rawbpf_other(int x) { return rawbpf_twice(x); }
`;

let dir = "";
let pie = "";
let noPie = "";
let object = "";
const LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6";

function libc(): string {
  const line = readFileSync("/proc/self/maps", "latin1")
    .split("\n")
    .find((l) => /\/libc\.so\.6$/.test(l));
  return line ? line.slice(line.indexOf("/")) : LIBC;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "rawbpf-elf-"));
  const main = join(dir, "main.c");
  const other = join(dir, "other.c");
  writeFileSync(main, MAIN);
  writeFileSync(other, OTHER);
  pie = join(dir, "pie");
  noPie = join(dir, "nopie");
  object = join(dir, "other.o");
  execFileSync("cc", ["-O1", "-g0", "-fPIE", "-pie", "-rdynamic", "-o", pie, main, other]);
  execFileSync("cc", ["-O1", "-g0", "-fno-PIE", "-no-pie", "-o", noPie, main, other]);
  execFileSync("cc", ["-c", "-o", object, other]);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface OracleSym {
  name: string;
  value: bigint;
  type: string;
  bind: string;
}

/** Defined symbols from `readelf -sW` (both .dynsym and .symtab), versions cut off the names. */
function readelfSymbols(file: string): OracleSym[] {
  const out: OracleSym[] = [];
  for (const line of execFileSync("readelf", ["-sW", file], { encoding: "utf8" }).split("\n")) {
    const m = /^\s*\d+:\s+([0-9a-f]+)\s+\d+\s+(\w+)\s+(\w+)\s+\w+\s+(\w+)\s+(\S+)/.exec(line);
    if (!m || m[4] === "UND") continue;
    out.push({ value: BigInt(`0x${m[1]}`), type: m[2]!, bind: m[3]!, name: m[5]!.replace(/@.*$/, "") });
  }
  return out;
}

/** The file offset of `vaddr` from `readelf -lW`'s LOAD lines. */
function readelfOffset(file: string, vaddr: bigint): number {
  for (const line of execFileSync("readelf", ["-lW", file], { encoding: "utf8" }).split("\n")) {
    const m = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/.exec(line);
    if (!m) continue;
    const [off, va, size] = [BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`), BigInt(`0x${m[3]}`)];
    if (vaddr >= va && vaddr < va + size) return Number(vaddr - va + off);
  }
  throw new Error(`readelf shows no LOAD segment holding 0x${vaddr.toString(16)} in ${file}`);
}

/** nm's address of `name` (defined text symbols, from the symbol table nm reads). */
function nmAddress(file: string, name: string, dynamic: boolean): bigint | undefined {
  const args = dynamic ? ["-D", "--defined-only", file] : ["--defined-only", file];
  for (const line of execFileSync("nm", args, { encoding: "utf8" }).split("\n")) {
    const [addr, kind, sym] = line.trim().split(/\s+/);
    if (sym?.replace(/@.*$/, "") === name && /[TtWi]/.test(kind ?? "")) return BigInt(`0x${addr}`);
  }
  return undefined;
}

/** Asserts our offset of each function equals the readelf oracle's, and nm's address readelf's. */
function agrees(file: string, names: readonly string[], dynamic: boolean): void {
  const syms = readelfSymbols(file);
  const bytes = readFileSync(file);
  for (const name of names) {
    const sym = syms.find((s) => s.name === name && s.type === "FUNC");
    assert.ok(sym, `readelf lists ${name} in ${file}`);
    assert.equal(nmAddress(file, name, dynamic), sym.value, `nm and readelf agree on ${name}`);
    const expected = readelfOffset(file, sym.value);
    assert.equal(elfFunctionOffset(bytes, name, file), expected, `${file}: ${name}`);
    assert.equal(uprobeOffset(file, name), expected);
  }
}

test("function offsets of compiled binaries (PIE and fixed-address) agree with readelf and nm", () => {
  const names = ["main", "rawbpf_alpha", "rawbpf_beta", "rawbpf_weak", "rawbpf_local", "rawbpf_other"];
  agrees(pie, names, false);
  agrees(noPie, names, false);
  // -rdynamic put the global functions in .dynsym too: the same offsets from either table
  const dynamic = ["rawbpf_alpha", "rawbpf_beta", "rawbpf_other"];
  agrees(pie, dynamic, true);
  // a stripped copy keeps .dynsym only: exported functions still resolve, static ones are gone
  const stripped = join(dir, "stripped");
  execFileSync("strip", ["-o", stripped, pie]);
  assert.equal(uprobeOffset(stripped, "rawbpf_beta"), uprobeOffset(pie, "rawbpf_beta"));
  assert.throws(
    () => uprobeOffset(stripped, "rawbpf_local"),
    (e: unknown) => e instanceof SymbolNotFoundError && e.file === stripped && e.symbol === "rawbpf_local",
  );
});

test("reading only the headers and symbol tables of libc finds what reading all of it finds, for every function", () => {
  const file = libc();
  const whole = readFileSync(file);
  const parts = partsOf(whole);
  const names = [...new Set(readelfSymbols(file).map((s) => s.name))];
  assert.ok(names.length > 1000, `readelf lists ${names.length} names`);
  for (const name of names) assert.equal(outcome(parts, name), outcome(whole, name), name);
  // and most of the file was never read
  let read = 0;
  for (const b of parts) if (b !== 0) read++;
  assert.ok(read < whole.length / 2, `${read} of ${whole.length} bytes are non-zero in the parts`);
});

test("libc.so.6's exported functions agree with readelf and nm; IFUNCs and old versions are not taken", () => {
  const file = libc();
  agrees(file, ["a64l", "malloc", "printf", "getpid", "free", "fopen"], true);
  if (process.arch !== "x64") return; // the facts below are glibc's on x86-64
  // strlen is an IFUNC: its address is a resolver (picking an implementation by CPU), not the code a call runs
  assert.equal(
    readelfSymbols(file).find((s) => s.name === "strlen")?.type,
    "IFUNC",
    "readelf: strlen is an IFUNC",
  );
  assert.throws(
    () => uprobeOffset(file, "strlen"),
    (e: unknown) => e instanceof SymbolNotFoundError && /is an IFUNC/.test(e.message),
  );
  // memcpy@GLIBC_2.2.5 is a plain FUNC kept for old binaries; the default memcpy@@GLIBC_2.14 is an
  // IFUNC: the name means the default version (.gnu.version), as for a program linked today
  const text = execFileSync("readelf", ["--dyn-syms", "-W", file], { encoding: "utf8" });
  assert.match(text, /FUNC\s+GLOBAL\s+\w+\s+\d+\s+memcpy@GLIBC_2\.2\.5$/m);
  assert.match(text, /IFUNC.*memcpy@@GLIBC/);
  assert.throws(() => uprobeOffset(file, "memcpy"), /is an IFUNC/);
});

test("a missing function names the file and a near name; two static ones by one name are ambiguous", () => {
  assert.throws(
    () => uprobeOffset(pie, "rawbpf_alpa"),
    (e: unknown) =>
      e instanceof SymbolNotFoundError &&
      e.file === pie &&
      e.symbol === "rawbpf_alpa" &&
      e.suggestion === "rawbpf_alpha" &&
      e.message.includes(pie) &&
      /did you mean 'rawbpf_alpha'/.test(e.message),
  );
  assert.throws(
    () => uprobeOffset(libc(), "mallocc"),
    (e: unknown) => e instanceof SymbolNotFoundError && e.suggestion === "malloc",
  );
  // a data symbol is not a function
  assert.throws(() => uprobeOffset(pie, "rawbpf_data"), SymbolNotFoundError);
  const twice = readelfSymbols(pie)
    .filter((s) => s.name === "rawbpf_twice" && s.type === "FUNC")
    .map((s) => readelfOffset(pie, s.value))
    .sort((a, b) => a - b);
  assert.equal(twice.length, 2, "readelf sees two local rawbpf_twice");
  assert.throws(
    () => uprobeOffset(pie, "rawbpf_twice"),
    (e: unknown) =>
      e instanceof AmbiguousSymbolError &&
      e.file === pie &&
      [...e.offsets].sort((a, b) => a - b).join() === twice.join() &&
      /give the offset/.test(e.message),
  );
});

test("files that are not ELF64 little-endian executables are typed errors naming the file", () => {
  const good = readFileSync(pie);
  const bad = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(
      () => elfFunctionOffset(bytes, "main", "/x/file"),
      (e: unknown) => e instanceof ElfFormatError && e.file === "/x/file" && pattern.test(e.message),
    );
  bad(Buffer.from("#!/bin/sh\necho hi\n"), /not an ELF file/);
  bad(new Uint8Array(0), /not an ELF file/);
  bad(good.subarray(0, 40), /truncated/);
  bad(good.subarray(0, 5), /truncated/);
  const b32 = Buffer.from(good);
  b32[4] = 1;
  bad(b32, /not a 64-bit ELF/);
  const be = Buffer.from(good);
  be[5] = 2;
  bad(be, /not little-endian/);
  bad(readFileSync(object), /type 1, not an executable/);
  bad(good.subarray(0, good.length - 100), /truncated/);
  assert.throws(() => uprobeOffset(join(dir, "main.c"), "main"), ElfFormatError);
  assert.throws(() => uprobeOffset(join(dir, "none"), "main"), UnreadableBinaryError);
  assert.throws(() => uprobeOffset(dir, "main"), UnreadableBinaryError);
});

/** What a lookup in `bytes` gives: the offset, or the error's class and message. */
function outcome(bytes: Uint8Array, name: string): string {
  try {
    return String(elfFunctionOffset(bytes, name, "fuzzed"));
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

/** The parts of `bytes` readElfParts reads (the rest zero), read from `bytes` as from a file. */
function partsOf(bytes: Uint8Array): Uint8Array {
  return readElfParts(bytes.length, (into, offset) => into.set(bytes.subarray(offset, offset + into.length)));
}

/**
 * Only our typed errors (or an offset inside the file) may come out of damaged bytes, and reading
 * only the parts a lookup needs gives the same outcome as reading the whole file.
 */
function typedOnly(bytes: Uint8Array, name: string): void {
  assert.equal(
    outcome(partsOf(bytes), name),
    outcome(bytes, name),
    "the parts read give what the whole file gives",
  );
  try {
    const offset = elfFunctionOffset(bytes, name, "fuzzed");
    assert.ok(Number.isSafeInteger(offset) && offset >= 0 && offset < bytes.length, `offset ${offset}`);
  } catch (e) {
    if (
      e instanceof ElfFormatError ||
      e instanceof SymbolNotFoundError ||
      e instanceof AmbiguousSymbolError
    ) {
      assert.equal(e.file, "fuzzed");
      return;
    }
    throw e;
  }
}

test("cut, mutated and random bytes give typed errors only (fast-check)", () => {
  const good = readFileSync(noPie);
  const view = new DataView(good.buffer, good.byteOffset, good.byteLength);
  const shoff = Number(view.getBigUint64(40, true));
  const phoff = Number(view.getBigUint64(32, true));
  const names = fc.constantFrom("main", "rawbpf_alpha", "rawbpf_twice", "nothing", "");
  fc.assert(
    fc.property(fc.nat({ max: good.length }), names, (cut, name) => typedOnly(good.subarray(0, cut), name)),
    { numRuns: 400 },
  );
  // mutations aimed at what the reader trusts: the ELF header, program and section headers, anywhere
  const where = fc.oneof(
    fc.nat({ max: 63 }),
    fc.integer({ min: phoff, max: phoff + 13 * 56 - 1 }),
    fc.integer({ min: shoff, max: good.length - 1 }),
    fc.nat({ max: good.length - 1 }),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(where, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      names,
      (edits, name) => {
        const bytes = Buffer.from(good);
        for (const [at, value] of edits) bytes[at] = value;
        typedOnly(bytes, name);
      },
    ),
    { numRuns: 1500 },
  );
  // random bytes behind a valid identification
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 512 }), names, (tail, name) => {
      const bytes = new Uint8Array(16 + tail.length);
      bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
      bytes.set(tail, 16);
      typedOnly(bytes, name);
    }),
    { numRuns: 500 },
  );
});
