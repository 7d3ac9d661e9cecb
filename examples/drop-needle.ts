/**
 * drop-needle: drop every datagram that contains a needle, in the kernel, before the receiving
 * program sees it. The needle lives in a read-only, frozen array map; bpf_strncmp compares each
 * window of the packet with it. Shown on a socket pair and on a Node dgram server on 127.0.0.1.
 *
 * Run alone: `node --import tsx examples/drop-needle.ts`
 */

import dgram from "node:dgram";
import { once } from "node:events";
import { attachFilter, Program, socketPair } from "../src/index.js";
import { type Log, runIfMain } from "./main.js";
import { needleFilter, needleMap, WINDOW } from "./needle-filter.js";

/** The needle the demo drops. */
export const NEEDLE = "needle";
/** What the demo sends, in order. */
export const MESSAGES = ["hay", "a needle in the hay", "more hay", "needles!", "hay again"];

/** What arrived, per socket. */
export interface DropNeedleResult {
  sent: string[];
  socketPair: string[];
  udp: string[];
}

/** Sends `messages` then a sentinel to a UDP server and collects what its JavaScript receives. */
async function throughUdp(program: Program, messages: readonly string[]): Promise<string[]> {
  const server = dgram.createSocket("udp4");
  const client = dgram.createSocket("udp4");
  try {
    server.bind(0, "127.0.0.1");
    await once(server, "listening");
    attachFilter(server, program);
    const end = "end of test";
    const got: string[] = [];
    const done = new Promise<void>((resolve) => {
      server.on("message", (m: Buffer) => {
        if (m.toString() === end) resolve();
        else got.push(m.toString());
      });
    });
    const { port } = server.address();
    for (const m of [...messages, end]) client.send(m, port, "127.0.0.1");
    await done;
    return got;
  } finally {
    client.close();
    server.close();
  }
}

export async function run(log: Log): Promise<DropNeedleResult> {
  using map = needleMap(NEEDLE);
  log(`created array map 'needle' (BPF_F_RDONLY_PROG), stored "${NEEDLE}\\0" and froze it`);
  using program = Program.load({
    type: "socket_filter",
    name: "drop_needle",
    instructions: needleFilter(map, NEEDLE.length),
  });
  const s = program.stats;
  log(
    `loaded socket_filter 'drop_needle': ${program.insnCount} instructions; the verifier walked ` +
      `${s?.processedInsns} of them (the loop over ${WINDOW - NEEDLE.length + 1} windows, unrolled) in ${s?.verificationTimeUs} µs`,
  );
  using pair = socketPair();
  attachFilter(pair, program);
  for (const m of MESSAGES) pair.send(m);
  const viaPair = pair.recvAll().map(String);
  log(
    `socket pair: sent ${MESSAGES.length} datagrams, received ${viaPair.length}: ${viaPair.map((m) => JSON.stringify(m)).join(", ")}`,
  );
  const viaUdp = await throughUdp(program, MESSAGES);
  log(
    `Node dgram server on 127.0.0.1: its 'message' handler saw ${viaUdp.length}: ${viaUdp.map((m) => JSON.stringify(m)).join(", ")}`,
  );
  log(
    `the kernel dropped: ${MESSAGES.filter((m) => m.includes(NEEDLE))
      .map((m) => JSON.stringify(m))
      .join(", ")}`,
  );
  return { sent: MESSAGES, socketPair: viaPair, udp: viaUdp };
}

runIfMain(import.meta.url, run);
