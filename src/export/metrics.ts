/**
 * Metrics from maps: one batched read of the whole map (BPF_MAP_LOOKUP_BATCH), keys decoded into
 * labels, values summed over CPUs (or labelled by CPU), histograms built from bucket-indexed keys.
 */
import { type BpfMap, possibleCpus } from "../index.js";
import type { ExportConfig, MetricSpec } from "./config.js";
import { compileChain, type DecoderCache, readUint } from "./decoders.js";
import { keyEnum } from "./enums.js";

/** Label names and values of one series, in the metric's label order. */
export type Labels = Record<string, string>;

/** A counter or gauge series. */
export interface Series {
  labels: Labels;
  value: number;
}

/** A histogram series: per-bucket (not cumulative) counts under `bounds`, and above the last. */
export interface HistogramSeries {
  labels: Labels;
  /** upper bounds of the buckets, ascending */
  bounds: number[];
  /** count in each bucket (same length as bounds), not cumulative */
  counts: number[];
  /** count above the last bound */
  over: number;
  count: number;
  /**
   * the sum of the values: what the program kept at bucket index `bucketMax + 1` (config
   * `sum: bucket`), or else an estimate, each bucket's count times its upper bound
   */
  sum: number;
}

/** One metric family in a snapshot. */
export interface Family {
  /** the family name (a counter's without `_total`) */
  name: string;
  help: string;
  kind: "counter" | "gauge" | "histogram";
  /** the series; for a family read as {@link SeriesColumns}, made from them when first asked for */
  series: Series[];
  /**
   * The same series as columns, when the family was read that way (a map whose entries are one
   * series each): the text writer uses these and never makes the series objects.
   */
  columns?: SeriesColumns;
  histograms: HistogramSeries[];
}

/**
 * Series as columns: series `i` has the labels `names[j] = labelValues[i * names.length + j]` and
 * the value `values[i]`. A scrape of 100,000 series keeps two arrays alive instead of 200,000
 * objects, which the garbage collector would otherwise promote and collect later.
 */
export interface SeriesColumns {
  readonly names: readonly string[];
  readonly labelValues: readonly string[];
  readonly values: Float64Array;
}

/** What a family is before its series. */
type FamilyHead = Pick<Family, "name" | "help" | "kind">;

/** A family whose series are columns, with `series` made from them when first asked for. */
function columnFamily(base: FamilyHead, columns: SeriesColumns): Family {
  let series: Series[] | undefined;
  return {
    ...base,
    histograms: [],
    columns,
    get series(): Series[] {
      if (series) return series;
      const { names, labelValues, values } = columns;
      const n = names.length;
      series = [];
      for (let i = 0; i < values.length; i++) {
        const labels: Labels = {};
        for (let j = 0; j < n; j++) labels[names[j]!] = labelValues[i * n + j]!;
        series.push({ labels, value: values[i]! });
      }
      return series;
    },
  };
}

/** What one read of a map produced, for the built-in metrics. */
export interface ReadStats {
  entries: number;
  /** series summed into `_overflow` */
  dropped: number;
  /** the kernel refused batches: why (element by element instead) */
  fallback?: string;
}

const OVERFLOW = "_overflow";

/** A compiled metric: reads its map into a {@link Family}. */
export class MapMetric {
  readonly spec: MetricSpec;
  readonly map: BpfMap;
  readonly family: string;
  readonly #fields: { name: string; off: number; decode: (b: Buffer, o: number) => string }[];
  readonly #valueSize: number;
  readonly #cpus: number;
  readonly #perCpuStride: number;
  /** entries may give the same label set (padding, lossy decoders, no labels): merge them */
  readonly #merge: boolean;
  readonly #admitted = new Set<string>();
  readonly #labelNames: readonly string[];
  #bucketOff: number;
  #bucketSize: number;
  last: ReadStats = { entries: 0, dropped: 0 };

