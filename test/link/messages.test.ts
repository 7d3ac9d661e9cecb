/** Refusals whose errno alone would blame the wrong cause: pinning over an existing path, attaching a program twice. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { asm } from "../../src/isa/template.js";
import { attachTracepoint } from "../../src/link/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { BpfError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

function bpffsDir(): string {
  if (!/ \/sys\/fs\/bpf bpf /.test(readFileSync("/proc/mounts", "utf8")))
    execFileSync("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"]);
  return mkdtempSync("/sys/fs/bpf/rawbpf-msg-");
}

test("pinning at a directory or an existing path says so, not 'BPF_NOEXIST was asked'", (t) => {
  if (!needsRoot(t)) return;
  const dir = bpffsDir();
  try {
    using map = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 1 });
    assert.throws(
      () => map.pin(dir),
      (e: unknown) =>
        e instanceof BpfError &&
        e.errnoName === "EEXIST" &&
        e.message.includes(
          `${dir} already exists and is a directory: pin at a new name inside it (${dir}/NAME)`,
        ) &&
        !e.message.includes("BPF_NOEXIST"),
    );
    map.pin(`${dir}/m`);
    using prog = Program.load({ type: "socket_filter", instructions: asm`r0 = 0; exit` });
    assert.throws(
      () => prog.pin(`${dir}/m`),
      (e: unknown) =>
        e instanceof BpfError &&
        e.errnoName === "EEXIST" &&
        e.message.includes(
          `${dir}/m already exists (something is pinned there, or it is a file): remove it first`,
        ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // a file outside any bpffs cannot be pinned over either; writeFileSync makes one that exists
  const tmp = mkdtempSync("/tmp/rawbpf-msg-");
  try {
    writeFileSync(`${tmp}/f`, "");
    using map = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 1 });
    assert.throws(
      () => map.pin(`${tmp}/f`),
      (e: unknown) => e instanceof BpfError && !/BPF_NOEXIST/.test(e.message),
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("attaching one program twice to one tracepoint says it is already attached there", (t) => {
  if (!needsRoot(t)) return;
  using program = Program.load({ type: "tracepoint", instructions: asm`r0 = 0; exit` });
  using first = attachTracepoint(program, "syscalls", "sys_enter_getppid");
  assert.ok(!first.closed, "the first attach works");
  assert.throws(
    () => attachTracepoint(program, "syscalls", "sys_enter_getppid"),
    (e: unknown) =>
      e instanceof BpfError &&
      e.errnoName === "EEXIST" &&
      /on tracepoint syscalls\/sys_enter_getppid failed: EEXIST: this program is already attached there/.test(
        e.message,
      ) &&
      !e.message.includes("BPF_NOEXIST"),
  );
  // a second copy of the program attaches
  using copy = Program.load({ type: "tracepoint", instructions: asm`r0 = 0; exit` });
  using second = attachTracepoint(copy, "syscalls", "sys_enter_getppid");
  assert.ok(!second.closed);
});
