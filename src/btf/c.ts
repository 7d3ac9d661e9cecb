/**
 * The C printer: BTF as a C header that compiles, like `bpftool btf dump file X format c`
 * (vmlinux.h). Types come out in an order C accepts: a struct embedded by value is defined before
 * its container, one reached only through a pointer gets a forward declaration, typedefs follow
 * what they name. Duplicate names get a `___N` suffix, gaps in structs become padding bitfields,
 * packed structs get `__attribute__((packed))`, and records get `preserve_access_index` (CO-RE).
 *
 * The printing itself is WebAssembly, compiled from AssemblyScript (`c/printer.as.ts`, built into
 * `c/printer.wasm.ts` by scripts/build-wasm.mjs): `rawbpf btf dump --format c` prints once per
 * process, and JavaScript spent most of such a process waiting for V8's optimising compiler
 * (vmlinux: ~65 ms cold, ~25 ms warm), where V8 compiles WebAssembly in one quick pass before it
 * runs. This file is the glue: it puts the type words and the strings into a fresh instance's
 * memory (the whole blob, read straight there, for {@link formatCBytesOfBlob}), has it find where
 * each type starts (with decode.ts's record sizes and errors) and print, and turns the errors it
 * records into `BtfError`s.
 */

import { WASM } from "./c/printer.wasm.js";
import { Btf, EXTRA_FIXED, EXTRA_PER_VLEN } from "./decode.js";
import { BtfError } from "./errors.js";
import { KIND_NAMES } from "./kinds.js";

const utf8In = new TextEncoder();
const utf8Out = new TextDecoder();

/** Options of {@link formatC}. */
export interface CFormatOptions {
  /** include guard name (default `__VMLINUX_H__`) */
  readonly guard?: string;
  /** emit the `preserve_access_index` pragma (default true) */
  readonly preserveAccessIndex?: boolean;
}

/** What the printer's module exports (see c/printer.as.ts). */
interface Printer {
  readonly memory: WebAssembly.Memory;
  begin(bytes: number): number;
  tablesAt(): number;
  index(at: number, words: number): number;
  indexStop(): number;
  startOf(id: number): number;
  setStrings(at: number, strings: number): void;
  print(head: number, tail: number, blob: number): number;
  outputAt(): number;
  errorCode(): number;
  errorA(): number;
  errorB(): number;
  errorType(): number;
  readonly [error: `ERR_${string}`]: WebAssembly.Global;
}

let compiled: WebAssembly.Module | undefined;

/**
 * A fresh instance of the printer (its memory starts zeroed, as it expects) with the kinds' record
 * sizes in, and `bytes` of its memory taken for the input.
 * @returns the printer, and where the input goes
 */
function printer(bytes: number): { p: Printer; at: number } {
  compiled ??= new WebAssembly.Module(Buffer.from(WASM, "base64"));
  const p = new WebAssembly.Instance(compiled, {}).exports as unknown as Printer;
  const at = p.begin(bytes);
  const tables = new Int8Array(p.memory.buffer, p.tablesAt(), 64);
  tables.set(EXTRA_FIXED, 0);
  tables.set(EXTRA_PER_VLEN, 32);
  return { p, at };
}

/** Has the printer find where each of the `words` type words at `at` starts; throws decode.ts's errors. */
function index(p: Printer, at: number, words: number): void {
  const n = p.index(at, words);
  const stop = p.indexStop();
  if (stop !== words) {
    // a copy: the words need not be 4-byte aligned in the printer's memory
    const tw = new Uint32Array(new Uint8Array(p.memory.buffer, at, words * 4).slice().buffer);
    Btf.badIndex(tw, stop, n, p.startOf(n), 1);
  }
}

/** The error the printer recorded before it trapped, as a BtfError (in the words the JavaScript printer used). */
function printerError(p: Printer): BtfError | undefined {
  const code = p.errorCode();
  if (code === 0) return undefined;
  const a = p.errorA();
  const b = p.errorB();
  const id = p.errorType();
  const where = id >= 0 ? { typeId: id } : {};
  const is = (name: string) => code === p[`ERR_${name}`].value;
  let message: string;
  if (is("STRING")) message = `string offset ${a} is past the string table (${b} bytes)`;
  else if (is("REFERENCE")) message = `reference to type id ${a}, which does not exist (ids go up to ${b})`;
  else if (is("TOO_DEEP")) message = "types nest deeper than 1000 levels: a loop?";
  else if (is("BY_VALUE")) message = "types contain each other by value: no C declaration order exists";
  else if (is("CHAIN_LOOP")) message = "type chain loops back on itself";
  else if (is("SIZE")) message = `size ${a * b} overflows 32 bits`;
  else if (is("ARRAY_SIZE")) message = "array size overflows 32 bits";
  else if (is("DECL_KIND")) message = `a ${KIND_NAMES[a]} cannot appear in a C declaration`;
  else if (is("DECL_LOOP")) message = "declarator chain loops back on itself";
  else if (is("TOO_BIG"))
    message =
      `the C header would exceed ${a} bytes, far more than this BTF's size warrants: ` +
      "anonymous types nested many times over, or huge padding gaps (malformed BTF?)";
  else if (is("MEMORY")) message = `the C header needs more memory than WebAssembly has (${a} bytes)`;
  else message = `the C printer stopped with error code ${code}`;
  return new BtfError(message, where);
}

