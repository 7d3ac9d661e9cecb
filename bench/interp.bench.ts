/**
 * The interpreter against the kernel's JIT on the same programs: instructions per second of an
 * ALU loop, a map-heavy loop and an XDP packet parser, in the interpreter (`InterpProgram.run`)
 * and in the kernel (BPF_PROG_TEST_RUN with `repeat`, its average duration). Prints both rates
 * and the ratio (goal: at least 0.1x the JIT on the ALU loop), the interpreter's by CPU time (as
 * the kernel's duration leaves out time rescheduled) and by wall clock. Needs root for the kernel side.
 *
 * Run: `npm run bench -- interp` or `node --import tsx bench/interp.bench.ts`.
 */
import { existsSync } from "node:fs";
import type { Instruction } from "../src/isa/insn.js";

// the built package (dist/, what users import: `npm run bench` builds it) when it is there; from
// src/ through tsx, every cross-module reference is a getter call, which halves a map helper's speed
const built = new URL("../dist/src/interp/index.js", import.meta.url);
const base = existsSync(built) ? "../dist/src" : "../src";
console.log(
  `(the interpreter from ${base === "../src" ? "src/ through tsx: npm run build first to measure dist/" : "dist/"})`,
);
const { InterpProgram, MemoryMap } = (await import(
  `${base}/interp/index.js`
)) as typeof import("../src/interp/index.js");
const { assemble } = (await import(`${base}/isa/asm/index.js`)) as typeof import("../src/isa/asm/index.js");
const { BpfMap } = (await import(`${base}/map/map.js`)) as typeof import("../src/map/map.js");
const { Program } = (await import(
  `${base}/program/program.js`
)) as typeof import("../src/program/program.js");

const MAPS = ".map counts type=array key=4 value=8 entries=16\n";
const programs: { name: string; text: string; data: Uint8Array }[] = [
  {
    name: "ALU loop (50,000 rounds of 8 instructions)",
    text: `r1 = 50000
r0 = 1
r2 = 7
l:
r0 += r1
r0 ^= 0x5555
r2 *= r0
r0 <<= 3
r0 >>= 1
r2 += r0
r1 -= 1
if r1 != 0 goto l
r0 = 2
exit`,
    data: new Uint8Array(64),
  },
  {
    name: "map loop (1,000 lookups and increments)",
    text: `${MAPS}r6 = 1000
l:
r1 = r6
r1 &= 15
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
r1 = map_fd(counts)
call bpf_map_lookup_elem
if r0 == 0 goto out
r1 = *(u64 *)(r0 + 0)
r1 += 1
*(u64 *)(r0 + 0) = r1
r6 -= 1
if r6 != 0 goto l
out:
r0 = 2
exit`,
    data: new Uint8Array(64),
  },
  {
    name: "packet parser (Ethernet, IPv4, UDP)",
    text: `r2 = *(u32 *)(r1 + 4)
r1 = *(u32 *)(r1 + 0)
r3 = r1
r3 += 42
if r3 > r2 goto pass
r4 = *(u16 *)(r1 + 12)
if r4 != 0x8 goto pass
r4 = *(u8 *)(r1 + 14)
r4 &= 0xf
if r4 != 5 goto pass
r4 = *(u8 *)(r1 + 23)
if r4 != 17 goto pass
r5 = *(u16 *)(r1 + 36)
r5 = be16 r5
if r5 != 53 goto pass
r0 = 1
exit
pass:
r0 = 2
exit`,
    data: (() => {
      const d = new Uint8Array(64);
      d[12] = 8;
      d[14] = 0x45;
      d[23] = 17;
      d[36] = 0;
      d[37] = 53;
      return d;
    })(),
  },
];

function fmt(x: number): string {
  return x >= 1e9
    ? `${(x / 1e9).toFixed(2)} G`
    : x >= 1e6
      ? `${(x / 1e6).toFixed(1)} M`
      : `${(x / 1e3).toFixed(1)} k`;
}

for (const p of programs) {
  const asm = assemble(p.text);
  const type = "xdp";
  // interpreter
  const memMaps: Record<string, InstanceType<typeof MemoryMap>> = {};
  for (const m of asm.maps ?? [])
    memMaps[m.name] = new MemoryMap({
      type: "array",
      keySize: 4,
      valueSize: 8,
      maxEntries: 16,
      name: m.name,
    });
  const insns: Instruction[] = asm.insns.map((x) =>
    x.ref?.kind === "map" ? { ...x, ref: undefined, imm: memMaps[x.ref.name]!.fd, src: x.src || 1 } : x,
  );
  const ip = new InterpProgram(insns, { type });
  let steps = 0;
  for (let k = 0; k < 20; k++) steps = ip.run({ data: p.data }).steps; // warm-up (V8 optimises the compiled function)
  let runs = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let t1 = t0;
  while (t1 - t0 < 1_000_000_000n) {
    for (let k = 0; k < 10; k++) ip.run({ data: p.data });
    runs += 10;
    t1 = process.hrtime.bigint();
  }
  const cpu = process.cpuUsage(c0);
  const wallRate = (steps * runs) / (Number(t1 - t0) / 1e9);
  // the process's CPU time (every thread's, GC included): on a busy machine the wall clock also
  // counts the time other processes had the CPU, which the kernel's test-run duration leaves out
  // (its timer stops while it reschedules between repeats)
  const interpRate = (steps * runs) / ((cpu.user + cpu.system) / 1e6);
  // kernel
  let line = `${p.name}: ${steps} instructions a run; interpreter ${fmt(interpRate)} insn/s on CPU (${fmt(wallRate)} insn/s wall)`;
  if (process.getuid?.() === 0) {
    const maps: Record<string, ReturnType<typeof BpfMap.create>> = {};
    for (const m of asm.maps ?? [])
      maps[m.name] = BpfMap.create({ type: "array", keySize: 4, valueSize: 8, maxEntries: 16 });
    using prog = Program.load({ type, instructions: asm, maps });
    const repeat = steps > 100_000 ? 200 : steps > 1000 ? 5000 : 1_000_000;
    prog.testRun({ data: p.data, repeat: 10 });
    const { duration, retval } = prog.testRun({ data: p.data, repeat });
    const kernelRate = steps / (Math.max(duration, 1) / 1e9);
    const ours = ip.run({ data: p.data }).retval;
    if (ours !== retval) throw new Error(`${p.name}: kernel returned ${retval}, interpreter ${ours}`);
    line += `; kernel JIT ${fmt(kernelRate)} insn/s (${duration} ns a run); ratio ${(interpRate / kernelRate).toFixed(3)}x on CPU (${(wallRate / kernelRate).toFixed(3)}x wall)`;
    for (const m of Object.values(maps)) m.close();
  } else line += "; kernel side skipped (needs root)";
  console.log(line);
}
