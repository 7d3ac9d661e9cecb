/**
 * hello: the smallest useful eBPF program. A socket filter returns how many bytes of each packet
 * the socket keeps; `r0 = 4; exit` keeps 4, so every datagram arrives truncated to 4 bytes.
 *
 * Run alone: `node --import tsx examples/hello.ts`
 */
import { attachFilter, detachFilter, exit, mov, Program, R0, socketPair } from "../src/index.js";
import { type Log, runIfMain, show } from "./main.js";

/** What the demo saw. */
export interface HelloResult {
  before: string[];
  filtered: string[];
  after: string[];
  log: string;
}

export async function run(log: Log): Promise<HelloResult> {
  using program = Program.load({
    type: "socket_filter",
    name: "hello",
    instructions: [mov(R0, 4), exit()],
    logLevel: 2,
  });
  log(`loaded socket_filter 'hello' (id ${program.info().id}); the verifier said (log level 2):`);
  for (const line of program.log.trimEnd().split("\n")) log(`  | ${line}`);
  using pair = socketPair();
  const message = "hello, world";
  pair.send(message);
  const before = pair.recvAll().map(String);
  log(
    `without the filter, sent ${show(Buffer.from(message))}, received ${before.map((s) => JSON.stringify(s)).join(", ")}`,
  );
  attachFilter(pair, program);
  pair.send(message);
  pair.send("hi");
  const filtered = pair.recvAll().map(String);
  log(
    `with the filter, sent "hello, world" and "hi", received ${filtered.map((s) => JSON.stringify(s)).join(", ")}`,
  );
  detachFilter(pair);
  pair.send(message);
  const after = pair.recvAll().map(String);
  log(`detached, received ${after.map((s) => JSON.stringify(s)).join(", ")} again`);
  return { before, filtered, after, log: program.log };
}

runIfMain(import.meta.url, run);
