/**
 * The exporter: the config's programs loaded and attached, its maps opened, its metrics compiled;
 * `collect()` reads everything into one snapshot that the Prometheus and OTLP views both render.
 */
import { type BpfMap, Program, type StatsHandle } from "../index.js";
import type { ExportConfig } from "./config.js";
import { DecoderCache } from "./decoders.js";
import { type Family, MapMetric, type Series } from "./metrics.js";
import { type LoadedProgram, loadProgram, openMap } from "./programs.js";

/** Options of {@link Exporter.start}. */
export interface ExporterOptions {
  /** where warnings go (a batch fallback, a metric that failed to read); default stderr */
  log?: (line: string) => void;
}

/** A snapshot: every family, in a stable order. */
export interface Snapshot {
  families: Family[];
  /** when it was taken (ms since the epoch) */
  time: number;
}

function family(name: string, help: string, kind: "counter" | "gauge", series: Series[]): Family {
  return { name, help, kind, series, histograms: [] };
}

/** A running exporter (programs attached, maps open). Close it to detach everything. */
export class Exporter {
  readonly config: ExportConfig;
  readonly programs: LoadedProgram[];
  readonly #maps: BpfMap[];
  readonly #metrics: MapMetric[];
  readonly #cache: DecoderCache;
  readonly #log: (line: string) => void;
  readonly #stats: StatsHandle | undefined;
  readonly #errors = new Map<string, number>();
  readonly #warned = new Set<string>();
  readonly #started = Date.now();
  #closed = false;

  private constructor(
    config: ExportConfig,
    programs: LoadedProgram[],
    maps: BpfMap[],
    metrics: MapMetric[],
    stats: StatsHandle | undefined,
    log: (line: string) => void,
    cache: DecoderCache,
  ) {
    this.#cache = cache;
    this.config = config;
    this.programs = programs;
    this.#maps = maps;
    this.#metrics = metrics;
    this.#stats = stats;
    this.#log = log;
  }

  /**
   * Loads and attaches the programs, opens the maps and compiles the metrics. Fails (having undone
   * what it did) with a ConfigError naming the config line, or the verifier's refusal as its cause.
   */
  static start(config: ExportConfig, options: ExporterOptions = {}): Exporter {
    const log = options.log ?? ((s: string) => process.stderr.write(`${s}\n`));
    const programs: LoadedProgram[] = [];
    const maps: BpfMap[] = [];
    let stats: StatsHandle | undefined;
    const cache = new DecoderCache();
    try {
      for (const p of config.programs) programs.push(loadProgram(config, p));
      const byName = new Map<string, BpfMap[]>();
      const full = new Map<string, BpfMap>();
      const add = (owner: string, name: string, m: BpfMap) => {
        full.set(`${owner}.${name}`, m);
        byName.set(name, [...(byName.get(name) ?? []), m]);
      };
      for (const p of programs) for (const [n, m] of Object.entries(p.maps)) add(p.config.name, n, m);
      for (const mc of config.maps) {
        const m = openMap(config, mc);
        maps.push(m);
        full.set(mc.name, m);
        byName.set(mc.name, [m]);
      }
      const metrics = config.metrics.map((spec) => {
        const found = full.get(spec.map) ?? byName.get(spec.map);
        const known = [...full.keys()].join(", ") || "none";
        if (found === undefined)
          throw config.error(`${spec.path}.map`, `no map '${spec.map}' (maps here: ${known})`);
        if (Array.isArray(found) && found.length > 1)
          throw config.error(
            `${spec.path}.map`,
            `more than one program has a map '${spec.map}': write PROGRAM.${spec.map}`,
          );
        const map = Array.isArray(found) ? found[0]! : found;
        return new MapMetric(config, spec, map, cache);
      });
      if (config.builtin && programs.length > 0) {
        try {
          stats = Program.enableStats();
        } catch (e) {
          log(
            `rawbpf export: run-time statistics are off (BPF_ENABLE_STATS refused: ${(e as Error).message})`,
          );
        }
      }
      return new Exporter(config, programs, maps, metrics, stats, log, cache);
    } catch (e) {
      stats?.close();
      for (const p of programs) p.close();
      for (const m of maps) m.close();
      throw e;
    }
  }