/**
 * The blob (with its base, for split BTF) as a C header, in the shape bpftool prints vmlinux.h,
 * as UTF-8 bytes (names are copied as the blob holds them). This is what `rawbpf btf dump
 * --format c` writes; {@link formatC} is the same as a string.
 * @throws BtfError when the types cannot be written as C (types that contain each other by value)
 */
export function formatCBytes(btf: Btf, options: CFormatOptions = {}): Uint8Array {
  const chain: Btf[] = [];
  for (let b: Btf | undefined = btf; b; b = b.base) chain.unshift(b);
  let words = 0;
  let bytes = 0;
  for (const b of chain) {
    words += b.typeWords.words.length;
    bytes += b.bytes.length;
  }
  const strings = btf.stringsEnd;
  // the blobs' type words one after another (one id space), then their strings (one offset space)
  const { p, at } = printer(words * 4 + strings);
  const wordsTo = new Uint32Array(p.memory.buffer, at, words);
  const stringsTo = new Uint8Array(p.memory.buffer, at + words * 4, strings);
  let w = 0;
  for (const b of chain) {
    const v = b.typeWords.words;
    wordsTo.set(v, w);
    w += v.length;
    stringsTo.set(b.stringBytes, b.stringsStart);
  }
  index(p, at, words);
  p.setStrings(at + words * 4, strings);
  return print(p, options, bytes);
}

/**
 * {@link formatCBytes} of a whole blob (not split BTF) that `read` writes straight into the
 * printer's memory: no `Btf` object and no copy, for `rawbpf btf dump --format c`. The blob is
 * checked as {@link Btf.parse} checks it, with the same errors.
 * @param size how many bytes `read` may write
 * @param read writes the blob at the start of `into` and returns how many bytes it wrote
 * @throws BtfError when the blob is not BTF, or cannot be written as C
 */
export function formatCBytesOfBlob(
  size: number,
  read: (into: Uint8Array) => number,
  options: CFormatOptions = {},
): Uint8Array {
  const { p, at } = printer(size);
  const got = read(new Uint8Array(p.memory.buffer, at, size));
  const h = Btf.readHeader(new Uint8Array(p.memory.buffer, at, got));
  index(p, at + h.hdrLen + h.typeOff, h.typeLen / 4);
  p.setStrings(at + h.hdrLen + h.strOff, h.strLen);
  return print(p, options, got);
}

/** Prints the header of the types the printer holds, from blobs of `bytes` bytes in all. */
function print(p: Printer, options: CFormatOptions, bytes: number): Uint8Array {
  const guard = options.guard ?? "__VMLINUX_H__";
  const pai = options.preserveAccessIndex ?? true;
  let head = `#ifndef ${guard}\n#define ${guard}\n\n`;
  if (pai) {
    head +=
      "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n" +
      "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n" +
      "#endif\n\n";
  }
  let tail = "";
  if (pai) tail += "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n";
  tail += `#endif /* ${guard} */\n`;
  const headBytes = utf8In.encode(head);
  const tailBytes = utf8In.encode(tail);
  let length: number;
  try {
    length = p.print(headBytes.length, tailBytes.length, bytes);
  } catch (e) {
    throw printerError(p) ?? e;
  }
  // a view of the printer's memory: the header is not copied again
  const out = new Uint8Array(p.memory.buffer, p.outputAt(), length);
  out.set(headBytes, 0);
  out.set(tailBytes, length - tailBytes.length);
  return out;
}

/**
 * The blob (with its base, for split BTF) as a C header, in the shape bpftool prints vmlinux.h.
 * @throws BtfError when the types cannot be written as C (types that contain each other by value)
 */
export function formatC(btf: Btf, options: CFormatOptions = {}): string {
  return utf8Out.decode(formatCBytes(btf, options));
}
