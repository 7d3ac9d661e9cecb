/**
 * The C printer: BTF as a C header that compiles, like `bpftool btf dump file X format c`
 * (vmlinux.h). Types come out in an order C accepts: a struct embedded by value is defined before
 * its container, one reached only through a pointer gets a forward declaration, typedefs follow
 * what they name. Duplicate names get a `___N` suffix, gaps in structs become padding bitfields,
 * packed structs get `__attribute__((packed))`, and records get `preserve_access_index` (CO-RE).
 *
 * The printing itself is WebAssembly, compiled from AssemblyScript (`wasm/c.as.ts`; the glue is
 * wasm.ts): `rawbpf btf dump --format c` prints once per process, and JavaScript spent most of
 * such a process waiting for V8's optimising compiler (vmlinux: ~65 ms cold, ~25 ms warm), where
 * V8 compiles WebAssembly in one quick pass before it runs. This file adds the options and the
 * lines around the types.
 */

import type { Btf } from "./decode.js";
import { type Engine, engineOf, engineOfBlob, run } from "./wasm.js";

const utf8In = new TextEncoder();
const utf8Out = new TextDecoder();

/** Options of {@link formatC}. */
export interface CFormatOptions {
  /** include guard name (default `__VMLINUX_H__`) */
  readonly guard?: string;
  /** emit the `preserve_access_index` pragma (default true) */
  readonly preserveAccessIndex?: boolean;
}

/**
 * The blob (with its base, for split BTF) as a C header, in the shape bpftool prints vmlinux.h,
 * as UTF-8 bytes (names are copied as the blob holds them). This is what `rawbpf btf dump
 * --format c` writes; {@link formatC} is the same as a string.
 * @throws BtfError when the types cannot be written as C (types that contain each other by value)
 */
export function formatCBytes(btf: Btf, options: CFormatOptions = {}): Uint8Array {
  const { e, bytes } = engineOf(btf);
  return print(e, options, bytes);
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
  const { e, bytes } = engineOfBlob(size, read);
  return print(e, options, bytes);
}

/** Prints the header of the types the engine holds, from blobs of `bytes` bytes in all. */
function print(e: Engine, options: CFormatOptions, bytes: number): Uint8Array {
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
  const out = run(e, () => e.printC(headBytes.length, tailBytes.length, bytes));
  out.set(headBytes, 0);
  out.set(tailBytes, out.length - tailBytes.length);
  return out;
}

/**
 * The blob (with its base, for split BTF) as a C header, in the shape bpftool prints vmlinux.h.
 * @throws BtfError when the types cannot be written as C (types that contain each other by value)
 */
export function formatC(btf: Btf, options: CFormatOptions = {}): string {
  return utf8Out.decode(formatCBytes(btf, options));
}
