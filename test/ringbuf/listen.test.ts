/**
 * RingBuffer.start: records delivered by the Node event loop (libuv polls the map's descriptor),
 * and listening that ends cleanly. Records are produced by test runs made from the event loop,
 * never from inside a blocking call; whether a stopped or closed reader still holds the process
 * is checked in child processes, which must exit by themselves.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { BpfMap } from "../../src/map/map.js";
import { RingBuffer } from "../../src/ringbuf/index.js";
import { type ChildResult, runModule } from "../support/child.js";
import { needsRoot } from "../support/privilege.js";
import { expectedRecord, HOLD_MARK, holdProgram, outputProgram, runTimes, stateMap } from "./programs.js";

const turn = () => new Promise((resolve) => setImmediate(resolve));

test("records produced while listening arrive through the event loop, in order", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14 });
  using state = stateMap();
  using program = outputProgram(map, state);
  using ring = RingBuffer.open(map);
  const got: Uint8Array[] = [];
  let wanted = 0;
  let arrived: () => void = () => {};
  const until = (n: number) =>
    new Promise<void>((resolve) => {
      wanted = n;
      arrived = resolve;
      if (got.length >= n) resolve();
    });
  ring.start((r) => {
    got.push(r.copy());
    if (got.length >= wanted) arrived();
  });
  assert.equal(ring.listening, true);
  setImmediate(() => runTimes(program, 3));
  await until(3);
  // again, after the reader has caught up and gone back to waiting
  setImmediate(() => runTimes(program, 2));
  await until(5);
  assert.deepEqual(
    got,
    [0, 1, 2, 3, 4].map((s) => expectedRecord(s)),
  );
  ring.stop();
  assert.equal(ring.listening, false);
});

test("records waiting when listening starts are delivered; stop leaves later ones in the ring", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14 });
  using state = stateMap();
  using program = outputProgram(map, state);
  using ring = RingBuffer.open(map);
  runTimes(program, 4);
  const got: number[] = [];
  const four = new Promise<void>((resolve) => {
    ring.start((r) => {
      got.push(r.length);
      if (got.length === 4) resolve();
    });
  });
  await four;
  ring.stop();
  runTimes(program, 2);
  for (let i = 0; i < 5; i++) await turn(); // a stopped reader is not called, however many turns pass
  assert.equal(got.length, 4);
  assert.equal(ring.pending > 0, true);
  assert.equal(
    ring.consume(() => {}),
    2,
  );
});

test("stop() from the listener: no record after that one is delivered", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14 });
  using state = stateMap();
  using program = outputProgram(map, state);
  using ring = RingBuffer.open(map);
  const got: Uint8Array[] = [];
  const first = new Promise<void>((resolve) =>
    ring.start((r) => {
      got.push(r.copy());
      ring.stop();
      resolve();
    }),
  );
  setImmediate(() => runTimes(program, 3));
  await first;
  for (let i = 0; i < 5; i++) await turn();
  assert.deepEqual(got, [expectedRecord(0)]);
  const rest: Uint8Array[] = [];
  ring.consume((r) => rest.push(r.copy()));
  assert.deepEqual(rest, [expectedRecord(1), expectedRecord(2)]);
});

test("a callback that throws stops listening and goes to onError", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14 });
  using state = stateMap();
  using program = outputProgram(map, state);
  using ring = RingBuffer.open(map);
  const failed = new Promise<unknown>((resolve) => {
    ring.start(
      () => {
        throw new Error("bad record");
      },
      { onError: resolve },
    );
  });
  setImmediate(() => runTimes(program, 2));
  const error = await failed;
  assert.match(String(error), /bad record/);
  assert.equal(ring.listening, false);
  assert.equal(ring.delivered, 1);
  assert.equal(
    ring.consume(() => {}),
    1,
  );
});

/** Runs `body` (module code with RingBuffer, BpfMap and the programs imported) in a child that must exit by itself. */
function child(body: string): ChildResult {
  const at = (p: string) => JSON.stringify(fileURLToPath(new URL(p, import.meta.url)));
  const code = `
import { BpfMap } from ${at("../../src/map/map.ts")};
import { RingBuffer } from ${at("../../src/ringbuf/index.ts")};
import { outputProgram, runTimes, stateMap } from ${at("./programs.ts")};
const map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14 });
const state = stateMap();
const program = outputProgram(map, state);
const ring = RingBuffer.open(map);
${body}
`;
  return runModule(code);
}

