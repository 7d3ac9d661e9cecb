/**
 * Attach points against independent readings of this machine: sysfs and tracefs read here, the
 * kernel's build configuration (/proc/config.gz) where it is published, the JIT sysctl, and the
 * attach functions themselves (kprobes refused in one line where there is no kprobe PMU).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { clearProbeCache, probeAttachPoints } from "../../src/feature/index.js";
import { needsRoot } from "../support/privilege.js";
import { kernelConfig } from "./kconfig.js";

test("attach points agree with sysfs, tracefs, procfs and the kernel's configuration", (t) => {
  if (!needsRoot(t)) return;
  clearProbeCache();
  const { available, detail } = probeAttachPoints();
  assert.equal(available.kprobe_pmu, existsSync("/sys/bus/event_source/devices/kprobe"), detail.kprobe_pmu);
  assert.equal(available.uprobe_pmu, existsSync("/sys/bus/event_source/devices/uprobe"), detail.uprobe_pmu);
  assert.equal(
    available.kprobe_events,
    existsSync("/sys/kernel/tracing/kprobe_events"),
    detail.kprobe_events,
  );
  assert.equal(available.tracefs, existsSync("/sys/kernel/tracing/events"), detail.tracefs);
  assert.equal(available.btf, existsSync("/sys/kernel/btf/vmlinux"));
  assert.equal(available.jit, readFileSync("/proc/sys/net/core/bpf_jit_enable", "latin1").trim() !== "0");
  const kprobes = kernelConfig("CONFIG_KPROBES");
  if (kprobes !== undefined) {
    assert.equal(available.kprobe_pmu, kprobes === "y", `CONFIG_KPROBES=${kprobes}`);
    if (kprobes !== "y") assert.match(detail.kprobe_pmu, /CONFIG_KPROBES/);
  }
  const fprobe = kernelConfig("CONFIG_FPROBE");
  if (fprobe !== undefined)
    assert.equal(available.kprobe_multi, fprobe === "y", `CONFIG_FPROBE=${fprobe}: ${detail.kprobe_multi}`);
  const uprobes = kernelConfig("CONFIG_UPROBES");
  if (uprobes !== undefined) assert.equal(available.uprobe_multi, uprobes === "y", detail.uprobe_multi);
  const always = kernelConfig("CONFIG_BPF_JIT_ALWAYS_ON");
  if (always === "y") assert.equal(available.jit, true, "the JIT is always on");
});

test("rawbpf feature: attach points in the JSON, and program_type kprobe no longer reads as 'kprobes work'", async (t) => {
  if (!needsRoot(t)) return;
  const io = captureIo();
  assert.equal(await main(["feature"], io), 0, io.err);
  const points = probeAttachPoints().available;
  assert.match(io.out, /^Scanning attach points\.\.\.$/m);
  assert.match(
    io.out,
    new RegExp(`^attach point kprobe_pmu is ${points.kprobe_pmu ? "available" : "NOT available"} `, "m"),
  );
  const kprobeLine = io.out.split("\n").find((l) => l.startsWith("eBPF program_type kprobe "));
  assert.ok(kprobeLine, "a program_type kprobe line");
  if (kprobeLine.includes("is available"))
    assert.match(
      kprobeLine,
      new RegExp(
        `kprobes ${points.kprobe_pmu ? "available" : "NOT available"}, uprobes ${points.uprobe_pmu ? "available" : "NOT available"}`,
      ),
    );
  const json = captureIo();
  assert.equal(await main(["feature", "--json"], json), 0, json.err);
  assert.deepEqual(JSON.parse(json.out).attachPoints.available, points);
});