  /** Reads every metric. A metric that fails is left out, counted and logged; the others go on. */
  collect(): Snapshot {
    this.#cache.reset();
    const families: Family[] = [];
    for (const m of this.#metrics) {
      try {
        families.push(m.read());
        const fb = m.last.fallback;
        if (fb && !this.#warned.has(m.spec.name)) {
          this.#warned.add(m.spec.name);
          this.#log(`rawbpf export: ${m.spec.name}: ${fb}`);
        }
      } catch (e) {
        this.#errors.set(m.spec.name, (this.#errors.get(m.spec.name) ?? 0) + 1);
        this.#log(
          `rawbpf export: ${this.config.where(m.spec.path)}: reading ${m.spec.name} failed: ${(e as Error).message}`,
        );
      }
    }
    if (this.config.builtin) families.push(...this.#builtin());
    return { families, time: Date.now() };
  }

  /** Scrape errors by metric name so far. */
  get errors(): ReadonlyMap<string, number> {
    return this.#errors;
  }

  #builtin(): Family[] {
    const runs: Series[] = [];
    const time: Series[] = [];
    const misses: Series[] = [];
    const verified: Series[] = [];
    const states: Series[] = [];
    const vtime: Series[] = [];
    for (const p of this.programs) {
      try {
        const info = p.program.info();
        const labels = { program: p.config.name, id: String(info.id), type: info.type };
        runs.push({ labels, value: Number(info.runCount) });
        time.push({ labels, value: Number(info.runTimeNs) / 1e9 });
        misses.push({ labels, value: Number(info.recursionMisses) });
        verified.push({ labels, value: info.verifiedInsns });
        const s = p.program.stats;
        if (s) {
          states.push({ labels, value: s.totalStates });
          vtime.push({ labels, value: s.verificationTimeUs / 1e6 });
        }
      } catch (e) {
        this.#errors.set("builtin", (this.#errors.get("builtin") ?? 0) + 1);
        this.#log(`rawbpf export: program '${p.config.name}' info failed: ${(e as Error).message}`);
      }
    }
    const entries: Series[] = [];
    const maxEntries: Series[] = [];
    const dropped: Series[] = [];
    const seen = new Set<BpfMap>();
    for (const m of this.#metrics) {
      if (m.spec.maxSeries !== undefined)
        dropped.push({ labels: { metric: m.family }, value: m.last.dropped });
      if (seen.has(m.map)) continue;
      seen.add(m.map);
      const labels = { map: m.spec.map };
      entries.push({ labels, value: m.last.entries });
      maxEntries.push({ labels, value: m.map.maxEntries });
    }
    const errors: Series[] = [];
    for (const m of this.#metrics)
      errors.push({ labels: { metric: m.family }, value: this.#errors.get(m.spec.name) ?? 0 });
    const out: Family[] = [];
    if (this.programs.length > 0) {
      out.push(
        family(
          "rawbpf_program_run_count",
          "Times each program ran while the exporter had run-time statistics on (BPF_ENABLE_STATS)",
          "counter",
          runs,
        ),
        family(
          "rawbpf_program_run_seconds",
          "Time each program ran, in seconds, while run-time statistics were on",
          "counter",
          time,
        ),
        family(
          "rawbpf_program_recursion_misses",
          "Runs of each program skipped because of recursion",
          "counter",
          misses,
        ),
        family(
          "rawbpf_program_verified_instructions",
          "Instructions the verifier processed when each program was loaded",
          "gauge",
          verified,
        ),
        family(
          "rawbpf_program_verifier_states",
          "Verifier states explored when each program was loaded",
          "gauge",
          states,
        ),
        family(
          "rawbpf_program_verification_seconds",
          "How long the verifier took for each program",
          "gauge",
          vtime,
        ),
      );
    }
    if (entries.length > 0) {
      out.push(
        family("rawbpf_map_entries", "Entries in each exported map at the last scrape", "gauge", entries),
        family("rawbpf_map_max_entries", "Capacity of each exported map", "gauge", maxEntries),
      );
    }
    if (dropped.length > 0)
      out.push(
        family(
          "rawbpf_export_series_dropped",
          "Series summed into the _overflow series because of maxSeries",
          "gauge",
          dropped,
        ),
      );
    out.push(
      family("rawbpf_export_scrape_errors", "Metrics that failed to read, by metric", "counter", errors),
    );
    out.push(
      family(
        "rawbpf_export_start_time_seconds",
        "When this exporter started (seconds since the epoch)",
        "gauge",
        [{ labels: {}, value: this.#started / 1000 }],
      ),
    );
    return out;
  }

  /** Detaches every program and closes every map (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stats?.close();
    for (const p of this.programs) p.close();
    for (const m of this.#maps) m.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
