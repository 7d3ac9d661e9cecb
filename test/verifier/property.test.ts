import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { VerifierError, verifierErrorFromLog } from "../../src/verifier/error.js";
import { explain } from "../../src/verifier/explain.js";
import { parseVerifierLog } from "../../src/verifier/parse.js";
import { parseStates } from "../../src/verifier/state.js";

// Lines in the shapes the kernel prints, to mix with noise and cut anywhere.
const SHAPES = [
  "func#0 @0",
  "Live regs before insn:",
  "      0: .1........ (61) r2 = *(u32 *)(r1 +0)",
  "  1   1: 0......... (07) r0 += 1",
  "0: R1=ctx() R10=fp0",
  "5: (85) call bpf_map_lookup_elem#1    ; R0=map_value_or_null(id=1,ks=4,vs=8)",
  "7: (61) r1 = *(u32 *)(r0 +0)          ; R0=map_value(ks=4,vs=8) R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))",
  "from 6 to 11: R0=0 R10=fp0",
  "from 6 to 11: safe",
  "11: safe",
  "mark_precise: frame0: last_idx 8 first_idx 0 subseq_idx -1 ",
  "caller:",
  " R10=fp0",
  "callee:",
  " frame1: R1=3 R10=fp0",
  "returning from callee:",
  "to caller at 2:",
  "; return x; @ prog.c:12",
  "R0 invalid mem access 'scalar'",
  "invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)",
  "processed 9 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0",
  "verification time 9 usec",
  "stack depth 0+0",
  "libbpf: prog 'x': -- BEGIN PROG LOAD LOG --",
  "-- END PROG LOAD LOG --",
  "load program: permission denied: R0 !read_ok (3 line(s) omitted)",
  "SCC enter (1)",
  "(1,4) frame 1 insn 4 +written -304 ",
];

const logLike = fc
  .array(fc.oneof(fc.constantFrom(...SHAPES), fc.string(), fc.string({ unit: "binary" })), { maxLength: 40 })
  .chain((lines) =>
    fc.tuple(
      fc.constant(lines.join("\n")),
      fc.nat({ max: Math.max(0, lines.join("\n").length) }),
      fc.constantFrom("\n", "\r\n", "\t"),
    ),
  );

function exercise(text: string): void {
  const log = parseVerifierLog(text);
  for (let i = 0; i < log.lineCount; i++) {
    log.record(i);
    log.stateAt(i);
    log.sourceAt(i);
  }
  log.listing();
  const ex = explain(log);
  const err = new VerifierError(log, {});
  assert.ok(!err.message.includes("\n"), "the message is one line");
  err.render("terminal", { color: true, env: {} });
  err.render("html");
  JSON.stringify(err.toJSON());
  if (ex) assert.ok(log.error);
}

test("any text — log shapes, noise, binary, cut anywhere — parses, explains and renders without throwing", () => {
  fc.assert(
    fc.property(logLike, ([text, cut, sep]) => {
      exercise(text.slice(0, cut));
      exercise(text.replaceAll("\n", sep));
    }),
    { numRuns: 400 },
  );
});

test("line count and line texts agree with a plain split", () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...SHAPES, "", "x"), { maxLength: 30 }), (lines) => {
      const text = lines.join("\n");
      const log = parseVerifierLog(text);
      // a final newline ends the last line; it does not start another
      const expected = text === "" ? [] : text.split("\n");
      if (text.endsWith("\n")) expected.pop();
      assert.equal(log.lineCount, expected.length);
      for (let i = 0; i < expected.length; i++) {
        const want = expected[i]!.startsWith("\t") ? expected[i]!.slice(1) : expected[i]!;
        if (!want.startsWith("libbpf: ")) assert.equal(log.lineText(i), want);
      }
    }),
  );
});

test("state parsing never throws on random text", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (s) => {
      parseStates(s);
      parseStates(`R1=${s} fp-8=${s}`);
    }),
  );
});

test("a non-string input is survived", () => {
  const e = verifierErrorFromLog(undefined as unknown as string);
  assert.match(e.message, /left no log/);
});
