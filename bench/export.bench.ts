/**
 * `npm run bench -- export`: a real `rawbpf export` process (bin/rawbpf.js, from dist/ when built)
 * serving a hash map of 10k, 100k and 1M series. Per scrape: the time from the HTTP request to the
 * last byte over loopback, and the exporter's CPU time (/proc/PID/stat), against the baseline of
 * reading the same map in one batched pass (BPF_MAP_LOOKUP_BATCH, no decoding) in this process.
 * Memory: the exporter's resident set after the scrapes, and its peak (VmHWM). Goals for 100k
 * series: a scrape under 100 ms, under 150 MB.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BpfMap, u32, u64 } from "../src/index.js";
import { benchEnv, median } from "./support.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const TICK_MS = 10; // USER_HZ is 100 on Linux

async function scrape(url: string): Promise<{ ms: number; bytes: number }> {
  const t0 = process.hrtime.bigint();
  const r = await fetch(url);
  const body = await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`scrape answered ${r.status}`);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: body.byteLength };
}

/** user + system CPU of a process so far, in ms (10 ms resolution). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

function memMiB(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? Number.NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

function startExporter(config: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [join(root, "bin/rawbpf.js"), "export", config, "--listen", "127.0.0.1:0"],
    {
      env: benchEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr?.on("data", (d) => {
      err += d;
    });
    child.stdout?.on("data", (d) => {
      out += d;
      const m = /serving (http:\/\/\S+\/metrics)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.on("exit", (code) => reject(new Error(`rawbpf export exited (${code}): ${err}`)));
  });
}

if (!existsSync(join(root, "dist/src/cli/main.cjs")))
  console.log("(dist/ is not built: the exporter runs from src/ through tsx; npm run bench builds it)");
const dir = mkdtempSync(join(tmpdir(), "rawbpf-export-bench-"));
try {
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
    const config = join(dir, `bench-${n}.yaml`);
    writeFileSync(
      config,
      `maps:\n  - { name: m, pinned: ${path} }\nbuiltin: false\nmetrics:\n  counters:\n    - { name: bench_events_total, help: events by key, map: m, labels: [{ name: key, size: 4, decoders: [uint] }] }\n`,
    );
    const { child, url } = await startExporter(config);
    try {
      const runs = n >= 1_000_000 ? 3 : 7;
      await scrape(url); // warm-up
      const times: number[] = [];
      const base: number[] = [];
      let bytes = 0;
      const cpu0 = cpuMs(child.pid!);
      for (let i = 0; i < runs; i++) {
        const r = await scrape(url);
        times.push(r.ms);
        bytes = r.bytes;
        // the baseline in turns with the scrapes, so a busy machine slows both alike
        const t0 = process.hrtime.bigint();
        map.getBatchRaw();
        base.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      const cpu = (cpuMs(child.pid!) - cpu0) / runs;
      const mem = memMiB(child.pid!);
      const ms = median(times);
      const b = median(base);
      console.log(
        `${String(n).padStart(9)} series: scrape ${ms.toFixed(1)} ms wall, ${cpu.toFixed(0)} ms exporter CPU ` +
          `(${((ms * 1e6) / n).toFixed(0)} ns/series, ${(bytes / 2 ** 20).toFixed(1)} MiB); ` +
          `batch read alone ${b.toFixed(1)} ms (scrape/read ${(ms / b).toFixed(1)}x); ` +
          `exporter rss ${mem.rss.toFixed(0)} MiB, peak ${mem.peak.toFixed(0)} MiB` +
          (n === 100_000
            ? `  [goals: < 100 ms, < 150 MB: ${ms < 100 ? "met" : "MISSED"}, ${mem.peak < 150 ? "met" : "MISSED"}]`
            : ""),
      );
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(path, { force: true });
      map.close();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
