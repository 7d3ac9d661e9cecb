/**
 * USDT arguments that are global variables: gcc at -O2 writes them %rip-relative
 * (`-4@counter(%rip)`, `-8@8+glob(%rip)`). rawbpf reads them as pt_regs->ip (the probe's address
 * while a uprobe handler runs) plus the distance from the probe to the symbol, from the binary's
 * symbol table: right for any load base. test/usdt/globals.c, built here as a PIE and as a fixed
 * executable, prints the sums of what it passed; the BPF side sums what `usdtArg` reads.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { before, test } from "node:test";
import { u32, u64 } from "../../src/codec/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { encodeUsdtSpec, X86_64_PT_REGS } from "../../src/usdt/args.js";
import {
  attachUsdt,
  listUsdtProbes,
  parseUsdtArgs,
  UsdtArgError,
  usdtArg,
  usdtAsm,
  usdtSpecMap,
} from "../../src/usdt/index.js";
import { needsRoot } from "../support/privilege.js";
import { sdtTargets } from "./targets.js";

const N = 25;
const targets = sdtTargets("rawbpf-usdt-rip-", "globals.c", {
  pie: ["-O2", "-fPIE", "-pie"],
  fixed: ["-O2", "-no-pie"],
});
const { builds, skipWithoutSdt } = targets;
before(() => {
  if (targets.built()) {
    builds.stripped = `${builds.pie}-stripped`;
    execFileSync("strip", ["-o", builds.stripped, builds.pie as string]);
  }
});

/** A symbol's value by `nm` (binutils, an independent reader of the symbol table). */
function nmAddress(binary: string, symbol: string): bigint {
  const text = execFileSync("nm", [binary], { encoding: "utf8" });
  const m = new RegExp(`^([0-9a-f]+) [a-zA-Z] ${symbol.replace(".", "\\.")}$`, "m").exec(text);
  assert.ok(m, `nm lists ${symbol}`);
  return BigInt(`0x${m[1]}`);
}

test("%rip-relative specs parse to a deref of ip with the symbol and addend; bare numbers are refused", () => {
  const [a, b, c] = parseUsdtArgs("-4@counter(%rip) -8@8+glob(%rip) 2@arr+16(%rip)", "probe p:q");
  assert.deepEqual(
    [a?.kind, a?.size, a?.signed, a?.regOffset, a?.symbol],
    ["deref", 4, true, X86_64_PT_REGS.rip, { name: "counter", addend: 0n }],
    "-4@counter(%rip)",
  );
  assert.deepEqual(b?.symbol, { name: "glob", addend: 8n }, "-8@8+glob(%rip)");
  assert.deepEqual(c?.symbol, { name: "arr", addend: 16n }, "2@arr+16(%rip)");
  assert.throws(
    () => encodeUsdtSpec([a!], 0n),
    (e: unknown) => e instanceof UsdtArgError && /'counter' was not resolved/.test(e.message),
    "an unresolved symbol is never encoded as offset 0",
  );
  for (const bad of ["4@16(%rip)", "4@-8(%rip)", "4@a b(%rip)"])
    assert.throws(
      () => parseUsdtArgs(bad, "probe p:q"),
      (e: unknown) =>
        e instanceof UsdtArgError && e.message.startsWith("probe p:q: cannot read the USDT argument"),
      `'${bad}' is refused`,
    );
});

for (const build of ["pie", "fixed"]) {
  test(`attachUsdt (${build}): globals passed as %rip-relative arguments read as the values the binary printed`, (t) => {
    if (!needsRoot(t) || skipWithoutSdt(t)) return;
    const binary = builds[build] as string;
    const [probe] = listUsdtProbes(binary).filter((p) => p.name === "global");
    assert.ok(probe, "the binary has rawbpf:global");
    assert.ok(
      probe.args.every((a) => a.symbol !== undefined),
      `gcc -O2 wrote every argument %rip-relative: ${probe.argString}`,
    );
    // the resolution against nm's addresses: value = symbol + addend - the probe's address
    for (const a of probe.args) {
      const sym = a.symbol!;
      assert.equal(sym.address, nmAddress(binary, sym.name), `${sym.name}'s address is nm's`);
      assert.equal(
        a.value,
        sym.address! + sym.addend - probe.address,
        `${a.text}: the distance from the probe`,
      );
    }
    using counts = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 8, name: "rip_counts" });
    using specs = usdtSpecMap();
    const add = (k: number) => `
      r1 = ${k}
      *(u32 *)(r10 - 40) = r1
      r2 = r10
      r2 += -40
      r1 = rip_counts
      call bpf_map_lookup_elem
      if r0 == 0 goto skip${k}
      lock *(u64 *)(r0 + 0) += r7
    skip${k}:`;
    using program = Program.load({
      type: "kprobe",
      instructions: usdtAsm(specs)`
        r6 = r1
        r1 = ${counts}
        ${usdtArg(0, "r7")}
        ${add(0)}
        ${usdtArg(1, "r7")}
        ${add(1)}
        ${usdtArg(2, "r7")}
        ${add(2)}
        ${usdtArg(3, "r7")}
        ${add(3)}
        ${usdtArg(4, "r7")}
        ${add(4)}
        r0 = 0
        exit
      `,
    });
    using _attached = attachUsdt(program, { binary, provider: "rawbpf", name: "global", specs });
    const r = spawnSync(binary, [String(N)], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, `the target ran (${r.error ?? r.stderr})`);
    const printed = r.stdout.trim().split(" ").map(BigInt);
    const names = [
      "int counter (negative: sign-extended)",
      "static long total",
      "glob.b (8+glob)",
      "arr[2] (16+arr)",
      "short tiny",
    ];
    for (const [i, what] of names.entries())
      assert.equal(counts.get(i), BigInt.asUintN(64, printed[i] as bigint), `argument ${i}, ${what}`);
  });
}

test("a stripped binary: the %rip-relative argument is a typed error naming the probe and the spec", (t) => {
  if (skipWithoutSdt(t)) return;
  assert.throws(
    () => listUsdtProbes(builds.stripped as string),
    (e: unknown) =>
      e instanceof UsdtArgError &&
      /probe rawbpf:global: cannot read the USDT argument '-4@counter\(%rip\)': the global 'counter' is in neither \.symtab nor \.dynsym/.test(
        e.message,
      ),
  );
});