test("stop() or close() while waiting lets the process exit: no poll handle is left behind; errors are not lost", (t) => {
  if (!needsRoot(t)) return;
  const cases = {
    stop: `ring.start(() => {}); setImmediate(() => { ring.stop(); console.log("stopped"); });`,
    close: `ring.start(() => {}); setImmediate(() => { ring.close(); console.log("closed"); });`,
    "close in the callback": `
      ring.start((r) => { console.log("got", r.length); ring.close(); });
      setImmediate(() => runTimes(program, 3));`,
    "keepAlive false": `ring.start(() => {}, { keepAlive: false }); console.log("not held");`,
    "start after stop": `
      ring.start(() => {}); ring.stop();
      let n = 0;
      ring.start(() => { if (++n === 2) { ring.stop(); console.log("two"); } });
      setImmediate(() => runTimes(program, 2));`,
  };
  const expected: Record<string, string> = {
    stop: "stopped\n",
    close: "closed\n",
    "close in the callback": "got 1\n",
    "keepAlive false": "not held\n",
    "start after stop": "two\n",
  };
  // an error with nobody to take it is an uncaught exception, not lost
  const thrown = child(
    `ring.start(() => { throw new Error("nobody catches this"); }); runTimes(program, 1);`,
  );
  assert.equal(thrown.signal, null, thrown.stderr);
  assert.notEqual(thrown.status, 0);
  assert.match(thrown.stderr, /nobody catches this/);
  for (const [name, body] of Object.entries(cases)) {
    const r = child(body);
    assert.equal(r.signal, null, `${name}: the child did not exit by itself\n${r.stderr}`);
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    assert.equal(r.stdout, expected[name], name);
  }
});

test("a reserved record (BUSY) holds back the drain, committed records behind it too; its submit wakes the reader", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 4096, name: "rb_busy" });
  using flag = BpfMap.create({ type: "array", keySize: 4, valueSize: 8, maxEntries: 1 });
  using hold = holdProgram(map, flag);
  using state = stateMap();
  using output = outputProgram(map, state);
  using ring = RingBuffer.open(map);
  // another process runs 'hold': it reserves a record and keeps it reserved until the flag is set
  const program = JSON.stringify(fileURLToPath(new URL("../../src/program/program.ts", import.meta.url)));
  const code = `
import { Program } from ${program};
const p = Program.fromFd(3);
console.log("running");
console.log("retval", p.testRun({ data: new Uint8Array(14) }).retval);
`;
  const holder = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    stdio: ["ignore", "pipe", "pipe", hold.fd],
  });
  let stdout = "";
  let stderr = "";
  holder.stdout!.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
  });
  holder.stderr!.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
  });
  let exited = false;
  const exit = new Promise<number | null>((resolve) =>
    holder.on("exit", (code) => {
      exited = true;
      resolve(code);
    }),
  );
  const got: Uint8Array[] = [];
  let both: Promise<void> | undefined;
  try {
    // turns of the event loop until the reservation shows (the kernel wakes nobody on a reserve)
    while (ring.pending === 0 && !exited) await turn();
    assert.equal(exited, false, `the holder exited early: ${stdout} ${stderr}`);
    assert.equal(ring.pending, 16);
    assert.equal(
      ring.consume(() => assert.fail("the record is still reserved")),
      0,
    );
    // a record committed behind the reserved one waits too: the ring is read in order
    runTimes(output, 1);
    assert.equal(ring.pending, 32);
    assert.equal(
      ring.consume(() => assert.fail("a record behind a reserved one")),
      0,
    );
    // listening: the submit wakes the reader (it is waiting for that very record)
    both = new Promise<void>((resolve) =>
      ring.start((r) => {
        got.push(r.copy());
        if (got.length === 2) resolve();
      }),
    );
  } finally {
    flag.set(Buffer.alloc(4), Buffer.from([1, 0, 0, 0, 0, 0, 0, 0])); // the holder submits
  }
  await both;
  ring.stop();
  const mark = Buffer.alloc(8);
  mark.writeBigUInt64LE(BigInt(HOLD_MARK));
  assert.deepEqual(got, [new Uint8Array(mark), expectedRecord(0)]);
  assert.equal(await exit, 0, stderr);
  assert.match(stdout, /retval 0/);
});

test("close() from the listener publishes the consumer position: the next reader starts after the records handed over", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 1 << 14 });
  using state = stateMap();
  using program = outputProgram(map, state);
  const ring = RingBuffer.open(map);
  using next = RingBuffer.open(map);
  runTimes(program, 10);
  const first: Uint8Array[] = [];
  await new Promise<void>((resolve) =>
    ring.start((r) => {
      first.push(r.copy());
      if (first.length === 3) {
        ring.close();
        resolve();
      }
    }),
  );
  assert.equal(ring.closed, true);
  const rest: Uint8Array[] = [];
  next.consume((r) => rest.push(r.copy()));
  assert.deepEqual(
    [...first, ...rest],
    Array.from({ length: 10 }, (_, s) => expectedRecord(s)),
    "each record delivered once, none lost",
  );
});
