/** `rawbpf run FILE --interpret --trace`: each instruction run, with the registers it changed. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";

const dir = mkdtempSync(join(tmpdir(), "rawbpf-trace-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

// sums N..1 in r0 (N from the packet's first byte after the Ethernet header), then reads a map
const SOURCE = `.map counts type=array key=4 value=8 entries=1
r6 = *(u32 *)(r1 + 0)
r0 = 0
if r6 == 0 goto done
r6 = 0
r6 = 5
loop:
r0 += r6
r6 -= 1
if r6 != 0 goto loop
done:
*(u32 *)(r10 - 4) = 0
r1 = map_fd(counts)
r2 = r10
r2 += -4
call bpf_map_lookup_elem
if r0 == 0 goto out
r0 = *(u64 *)(r0 + 0)
r0 += 15
out:
exit
`;
const file = join(dir, "sum.s");
writeFileSync(file, SOURCE);
const data = "00".repeat(14) + "01";

test("--trace prints every instruction run with the registers it changed", async () => {
  const io = captureIo();
  assert.equal(
    await main(["run", file, "--type", "socket_filter", "--interpret", "--trace", "--data", data], io),
    0,
    io.err,
  );
  const lines = io.out.split("\n").filter((l) => /^\s*\d+\s+\d+: /.test(l));
  // 5 before the loop, 5 rounds of 3, 9 after it
  assert.equal(lines.length, 5 + 15 + 9, `one line per instruction run:\n${io.out}`);
  const sums = lines
    .filter((l) => l.includes("r0 += r6"))
    .map((l) => /r0 (0x[0-9a-f]+) -> (0x[0-9a-f]+)/.exec(l));
  assert.deepEqual(
    sums.map((m) => (m ? [Number(m[1]), Number(m[2])] : [])),
    [
      [0, 5],
      [5, 9],
      [9, 12],
      [12, 14],
      [14, 15],
    ],
    `r0 before and after each add:\n${io.out}`,
  );
  assert.match(
    lines[1]!,
    /^\s*1\s+1: r0 = 0$/,
    "an instruction that changes nothing (r0 was 0) lists no registers",
  );
  assert.match(lines[3]!, /^\s*3\s+3: r6 = 0 +; r6 0x1 -> 0x0$/, "skb->len, 1, overwritten");
  assert.match(io.out, /retval: 15 /, "the array's zero plus 15");
});

test("--trace --json prints one JSON object per instruction, then the result", async () => {
  const io = captureIo();
  assert.equal(
    await main(
      ["run", file, "--type", "socket_filter", "--interpret", "--trace", "--json", "--data", data],
      io,
    ),
    0,
    io.err,
  );
  const objects = io.out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  const result = objects.pop();
  assert.equal(result.retval, 15);
  assert.equal(objects.length, 29);
  assert.deepEqual(
    objects.map((o) => o.step),
    objects.map((_, i) => i),
    "steps are numbered in order",
  );
  assert.deepEqual(objects[0], {
    step: 0,
    slot: 0,
    insn: "r6 = *(u32 *)(r1 + 0)",
    changes: { r6: { from: "0x0", to: "0x1" } },
  });
  assert.equal(objects.at(-1).insn, "exit");
  assert.deepEqual(objects.at(-2).changes, { r0: { from: "0x0", to: "0xf" } });
});

test("--trace ends with the instruction that stopped the run; it needs --interpret", async () => {
  const bad = join(dir, "bad.s");
  writeFileSync(bad, "r2 = 7\nr0 = *(u64 *)(r10 + 8)\nexit\n");
  const io = captureIo();
  assert.notEqual(
    await main(["run", bad, "--type", "socket_filter", "--interpret", "--trace", "--data", data], io),
    0,
  );
  const lines = io.out.trim().split("\n");
  assert.equal(lines.length, 2, `the two instructions that ran:\n${io.out}`);
  assert.match(lines[0]!, /r2 = 7 +; r2 0x0 -> 0x7$/);
  assert.match(lines[1]!, /1: r0 = \*\(u64 \*\)\(r10 \+8\)$|1: r0 = \*\(u64 \*\)\(r10 \+ 8\)$/);
  assert.match(io.err, /stack|out of bounds|outside/i, io.err);
  const usage = captureIo();
  assert.equal(await main(["run", bad, "--type", "socket_filter", "--trace"], usage), 2);
  assert.match(usage.err, /--trace needs --interpret/);
});
