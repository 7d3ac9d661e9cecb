import assert from "node:assert/strict";
import { after, test } from "node:test";
import { parseVerifierLog } from "../../src/verifier/parse.js";
import { LINE_KIND_NAMES, LineKind } from "../../src/verifier/records.js";
import { parseSlot, parseStates } from "../../src/verifier/state.js";
import { needsRoot } from "../support/privilege.js";
import { CASES, closeMaps, load } from "./support/cases.js";
import { prog, raw } from "./support/insns.js";

after(() => closeMaps());

const kinds = (text: string): string[] => {
  const log = parseVerifierLog(text);
  return Array.from({ length: log.lineCount }, (_, i) => LINE_KIND_NAMES[log.kind(i)]!);
};

test("every line of the kernel's level-2 logs is recognised, and instruction lines match the loaded bytes", (t) => {
  if (!needsRoot(t)) return;
  for (const [id, make] of Object.entries(CASES)) {
    const r = make();
    if (r.skip || r.insns.length === 0 || id === "program-too-complex") continue;
    const log = parseVerifierLog(r.log);
    const lines = r.log.replace(/\n$/, "").split("\n");
    assert.equal(log.lineCount, lines.length, id);
    for (let i = 0; i < log.lineCount; i++) {
      assert.equal(log.lineText(i), lines[i], `${id} line ${i}`);
      assert.notEqual(log.kind(i), LineKind.unknown, `${id}: unrecognised line ${JSON.stringify(lines[i])}`);
      const rec = log.record(i);
      if (rec.kind === "insn" || rec.kind === "live") {
        // the opcode the kernel printed is the byte we loaded at that slot
        assert.equal(rec.opcode, r.insns[rec.index * 8], `${id}: opcode of insn ${rec.index}`);
      }
    }
  }
});

test("level 2: states, live registers, precision lines, statistics", (t) => {
  if (!needsRoot(t)) return;
  const r = CASES["unbounded-memory-access"]!();
  const log = parseVerifierLog(r.log);
  const recs = [...log.records()];
  const first = recs.find((x) => x.kind === "state");
  assert.ok(first && first.kind === "state");
  assert.equal(first.index, 0);
  assert.deepEqual(
    first.states.map((s) => [s.name, s.type]),
    [
      ["R1", "ctx"],
      ["R10", "fp"],
    ],
  );
  const lookup = recs.find((x) => x.kind === "insn" && x.asm.startsWith("call bpf_map_lookup_elem"));
  assert.ok(lookup && lookup.kind === "insn");
  assert.equal(lookup.opcode, 0x85);
  const r0 = lookup.after.find((s) => s.name === "R0");
  assert.equal(r0?.type, "map_value_or_null");
  assert.equal(r0?.fields["vs"], "8");
  const load32 = recs.find((x) => x.kind === "insn" && x.opcode === 0x61);
  assert.ok(load32 && load32.kind === "insn");
  const r1 = load32.after.find((s) => s.name === "R1");
  assert.equal(r1?.type, "scalar");
  assert.equal(r1?.fields["umax"], "0xffffffff");
  assert.equal(r1?.fields["smax"], "0xffffffff");
  assert.equal(r1?.fields["var_off"], "(0x0; 0xffffffff)");
  assert.ok(recs.some((x) => x.kind === "precise" && x.frame === 0));
  assert.equal(recs.filter((x) => x.kind === "live").length, 12); // 13 slots, one ld_imm64
  assert.equal(log.stats?.insnLimit, 1_000_000);
  assert.equal(log.failingInsn, 9);
  assert.equal(log.error?.message, "R0 unbounded memory access, make sure to bounds check any such access");
});

test("level 1, level 4 (statistics) and the time and stack depth lines", (t) => {
  if (!needsRoot(t)) return;
  const insns = prog(raw(0xb7, 0, 0, 0, 0), raw(0x7a, 10, 0, -8, 0), raw(0x79, 0, 0, 0, 0), raw(0x95));
  for (const level of [1, 4, 6]) {
    const r = load({ type: "socket_filter", insns, logLevel: level });
    const log = parseVerifierLog(r.log);
    assert.equal(log.error?.message, "R0 invalid mem access 'scalar'", `level ${level}`);
    assert.equal(typeof log.stats?.processedInsns, "number");
    if (level & 4) {
      assert.ok((log.verificationMicroseconds ?? -1) >= 0, `level ${level}: ${r.log}`);
      assert.deepEqual(log.stackDepth, [8]);
    }
  }
});

