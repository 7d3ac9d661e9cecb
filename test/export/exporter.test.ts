/**
 * The exporter against real maps: decoders (checked against independent formatters), per-CPU sums
 * and labels, maxSeries with _overflow, pinning across restarts, reload under scrapes, and bad input
 * that must name its config line.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  ConfigError,
  Exporter,
  ListenError,
  MetricsServer,
  PrometheusView,
  parseConfig,
  UnsupportedSourceError,
} from "../../src/export/index.js";
import { BpfMap, possibleCpus, u32, u64 } from "../../src/index.js";
import { needsRoot } from "../support/privilege.js";
import { buildWorkload, FIXTURES, get, tempDir, waitFor } from "./support.js";

const PIN = "/sys/fs/bpf";

function pinned<T extends { pin(path: string): void; close(): void }>(
  m: T,
  name: string,
): { map: T; path: string; [Symbol.dispose](): void } {
  const path = `${PIN}/rawbpf-export-test-${process.pid}-${name}`;
  rmSync(path, { force: true });
  m.pin(path);
  return {
    map: m,
    path,
    [Symbol.dispose]: () => {
      rmSync(path, { force: true });
      m.close();
    },
  };
}

function configError(text: string): ConfigError {
  try {
    parseConfig(text, "cfg.yaml");
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail("the config was accepted");
}

test("bad configs are refused with the line and key they are about", () => {
  let e = configError(
    "programs: []\nmetrics:\n  counters:\n    - name: x_total\n      map: m\n      lables: []\n",
  );
  assert.equal(e.location, "cfg.yaml:6:7");
  assert.match(e.message, /unknown key 'lables' \(did you mean 'labels'\?\)/);
  e = configError(
    "metrics:\n  counters:\n    - name: x\n      map: m\n      labels:\n        - name: a\n          size: four\n",
  );
  assert.equal(e.location, "cfg.yaml:7:11");
  assert.match(e.message, /labels\[0\]\.size: expected an integer from 1 to 256, got "four"/);
  e = configError(
    "metrics:\n  gauges:\n    - name: g\n      map: m\n      labels:\n        - { name: a, size: 8, decoders: [ipv4] }\n",
  );
  assert.equal(e.location, "cfg.yaml:6:42");
  assert.match(e.message, /the ipv4 decoder does not fit a 8-byte label: it takes 4 bytes/);
  e = configError(
    "metrics:\n  histograms:\n    - name: h\n      map: m\n      bucketType: exp3\n      bucketMax: 3\n      labels: [{ name: bucket, size: 4 }]\n",
  );
  assert.match(e.message, /bucketType: expected one of exp2, linear, got "exp3"/);
  assert.equal(e.location, "cfg.yaml:5:7");
  e = configError("programs:\n  - name: a\n    file: a.s\n  - name: a\n    file: b.s\n");
  assert.equal(e.location, "cfg.yaml:4:5");
  e = configError("programs: [\n");
  assert.match(e.message, /not valid YAML/);
  e = configError("builtin: yes please\n");
  assert.match(e.message, /builtin: expected true or false/);
});

test("maps that do not exist, keys that do not add up, objects not loadable yet: errors naming the line", (t) => {
  if (!needsRoot(t)) return;
  using h = pinned(BpfMap.create({ type: "hash", key: u64, value: u64, maxEntries: 8 }), "shape");
  let cfg = parseConfig(
    `maps:\n  - { name: m, pinned: ${h.path} }\nmetrics:\n  counters:\n    - name: c_total\n      map: nope\n`,
    "cfg.yaml",
  );
  assert.throws(
    () => Exporter.start(cfg),
    (e: Error) =>
      e instanceof ConfigError && /cfg\.yaml:6:7: .*no map 'nope' \(maps here: m\)/.test(e.message),
  );
  cfg = parseConfig(
    `maps:\n  - { name: m, pinned: ${h.path} }\nmetrics:\n  counters:\n    - name: c_total\n      map: m\n      labels: [{ name: a, size: 4 }]\n`,
    "cfg.yaml",
  );
  assert.throws(
    () => Exporter.start(cfg),
    /cfg\.yaml:7:7: .*the labels take 4 bytes of key, but map 'm' has 8-byte keys/,
  );
  cfg = parseConfig("programs:\n  - name: p\n    file: prog.ts\n", "cfg.yaml");
  assert.throws(
    () => Exporter.start(cfg),
    (e: Error) =>
      e instanceof UnsupportedSourceError && /cfg\.yaml:3:5: .*TypeScript program/.test(e.message),
  );
  cfg = parseConfig("programs:\n  - name: p\n    file: missing.o\n", "cfg.yaml");
  assert.throws(
    () => Exporter.start(cfg),
    (e: Error) => e instanceof ConfigError && /cfg\.yaml:3:5: .*cannot open .*missing\.o/.test(e.message),
  );
  cfg = parseConfig("maps:\n  - { name: m, pinned: /sys/fs/bpf/does-not-exist-rawbpf }\n", "cfg.yaml");
  assert.throws(() => Exporter.start(cfg), /cfg\.yaml:2:5: maps\[0\]: cannot open map 'm'/);
});

test("a program the verifier refuses fails start-up with the verifier's explanation", (t) => {
  if (!needsRoot(t)) return;
  const dir = tempDir();
  try {
    writeFileSync(join(dir, "bad.s"), ".type socket_filter\nr0 = *(u64 *)(r10 + 8)\nexit\n");
    const cfg = parseConfig("programs:\n  - name: bad\n    file: bad.s\n", join(dir, "cfg.yaml"));
    assert.throws(
      () => Exporter.start(cfg),
      (e: Error) =>
        e instanceof ConfigError &&
        /cfg\.yaml:2:5: programs\[0\]: program 'bad' .* refused by the verifier/.test(e.message) &&
        (e.cause as Error).name === "ProgramRejectedError",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("decoders: ipv4, ipv6 (checked by the WHATWG URL parser), string, enum, ifname, hex, int", async (t) => {
  if (!needsRoot(t)) return;
  // key: ipv4(4) ipv6(16) name(8) enum(4) ifindex(4) int(4) = 40
  using h = pinned(BpfMap.create({ type: "hash", keySize: 40, value: u64, maxEntries: 64 }), "dec");
  const v6s = ["2001:db8::1", "::", "fe80::1:0:0:2", "1:0:0:1:0:0:0:1", "::ffff:0:1", "2001:db8:0:1:1:1:1:1"];
  v6s.forEach((v6, i) => {
    const k = Buffer.alloc(40);
    Buffer.from([10, 0, i, 200]).copy(k, 0);
    // bytes of the address, by hand from the group text
    const parts = v6.split("::");
    const head = parts[0] ? parts[0].split(":") : [];
    const tail = parts.length > 1 && parts[1] ? parts[1].split(":") : [];
    const all = [...head, ...new Array(8 - head.length - tail.length).fill("0"), ...tail];
    for (const [j, g] of all.entries()) k.writeUInt16BE(Number.parseInt(g, 16), 4 + 2 * j);
    k.write(`n${i}`, 20);
    k.writeUInt32LE(i % 3, 28);
    k.writeUInt32LE(1, 32); // lo
    k.writeInt32LE(-i, 36);
    h.map.set(k, BigInt(i + 1));
  });
  const cfg = parseConfig(
    `maps:\n  - { name: m, pinned: ${h.path} }\nbuiltin: false\nmetrics:\n  gauges:\n    - name: g\n      map: m\n      labels:
        - { name: v4, size: 4, decoders: [ipv4] }
        - { name: v6, size: 16, decoders: [ipv6] }
        - { name: s, size: 8, decoders: [string] }
        - { name: e, size: 4, decoders: [{ name: enum, values: { 0: zero, 1: one } }] }
        - { name: dev, size: 4, decoders: [ifname] }
        - { name: i, size: 4, decoders: [int] }
`,
    "cfg.yaml",
  );
  using ex = Exporter.start(cfg);
  const [g] = ex.collect().families;
  assert.equal(g!.series.length, v6s.length);
  for (const s of g!.series) {
    const i = Number(s.value) - 1;
    assert.equal(s.labels.v4, `10.0.${i}.200`);
    assert.equal(s.labels.v6, new URL(`http://[${v6s[i]}]/`).hostname.slice(1, -1), `ipv6 ${v6s[i]}`);
    assert.equal(s.labels.s, `n${i}`);
    assert.equal(s.labels.e, ["zero", "one", "2"][i % 3]);
    assert.equal(s.labels.dev, "lo");
    assert.equal(s.labels.i, String(-i));
  }
});

test("per-CPU maps: summed, or one series per CPU; maxSeries sums the rest into _overflow", async (t) => {
  if (!needsRoot(t)) return;
  const cpus = possibleCpus();
  using h = pinned(BpfMap.create({ type: "percpu_hash", key: u32, value: u64, maxEntries: 64 }), "pcpu");
  for (let k = 0; k < 10; k++)
    h.map.set(
      k,
      Array.from({ length: cpus }, (_, c) => BigInt(k * 100 + c)),
    );
  const cfg = parseConfig(
    `maps:\n  - { name: m, pinned: ${h.path} }\nmetrics:
  counters:
    - { name: sum_total, map: m, labels: [{ name: k, size: 4 }] }
    - { name: percpu_total, map: m, perCpu: cpu, labels: [{ name: k, size: 4 }] }
    - { name: capped_total, map: m, maxSeries: 3, labels: [{ name: k, size: 4 }] }
`,
    "cfg.yaml",
  );
  using ex = Exporter.start(cfg);
  const snap = ex.collect();
  const fam = (n: string) => snap.families.find((f) => f.name === n)!;
  const cpuSum = (cpus * (cpus - 1)) / 2;
  for (const s of fam("sum").series) assert.equal(s.value, Number(s.labels.k) * 100 * cpus + cpuSum);
  assert.equal(fam("percpu").series.length, 10 * cpus);
  for (const s of fam("percpu").series)
    assert.equal(s.value, Number(s.labels.k) * 100 + Number(s.labels.cpu));
  const capped = fam("capped").series;
  assert.equal(capped.length, 4, "3 series and _overflow");
  const total = fam("sum").series.reduce((a, s) => a + s.value, 0);
  assert.equal(
    capped.reduce((a, s) => a + s.value, 0),
    total,
    "nothing is lost: the overflow holds the rest",
  );
  const over = capped.find((s) => s.labels.k === "_overflow");
  assert.ok(over, "an _overflow series");
  const dropped = snap.families.find((f) => f.name === "rawbpf_export_series_dropped")!;
  assert.equal(dropped.series[0]!.value, 7);
  // the same three series stay admitted at the next scrape
  const again = ex
    .collect()
    .families.find((f) => f.name === "capped")!
    .series.map((s) => s.labels.k)
    .sort();
  assert.deepEqual(again, capped.map((s) => s.labels.k).sort());
});

test("pinned maps keep their counts across an exporter restart", async (t) => {
  if (!needsRoot(t)) return;
  const dir = tempDir();
  const pin = `${PIN}/rawbpf-export-test-${process.pid}-pin`;
  try {
    const workload = buildWorkload(dir);
    const cfg = parseConfig(
      `programs:\n  - name: getppid\n    file: ${join(FIXTURES, "getppid.s")}\n    attach: { tracepoint: syscalls/sys_enter_getppid }\n    pin: ${pin}\nmetrics:\n  counters:\n    - { name: calls_total, map: calls, labels: [{ name: pid, size: 4 }] }\n`,
      "cfg.yaml",
    );
    const run = async (n: number) => {
      const w = spawn(workload, [String(n)], { stdio: ["ignore", "pipe", "inherit"] });
      await waitFor(w, /done/, "workload");
      return w;
    };
    let ex = Exporter.start(cfg);
    const w1 = await run(100);
    ex.close();
    ex = Exporter.start(cfg);
    try {
      // the same process calls again after the restart: its count goes on from 100
      w1.kill("SIGKILL");
      const series = ex.collect().families[0]!.series.find((s) => s.labels.pid === String(w1.pid));
      assert.equal(series?.value, 100, "the count made before the restart is still there");
    } finally {
      ex.close();
    }
  } finally {
    rmSync(pin, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a port in use is a ListenError; scrapes during a reload all succeed", async (t) => {
  if (!needsRoot(t)) return;
  using h = pinned(BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 4 }), "reload");
  h.map.set(0, 7n);
  const cfg = parseConfig(
    `maps:\n  - { name: m, pinned: ${h.path} }\nmetrics:\n  gauges:\n    - { name: reload_gauge, map: m, labels: [{ name: i, size: 4 }] }\n`,
    "cfg.yaml",
  );
  const server = new MetricsServer(Exporter.start(cfg), () => {});
  const addr = await server.listen("127.0.0.1", 0);
  const other = new MetricsServer(Exporter.start(cfg), () => {});
  try {
    await assert.rejects(
      other.listen("127.0.0.1", addr.port),
      (e: Error) => e instanceof ListenError && /is in use/.test(e.message),
    );
    const url = `http://127.0.0.1:${addr.port}/metrics`;
    const scrapes = Array.from({ length: 20 }, () => get(url));
    for (let i = 0; i < 5; i++) (await server.swap(Exporter.start(cfg))).close();
    for (const r of await Promise.all(scrapes)) {
      assert.equal(r.status, 200);
      assert.match(r.body, /^reload_gauge\{i="0"\} 7$/m);
    }
    const view = new PrometheusView();
    const body = view.render(server.exporter.collect(), true).body.toString("utf8");
    assert.ok(body.endsWith("# EOF\n"), "OpenMetrics");
  } finally {
    other.exporter.close();
    await server.close();
    server.exporter.close();
  }
});

test("histograms: _sum from the program's sum key (bucketMax + 1, as ebpf_exporter), or estimated from the buckets", (t) => {
  if (!needsRoot(t)) return;
  using h = pinned(BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: 16 }), "histo-sum");
  // values 1, 2, 2, 3, 900 in exp2 buckets 0..3 (900 is above 2^3: +Inf only); their sum, 908, at index 4
  h.map.set(0, 1n);
  h.map.set(1, 2n);
  h.map.set(2, 1n);
  h.map.set(10, 1n);
  h.map.set(4, 908n);
  const family = (sum: string) => {
    const cfg = parseConfig(
      `maps:\n  - { name: m, pinned: ${h.path} }\nbuiltin: false\nmetrics:\n  histograms:\n    - { name: v, map: m, bucketType: exp2, bucketMax: 3, bucketMultiplier: 0.5, ${sum}labels: [{ name: bucket, size: 4 }] }\n`,
      "cfg.yaml",
    );
    const ex = Exporter.start(cfg);
    try {
      return ex.collect().families[0]!.histograms[0]!;
    } finally {
      ex.close();
    }
  };
  const exact = family("sum: bucket, ");
  assert.deepEqual(exact.counts, [1, 2, 1, 0], "buckets 0..3; the sum key is not a bucket");
  assert.equal(exact.count, 5, "every value counted once, the sum key not at all");
  assert.equal(exact.sum, 908 * 0.5, "the program's sum times the multiplier");
  const estimated = family("");
  // with no sum key, index 4 is a count above bucketMax like index 10
  assert.equal(estimated.count, 5 + 908);
  assert.equal(estimated.sum, 1 * 0.5 + 2 * 1 + 1 * 2 + (1 + 908) * 4, "each bucket's count times its bound");
  assert.match(
    configError(
      `maps:\n  - { name: m, pinned: ${h.path} }\nmetrics:\n  histograms:\n    - { name: v, map: m, bucketType: exp2, bucketMax: 3, sum: exact, labels: [{ name: bucket, size: 4 }] }\n`,
    ).message,
    /sum.*(estimate|bucket)/,
  );
});
