import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BtfBuilder } from "../../src/btf/builder.js";
import { Btf } from "../../src/btf/decode.js";
import { tempDirRemovedAtExit } from "../support/tmp.js";

export const VMLINUX = "/sys/kernel/btf/vmlinux";

let vmlinux: Btf | undefined;
/** The running kernel's BTF, parsed once per test file. */
export function kernelBtf(): Btf {
  vmlinux ??= Btf.parse(readFileSync(VMLINUX));
  return vmlinux;
}

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(): string {
  return tempDirRemovedAtExit("rawbpf-btf-");
}

/** Writes a blob to a temp file and returns `bpftool btf dump file <it> format raw` (with -B base). */
export function bpftoolRaw(blob: Uint8Array, base?: string): string {
  const file = join(tempDir(), "blob.btf");
  writeFileSync(file, blob);
  const args = base
    ? ["-B", base, "btf", "dump", "file", file, "format", "raw"]
    : ["btf", "dump", "file", file, "format", "raw"];
  return execFileSync("bpftool", args, { encoding: "utf8", maxBuffer: 1 << 30 });
}

/** A blob with at least one type of every kind. */
export function everyKind(): { builder: BtfBuilder; ids: Record<string, number> } {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const uint = b.int("unsigned int", 4);
  const char = b.int("char", 1, { signed: true });
  const uchar = b.int("unsigned char", 1, { char: true });
  const bool = b.int("_Bool", 1, { bool: true });
  const long = b.int("long", 8, { signed: true });
  const ptr = b.ptr(int);
  const arr = b.array(char, 16);
  const flags = b.struct("flags", [
    { name: "a", type: uint, bitfieldSize: 3 },
    { name: "b", type: uint, bitfieldSize: 5 },
    { name: "c", type: long },
  ]);
  const pair = b.struct("pair", [
    { name: "left", type: int },
    { name: "right", type: ptr },
    { name: "name", type: arr },
    { name: "ok", type: bool },
  ]);
  const un = b.union("either", [
    { name: "i", type: int },
    { name: "l", type: long },
  ]);
  const color = b.enum("color", { RED: 0, GREEN: 1, BLUE: -1 });
  const big = b.enum("big", { HUGE: 1n << 40n, SMALL: 1 });
  const fwd = b.fwd("opaque");
  const fwdu = b.fwd("opaque_union", true);
  const td = b.typedef("pair_t", pair);
  const vol = b.volatile(int);
  const cst = b.const(td);
  const rst = b.restrict(ptr);
  const proto = b.funcProto(int, [
    { name: "x", type: int },
    { name: "p", type: b.ptr(fwd) },
  ]);
  const varproto = b.funcProto(int, [{ name: "fmt", type: b.ptr(cst) }], { variadic: true });
  const fn = b.func("do_it", proto, "global");
  const fn2 = b.func("printf_like", varproto, "extern");
  const v = b.var("counter", long, "global");
  const sec = b.datasec(".data", [{ type: v, offset: 0, size: 8 }]);
  const dbl = b.float("double", 8);
  const dt = b.declTag("kfunc", fn);
  const dtm = b.declTag("member_tag", pair, 1);
  const tt = b.typeTag("user", int);
  const pt = b.ptr(tt);
  return {
    builder: b,
    ids: {
      int,
      uint,
      char,
      uchar,
      bool,
      long,
      ptr,
      arr,
      flags,
      pair,
      un,
      color,
      big,
      fwd,
      fwdu,
      td,
      vol,
      cst,
      rst,
      proto,
      fn,
      fn2,
      v,
      sec,
      dbl,
      dt,
      dtm,
      tt,
      pt,
    },
  };
}
