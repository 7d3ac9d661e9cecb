import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { run as bpfLoop } from "../../examples/bpf-loop.js";
import { run as kfunc } from "../../examples/kfunc.js";
import { run as spinLock } from "../../examples/spin-lock.js";
import { run as subprogram } from "../../examples/subprogram.js";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { needsRoot } from "../support/privilege.js";

const quiet = () => {};

test("subprogram: 3² + 4² with BTF (the kernel names 'square') and without (it does not)", async (t) => {
  if (!needsRoot(t)) return;
  const r = await subprogram(quiet);
  assert.equal(r.withBtf.retval, 25);
  assert.equal(r.withoutBtf.retval, 25);
  assert.ok(r.withBtf.btfId > 0);
  assert.equal(r.withBtf.funcInfoCount, 2);
  assert.deepEqual(r.withBtf.functions, ["global pythagoras @0", "static square @7"]);
  assert.equal(r.withoutBtf.btfId, 0);
  assert.equal(r.withoutBtf.funcInfoCount, 0);
  assert.deepEqual(r.withoutBtf.functions, ["?", "?"]);
  assert.match(r.withBtf.log, /^func#1 @7$/m);
  // /proc/kallsyms: the JIT-compiled subprogram is named from func_info, or `_F` without it
  if (r.withBtf.symbols.length > 0) {
    assert.match(r.withBtf.symbols[0]!, /^bpf_prog_[0-9a-f]{16}_pythagoras$/);
    assert.match(r.withBtf.symbols[1]!, /^bpf_prog_[0-9a-f]{16}_square$/);
    assert.match(r.withoutBtf.symbols[1]!, /^bpf_prog_[0-9a-f]{16}_F$/);
  }
});

test("bpf-loop: 'missing btf func_info' without BTF, then the sum 1..N in the callback", async (t) => {
  if (!needsRoot(t)) return;
  const r = await bpfLoop(quiet);
  assert.equal(r.withoutBtf.errno, "EINVAL");
  assert.equal(r.withoutBtf.message, "missing btf func_info");
  assert.match(r.withoutBtf.insnText ?? "", /^r2 = 0x[0-9a-f]+$/, "it stops at the function pointer");
  assert.equal(r.retval, 5050);
  assert.equal(r.expected, 5050);
  for (const loops of [1, 7, 1000]) {
    const again = await bpfLoop(quiet, loops);
    assert.equal(again.retval, (loops * (loops + 1)) / 2);
  }
});

test("kfunc: bpf_iter_num_* resolved by name in vmlinux, the sum 0..9 is 45", async (t) => {
  if (!needsRoot(t)) return;
  const r = await kfunc(quiet);
  assert.equal(r.retval, 45);
  assert.equal(r.expected, 45);
  // the ids are those bpftool finds in the kernel's BTF
  const raw = spawnSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  }).stdout;
  for (const k of r.kfuncs) {
    const m = new RegExp(`^\\[(\\d+)\\] FUNC '${k.name}'`, "m").exec(raw);
    assert.ok(m, `bpftool lists ${k.name}`);
    assert.equal(k.id, Number(m[1]));
  }
  assert.deepEqual(
    r.calls,
    r.kfuncs.map((k) => ({ src: 2, imm: k.id })),
  );
  assert.equal(r.kfuncs[0]!.prototype, "int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end)");
  assert.match(r.unknown, /bpf_iter_num_rewind/);
  const other = await kfunc(quiet, 10, 20);
  assert.equal(other.retval, 145);
});

test("spin-lock: counted under the lock, stored with BPF_F_LOCK, dumped as objects", async (t) => {
  if (!needsRoot(t)) return;
  const packets = [64, 100, 1500, 60];
  const r = await spinLock(quiet, packets);
  assert.match(r.withoutBtf, /has to have BTF in order to use bpf_spin_lock/);
  const sum = packets.reduce((a, b) => a + b, 0);
  assert.deepEqual(r.afterRuns, { lock: { val: 0 }, hits: packets.length, bytes: BigInt(sum) });
  assert.deepEqual(r.afterStore, {
    lock: { val: 0 },
    hits: r.stored.hits + 1,
    bytes: r.stored.bytes + BigInt(r.extra),
  });
  assert.deepEqual(r.locked, { hits: r.stored.hits + 1, bytes: r.stored.bytes + BigInt(r.extra) });
});

test("rawbpf demo lists and runs the BTF demos; each example also runs alone", async (t) => {
  if (!needsRoot(t)) return;
  const list = captureIo();
  assert.equal(await main(["demo", "--help"], list), 0);
  for (const name of ["subprogram", "bpf-loop", "kfunc", "spin-lock"])
    assert.match(list.out, new RegExp(name));
  const io = captureIo();
  assert.equal(await main(["demo", "bpf-loop"], io), 0, io.err);
  assert.match(io.out, /missing btf func_info/);
  assert.match(io.out, /test run returned 5050/);
  for (const [file, expected] of [
    ["subprogram.ts", /test run returned 25/],
    ["kfunc.ts", /test run returned 45/],
    ["spin-lock.ts", /"hits":3,"bytes":1664/],
  ] as const) {
    const script = fileURLToPath(new URL(`../../examples/${file}`, import.meta.url));
    const r = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, expected);
  }
});
