/**
 * USDT through a clang object: test/usdt/usdt.bpf.c uses libbpf's own usdt.bpf.h (BPF_USDT,
 * bpf_usdt_arg_cnt, bpf_usdt_cookie); BpfObject loads it (its hidden global helpers verified as
 * static, LINUX_HAS_BPF_COOKIE set), attach() puts one uprobe_multi link on the probe's sites with
 * their semaphores and spec records, and the sums the program makes are the target's own.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { dirname } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { BpfObject } from "../../src/object/index.js";
import { compileFixture } from "../object/compile.js";
import { needsRoot } from "../support/privilege.js";
import { sdtTargets } from "./targets.js";

const here = dirname(fileURLToPath(import.meta.url));
const targets = sdtTargets("rawbpf-usdt-obj-", "target.c", { target: ["-O2"] });

test("a clang object's usdt/BINARY:PROVIDER:NAME program loads, attaches and reads its arguments", (t) => {
  if (!needsRoot(t) || targets.skipWithoutSdt(t)) return;
  const target = targets.builds.target as string;
  const path = compileFixture("usdt.bpf", [`-DTARGET="${target}"`, "-D__TARGET_ARCH_x86"], here);
  using obj = BpfObject.open(path).load();
  const links = obj.attach();
  assert.equal(links.get("on_hit")?.type, "uprobe_multi", "one uprobe_multi link for the probe's sites");
  const N = 20;
  const out = execFileSync(target, [String(N)], { encoding: "utf8" })
    .trim()
    .split(" ")
    .map(BigInt);
  const sums = obj.map("sums");
  const get = (i: number) => {
    const v = sums.get(Buffer.from([i, 0, 0, 0])) as Uint8Array;
    return Buffer.from(v).readBigUInt64LE(0);
  };
  const wrap = (v: bigint) => BigInt.asUintN(64, v);
  assert.equal(get(7), BigInt(N), "the probe fired N times");
  for (let i = 0; i < 5; i++)
    assert.equal(get(i), wrap(out[i] as bigint), `argument ${i}: the target's own sum`);
  assert.equal(get(5), BigInt(5 * N), "bpf_usdt_arg_cnt is 5");
  assert.equal(get(6), 0n, "bpf_usdt_cookie is 0 (none given)");
  assert.equal(out[5], 0n, "gated's semaphore is not set: only rawbpf:hit is attached");
});
