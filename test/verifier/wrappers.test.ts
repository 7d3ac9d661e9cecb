import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { explain } from "../../src/verifier/explain.js";
import { parseVerifierLog } from "../../src/verifier/parse.js";
import { haveTools } from "../support/ci.js";
import { privileged } from "../support/privilege.js";
import { CASES, closeMaps } from "./support/cases.js";

after(() => closeMaps());

const C = `#include <linux/bpf.h>
#define SEC(n) __attribute__((section(n), used))
SEC("xdp")
int bad(struct xdp_md *ctx) {
    unsigned char *data = (unsigned char *)(long)ctx->data;
    return data[3];
}
char _license[] SEC("license") = "GPL";
`;

test("bpftool's output (libbpf's BEGIN/END markers, its own lines, clang's line_info) is explained", (t) => {
  const missing = ["clang-19", "bpftool"].filter((c) => !haveTools(c));
  if (missing.length > 0 || !privileged()) {
    if (process.env["CI"] === "true") assert.fail(`needs ${missing.join(", ") || "root"}`);
    t.skip(`needs ${missing.join(", ") || "root"}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-explain-"));
  try {
    writeFileSync(join(dir, "bad.c"), C);
    const cc = spawnSync(
      "clang-19",
      ["-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c", "bad.c", "-o", "bad.o"],
      { cwd: dir, encoding: "utf8" },
    );
    assert.equal(cc.status, 0, cc.stderr);
    if (!/ \/sys\/fs\/bpf bpf /.test(readFileSync("/proc/mounts", "utf8")))
      spawnSync("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"]);
    const pin = `/sys/fs/bpf/rawbpf-explain-${process.pid}`;
    const r = spawnSync("bpftool", ["prog", "load", join(dir, "bad.o"), pin], { encoding: "utf8" });
    rmSync(pin, { force: true });
    assert.notEqual(r.status, 0, "bpftool loaded a program the verifier should refuse");
    const out = r.stderr;
    assert.match(out, /-- BEGIN PROG LOAD LOG --/);
    const log = parseVerifierLog(out);
    assert.match(log.error?.message ?? "", /^invalid access to packet, off=3 size=1/);
    const ex = explain(log);
    assert.equal(ex?.id, "packet-out-of-bounds");
    assert.equal(ex?.insnText, "r0 = *(u8 *)(r1 +3)");
    assert.equal(ex?.source?.code, "return data[3];");
    assert.equal(ex?.source?.file, "bad.c");
    assert.equal(ex?.source?.line, 6);
    assert.equal(ex?.registers[0]?.name, "R1");
    assert.equal(ex?.registers[0]?.state?.type, "pkt");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("cilium/ebpf's long (%+v, tab-indented) and short (one line) forms around a kernel log", (t) => {
  if (!privileged()) {
    if (process.env["CI"] === "true") assert.fail("needs root");
    t.skip("needs root");
    return;
  }
  const r = CASES["null-pointer-dereference"]!();
  const raw = parseVerifierLog(r.log);
  const lines = r.log.replace(/\n$/, "").split("\n");
  const long = `field Prog: program prog: load program: permission denied:\n${lines.map((l) => `\t${l}`).join("\n")}`;
  const l = parseVerifierLog(long);
  assert.equal(l.error?.message, raw.error?.message);
  assert.equal(l.failingInsn, raw.failingInsn);
  assert.equal(explain(l)?.id, "null-pointer-dereference");
  assert.deepEqual(
    explain(l)?.registers.map((x) => x.state?.type),
    explain(raw)?.registers.map((x) => x.state?.type),
  );

  const short = `program prog: load program: permission denied: ${raw.error?.message} (${lines.length - 1} line(s) omitted)`;
  const s = parseVerifierLog(short);
  assert.equal(s.error?.message, raw.error?.message);
  assert.equal(s.omittedLines, lines.length - 1);
  assert.equal(explain(s)?.id, "null-pointer-dereference");
});

test("libbpf's older per-line prefix and markers", (t) => {
  if (!privileged()) {
    if (process.env["CI"] === "true") assert.fail("needs root");
    t.skip("needs root");
    return;
  }
  const r = CASES["return-value-unset"]!();
  const text = `libbpf: load bpf program failed: Permission denied\nlibbpf: -- BEGIN DUMP LOG ---\nlibbpf: \n${r.log}-- END LOG --\nlibbpf: failed to load program 'prog'\n`;
  const ex = explain(text);
  assert.equal(ex?.id, "return-value-unset");
  assert.equal(ex?.insn, 0);
});
