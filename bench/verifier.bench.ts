/**
 * Verifier log parsing: a generated one-million-line level-2 log (lines in the shapes Linux 6.18
 * prints: instructions with states, state lines, branches, precision backtracking, live registers,
 * source annotations) parsed by `parseVerifierLog`, against two baselines on the same text in the
 * same run: `wc -l` on a file, and a plain `text.split("\n")`. Target: under 2 s, and the parsed
 * log holds the text once plus ~13 bytes a line.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { explain } from "../src/verifier/explain.js";
import { parseVerifierLog } from "../src/verifier/parse.js";
import { renderHtml } from "../src/verifier/view-html.js";
import { renderTerminal } from "../src/verifier/view-terminal.js";

const LINES = Number(process.env["LINES"] ?? 1_000_000);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function generate(lines: number): string {
  const out: string[] = ["func#0 @0", "Live regs before insn:"];
  for (let i = 0; i < 12; i++)
    out.push(`     ${String(i).padStart(2)}: .12....... (bf) r${i % 10} = r${(i + 1) % 10}`);
  out.push("0: R1=ctx() R10=fp0");
  let k = 0;
  while (out.length + 11 + 4 <= lines) {
    const i = k % 4000;
    const block = [
      `; if (idx >= len) goto out; @ prog.bpf.c:${100 + (i % 50)}`,
      `${i}: (bf) r1 = r6                       ; R1_w=ctx() R6=ctx()`,
      `${i + 1}: (61) r2 = *(u32 *)(r1 +0)          ; R1_w=ctx() R2_w=pkt(r=0)`,
      `${i + 2}: (07) r3 += ${i % 64}                     ; R3_w=scalar(id=${k % 97},smin=0,smax=umax=${i},var_off=(0x0; 0xff))`,
      `${i + 3}: (2d) if r3 > r4 goto pc+${i % 9}`,
      `from ${i + 3} to ${i + 5}: R0=map_value(ks=4,vs=8) R1=ctx() R2=pkt(r=14) R3=scalar(smin=0,smax=umax=255) R10=fp0 fp-8=mmmmmmmm`,
      `mark_precise: frame0: last_idx ${i + 3} first_idx 0 subseq_idx -1 `,
      `mark_precise: frame0: regs=r3 stack= before ${i + 2}: (07) r3 += ${i % 64}`,
      `${i + 4}: R0=P0 R1=ctx() R3_w=scalar(smin=0,smax=umax=${i}) R10=fp0`,
      `${i + 5}: (85) call bpf_map_lookup_elem#1     ; R0_w=map_value_or_null(id=${k},ks=4,vs=8)`,
      `${i + 6}: safe`,
    ];
    for (const l of block) out.push(l);
    k++;
  }
  while (out.length + 4 < lines) out.push(`${k}: safe`);
  out.push(`${k}: (71) r0 = *(u8 *)(r2 +3)`);
  out.push("invalid access to packet, off=3 size=1, R2(id=0,off=3,r=0)");
  out.push("R2 offset is outside of the packet");
  out.push(
    `processed ${lines} insns (limit 1000000) max_states_per_insn 4 total_states 9999 peak_states 999 mark_read 0`,
  );
  return `${out.join("\n")}\n`;
}

function time<T>(f: () => T): { ms: number; value: T } {
  const t0 = process.hrtime.bigint();
  const value = f();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

function best<T>(runs: number, f: () => T): { ms: number; value: T } {
  let r = time(f);
  for (let i = 1; i < runs; i++) {
    const n = time(f);
    if (n.ms < r.ms) r = n;
  }
  return r;
}

const text = generate(LINES);
const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;
console.log(`log: ${LINES.toLocaleString()} lines, ${mb(text.length)} of text`);

const dir = mkdtempSync(join(tmpdir(), "rawbpf-bench-"));
const file = join(dir, "verifier.log");
writeFileSync(file, text);
const wc = best(3, () => spawnSync("wc", ["-l", file], { encoding: "utf8" }).stdout);
rmSync(dir, { recursive: true, force: true });

gc();
const heap0 = process.memoryUsage().heapUsed;
const split = best(3, () => text.split("\n"));
const splitLen = split.value.length;
gc();
const heapSplit = process.memoryUsage().heapUsed - heap0;
split.value.length = 0;
gc();

const mem = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
gc();
gc();
const heap1 = mem();
let held: unknown = parseVerifierLog(text);
gc();
gc();
const heapParse = mem() - heap1;
held = undefined;
void held;
gc();
const parse = best(3, () => parseVerifierLog(text));
const log = parse.value;
const ex = time(() => explain(log));

const term = time(() => renderTerminal(log, ex.value));
const html = time(() => renderHtml(log, ex.value));

console.log(`wc -l (process, on a file)    ${wc.ms.toFixed(1)} ms  (${wc.value.trim().split(" ")[0]} lines)`);
console.log(
  `text.split("\\n")               ${split.ms.toFixed(1)} ms  (${splitLen} strings, ~${mb(heapSplit)} heap)`,
);
console.log(
  `parseVerifierLog                ${parse.ms.toFixed(1)} ms  (${log.lineCount} lines, ~${mb(heapParse)} heap and buffers beyond the text)`,
);
console.log(
  `explain (error, state walk)     ${ex.ms.toFixed(1)} ms  -> ${ex.value?.id} at ${ex.value?.insn}`,
);
console.log(`render terminal                 ${term.ms.toFixed(1)} ms`);
console.log(`render html                     ${html.ms.toFixed(1)} ms  (${mb(html.value.length)} page)`);
console.log(`ratio parse / split:            ${(parse.ms / split.ms).toFixed(2)}x`);
console.log(`ratio parse / wc -l:            ${(parse.ms / wc.ms).toFixed(2)}x`);
console.log(`memory parse / split:           ${(heapParse / Math.max(1, heapSplit)).toFixed(2)}x`);
const ok = parse.ms < 2000 && log.lineCount === LINES && ex.value?.id === "packet-out-of-bounds";
console.log(ok ? "target met: under 2 s, text held once" : "TARGET MISSED");
process.exitCode = ok ? 0 : 1;
