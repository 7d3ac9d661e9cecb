/**
 * `rawbpf export --otlp`: the official OpenTelemetry SDK exporter pushes OTLP/HTTP protobuf to a
 * receiver in this test, which decodes it with the official proto definitions (test/export/proto,
 * from open-telemetry/opentelemetry-proto) through protobufjs, not with the SDK's own code.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { test } from "node:test";
import protobuf from "protobufjs";
import { needsRoot } from "../support/privilege.js";
import { buildWorkload, FIXTURES, startExporter, tempDir, waitFor } from "./support.js";

interface KeyValue {
  key: string;
  value: { stringValue?: string };
}
interface NumberPoint {
  attributes: KeyValue[];
  asDouble?: number;
  asInt?: string;
}
interface HistogramPoint {
  attributes: KeyValue[];
  count: string;
  bucketCounts: string[];
  explicitBounds: number[];
}
interface Metric {
  name: string;
  sum?: { dataPoints: NumberPoint[]; isMonotonic: boolean; aggregationTemporality: string };
  gauge?: { dataPoints: NumberPoint[] };
  histogram?: { dataPoints: HistogramPoint[] };
}
interface Request {
  resourceMetrics: { resource: { attributes: KeyValue[] }; scopeMetrics: { metrics: Metric[] }[] }[];
}

const attr = (p: { attributes: KeyValue[] }, k: string) =>
  p.attributes.find((a) => a.key === k)?.value.stringValue;

test("--otlp pushes the same metrics as OTLP/HTTP protobuf, decoded here with the official protos", async (t) => {
  if (!needsRoot(t)) return;
  // imports are relative to the proto folder, as protoc's -I would take them
  const protoDir = join(import.meta.dirname, "proto");
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(protoDir, target);
  await root.load("opentelemetry/proto/collector/metrics/v1/metrics_service.proto");
  const Req = root.lookupType("opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest");
  const Resp = root.lookupType("opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse");
  const received: Request[] = [];
  const types: string[] = [];
  let wake = () => {};
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      types.push(`${req.method} ${req.url} ${req.headers["content-type"]}`);
      const msg = Req.decode(Buffer.concat(chunks));
      received.push(Req.toObject(msg, { enums: String, longs: String, defaults: true }) as Request);
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end(Buffer.from(Resp.encode(Resp.create({})).finish()));
      wake();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const port = (receiver.address() as { port: number }).port;
  const dir = tempDir();
  let exporter: Awaited<ReturnType<typeof startExporter>> | undefined;
  let w: ReturnType<typeof spawn> | undefined;
  try {
    const workload = buildWorkload(dir);
    const config = join(dir, "export.yaml");
    const N = 321;
    const SIZES = [5, 70, 70, 3000];
    writeFileSync(
      config,
      `programs:
  - { name: getppid, file: ${join(FIXTURES, "getppid.s")}, attach: { tracepoint: syscalls/sys_enter_getppid } }
  - { name: sendto, file: ${join(FIXTURES, "sendto.s")}, attach: { tracepoint: syscalls/sys_enter_sendto } }
metrics:
  counters:
    - { name: otlp_getppid_calls_total, map: calls, labels: [{ name: pid, size: 4 }] }
  histograms:
    - { name: otlp_sendto_bytes, map: sendto.sizes, bucketType: exp2, bucketMax: 12, labels: [{ name: pid, size: 4 }, { name: bucket, size: 4 }] }
`,
    );
    exporter = await startExporter(config, [
      "--listen",
      "127.0.0.1:0",
      "--otlp",
      `http://127.0.0.1:${port}/v1/metrics`,
      "--otlp-interval",
      "60000",
    ]);
    w = spawn(workload, [String(N), ...SIZES.map(String)], { stdio: ["ignore", "pipe", "inherit"] });
    await waitFor(w, /done/, "the workload");
    const pid = String(w.pid);
    // SIGTERM flushes a last push before exiting 0
    const pushed = new Promise<void>((r) => {
      wake = r;
    });
    assert.equal(await exporter.stop(), 0, exporter.stderr());
    if (received.length === 0) await pushed;
    assert.match(types[0]!, /^POST \/v1\/metrics application\/x-protobuf$/);
    const last = received[received.length - 1]!;
    const rm = last.resourceMetrics[0]!;
    assert.equal(attr(rm.resource, "service.name"), "rawbpf-export");
    const metrics = rm.scopeMetrics.flatMap((s) => s.metrics);
    const byName = new Map((metrics as Metric[]).map((m) => [m.name, m]));
    const calls = byName.get("otlp_getppid_calls")!;
    assert.ok(calls?.sum, "a counter is a sum");
    assert.equal(calls.sum!.isMonotonic, true);
    assert.equal(calls.sum!.aggregationTemporality, "AGGREGATION_TEMPORALITY_CUMULATIVE");
    const p = calls.sum!.dataPoints.find((d) => attr(d, "pid") === pid);
    assert.equal(p?.asDouble, N, "exactly N getppid calls");
    const h = byName.get("otlp_sendto_bytes")!.histogram!.dataPoints.find((d) => attr(d, "pid") === pid)!;
    assert.equal(h.count, String(SIZES.length));
    assert.deepEqual(
      h.explicitBounds,
      Array.from({ length: 13 }, (_, b) => 2 ** b),
    );
    const want = Array.from({ length: 14 }, (_, b) =>
      b === 13
        ? SIZES.filter((s) => s > 2 ** 12).length
        : SIZES.filter((s) => s <= 2 ** b && (b === 0 || s > 2 ** (b - 1))).length,
    );
    assert.deepEqual(h.bucketCounts.map(Number), want, "per-bucket counts (not cumulative), overflow last");
    assert.ok(byName.has("rawbpf_program_run_count"), "the built-in metrics are pushed too");
  } finally {
    await exporter?.stop();
    w?.kill("SIGKILL");
    receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
