/**
 * The inline-assembly style kernel developers write, against llvm-mc-19: every file of
 * test/isa/fixtures/llvm-style is assembled by llvm-mc (`-filetype=obj`, its `.text` taken out by
 * llvm-objcopy) and by us, and the bytes must be the same. Then the kernel's names (offsetof,
 * sizeof, enumerators) against clang-19 compiling the same expressions over vmlinux.h, and the
 * uapi table against the system's headers.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { vmlinuxBtf } from "../../src/btf/kernel.js";
import { encodeAssembled } from "../../src/isa/asm/assemble.js";
import { AsmErrors, assemble, UAPI_CONSTANTS } from "../../src/isa/asm/index.js";
import { asm } from "../../src/isa/template.js";

const FIXTURES = join(import.meta.dirname, "fixtures", "llvm-style");

function has(tool: string): boolean {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    if (process.env.CI === "true") throw new Error(`${tool} is missing and CI=true`);
    return false;
  }
}

function slots(bytes: Uint8Array): string[] {
  return Buffer.from(bytes).toString("hex").match(/.{16}/g) ?? [];
}

function llvmText(source: string, dir: string, name: string): Uint8Array {
  const s = join(dir, `${name}.s`);
  const o = join(dir, `${name}.o`);
  const bin = join(dir, `${name}.bin`);
  writeFileSync(s, source);
  execFileSync("llvm-mc-19", ["-triple", "bpfel", "-mcpu=v4", "-filetype=obj", s, "-o", o]);
  execFileSync("llvm-objcopy-19", ["-O", "binary", "--only-section=.text", o, bin]);
  return readFileSync(bin);
}

function ours(source: string, file = "<input>"): Uint8Array {
  return encodeAssembled(assemble(source, { file }));
}

test("each file of the llvm-style corpus assembles to llvm-mc-19's bytes", (t) => {
  if (!has("llvm-mc-19") || !has("llvm-objcopy-19")) return t.skip("llvm-mc-19 not installed");
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-llvm-style-"));
  try {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".s"));
    assert.ok(files.length >= 4, `the corpus has ${files.length} files`);
    for (const f of files) {
      const source = readFileSync(join(FIXTURES, f), "utf8");
      const theirs = slots(llvmText(source, dir, f));
      const mine = slots(ours(source, f));
      assert.ok(theirs.length > 5, `llvm-mc made ${theirs.length} slots of ${f}`);
      assert.deepEqual(mine, theirs, `${f}: our bytes (left) and llvm-mc's (right)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("literals and expressions llvm-mc reads, one a line, give llvm-mc's bytes", (t) => {
  if (!has("llvm-mc-19") || !has("llvm-objcopy-19")) return t.skip("llvm-mc-19 not installed");
  const lines: string[] = [];
  const literals = [
    "0",
    "7",
    "017",
    "0x1f",
    "0X1F",
    "0b101",
    "42u",
    "42U",
    "42l",
    "42L",
    "42ul",
    "42ll",
    "42ULL",
    "0xffLL",
  ];
  for (const l of literals)
    lines.push(`r1 = ${l}`, `r1 += ${l}`, `if r1 > ${l} goto +0`, `*(u32 *)(r10 - 4) = ${l}`);
  // llvm-mc takes no negative value after `+` in an address
  for (const e of [
    "1 + 2",
    "10 - 20",
    "3 * 7 - 1",
    "100 / 7",
    "100 % 7",
    "1 << 12",
    "256 >> 2",
    "6 & 3",
    "6 | 3",
    "6 ^ 3",
    "1 + 2 * 3 << 1 | 1",
    "-16 >> 2",
    "1 | 6 & 3 ^ 8",
    "-100 / 7",
  ])
    lines.push(
      `r2 = ${e}`,
      e.startsWith("-") || e.startsWith("10 -") ? `r2 += ${e}` : `r3 = *(u64 *)(r1 + ${e})`,
    );
  for (const big of [
    "0xffffffff00000000LL",
    "0x8000000000000000ULL",
    "18446744073709551615ULL",
    "077777777777777777777",
  ])
    lines.push(`r4 = ${big} ll`);
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-llvm-lit-"));
  try {
    const source = `${lines.join("\n")}\nexit\n`;
    assert.deepEqual(slots(ours(source)), slots(llvmText(source, dir, "lit")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("block comments, ';' separators and numeric labels do not change what is around them", () => {
  const plain = ours("r0 = 1\nr1 = 2\nif r0 == 1 goto +1\nr0 = 3\nexit\n");
  const styled = ours(
    "/* leading\n * comment */ r0 = 1; r1 /* in the middle */ = 2;\n1: if r0 == 1 goto 2f /* trailing */\n/* one\nmore */ r0 = 3; /* */\n2: exit;",
  );
  assert.deepEqual(slots(styled), slots(plain));
  // a verifier-log line keeps ';' as the start of its state comment, and so does a line starting with ';'
  assert.deepEqual(slots(ours("; int x = 0;\n0: (b7) r0 = 0 ; R0_w=0\nexit")), slots(ours("r0 = 0\nexit")));
});

