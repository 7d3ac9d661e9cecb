/**
 * The proof with the real engine: Debian's Prometheus scrapes `rawbpf export` on a loopback port
 * while a child makes exactly N getppid calls and sends M datagrams of known sizes on lo; PromQL
 * over Prometheus's HTTP API must give N, and histogram buckets that match the sizes. promtool
 * checks the exposition; SIGTERM detaches everything and exits 0.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { haveTools } from "../support/ci.js";
import { needsRoot } from "../support/privilege.js";
import { buildWorkload, FIXTURES, freePort, get, startExporter, tempDir, waitFor } from "./support.js";

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(port: number, q: string): Promise<PromResult[]> {
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
  const j = (await r.json()) as { status: string; data: { result: PromResult[] }; error?: string };
  assert.equal(j.status, "success", `PromQL ${q}: ${j.error}`);
  return j.data.result;
}

/** Waits (no timing assertion: up to a minute) until Prometheus has a sample for `q`. */
async function queryWhenThere(port: number, q: string): Promise<PromResult[]> {
  for (let i = 0; i < 240; i++) {
    const r = await query(port, q).catch(() => []);
    if (r.length > 0) return r;
    await sleep(250);
  }
  throw new Error(`Prometheus never had ${q}`);
}

const SIZES = [1, 2, 3, 60, 100, 100, 129, 500, 1000, 1400, 1400, 4000];
const N = 1234;

