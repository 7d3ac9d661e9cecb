/**
 * `npm run bench -- export`: one scrape of a hash map of 10k, 100k and 1M series, measured from the
 * HTTP request to the last byte over loopback, against the baseline of reading the same map in one
 * batched pass (BPF_MAP_LOOKUP_BATCH, no decoding); and the exporter's resident memory. Goals: under
 * 100 ms a scrape of 100k series, under 150 MB.
 */
import { rmSync } from "node:fs";
import { Exporter, MetricsServer, parseConfig } from "../src/export/index.js";
import { BpfMap, u32, u64 } from "../src/index.js";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

async function scrape(url: string): Promise<{ ms: number; bytes: number }> {
  const t0 = process.hrtime.bigint();
  const r = await fetch(url);
  const body = await r.arrayBuffer();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: body.byteLength };
}

for (const n of [10_000, 100_000, 1_000_000]) {
  const map = BpfMap.create({ type: "hash", key: u32, value: u64, maxEntries: n });
  const path = `/sys/fs/bpf/rawbpf-export-bench-${process.pid}`;
  rmSync(path, { force: true });
  map.pin(path);
  const chunk = 100_000;
  for (let i = 0; i < n; i += chunk) {
    const entries: [number, bigint][] = [];
    for (let k = i; k < Math.min(n, i + chunk); k++) entries.push([k, BigInt(k * 7)]);
    map.setBatch(entries);
  }
  const cfg = parseConfig(
    `maps:\n  - { name: m, pinned: ${path} }\nbuiltin: false\nmetrics:\n  counters:\n    - { name: bench_events_total, help: events by key, map: m, labels: [{ name: key, size: 4, decoders: [uint] }] }\n`,
    "bench.yaml",
  );
  const server = new MetricsServer(Exporter.start(cfg), () => {});
  const { port } = await server.listen("127.0.0.1", 0);
  const url = `http://127.0.0.1:${port}/metrics`;
  const runs = n >= 1_000_000 ? 3 : 7;
  await scrape(url); // warm-up
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const r = await scrape(url);
    times.push(r.ms);
    bytes = r.bytes;
  }
  const base: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    map.getBatchRaw();
    base.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  (globalThis as { gc?: () => void }).gc?.();
  const rss = process.memoryUsage().rss / 2 ** 20;
  const ms = median(times);
  const b = median(base);
  console.log(
    `${String(n).padStart(9)} series: scrape ${ms.toFixed(1)} ms (${((ms * 1e6) / n).toFixed(0)} ns/series, ${(bytes / 2 ** 20).toFixed(1)} MiB), ` +
      `batch read alone ${b.toFixed(1)} ms (scrape/read ${(ms / b).toFixed(1)}x), rss ${rss.toFixed(0)} MiB` +
      (n === 100_000
        ? `  [goals: < 100 ms, < 150 MB: ${ms < 100 ? "met" : "MISSED"}, ${rss < 150 ? "met" : "MISSED"}]`
        : ""),
  );
  await server.close();
  server.exporter.close();
  rmSync(path, { force: true });
  map.close();
}