  constructor(cfg: ExportConfig, spec: MetricSpec, map: BpfMap, cache: DecoderCache) {
    this.spec = spec;
    this.map = map;
    this.family = spec.kind === "counter" ? spec.name.replace(/_total$/, "") : spec.name;
    const keyBytes = spec.labels.reduce((n, l) => n + l.size, 0);
    if (spec.labels.length > 0 && keyBytes !== map.keySize) {
      throw cfg.error(
        `${spec.path}.labels`,
        `the labels take ${keyBytes} bytes of key, but map '${spec.map}' has ${map.keySize}-byte keys: sizes must add up to the key (use padding: N for holes)`,
      );
    }
    if (map.valueSize !== 8 && map.valueSize !== 4 && map.valueSize !== 2 && map.valueSize !== 1) {
      throw cfg.error(
        `${spec.path}.map`,
        `map '${spec.map}' has ${map.valueSize}-byte values; metrics read unsigned integers of 1, 2, 4 or 8 bytes`,
      );
    }
    const perCpu = map.type.startsWith("percpu_") || map.type.includes("_percpu_");
    this.#valueSize = map.valueSize;
    this.#cpus = perCpu ? possibleCpus() : 1;
    this.#perCpuStride = perCpu ? (map.valueSize + 7) & ~7 : map.valueSize;
    if (spec.perCpu === "cpu" && !perCpu)
      throw cfg.error(`${spec.path}.perCpu`, `map '${spec.map}' is a ${map.type} map, not per-CPU`);
    let off = 0;
    let lossy = spec.labels.length === 0;
    this.#fields = [];
    this.#bucketOff = -1;
    this.#bucketSize = 0;
    const histo = spec.kind === "histogram";
    spec.labels.forEach((l, i) => {
      if (histo && i === spec.labels.length - 1) {
        this.#bucketOff = off;
        this.#bucketSize = l.size;
      } else if (l.name === "") {
        lossy = true;
      } else {
        const decoders = l.decoders.map((d, j) => {
          if (d.name !== "enum" || d.values !== undefined) return d;
          const e = keyEnum(map, off, l.size);
          if ("why" in e)
            throw cfg.error(
              `${l.path}.decoders[${j}]`,
              `an enum decoder without 'values' names the numbers from the map's BTF, but for map '${spec.map}' ${e.why}: give 'values'`,
            );
          return { ...d, values: e.values };
        });
        this.#fields.push({ name: l.name, off, decode: compileChain(l.size, decoders, cache) });
        if (l.decoders.some((d) => !["uint", "int", "hex", "ipv4", "ipv6"].includes(d.name))) lossy = true;
      }
      off += l.size;
    });
    this.#merge = lossy || spec.maxSeries !== undefined;
    this.#labelNames = [...this.#fields.map((f) => f.name), ...(spec.perCpu === "cpu" ? ["cpu"] : [])];
  }

