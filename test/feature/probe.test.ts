/**
 * The probes against the oracle: bpftool's answers for every program type, map type and helper
 * both of us know, with each known difference asserted with its reason.
 */
import assert from "node:assert/strict";
import { release as osRelease } from "node:os";
import { test } from "node:test";
import { probeAll } from "../../src/feature/all.js";
import { InconclusiveProbeError } from "../../src/feature/errors.js";
import { probeHelper, saysHelperUnavailable } from "../../src/feature/helper.js";
import { probeLoad, probeSetup } from "../../src/feature/load.js";
import { probeMapType } from "../../src/feature/map.js";
import { probeProgramType } from "../../src/feature/program.js";
import { mov } from "../../src/isa/builder/alu.js";
import { call, exit } from "../../src/isa/builder/jump.js";
import { R0 } from "../../src/isa/builder/operand.js";
import { encode } from "../../src/isa/encode.js";
import { HELPERS } from "../../src/isa/helpers.js";
import { MAP_TYPE_NAMES } from "../../src/map/types.js";
import { attachTypeNumber, programTypeNumber, programTypes } from "../../src/program/types.js";
import { needsRoot } from "../support/privilege.js";
import { bpftoolFeatures, bpftoolKnownHelpers, bpftoolKnowsNewHelperMessage } from "./bpftool.js";
import { kernelConfig } from "./kconfig.js";

/** The running kernel's release (`uname -r`). */
const release = () => osRelease();

/** Whether the running kernel is at least major.minor. */
function kernelAtLeast(major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release());
  if (!m) return true;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

// bpftool names program and map types with libbpf's libbpf_bpf_prog_type_str / _map_type_str:
// the kernel's enum names in lower case without the prefix, the same names rawbpf uses. So the
// mapping is the identity: `have_${name}_prog_type` and `have_${name}_map_type`. A bpftool key
// that names no type of ours fails the tests below (a rename would show there).
const progKey = (name: string) => `have_${name}_prog_type`;
const mapKey = (name: string) => `have_${name}_map_type`;
const unkey = (key: string, kind: string) =>
  key.replace(/^have_/, "").replace(new RegExp(`_${kind}_type$`), "");

const returnZero = encode([mov(R0, 0), exit()]);

/** Loads `r0 = 0; exit` as tracing with an attach type and BTF id 1, as libbpf's probe does. */
function tracingProbe(attachType: string) {
  return probeLoad(
    programTypeNumber("tracing"),
    {
      attr: { expectedAttachType: attachTypeNumber(attachType), attachBtfId: 1 },
    },
    returnZero,
  );
}

test("program types: ours and bpftool's agree for every type both know, but for the differences proven here", (t) => {
  if (!needsRoot(t)) return;
  const theirs = bpftoolFeatures().program_types;
  for (const key of Object.keys(theirs))
    assert.ok(
      (programTypes as readonly string[]).includes(unkey(key, "prog")),
      `bpftool's ${key} is a type we know`,
    );
  let compared = 0;
  for (const type of programTypes) {
    let ours: boolean | "unknown";
    try {
      ours = probeProgramType(type);
    } catch (e) {
      assert.ok(e instanceof InconclusiveProbeError, `${type}: ${String(e)}`);
      ours = "unknown";
    }
    const bpftool = theirs[progKey(type)];
    if (bpftool === undefined) {
      // bpftool's libbpf predates the type (netfilter came with libbpf 1.2): nothing to compare
      assert.equal(typeof ours, "boolean", `${type}: a plain load answers for it`);
      continue;
    }
    compared++;
    if (type === "tracing" && ours !== bpftool) {
      // libbpf probes tracing with fentry and BTF id 1. Where fentry loads are refused with EPERM
      // before the verifier runs (this kernel has no function tracer for trampolines; see
      // DEVELOPERS.md), it says false. We probe with tp_btf, which came with the type, and whose
      // refusal of id 1 comes from the verifier: the type is known.
      const fentry = tracingProbe("trace_fentry");
      assert.ok(
        !fentry.ok && fentry.error.errnoName === "EPERM" && !fentry.error.log?.trim(),
        "fentry: EPERM, no log",
      );
      const tpBtf = tracingProbe("trace_raw_tp");
      assert.ok(
        !tpBtf.ok && tpBtf.error.log?.includes("attach_btf_id 1 is not a typedef"),
        "tp_btf reaches the verifier",
      );
      assert.deepEqual([ours, bpftool], [true, false]);
      continue;
    }
    if ((type === "lsm" || type === "ext") && ours === "unknown") {
      // the same EPERM before the verifier for lsm and ext: libbpf counts it as false, we say
      // the answer is unknown (an unknown type is refused with EINVAL)
      const r = probeLoad(programTypeNumber(type), probeSetup(type), returnZero);
      assert.ok(!r.ok && r.error.errnoName === "EPERM" && !r.error.log?.trim(), `${type}: EPERM, no log`);
      assert.equal(bpftool, false);
      continue;
    }
    assert.equal(ours, bpftool, `program type ${type}`);
  }
  assert.ok(compared >= 31, `compared ${compared} program types`);
});

test("map types: ours and bpftool's agree for every type both know", (t) => {
  if (!needsRoot(t)) return;
  const theirs = bpftoolFeatures().map_types;
  for (const key of Object.keys(theirs))
    assert.ok(
      (MAP_TYPE_NAMES as readonly string[]).includes(unkey(key, "map")),
      `bpftool's ${key} is a type we know`,
    );
  let compared = 0;
  for (const type of MAP_TYPE_NAMES) {
    const bpftool = theirs[mapKey(type)];
    if (bpftool === undefined) continue; // cgrp_storage and arena are newer than bpftool 7.1's libbpf
    const ours = probeMapType(type);
    compared++;
    assert.equal(ours, bpftool, `map type ${type}`);
  }
  assert.ok(compared >= 31, `compared ${compared} map types`);
  // the two bpftool 7.1 does not know; both came before 6.9
  if (kernelAtLeast(6, 9)) assert.equal(probeMapType("cgrp_storage"), true);
});

