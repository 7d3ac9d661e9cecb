/**
 * A clang object as an exporter program: the config names the object and which of its programs,
 * the program attaches where its section says (no `attach` key), and its BTF-defined map becomes
 * a metric. The oracle is a child that makes exactly N getppid calls.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { ConfigError, Exporter, parseConfig } from "../../src/export/index.js";
import { compileFixture } from "../object/compile.js";
import { haveTools, skipUnlessCI } from "../support/ci.js";
import { needsRoot } from "../support/privilege.js";
import { buildWorkload, FIXTURES, tempDir, waitFor } from "./support.js";

const metrics =
  "metrics:\n  counters:\n    - { name: calls_total, map: p.calls, labels: [{ name: pid, size: 4 }] }\n";

test("a clang object's program counts exactly N getppid calls, attached where its section says", async (t) => {
  if (!needsRoot(t)) return;
  if (!haveTools("clang-19")) return skipUnlessCI(t, "clang-19 is not installed");
  const obj = compileFixture("getppid.bpf", [], FIXTURES);
  const dir = tempDir();
  try {
    const cfg = parseConfig(
      `programs:\n  - { name: p, file: ${obj}, program: count_getppid }\n${metrics}`,
      "cfg.yaml",
    );
    const ex = Exporter.start(cfg);
    try {
      const w = spawn(buildWorkload(dir), ["250"], { stdio: ["ignore", "pipe", "inherit"] });
      try {
        await waitFor(w, /done/, "workload");
        const fam = ex.collect().families.find((f) => f.name === "calls");
        const mine = fam?.series.find((s) => s.labels.pid === String(w.pid));
        assert.equal(mine?.value, 250, "exactly the child's 250 getppid calls");
      } finally {
        w.kill("SIGKILL");
      }
    } finally {
      ex.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a clang object in a config: which program, and of what type, is checked with the config line", (t) => {
  if (!needsRoot(t)) return;
  if (!haveTools("clang-19")) return skipUnlessCI(t, "clang-19 is not installed");
  const obj = compileFixture("getppid.bpf", [], FIXTURES);
  const start = (program: string) =>
    Exporter.start(parseConfig(`programs:\n  - name: p\n    file: ${obj}\n${program}${metrics}`, "cfg.yaml"));
  assert.throws(
    () => start(""),
    (e: Error) =>
      e instanceof ConfigError &&
      /cfg\.yaml:2:5: .*holds 2 programs \(count_getppid, count_getpid\): say which with 'program'/.test(
        e.message,
      ),
  );
  assert.throws(
    () => start("    program: count_getppd\n"),
    (e: Error) =>
      e instanceof ConfigError &&
      /cfg\.yaml:4:5: .*no program 'count_getppd' \(it has count_getppid, count_getpid\)/.test(e.message),
  );
  assert.throws(
    () => start("    program: count_getppid\n    type: xdp\n"),
    (e: Error) =>
      e instanceof ConfigError &&
      /is a tracepoint program \(section tracepoint\/syscalls\/sys_enter_getppid\), not xdp/.test(e.message),
  );
  assert.throws(
    () => Exporter.start(parseConfig("programs:\n  - { name: p, file: x.s, program: main }\n", "cfg.yaml")),
    (e: Error) => e instanceof ConfigError && /'program' picks a program of a clang object/.test(e.message),
  );
});

test("an enum decoder without values names the numbers from the map's BTF (a struct key's enum member)", async (t) => {
  if (!needsRoot(t)) return;
  if (!haveTools("clang-19")) return skipUnlessCI(t, "clang-19 is not installed");
  const obj = compileFixture("ops.bpf", [], FIXTURES);
  const config = (labels: string) =>
    parseConfig(
      `programs:\n  - { name: p, file: ${obj} }\nbuiltin: false\nmetrics:\n  counters:\n    - { name: ops_total, map: p.ops, labels: [${labels}] }\n`,
      "cfg.yaml",
    );
  const dir = tempDir();
  try {
    const ex = Exporter.start(config("{ name: op, size: 4, decoders: [enum] }, { name: pid, size: 4 }"));
    try {
      const w = spawn(buildWorkload(dir), ["5"], { stdio: ["ignore", "pipe", "inherit"] });
      try {
        await waitFor(w, /done/, "workload");
        const mine = ex.collect().families[0]!.series.find((s) => s.labels.pid === String(w.pid));
        assert.deepEqual(mine, { labels: { op: "OP_GETPPID", pid: String(w.pid) }, value: 5 });
      } finally {
        w.kill("SIGKILL");
      }
    } finally {
      ex.close();
    }
    assert.throws(
      () => Exporter.start(config("{ name: op, size: 4 }, { name: pid, size: 4, decoders: [enum] }")),
      (e: Error) =>
        e instanceof ConfigError &&
        /cfg\.yaml:\d+:\d+: .*for map 'p\.ops' the key's bytes 4\.\.7 are 'unsigned int' \(int\) by the map's BTF, not an enum: give 'values'/.test(
          e.message,
        ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
