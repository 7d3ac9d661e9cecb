/**
 * ts-drop-needle: the article's needle filter written in TypeScript only. The program copies the
 * start of each packet into a `new Uint8Array(64)` on its stack and compares every window with
 * the needle through `strncmp(buf.subarray(i), NEEDLE)`; the compiler turns that into
 * bpf_strncmp against the needle, which it places in a read-only map (`rodata_str`) that the
 * loader fills and freezes — what examples/needle-filter.ts does by hand. Shown on a socket pair.
 *
 * Run alone: `node --import tsx examples/ts-drop-needle.ts`
 */
import { attachFilter, compile, socketPair } from "../src/index.js";
import { type Log, runIfMain } from "./main.js";
import { loadModule } from "./ts-load.js";

/** The program, as a user writes it in a .ts file (see docs/language.md). */
export const SOURCE = `
import { helpers, program, strncmp } from "rawbpf";

const WINDOW = 64;
const NEEDLE = "needle";

export const drop_needle = program("socket_filter", (ctx) => {
  const buf = new Uint8Array(WINDOW);
  let n = ctx.len;
  if (n === 0) return -1;
  if (n > WINDOW) n = WINDOW;
  if (helpers.skb_load_bytes(ctx, 0, buf, n) !== 0) return -1;
  for (let i = 0; i <= WINDOW - NEEDLE.length; i++) {
    if (strncmp(buf.subarray(i), NEEDLE) === 0) return 0; // drop
  }
  return -1; // keep the whole packet
});
`;

/** What the demo sends, in order. */
export const MESSAGES = [
  "hay",
  "a needle in the hay",
  "more hay",
  "needles!",
  "hay again",
  "x".repeat(58) + "needle",
];

/** What arrived. */
export interface TsDropNeedleResult {
  sent: string[];
  received: string[];
  /** xlated instructions of the compiled program */
  instructions: number;
}

export async function run(log: Log): Promise<TsDropNeedleResult> {
  const compiled = compile(SOURCE, { file: "ts-drop-needle.ts" });
  const strings = compiled.maps.find((m) => m.contents !== undefined);
  log(
    `compiled 'drop_needle' from TypeScript: ${compiled.programs[0]!.insns.length} instructions; the needle went to the read-only map '${strings?.name}' (${strings?.valueSize} bytes, frozen at load)`,
  );
  using loaded = loadModule(compiled);
  const program = loaded.programs.drop_needle!;
  log(`loaded: the verifier accepted it (${program.stats?.processedInsns} instructions processed)`);
  using pair = socketPair();
  attachFilter(pair, program);
  for (const m of MESSAGES) pair.send(m);
  const received = pair.recvAll().map(String);
  log(`sent ${MESSAGES.length} datagrams, received ${received.length}:`);
  for (const m of received) log(`  ${JSON.stringify(m)}`);
  return { sent: MESSAGES, received, instructions: program.info().xlatedLength / 8 };
}

runIfMain(import.meta.url, run);
