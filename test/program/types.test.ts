import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import { Btf } from "../../src/btf/decode.js";
import { parseVerifierStatistics } from "../../src/program/stats.js";
import {
  attachTypeName,
  attachTypeNumber,
  attachTypes,
  programTypeName,
  programTypeNumber,
  programTypes,
  UnknownTypeError,
} from "../../src/program/types.js";

/** The enumerators of a kernel enum, from the running kernel's BTF. */
function kernelEnum(name: string): Map<string, number> {
  const btf = Btf.parse(readFileSync("/sys/kernel/btf/vmlinux"));
  const id = btf.findId(name, "enum");
  assert.ok(id !== undefined, `enum ${name} in vmlinux BTF`);
  const t = btf.type(id);
  assert.equal(t.kind, "enum");
  return new Map(
    (t as { values: readonly { name: string; value: number }[] }).values.map((v) => [v.name, v.value]),
  );
}

test("program type names match the kernel's enum bpf_prog_type", () => {
  const e = kernelEnum("bpf_prog_type");
  for (const name of programTypes) {
    const v = e.get(`BPF_PROG_TYPE_${name.toUpperCase()}`);
    assert.equal(programTypeNumber(name), v, name);
    assert.equal(programTypeName(v!), name);
  }
  assert.equal(programTypeNumber("BPF_PROG_TYPE_XDP"), e.get("BPF_PROG_TYPE_XDP"));
});

test("attach type names match the kernel's enum bpf_attach_type", () => {
  const e = kernelEnum("bpf_attach_type");
  for (const name of attachTypes) {
    const v = e.get(`BPF_${name.toUpperCase()}`);
    assert.equal(attachTypeNumber(name), v, name);
    assert.equal(attachTypeName(v!), name);
  }
});

test("unknown names are typed errors with a suggestion; any string is handled", () => {
  assert.throws(
    () => programTypeNumber("sched_cl"),
    (e: unknown) => e instanceof UnknownTypeError && e.suggestion === "sched_cls",
  );
  assert.throws(
    () => attachTypeNumber("cgroup_inet_ingres"),
    (e: unknown) => e instanceof UnknownTypeError && e.suggestion === "cgroup_inet_ingress",
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      try {
        const n = programTypeNumber(s);
        return programTypes.includes(programTypeName(n) as never);
      } catch (e) {
        return e instanceof UnknownTypeError;
      }
    }),
  );
});

test("the statistics line parses; a log without one gives undefined", () => {
  const s = parseVerifierStatistics(
    "verification time 12 usec\nstack depth 8+16\nprocessed 30 insns (limit 1000000) max_states_per_insn 2 total_states 5 peak_states 4 mark_read 1\n",
  );
  assert.deepEqual(s, {
    processedInsns: 30,
    insnLimit: 1000000,
    maxStatesPerInsn: 2,
    totalStates: 5,
    peakStates: 4,
    markRead: 1,
    verificationTimeUs: 12,
    stackDepth: [8, 16],
  });
  assert.equal(parseVerifierStatistics("R5 !read_ok\n"), undefined);
});
