/** Shared pieces of the CO-RE tests: compile a fixture with clang-19, cut it with llvm-objcopy-19, read xlated code, run libbpf. */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { btfExtBlocks } from "../../../src/btf/core/index.js";
import { Btf } from "../../../src/btf/decode.js";
import { objGetInfoByFd, PROG_INFO, putPtr, putU32 } from "../../../src/sys/index.js";
import { tempDirRemovedAtExit } from "../../support/tmp.js";

export const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const INCLUDE = "/usr/include/x86_64-linux-gnu";

/** Whether the tools the oracles need are installed (clang-19, llvm-objcopy-19, cc, libbpf). */
export function toolsPresent(): boolean {
  return (
    existsSync("/usr/bin/clang-19") &&
    existsSync("/usr/bin/llvm-objcopy-19") &&
    existsSync("/usr/include/bpf/libbpf.h")
  );
}

let dir: string | undefined;
/** One temporary directory per test file. */
export function workDir(): string {
  dir ??= tempDirRemovedAtExit("rawbpf-core-");
  return dir;
}

/** A compiled fixture cut into the pieces the tests use (independent of rawbpf's ELF reader). */
export interface Compiled {
  readonly object: string;
  readonly btfBytes: Uint8Array;
  readonly btf: Btf;
  readonly ext: Uint8Array;
  /** the program section's instructions */
  readonly code: Uint8Array;
  /** the section's func_info records, insn_off in instructions (as BPF_PROG_LOAD wants them) */
  readonly funcInfo: Uint8Array;
}

/**
 * clang leaves DATASEC sizes 0 (the loader fills them in; the kernel refuses 0): sets each to the
 * end of its last variable, as libbpf does, so the object's BTF loads as the program's BTF.
 */
function fixDatasecSizes(bytes: Uint8Array): Uint8Array {
  const btf = Btf.parse(bytes);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const { starts } = btf.typeWords;
  for (const [id, t] of btf.types()) {
    if (t.kind !== "datasec" || t.size !== 0) continue;
    const end = t.vars.reduce((e, x) => Math.max(e, x.offset + x.size), 0);
    v.setUint32(btf.header.hdrLen + btf.header.typeOff + starts[id - 1]! * 4 + 8, end, true);
  }
  return bytes;
}

/** Compiles fixtures/NAME.c with clang-19 -target bpf -O2 -g and dumps .BTF, .BTF.ext and `section`. */
export function compileFixture(name: string, section = "xdp", extraFlags: string[] = []): Compiled {
  const d = workDir();
  const object = join(d, `${name}.o`);
  execFileSync("clang-19", [
    "-target",
    "bpf",
    "-O2",
    "-g",
    `-I${INCLUDE}`,
    ...extraFlags,
    "-c",
    join(FIXTURES, `${name}.c`),
    "-o",
    object,
  ]);
  const files = { btf: join(d, `${name}.btf`), ext: join(d, `${name}.ext`), code: join(d, `${name}.code`) };
  execFileSync("llvm-objcopy-19", [
    "--dump-section",
    `.BTF=${files.btf}`,
    "--dump-section",
    `.BTF.ext=${files.ext}`,
    "--dump-section",
    `${section}=${files.code}`,
    object,
    join(d, `${name}.rest`),
  ]);
  const btfBytes = fixDatasecSizes(new Uint8Array(readFileSync(files.btf)));
  const btf = Btf.parse(btfBytes);
  const ext = new Uint8Array(readFileSync(files.ext));
  const block = btfExtBlocks(ext, btf, "func").find((b) => b.section === section);
  if (!block) throw new Error(`no func_info for section ${section}`);
  const funcInfo = new Uint8Array(block.count * 8);
  const src = new DataView(block.records.buffer, block.records.byteOffset, block.records.length);
  const dst = new DataView(funcInfo.buffer);
  for (let i = 0; i < block.count; i++) {
    dst.setUint32(i * 8, src.getUint32(i * block.recordSize, true) / 8, true);
    dst.setUint32(i * 8 + 4, src.getUint32(i * block.recordSize + 4, true), true);
  }
  return { object, btfBytes, btf, ext, code: new Uint8Array(readFileSync(files.code)), funcInfo };
}

/** The instructions of a loaded program after the verifier (BPF_OBJ_GET_INFO_BY_FD xlated_prog_insns). */
export function xlated(fd: number): Buffer {
  const o = PROG_INFO.offset;
  const info = Buffer.alloc(PROG_INFO.size);
  objGetInfoByFd(fd, info);
  const len = info.readUInt32LE(o.xlated_prog_len);
  const insns = Buffer.alloc(len);
  const again = Buffer.alloc(PROG_INFO.size);
  putU32(again, o.xlated_prog_len, len, "xlated length");
  putPtr(again, o.xlated_prog_insns, insns);
  objGetInfoByFd(fd, again);
  return insns;
}

const HARNESS = `
#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include <bpf/libbpf.h>
static int quiet(enum libbpf_print_level l, const char *f, va_list a) { return l == LIBBPF_WARN ? vfprintf(stderr, f, a) : 0; }
int main(int argc, char **argv) {
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = argc > 2 ? argv[2] : NULL);
	libbpf_set_print(quiet);
	struct bpf_object *obj = bpf_object__open_file(argv[1], &opts);
	if (!obj) { printf("open failed\\n"); return 1; }
	int err = bpf_object__load(obj);
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj) {
		const struct bpf_insn *in = bpf_program__insns(p);
		size_t n = bpf_program__insn_cnt(p);
		printf("%s ", bpf_program__name(p));
		for (size_t i = 0; i < n * sizeof(*in); i++) printf("%02x", ((const unsigned char *)in)[i]);
		printf("\\n");
	}
	printf("load %d\\n", err);
	return 0;
}
`;

let harness: string | undefined;
/**
 * libbpf's relocation of an object (against `btfPath`, or the running kernel): each program's
 * instructions as libbpf loaded them (bpf_program__insns), and bpf_object__load's result.
 */
export function libbpfRelocate(
  object: string,
  btfPath?: string,
): { insns: Map<string, Buffer>; load: number } {
  if (!harness) {
    const d = workDir();
    writeFileSync(join(d, "harness.c"), HARNESS);
    harness = join(d, "harness");
    execFileSync("cc", ["-O1", "-o", harness, join(d, "harness.c"), "-lbpf"]);
  }
  const out = execFileSync(harness, btfPath ? [object, btfPath] : [object], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const insns = new Map<string, Buffer>();
  let load = Number.NaN;
  for (const line of out.trim().split("\n")) {
    const [a, b] = line.split(" ");
    if (a === "load") load = Number(b);
    else if (a && b !== undefined) insns.set(a, Buffer.from(b, "hex"));
  }
  return { insns, load };
}
