/**
 * The running kernel's BTF for the assembler's `offsetof`/`sizeof`/enumerator names, read with
 * plain `fs` so that `rawbpf asm` stays free of the native edge (koffi costs ~7 ms a start). Read
 * only when a text first uses such a name.
 */
import { readFileSync } from "node:fs";
import { Btf } from "../btf/decode.js";

let vmlinux: Btf | undefined;

/** `/sys/kernel/btf/vmlinux`, parsed once. */
export function vmlinuxFromFile(): Btf {
  vmlinux ??= Btf.parse(readFileSync("/sys/kernel/btf/vmlinux"));
  return vmlinux;
}