test("mistakes in the new syntax are reported at their place", () => {
  const errorsOf = (source: string): AsmErrors => {
    try {
      assemble(source, { file: "bad.s" });
    } catch (e) {
      assert.ok(e instanceof AsmErrors, String(e));
      return e;
    }
    assert.fail("the source assembled");
  };
  let e = errorsOf("r0 = 0\n/* never closed\nexit");
  assert.equal(e.errors[0]?.line, 2, e.message);
  assert.match(e.errors[0]?.reason ?? "", /never closed/);
  e = errorsOf("if r0 == 0 goto 1b\n1: exit");
  assert.match(e.errors[0]?.reason ?? "", /'1b' refers back/);
  e = errorsOf("1: if r0 == 0 goto 1f\nexit");
  assert.match(e.errors[0]?.reason ?? "", /'1f' refers forward/);
  e = errorsOf(".4byte 0x95\nexit");
  assert.match(e.errors[0]?.reason ?? "", /whole 8-byte/);
  e = errorsOf(".byte 256\nexit");
  assert.match(e.errors[0]?.reason ?? "", /does not fit in 1 byte/);
  e = errorsOf("r0 = 09\nexit");
  assert.match(e.errors[0]?.reason ?? "", /not a number/);
  e = errorsOf("r0 = 5 / 0\nexit");
  assert.match(e.errors[0]?.reason ?? "", /division by zero/);
  e = errorsOf("r0 = 1; frob\nexit");
  assert.deepEqual([e.errors[0]?.line, e.errors[0]?.column], [1, 9], e.message);
});

test("negative interpolations in the template: memory offsets, immediates, jump offsets", () => {
  const off = -8;
  const p = asm`*(u64 *)(r10 + ${off}) = r1; r0 = *(u64 *)(r10 + ${-16}); r0 += ${-3}; goto +${-1}; exit`;
  assert.deepEqual(
    p.insns.map((i) => [i.off, i.imm]),
    [
      [-8, 0],
      [-16, 0],
      [0, -3],
      [-1, 0],
      [0, 0],
    ],
  );
  assert.deepEqual(
    slots(encodeAssembled(asm`*(u64 *)(r10 - ${8}) = r1; exit`)),
    slots(encodeAssembled(asm`*(u64 *)(r10 + ${-8}) = r1; exit`)),
  );
});

/** Values clang-19 computes for C expressions over the running kernel's vmlinux.h. */
function clangValues(exprs: readonly string[], dir: string): bigint[] {
  const header = execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], {
    maxBuffer: 1 << 28,
  });
  writeFileSync(join(dir, "vmlinux.h"), header);
  const c = `#include "vmlinux.h"\n#define offsetof(t, f) __builtin_offsetof(t, f)\nlong long values[] = {\n${exprs.map((x) => `  (long long)(${x}),`).join("\n")}\n};\n`;
  writeFileSync(join(dir, "v.c"), c);
  execFileSync("clang-19", ["-target", "bpf", "-O2", "-c", join(dir, "v.c"), "-o", join(dir, "v.o")]);
  execFileSync("llvm-objcopy-19", [
    "-O",
    "binary",
    "--only-section=.data",
    join(dir, "v.o"),
    join(dir, "v.bin"),
  ]);
  const b = readFileSync(join(dir, "v.bin"));
  return exprs.map((_, k) => b.readBigInt64LE(8 * k));
}

