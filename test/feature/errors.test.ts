/** Unknown names are typed errors before the kernel is asked; probes leave no descriptor open. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { probeAll } from "../../src/feature/all.js";
import { clearProbeCache } from "../../src/feature/cache.js";
import { InconclusiveProbeError } from "../../src/feature/errors.js";
import { probeHelper } from "../../src/feature/helper.js";
import { probeMapType } from "../../src/feature/map.js";
import { probeProgramType } from "../../src/feature/program.js";
import { UnknownHelperError, UnknownHelperIdError } from "../../src/isa/helpers.js";
import { UnknownTypeError } from "../../src/program/types.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { settledFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";
import { kernelConfig } from "./kconfig.js";

/** Asserts `fn` throws `type` and no error from the kernel (a BpfError, or a probe's own verdict). */
function throwsBeforeKernel(fn: () => unknown, type: new (...args: never[]) => Error, what: string): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof type && !(e instanceof BpfError) && !(e instanceof InconclusiveProbeError),
    what,
  );
}

test("unknown names and ids are typed errors, before the kernel is asked", () => {
  throwsBeforeKernel(() => probeProgramType("xdpp"), UnknownTypeError, "program type");
  assert.throws(() => probeProgramType("xdpp"), /did you mean 'xdp'/);
  throwsBeforeKernel(() => probeProgramType(42 as unknown as string), InputError, "a number as a type");
  throwsBeforeKernel(() => probeMapType("hashh"), InputError, "map type");
  throwsBeforeKernel(() => probeMapType("toString"), InputError, "an Object.prototype name");
  throwsBeforeKernel(() => probeHelper("xdp", "bpf_nope"), UnknownHelperError, "helper name");
  throwsBeforeKernel(() => probeHelper("xdp", 100000), UnknownHelperIdError, "helper id");
  throwsBeforeKernel(() => probeHelper("xdp", 0), UnknownHelperIdError, "helper id 0");
  throwsBeforeKernel(
    () => probeHelper("nope", "bpf_ktime_get_ns"),
    UnknownTypeError,
    "program type of a helper",
  );
  throwsBeforeKernel(
    () => probeHelper("xdp", null as unknown as string),
    InputError,
    "a helper that is neither",
  );
  // helpers of types that need an attach target are not probed at all: unknown, not false
  assert.throws(
    () => probeHelper("struct_ops", "bpf_ktime_get_ns"),
    (e: unknown) =>
      e instanceof InconclusiveProbeError && e.cause === undefined && /attach target/.test(e.message),
  );
});

test("the kernel's own names are accepted too (BPF_PROG_TYPE_XDP)", (t) => {
  if (!needsRoot(t)) return;
  assert.equal(probeProgramType("BPF_PROG_TYPE_XDP"), probeProgramType("xdp"));
  assert.equal(probeHelper("BPF_PROG_TYPE_XDP", "bpf_redirect"), true);
});

test("a full probe leaves no descriptor open, and its answers are cached until cleared", (t) => {
  if (!needsRoot(t)) return;
  clearProbeCache();
  const before = settledFdCount("anon_inode:bpf");
  const first = probeAll();
  assert.equal(settledFdCount("anon_inode:bpf"), before, "BPF descriptors after a full probe");
  assert.equal(probeAll(), first, "the same report from the cache");
  // every kind of path ran: refusals read as false, unknowns, and maps made with BTF or inner maps
  const lirc = kernelConfig("CONFIG_BPF_LIRC_MODE2");
  if (lirc !== undefined)
    assert.equal(
      first.programTypes.lirc_mode2,
      lirc === "y",
      `CONFIG_BPF_LIRC_MODE2=${lirc} in /proc/config.gz`,
    );
  else
    t.diagnostic("no /proc/config.gz: lirc_mode2's answer is not compared with the kernel's configuration");
  assert.ok(Object.keys(first.unknown).length > 0, "some answers are unknown");
  assert.equal(first.mapTypes.sk_storage, true, "a map with BTF");
  assert.equal(first.mapTypes.hash_of_maps, true, "a map with an inner map");
  clearProbeCache();
  const again = probeAll();
  assert.notEqual(again, first, "asked again after clearProbeCache");
  assert.deepEqual(again, first, "with the same answers");
  assert.equal(settledFdCount("anon_inode:bpf"), before, "BPF descriptors after a second full probe");
});