test("Prometheus scrapes rawbpf export: exact getppid count, histogram buckets of known sizes, promtool accepts", async (t) => {
  if (!needsRoot(t)) return;
  if (!haveTools("prometheus", "promtool")) {
    if (process.env.CI === "true") throw new Error("prometheus is not installed (.ci/run installs it)");
    t.skip("prometheus is not installed (apt-get install prometheus)");
    return;
  }
  const dir = tempDir();
  const children: ChildProcess[] = [];
  let exporter: Awaited<ReturnType<typeof startExporter>> | undefined;
  try {
    const workload = buildWorkload(dir);
    const config = join(dir, "export.yaml");
    writeFileSync(
      config,
      `programs:
  - name: getppid
    file: ${join(FIXTURES, "getppid.s")}
    attach: { tracepoint: syscalls/sys_enter_getppid }
  - name: sendto
    file: ${join(FIXTURES, "sendto.s")}
    attach: { tracepoint: syscalls/sys_enter_sendto }
metrics:
  counters:
    - name: test_getppid_calls_total
      help: getppid calls by process
      map: calls
      labels: [{ name: pid, size: 4, decoders: [uint] }]
    - name: test_getppid_by_comm_total
      map: calls
      labels: [{ name: comm, size: 4, decoders: [comm] }]
  histograms:
    - name: test_sendto_bytes
      help: sendto sizes (log2 buckets)
      map: sendto.sizes
      bucketType: exp2
      bucketMax: 14
      labels: [{ name: pid, size: 4 }, { name: bucket, size: 4 }]
    - name: test_sendto_linear_bytes
      map: sendto.linear
      bucketType: linear
      bucketMax: 20
      bucketMultiplier: 100
      labels: [{ name: pid, size: 4 }, { name: bucket, size: 4 }]
`,
    );
    exporter = await startExporter(config, ["--listen", "127.0.0.1:0"]);
    const w = spawn(workload, [String(N), ...SIZES.map(String)], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(w);
    await waitFor(w, /done/, "the workload");
    const pid = String(w.pid);

    // the exposition, in both formats
    const text = await get(`http://127.0.0.1:${exporter.port}/metrics`);
    assert.equal(text.status, 200);
    assert.match(text.type, /^text\/plain; version=0\.0\.4/);
    const check = spawnSync("promtool", ["check", "metrics"], { input: text.body, encoding: "utf8" });
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
    const om = await get(`http://127.0.0.1:${exporter.port}/metrics`, {
      accept: "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
    });
    assert.match(om.type, /^application\/openmetrics-text; version=1\.0\.0/);
    assert.ok(om.body.endsWith("# EOF\n"), "OpenMetrics ends with # EOF");
    assert.match(om.body, /^# TYPE test_getppid_calls counter$/m);
    assert.match(om.body, new RegExp(`^test_getppid_calls_total\\{pid="${pid}"\\} ${N}$`, "m"));
    assert.equal((await get(`http://127.0.0.1:${exporter.port}/healthz`)).body, "ok\n");

    // Prometheus scrapes it (it asks for OpenMetrics first)
    const promPort = await freePort();
    writeFileSync(
      join(dir, "prometheus.yml"),
      `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: rawbpf\n    static_configs: [{ targets: ["127.0.0.1:${exporter.port}"] }]\n`,
    );
    const prom = spawn(
      "prometheus",
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: "ignore" },
    );
    children.push(prom);

    const calls = await queryWhenThere(promPort, `test_getppid_calls_total{pid="${pid}"}`);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.value[1], String(N), "PromQL gives exactly N getppid calls");
    const byComm = await query(promPort, `test_getppid_by_comm_total{comm="exportchild"}`);
    assert.equal(byComm[0]?.value[1], String(N), "the comm decoder names the workload");

    // histograms: every cumulative bucket as the sizes say
    const buckets = await queryWhenThere(promPort, `test_sendto_bytes_bucket{pid="${pid}"}`);
    const got = new Map(buckets.map((b) => [b.metric.le!, Number(b.value[1])]));
    assert.equal(got.size, 16, "15 bounds (2^0..2^14) and +Inf, missing ones backfilled");
    for (let b = 0; b <= 14; b++) {
      const le = 2 ** b;
      const want = SIZES.filter((s) => s <= le).length;
      assert.equal(got.get(String(le)), want, `exp2 bucket le=${le}`);
    }
    assert.equal(got.get("+Inf"), SIZES.length);
    const count = await query(promPort, `test_sendto_bytes_count{pid="${pid}"}`);
    assert.equal(count[0]?.value[1], String(SIZES.length));
    const linear = await queryWhenThere(promPort, `test_sendto_linear_bytes_bucket{pid="${pid}"}`);
    const lin = new Map(linear.map((b) => [b.metric.le!, Number(b.value[1])]));
    for (let b = 0; b <= 20; b++) {
      const le = 100 * b;
      assert.equal(lin.get(String(le)), SIZES.filter((s) => s <= le).length, `linear bucket le=${le}`);
    }
    assert.equal(lin.get("+Inf"), SIZES.length, "4000 is above the last linear bound: only in +Inf");
    const q = await query(promPort, `histogram_quantile(0.5, test_sendto_bytes_bucket{pid="${pid}"})`);
    assert.ok(
      Number(q[0]?.value[1]) > 64 && Number(q[0]?.value[1]) <= 256,
      `median in (64, 256]: ${q[0]?.value[1]}`,
    );

    // built-in metrics reached Prometheus too
    const runs = await query(promPort, `rawbpf_program_run_count_total{program="getppid"}`);
    assert.ok(Number(runs[0]?.value[1]) >= N, `run count ${runs[0]?.value[1]} >= ${N}`);
    const ids = (await query(promPort, "rawbpf_program_verified_instructions")).map((r) => r.metric.id!);
    assert.equal(ids.length, 2);

    // SIGTERM: exit 0, programs gone from the kernel
    const code = await exporter.stop();
    assert.equal(code, 0, `exit status after SIGTERM (stderr: ${exporter.stderr()})`);
    for (const id of ids) {
      const r = spawnSync("bpftool", ["prog", "show", "id", id]);
      assert.notEqual(r.status, 0, `program ${id} is unloaded after SIGTERM`);
    }
  } finally {
    await exporter?.stop();
    for (const c of children) c.kill("SIGKILL");
    // prometheus may still be writing its WAL
    await sleep(100);
    rmSync(dir, { recursive: true, force: true });
  }
});
