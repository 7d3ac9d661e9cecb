/**
 * The C side of the twin tests: clang-19 compiles a C program written for this project to one
 * section's instructions, with its map references taken from the relocations.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, type Instruction } from "../../src/index.js";
import { haveTools } from "../support/ci.js";

/** Whether clang-19 and the LLVM tools the twins use are installed. */
export function clangPresent(): boolean {
  return haveTools("clang-19", "llvm-objcopy-19", "llvm-readelf-19");
}

/** Compiles C to an ELF object (clang-19 -O2 -g, BPF target), for BpfObject.open. */
export function clangObject(c: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-twin-"));
  try {
    writeFileSync(join(dir, "p.c"), c);
    execFileSync("clang-19", [...CLANG_FLAGS, "-c", "p.c", "-o", "p.o"], { cwd: dir });
    return readFileSync(join(dir, "p.o"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CLANG_FLAGS = [
  "-target",
  "bpf",
  "-O2",
  "-g",
  `-I/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`,
];

/** Compiles C to one section's instructions, with map references from its relocations. */
export function clangSection(c: string, section: string): Instruction[] {
  return clangSections(c, [section])[0]!;
}

/** Compiles C once to several sections' instructions, map references from each one's relocations. */
export function clangSections(c: string, sections: readonly string[]): Instruction[][] {
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-twin-"));
  try {
    writeFileSync(join(dir, "p.c"), c);
    execFileSync("clang-19", [...CLANG_FLAGS, "-c", "p.c", "-o", "p.o"], { cwd: dir });
    const relocs = execFileSync("llvm-readelf-19", ["-r", "p.o"], { cwd: dir, encoding: "utf8" });
    return sections.map((section) => {
      execFileSync("llvm-objcopy-19", ["-O", "binary", `--only-section=${section}`, "p.o", "p.bin"], {
        cwd: dir,
      });
      const insns = decode(readFileSync(join(dir, "p.bin")));
      const slots = new Map<number, number>();
      let slot = 0;
      insns.forEach((insn, i) => {
        slots.set(slot * 8, i);
        slot += insn.code === 0x18 ? 2 : 1;
      });
      let inSection = false;
      for (const line of relocs.split("\n")) {
        if (line.startsWith("Relocation section")) inSection = line.includes(`'.rel${section}'`);
        const m = /^([0-9a-f]{16})\s+[0-9a-f]+\s+R_BPF_64_64\s+[0-9a-f]+\s+(\w+)/.exec(line);
        if (inSection && m) {
          const index = slots.get(Number.parseInt(m[1]!, 16))!;
          insns[index] = { ...insns[index]!, ref: { kind: "map", name: m[2]!, map: { name: m[2]! } } };
        }
      }
      return insns;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