  /** Reads the map (one batched read) into a family. */
  read(): Family {
    const { keys, values, count, ...rest } = this.map.getBatchRaw();
    const fallback = rest.fallback ? rest.reason : undefined;
    const base = { name: this.family, help: this.spec.help, kind: this.spec.kind };
    const out =
      this.#merge || this.spec.kind === "histogram"
        ? this.#readMerged(keys, values, count, base)
        : this.#readColumns(keys, values, count, base);
    this.last = { entries: count, dropped: this.#dropped, ...(fallback !== undefined && { fallback }) };
    return out;
  }

  #dropped = 0;

  /** Each entry (or each entry and CPU) one series: straight into columns. */
  #readColumns(keys: Buffer, values: Buffer, count: number, base: FamilyHead): Family {
    this.#dropped = 0;
    const ks = this.map.keySize;
    const vs = count > 0 ? values.length / count : 0;
    const fields = this.#fields;
    const nf = fields.length;
    const cpuLabel = this.spec.perCpu === "cpu";
    const perEntry = cpuLabel ? this.#cpus : 1;
    const width = this.#labelNames.length;
    const n = count * perEntry;
    const out = new Float64Array(n);
    const labelValues = new Array<string>(n * width);
    let i = 0;
    for (let e = 0; e < count; e++) {
      const ko = e * ks;
      const vo = e * vs;
      for (let c = 0; c < perEntry; c++, i++) {
        if (cpuLabel) out[i] = this.#value(values, vo + c * this.#perCpuStride);
        else {
          let value = 0;
          for (let k = 0; k < this.#cpus; k++) value += this.#value(values, vo + k * this.#perCpuStride);
          out[i] = value;
        }
        const at = i * width;
        for (let f = 0; f < nf; f++) labelValues[at + f] = fields[f]!.decode(keys, ko + fields[f]!.off);
        if (cpuLabel) labelValues[at + nf] = String(c);
      }
    }
    return columnFamily(base, { names: this.#labelNames, labelValues, values: out });
  }

  /** Entries that may share a label set, histograms, and capped label sets: merged by label set. */
  #readMerged(keys: Buffer, values: Buffer, count: number, base: FamilyHead): Family {
    const out: Family = { ...base, series: [], histograms: [] };
    const ks = this.map.keySize;
    const vs = count > 0 ? values.length / count : 0;
    const fields = this.#fields;
    const nf = fields.length;
    const cpuLabel = this.spec.perCpu === "cpu";
    const max = this.spec.maxSeries;
    let dropped = 0;
    const byKey = new Map<string, Series | HistogramSeries>();
    let overflow: Series | HistogramSeries | undefined;
    const histo = this.spec.kind === "histogram";
    for (let e = 0; e < count; e++) {
      const ko = e * ks;
      const vo = e * vs;
      for (let c = 0; c < (cpuLabel ? this.#cpus : 1); c++) {
        let value = 0;
        if (cpuLabel) value = this.#value(values, vo + c * this.#perCpuStride);
        else for (let k = 0; k < this.#cpus; k++) value += this.#value(values, vo + k * this.#perCpuStride);
        const labels: Labels = {};
        for (let f = 0; f < nf; f++) labels[fields[f]!.name] = fields[f]!.decode(keys, ko + fields[f]!.off);
        if (cpuLabel) labels.cpu = String(c);
        let id = "";
        for (const v of Object.values(labels)) id += `${v}\u0000`;
        let s = byKey.get(id);
        if (s === undefined && max !== undefined && !this.#admitted.has(id)) {
          if (this.#admitted.size < max) this.#admitted.add(id);
          else {
            dropped++;
            if (!overflow) {
              const ol: Labels = {};
              for (const k of Object.keys(labels)) ol[k] = OVERFLOW;
              overflow = histo ? this.#newHistogram(ol) : { labels: ol, value: 0 };
              if (histo) out.histograms.push(overflow as HistogramSeries);
              else out.series.push(overflow as Series);
            }
            s = overflow;
          }
        }
        if (s === undefined) {
          s = histo ? this.#newHistogram(labels) : { labels, value: 0 };
          byKey.set(id, s);
          if (histo) out.histograms.push(s as HistogramSeries);
          else out.series.push(s as Series);
        }
        if (histo)
          this.#addBucket(
            s as HistogramSeries,
            Number(readUint(keys, ko + this.#bucketOff, this.#bucketSize)),
            value,
          );
        else (s as Series).value += value;
      }
    }
    this.#dropped = dropped;
    return out;
  }

  #value(buf: Buffer, off: number): number {
    const v = readUint(buf, off, this.#valueSize);
    return typeof v === "number" ? v : Number(v);
  }

  #newHistogram(labels: Labels): HistogramSeries {
    const s = this.spec;
    const bounds: number[] = [];
    for (let i = s.bucketMin!; i <= s.bucketMax!; i++)
      bounds.push((s.bucketType === "exp2" ? 2 ** i : i) * s.bucketMultiplier!);
    return { labels, bounds, counts: new Array(bounds.length).fill(0), over: 0, count: 0, sum: 0 };
  }

  #addBucket(h: HistogramSeries, index: number, n: number): void {
    if (n === 0) return;
    const s = this.spec;
    const estimate = s.sum !== "bucket";
    if (!estimate && index === s.bucketMax! + 1) {
      h.sum += n * s.bucketMultiplier!;
      return;
    }
    h.count += n;
    if (index > s.bucketMax!) {
      h.over += n;
      if (estimate) h.sum += n * h.bounds[h.bounds.length - 1]!;
      return;
    }
    const i = Math.max(0, index - s.bucketMin!);
    h.counts[i]! += n;
    if (estimate) h.sum += n * h.bounds[i]!;
  }
}
