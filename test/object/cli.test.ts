/** `rawbpf object FILE.o`: programs, maps and variables of a compiled fixture, text and JSON. */
import assert from "node:assert/strict";
import test from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { compileFixture } from "./compile.js";

test("rawbpf object lists programs, maps and variables (text and --json)", async () => {
  const path = compileFixture("globals");
  const io = captureIo();
  assert.equal(await main(["object", path, "--json"], io), 0, io.err);
  const r = JSON.parse(io.out);
  assert.deepEqual(
    r.programs.map((p: { name: string; type: string; subprograms: string[] }) => [
      p.name,
      p.type,
      p.subprograms,
    ]),
    [
      ["count_packets", "socket_filter", ["step", "twice", "add_scaled"]],
      ["second", "socket_filter", ["twice"]],
      ["pass", "xdp", ["add_scaled"]],
    ],
  );
  assert.deepEqual(
    r.maps.map((m: { name: string; type: string }) => `${m.name}:${m.type}`),
    ["counts:hash", "pairs:array", "globals.rodata:array", "globals.bss:array", "globals.data:array"],
  );
  assert.ok(
    r.variables.some(
      (v: { name: string; type: string }) => v.name === "threshold" && v.type === "const volatile __u32",
    ),
    JSON.stringify(r.variables),
  );
  const text = captureIo();
  assert.equal(await main(["object", path], text), 0, text.err);
  assert.match(
    text.out,
    /count_packets {2}section socket {2}type socket_filter {2}\d+ insns \(with step, twice, add_scaled\)/,
  );
  const bad = captureIo();
  assert.notEqual(await main(["object"], bad), 0, "no file is a usage error");
});
