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
 * runs. This file is the glue: it copies the type words, where each type starts and the strings
 * into a fresh instance's memory, runs it, and turns the errors it records into `BtfError`s.
 */

import { WASM } from "./c/printer.wasm.js";
import type { Btf } from "./decode.js";
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
  prepare(words: number, count: number, strings: number): void;
  wordsAt(): number;
  startsAt(): number;
  stringsAt(): number;
  print(head: number, tail: number, blob: number): number;
  outputAt(): number;
  errorCode(): number;
  errorA(): number;
  errorB(): number;
  errorType(): number;
  readonly [error: `ERR_${string}`]: WebAssembly.Global;
}

let compiled: WebAssembly.Module | undefined;

/** A fresh instance of the printer (its memory starts zeroed, as it expects). */
function printer(): Printer {
  compiled ??= new WebAssembly.Module(Buffer.from(WASM, "base64"));
  return new WebAssembly.Instance(compiled, {}).exports as unknown as Printer;
}

/** Copies the blob and its bases into the printer's memory, as one id space. */
function load(p: Printer, btf: Btf): void {
  const chain: Btf[] = [];
  for (let b: Btf | undefined = btf; b; b = b.base) chain.unshift(b);
  let words = 0;
  let strings = 0;
  for (const b of chain) {
    words += b.typeWords.words.length;
    strings = b.stringsStart + b.stringBytes.length;
  }
  p.prepare(words, btf.endId, strings);
  const buffer = p.memory.buffer;
  const wordsTo = new Uint32Array(buffer, p.wordsAt(), words);
  const startsTo = new Uint32Array(buffer, p.startsAt(), btf.endId);
  const stringsTo = new Uint8Array(buffer, p.stringsAt(), strings);
  let w = 0;
  for (const b of chain) {
    const v = b.typeWords;
    wordsTo.set(v.words, w);
    if (w === 0) startsTo.set(v.starts, b.startId);
    else for (let i = 0; i < v.starts.length; i++) startsTo[b.startId + i] = v.starts[i]! + w;
    w += v.words.length;
    stringsTo.set(b.stringBytes, b.stringsStart);
  }
}

/** The error the printer recorded before it trapped, as a BtfError (with the JavaScript printer's words). */
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
  const p = printer();
  load(p, btf);
  let bytes = 0;
  for (let b: Btf | undefined = btf; b; b = b.base) bytes += b.bytes.length;
  let length: number;
  try {
    length = p.print(headBytes.length, tailBytes.length, bytes);
  } catch (e) {
    throw printerError(p) ?? e;
  }
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
