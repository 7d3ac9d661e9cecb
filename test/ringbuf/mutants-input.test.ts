/**
 * What records() says about a bad option, found by mutation testing (npm run mutate --
 * src/ringbuf): the message names what was given, by type and value (short objects as JSON, an
 * object JSON cannot show by its class alone), so a reader at 2 a.m. sees what their code passed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfMap } from "../../src/map/map.js";
import { RingBuffer } from "../../src/ringbuf/index.js";
import { InputError } from "../../src/sys/error.js";
import { needsRoot } from "../support/privilege.js";

test("records(): a bad option's message shows what was given", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "ringbuf", maxEntries: 4096 });
  using ring = RingBuffer.open(map);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const cases: [unknown, RegExp][] = [
    [null, /got null$/],
    [5, /got number 5$/],
    ["x", /got string x$/],
    [{ a: 1 }, /got Object \{"a":1\}$/],
    [{ long: "y".repeat(50) }, /got Object $/], // longer than 40 characters: the class only
    [cyclic, /got Object $/], // JSON cannot show it
    [Object.create(null), /got an object \{\}$/],
  ];
  for (const [signal, message] of cases) {
    await assert.rejects(
      () => ring.records({ signal: signal as AbortSignal }).next(),
      (e: Error) => e instanceof InputError && message.test(e.message),
      `signal ${String(message)}`,
    );
  }
  await assert.rejects(
    () => ring.records({ highWaterMark: 0 }).next(),
    (e: Error) => e instanceof InputError && /highWaterMark.*got number 0$/.test(e.message),
  );
  await assert.rejects(
    () => ring.records(7 as never).next(),
    (e: Error) => e instanceof InputError && /options object, got number 7$/.test(e.message),
  );
});