test("subprograms: func#, caller/callee frames, returns, branch lines", (t) => {
  if (!needsRoot(t)) return;
  // main: r1 = 3; call sub; r0 = *(u64 *)(r0 + 0); exit.  sub: r0 = r1; r0 += 1; exit
  const insns = prog(
    raw(0xb7, 1, 0, 0, 3),
    raw(0x85, 0, 1, 0, 2),
    raw(0x79, 0, 0, 0, 0),
    raw(0x95),
    raw(0xbf, 0, 1),
    raw(0x07, 0, 0, 0, 1),
    raw(0x95),
  );
  const r = load({ type: "socket_filter", insns });
  const recs = [...parseVerifierLog(r.log).records()];
  const funcs = recs.filter((x) => x.kind === "func");
  assert.deepEqual(
    funcs.map((f) => (f.kind === "func" ? [f.subprog, f.start] : [])),
    [
      [0, 0],
      [1, 4],
    ],
  );
  const roles = recs.flatMap((x) => (x.kind === "call" ? [x.role] : []));
  assert.deepEqual(roles, ["caller", "callee", "return", "to-caller"]);
  const toCaller = recs.find((x) => x.kind === "call" && x.role === "to-caller");
  assert.equal(toCaller?.kind === "call" ? toCaller.index : -1, 2);
  const frame1 = recs.flatMap((x) => (x.kind === "frameState" ? x.states : [])).filter((s) => s.frame === 1);
  assert.ok(frame1.some((s) => s.name === "R1" && s.constant === 3n));
  const inSub = recs.find((x) => x.kind === "insn" && x.index === 4);
  assert.ok(inSub?.kind === "insn" && inSub.after.every((s) => s.frame === 1));
  assert.ok(recs.some((x) => x.kind === "branch" && x.from === 6 && x.to === 2));
});

test("source annotations from line_info", (t) => {
  if (!needsRoot(t)) return;
  const r = CASES["source-annotated"]!();
  const log = parseVerifierLog(r.log);
  const src = log.sourceAt(log.failingLine);
  assert.equal(src?.code, "return *(long *)x;");
  assert.equal(src?.file, "prog.c");
  assert.equal(src?.lineNumber, 4);
});

test("states: registers, stack slots, precision, liveness", () => {
  const s = parseStates(
    "frame1: R0_w=P5 R2=fp-8 R3=map_value(map=m,ks=4,vs=8,off=4) fp-8=mmmmmmmm fp-16_w=pkt(off=2,r=14) R6=-1",
  );
  assert.deepEqual(
    s.map((x) => [x.name, x.frame, x.type, x.liveness, x.precise]),
    [
      ["R0", 1, "constant", "w", true],
      ["R2", 1, "fp", "", false],
      ["R3", 1, "map_value", "", false],
      ["fp-8", 1, "stack", "", false],
      ["fp-16", 1, "pkt", "w", false],
      ["R6", 1, "constant", "", false],
    ],
  );
  assert.equal(s[0]!.constant, 5n);
  assert.equal(s[1]!.constant, -8n);
  assert.equal(s[4]!.stackOffset, -16);
  assert.equal(s[5]!.constant, -1n);
  assert.equal(parseSlot("nonsense"), undefined);
  assert.equal(
    parseSlot("R1=scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))")?.fields["umax32"],
    "255",
  );
});

test("a log cut mid-line, CRLF line ends, and empty text", () => {
  const text =
    "0: R1=ctx() R10=fp0\r\n0: (b7) r0 = 0                        ; R0=0\r\n1: (79) r0 = *(u64 *)(r0 +0";
  const log = parseVerifierLog(text);
  assert.equal(log.lineCount, 3);
  assert.equal(log.lineText(1), "0: (b7) r0 = 0                        ; R0=0");
  assert.deepEqual(kinds(text), ["state", "insn", "insn"]);
  assert.equal(parseVerifierLog("").lineCount, 0);
  assert.equal(parseVerifierLog("").error, undefined);
});