test("map type arena: known on kernels from 6.9; a refusal with EPERM is a skip naming the kernel's answer", (t) => {
  if (!needsRoot(t)) return;
  if (!kernelAtLeast(6, 9)) {
    t.skip(`arena maps came with Linux 6.9; this kernel is ${release()}`);
    return;
  }
  let answer: boolean;
  try {
    answer = probeMapType("arena");
  } catch (e) {
    if (!(e instanceof InconclusiveProbeError) || !/EPERM/.test(e.reason)) throw e;
    t.skip(`this kernel refuses arena maps with EPERM even to root (${e.reason})`);
    return;
  }
  assert.equal(answer, true, "an arena map is known to a 6.9+ kernel");
});

test("helpers: helper by helper as bpftool finds them, for every program type", (t) => {
  if (!needsRoot(t)) return;
  const report = probeAll();
  const theirs = bpftoolFeatures().helpers;
  const known = bpftoolKnownHelpers();
  const newMessageKnown = bpftoolKnowsNewHelperMessage();
  let compared = 0;
  for (const type of programTypes) {
    const listed = theirs[`${type}_available_helpers`];
    if (listed === undefined) continue; // a type bpftool does not know (netfilter)
    const ours = report.helpers[type];
    if (ours === "unknown") {
      // libbpf does not probe helpers of tracing, lsm, ext and struct_ops (EOPNOTSUPP): none listed
      assert.deepEqual(listed, [], type);
      continue;
    }
    const bpftoolKnows = known.get(type) ?? new Set<string>();
    for (const h of HELPERS) {
      if (!bpftoolKnows.has(h.name) || report.skippedHelpers.includes(h.name)) continue;
      const mine: boolean = ours.includes(h.name);
      let expected: boolean = mine;
      if (!mine && !newMessageKnown && report.programTypes[type] === true) {
        // the verifier says "program of this type cannot use helper" (newer kernels, 6.18 among them); a libbpf
        // older than 1.5 looks only for "invalid func" and "unknown func", so it assumes the helper
        // is available. Read the kernel's own log to see which refusal it was.
        const r = probeLoad(programTypeNumber(type), probeSetup(type), encode([call(h.id), exit()]));
        assert.ok(
          !r.ok && saysHelperUnavailable(r.error.log ?? ""),
          `${type} ${h.name}: refused as unavailable`,
        );
        expected = r.error.log?.includes("program of this type cannot use helper ") ?? false;
      }
      assert.equal(
        listed.includes(h.name),
        expected,
        `${type} ${h.name}: bpftool should ${expected ? "list" : "omit"} it`,
      );
      compared++;
    }
  }
  assert.ok(compared > 5000, `compared ${compared} (program type, helper) pairs`);
});

test("helpers a few program types certainly have or lack (the kernel's proto tables)", (t) => {
  if (!needsRoot(t)) return;
  assert.equal(probeHelper("socket_filter", "bpf_map_lookup_elem"), true);
  assert.equal(probeHelper("socket_filter", "bpf_skb_load_bytes"), true);
  // bpf_probe_read_kernel is in the base set every type has with CAP_PERFMON; bpf_probe_read is not
  assert.equal(probeHelper("socket_filter", "bpf_probe_read_kernel"), true);
  assert.equal(probeHelper("socket_filter", "bpf_probe_read"), false);
  assert.equal(probeHelper("xdp", "bpf_xdp_adjust_head"), true);
  assert.equal(probeHelper("xdp", "bpf_skb_store_bytes"), false);
  assert.equal(probeHelper("kprobe", "get_current_pid_tgid"), true, "without the bpf_ prefix");
  assert.equal(probeHelper("tracepoint", 14), true, "by id: bpf_get_current_pid_tgid");
  assert.equal(probeHelper("sched_cls", "bpf_skb_vlan_push"), true);
  const lirc = kernelConfig("CONFIG_BPF_LIRC_MODE2");
  if (lirc !== undefined)
    assert.equal(
      probeHelper("lirc_mode2", "bpf_map_lookup_elem"),
      lirc === "y",
      `CONFIG_BPF_LIRC_MODE2=${lirc}: lirc_mode2 programs ${lirc === "y" ? "may" : "cannot"} call it`,
    );
  assert.throws(() => probeHelper("tracing", "bpf_ktime_get_ns"), InconclusiveProbeError);
});

test("--full probes the helpers whose probes write to the kernel log", (t) => {
  if (!needsRoot(t)) return;
  const full = probeAll({ full: true });
  assert.deepEqual(full.skippedHelpers, []);
  const kprobe = full.helpers.kprobe;
  assert.ok(
    kprobe !== "unknown" && kprobe.includes("bpf_trace_printk"),
    "kprobe programs may call bpf_trace_printk",
  );
  const plain = probeAll();
  assert.deepEqual(plain.skippedHelpers, ["bpf_trace_printk", "bpf_probe_write_user", "bpf_trace_vprintk"]);
  assert.ok(
    plain.helpers.kprobe !== "unknown" && !plain.helpers.kprobe.includes("bpf_trace_printk"),
    "not probed",
  );
  assert.equal(plain, probeAll(), "the report is cached");
});
