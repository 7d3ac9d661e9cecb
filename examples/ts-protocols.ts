/**
 * ts-protocols: packets per IP protocol counted by an XDP program written in TypeScript and
 * compiled by rawbpf in process (no clang, no LLVM). The program reads the Ethernet type and
 * the IPv4 protocol through bounds-checked packet reads and bumps this CPU's slot of a per-CPU
 * array. The demo feeds it packets through BPF_PROG_TEST_RUN and prints the table.
 *
 * Run alone: `node --import tsx examples/ts-protocols.ts`
 */
import { BpfMap, compile, Program, u32, u64 } from "../src/index.js";
import { type Log, runIfMain } from "./main.js";

/** The program, as a user writes it in a .ts file (see docs/language.md). */
export const SOURCE = `
import { ETH_P_IP, map, program, u32, u64, XDP_PASS } from "rawbpf";

const protocols = map("percpu_array", { key: u32, value: u64, maxEntries: 256 });

export const count = program("xdp", (ctx) => {
  const ethType = ctx.be16(12);
  if (ethType === null || ethType !== ETH_P_IP) return XDP_PASS;
  const proto = ctx.u8(23);
  if (proto === null) return XDP_PASS;
  const slot = protocols.lookup(proto);
  if (slot !== null) slot.value += 1;
  return XDP_PASS;
});
`;

const NAMES: Record<number, string> = { 1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp" };

function ipv4(proto: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b[23] = proto;
  return b;
}

export async function run(log: Log): Promise<Record<string, number>> {
  const started = performance.now();
  const compiled = compile(SOURCE, { file: "ts-protocols.ts" });
  const ms = performance.now() - started;
  const prog = compiled.programs[0]!;
  log(`compiled '${prog.name}' from TypeScript in ${ms.toFixed(1)} ms: ${prog.insns.length} instructions`);
  using protocols = BpfMap.create({
    type: "percpu_array",
    key: u32,
    value: u64,
    maxEntries: 256,
    name: "protocols",
  });
  using program = Program.load({ type: "xdp", name: prog.name, instructions: prog, maps: { protocols } });
  log(`loaded: the verifier accepted it (${program.stats?.processedInsns} instructions processed)`);
  const sent = [6, 6, 6, 17, 17, 1, 132, 6];
  for (const p of sent) program.testRun({ data: ipv4(p) });
  program.testRun({ data: Buffer.alloc(20) }); // not IPv4: passed, not counted
  const table: Record<string, number> = {};
  for (const p of new Set(sent)) {
    const perCpu = protocols.get(p) as unknown as bigint[];
    table[NAMES[p] ?? String(p)] = Number(perCpu.reduce((a, b) => a + b, 0n));
  }
  log("protocol  packets");
  for (const [name, n] of Object.entries(table)) log(`${name.padEnd(9)} ${n}`);
  return table;
}

runIfMain(import.meta.url, run);
