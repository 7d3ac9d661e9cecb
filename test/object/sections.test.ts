/**
 * Section names → program type and attach type, against libbpf itself: a C harness compiled here
 * asks the system's libbpf (`libbpf_prog_type_by_name`) about every rule of our table; rules this
 * libbpf is too old to know (tcx, netkit, uprobe.multi, ...) are checked against the table's facts.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "node:test";
import { KNOWN_SECTIONS, matchSection, sectionDef, UnknownSectionError } from "../../src/object/sections.js";
import { attachTypeNumber, programTypeNumber } from "../../src/program/types.js";
import { BUILD_DIR } from "./compile.js";

const HARNESS = `
#include <stdio.h>
#include <bpf/libbpf.h>
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    enum bpf_prog_type t; enum bpf_attach_type a;
    if (libbpf_prog_type_by_name(argv[i], &t, &a)) printf("%s -\\n", argv[i]);
    else printf("%s %d %d\\n", argv[i], (int)t, (int)a);
  }
  return 0;
}`;

test("every section rule gives the program and attach type libbpf gives", () => {
  const src = join(BUILD_DIR, "sections.c");
  const bin = join(BUILD_DIR, "sections");
  writeFileSync(src, HARNESS);
  execFileSync("cc", ["-O1", "-o", bin, src, "-lbpf"]);
  const names = KNOWN_SECTIONS.flatMap((n) => [n, `${n}/some/target`]);
  const out = execFileSync(bin, names, {
    encoding: "utf8",
    env: { LIBBPF_LOG_LEVEL: "0" },
    stdio: ["ignore", "pipe", "ignore"],
  });
  let compared = 0;
  for (const line of out.trim().split("\n")) {
    const [name, type, attach] = line.split(" ") as [string, string, string | undefined];
    const ours = matchSection(name);
    if (type === "-") continue; // a rule this libbpf (1.1) predates, or a name only a '+' rule takes
    assert.ok(ours, `libbpf knows '${name}', so must we`);
    assert.equal(programTypeNumber(ours.programType), Number(type), `program type of '${name}'`);
    const a = ours.attachType === undefined ? 0 : attachTypeNumber(ours.attachType);
    if (ours.rule.startsWith("usdt")) {
      // libbpf's table says none and its load step picks uprobe_multi where the kernel has it; we always do
      assert.deepEqual(
        [Number(attach), ours.attachType],
        [0, "trace_uprobe_multi"],
        `attach type of '${name}'`,
      );
      compared++;
      continue;
    }
    assert.equal(a, Number(attach), `attach type of '${name}'`);
    compared++;
  }
  assert.ok(compared > 100, `compared ${compared} names with libbpf`);
});

test("targets, sleepable, '?' and newer rules", () => {
  const tp = sectionDef("tracepoint/syscalls/sys_enter_openat");
  assert.deepEqual(
    [tp.programType, tp.target, tp.autoload],
    ["tracepoint", "syscalls/sys_enter_openat", true],
  );
  const up = sectionDef("?uprobe.s//usr/bin/bash:readline");
  assert.deepEqual(
    [up.programType, up.target, up.sleepable, up.autoload],
    ["kprobe", "/usr/bin/bash:readline", true, false],
  );
  assert.equal(sectionDef("tcx/ingress").attachType, "tcx_ingress");
  assert.equal(sectionDef("uprobe.multi/x:y*").attachType, "trace_uprobe_multi");
  assert.equal(sectionDef("netfilter").programType, "netfilter");
  assert.equal(sectionDef("fentry.s/do_sys_open").sleepable, true);
  assert.equal(sectionDef("xdp.frags").xdpFrags, true);
  assert.equal(matchSection("xdpx"), undefined, "exact rules match exactly");
  assert.equal(matchSection("tracepointx/a"), undefined, "prefix rules need a '/'");
  assert.throws(
    () => sectionDef("tracepont/syscalls/sys_enter_openat"),
    (e: unknown) => e instanceof UnknownSectionError && /did you mean 'tracepoint'/.test(e.message),
  );
});