test("offsetof, sizeof and enumerators from the kernel's BTF agree with clang-19 over vmlinux.h", (t) => {
  if (!has("clang-19") || !has("bpftool") || !has("llvm-objcopy-19"))
    return t.skip("clang-19 or bpftool missing");
  const exprs = [
    "offsetof(struct __sk_buff, protocol)",
    "offsetof(struct __sk_buff, data_end)",
    "offsetof(struct xdp_md, data_meta)",
    "offsetof(struct task_struct, real_parent)",
    "offsetof(struct task_struct, comm)",
    "offsetof(struct task_struct, comm[5])",
    "offsetof(struct task_struct, se.vruntime)",
    "offsetof(struct task_struct, pid)",
    "offsetof(struct sk_buff, len)",
    "offsetof(struct bpf_sock_addr, user_port)",
    "offsetof(struct pt_regs, ip)",
    "offsetof(struct iphdr, daddr)",
    "offsetof(struct ethhdr, h_proto)",
    "sizeof(struct task_struct)",
    "sizeof(struct __sk_buff)",
    "sizeof(struct iphdr)",
    "sizeof(union bpf_attr)",
    "sizeof(enum bpf_map_type)",
    "sizeof(u64)",
    "sizeof(__be16)",
    "XDP_PASS",
    "XDP_DROP",
    "BPF_ANY",
    "BPF_NOEXIST",
    "IPPROTO_UDP",
    "BPF_F_CURRENT_CPU",
    "offsetof(struct task_struct, comm) + 4 * 2",
  ];
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-asm-btf-"));
  try {
    const expected = clangValues(exprs, dir);
    const source = `${exprs.map((x) => `r1 = ${x} ll`).join("\n")}\nexit\n`;
    const p = assemble(source, { btf: vmlinuxBtf });
    const got = exprs.map((_, k) => {
      const i = p.insns[k];
      assert.ok(i !== undefined, `instruction ${k}`);
      return BigInt.asIntN(64, (BigInt(i.imm2 ?? 0) << 32n) | BigInt(i.imm >>> 0));
    });
    for (let k = 0; k < exprs.length; k++) assert.equal(got[k], expected[k], exprs[k]);
    // the same names in other places: memory offsets, immediates, comparisons, stores
    const q = assemble(
      "r0 = *(u32 *)(r1 + offsetof(struct __sk_buff, protocol))\nif r0 == XDP_PASS goto +0\n*(u64 *)(r10 - sizeof(u64)) = BPF_EXIST\nr0 = XDP_DROP\nexit",
      { btf: () => vmlinuxBtf() },
    );
    assert.deepEqual(
      q.insns.map((i) => [i.off, i.imm]),
      [
        [Number(expected[0]), 0],
        [0, Number(expected[20])],
        [-8, 2],
        [0, 1],
        [0, 0],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("mistakes with kernel names say what is wrong", () => {
  const reason = (source: string): string => {
    try {
      assemble(source, { btf: vmlinuxBtf });
    } catch (e) {
      assert.ok(e instanceof AsmErrors, String(e));
      return e.errors.map((x) => `${x.line}:${x.column} ${x.reason}`).join("\n");
    }
    assert.fail("the source assembled");
  };
  assert.match(
    reason("r0 = offsetof(struct task_struct, no_such_field)\nexit"),
    /^1:6 struct task_struct has no member 'no_such_field'/,
  );
  assert.match(reason("r0 = offsetof(struct __sk_buff, protocl)\nexit"), /did you mean protocol/);
  assert.match(reason("r0 = sizeof(struct no_such_struct_x)\nexit"), /has no struct no_such_struct_x/);
  assert.match(reason("r0 += NO_SUCH_CONSTANT_X\nexit"), /'NO_SUCH_CONSTANT_X' is not a constant/);
  assert.match(reason("r0 = offsetof(struct task_struct, comm[99])\nexit"), /out of bounds/);
  assert.match(reason("r0 = offsetof(struct task_struct, pid.x)\nexit"), /not a struct or union/);
  // a name of the file wins a bare load; one used as a constant and defined too is refused
  assert.match(reason("r0 += XDP_PASS\nXDP_PASS:\nexit"), /both a kernel constant and a label/);
  const p = assemble(".map XDP_TX type=array key=4 value=4 entries=1\nr1 = XDP_TX\nexit", {
    btf: vmlinuxBtf,
  });
  assert.equal(p.insns[0]?.ref?.kind, "map");
  // without BTF, uapi constants still work and BTF names say why they cannot
  assert.equal(assemble("r0 = TC_ACT_SHOT\nexit", { btf: () => assert.fail("BTF read") }).insns[0]?.imm, 2);
});

test("the uapi table agrees with the system's headers (compiled by clang-19) and with the kernel's BTF", (t) => {
  if (!has("clang-19")) return t.skip("clang-19 missing");
  const names = Object.keys(UAPI_CONSTANTS);
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-uapi-"));
  try {
    const c = `#include <stdio.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
int main(void) {
${names.map((n) => `  printf("%s %lld\\n", "${n}", (long long)(${n}));`).join("\n")}
  return 0;
}
`;
    writeFileSync(join(dir, "u.c"), c);
    execFileSync("clang-19", [join(dir, "u.c"), "-o", join(dir, "u")]);
    const out = execFileSync(join(dir, "u"), { encoding: "utf8" });
    const seen = new Map(
      out
        .trim()
        .split("\n")
        .map((l) => l.split(" ") as [string, string]),
    );
    for (const n of names) assert.equal(String(UAPI_CONSTANTS[n]), seen.get(n), n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // names the kernel's BTF knows too must have the same value there
  const btf = vmlinuxBtf();
  let both = 0;
  for (let id = 1; id < btf.endId; id++) {
    const ty = btf.type(id);
    if (ty.kind !== "enum" && ty.kind !== "enum64") continue;
    for (const { name, value } of ty.values) {
      if (!Object.hasOwn(UAPI_CONSTANTS, name)) continue;
      both++;
      assert.equal(BigInt(value), BigInt(UAPI_CONSTANTS[name] as number), name);
    }
  }
  assert.ok(both >= 0, "checked");
});
