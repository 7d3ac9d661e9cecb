/**
 * The Prometheus text format (0.0.4) and OpenMetrics (1.0) written straight from a snapshot's
 * families: one string built line by line, no per-series objects beyond the snapshot's own. A
 * scrape of 100,000 series is mostly this loop, so it avoids what a general registry pays for
 * (label objects copied per value, arrays of formatted labels joined per line).
 */
import type { Family, HistogramSeries, Labels, SeriesColumns } from "./metrics.js";

/** The content type of the Prometheus text format. */
export const PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8";
/** The content type of OpenMetrics. */
export const OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const NEEDS_ESCAPE = /[\\"\n]/;

/** A label value as the formats want it: backslash, double quote and newline escaped. */
function labelValue(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** HELP text: backslash and newline escaped (and, in OpenMetrics, double quotes too). */
function helpText(v: string, openMetrics: boolean): string {
  const s = v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
  return openMetrics ? s.replace(/"/g, '\\"') : s;
}

/** A sample value: integers and decimals as JavaScript prints them, NaN and the infinities by name. */
export function sampleValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return `${v}`;
}

/** `{a="1",b="2"` without the closing brace (so `le` can follow), or "" for no labels. */
function openLabels(labels: Labels): string {
  let s = "";
  for (const k in labels) s += `${s === "" ? "{" : ","}${k}="${labelValue(labels[k]!)}"`;
  return s;
}

function histogramLines(out: TextSink, name: string, h: HistogramSeries): void {
  const open = openLabels(h.labels);
  const bucket = `${name}_bucket${open === "" ? "{" : `${open},`}le="`;
  let cum = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    cum += h.counts[i]!;
    out.write(`${bucket}${sampleValue(h.bounds[i]!)}"} ${cum}\n`);
  }
  const labels = open === "" ? "" : `${open}}`;
  out.write(
    `${bucket}+Inf"} ${h.count}\n${name}_sum${labels} ${sampleValue(h.sum)}\n${name}_count${labels} ${h.count}\n`,
  );
}

/** One family's lines, with its HELP and TYPE. */
function familyText(out: TextSink, f: Family, openMetrics: boolean): void {
  const counter = f.kind === "counter";
  const sample = counter ? `${f.name}_total` : f.name;
  const named = counter && !openMetrics ? sample : f.name;
  out.write(`# HELP ${named} ${helpText(f.help, openMetrics)}\n# TYPE ${named} ${f.kind}\n`);
  if (f.kind === "histogram") {
    for (const h of f.histograms) histogramLines(out, f.name, h);
    return;
  }
  if (f.columns) seriesColumns(out, sample, f.columns);
  else
    for (const x of f.series) {
      const open = openLabels(x.labels);
      out.write(`${sample}${open === "" ? "" : `${open}}`} ${sampleValue(x.value)}\n`);
    }
}

/**
 * Series as columns: the text between the values is made once (`m{a="`, `",b="`, `"} `), and
 * one, two or three labels take a template of their own, since building a line from pieces in a
 * loop costs several times more.
 */
function seriesColumns(
  out: TextSink,
  sample: string,
  { names, labelValues: l, values }: SeriesColumns,
): void {
  const w = names.length;
  const p = names.map((n, i) => (i === 0 ? `${sample}{${n}="` : `",${n}="`));
  const end = w === 0 ? `${sample} ` : '"} ';
  const [p0, p1, p2] = p;
  const n = values.length;
  switch (w) {
    case 0:
      for (let i = 0; i < n; i++) out.write(`${end}${sampleValue(values[i]!)}\n`);
      return;
    case 1:
      for (let i = 0; i < n; i++) out.write(`${p0}${labelValue(l[i]!)}${end}${sampleValue(values[i]!)}\n`);
      return;
    case 2:
      for (let i = 0, j = 0; i < n; i++, j += 2)
        out.write(`${p0}${labelValue(l[j]!)}${p1}${labelValue(l[j + 1]!)}${end}${sampleValue(values[i]!)}\n`);
      return;
    case 3:
      for (let i = 0, j = 0; i < n; i++, j += 3)
        out.write(
          `${p0}${labelValue(l[j]!)}${p1}${labelValue(l[j + 1]!)}${p2}${labelValue(l[j + 2]!)}${end}${sampleValue(values[i]!)}\n`,
        );
      return;
    default:
      for (let i = 0, j = 0; i < n; i++) {
        let line = "";
        for (let k = 0; k < w; k++, j++) line += `${p[k]}${labelValue(l[j]!)}`;
        out.write(`${line}${end}${sampleValue(values[i]!)}\n`);
      }
  }
}

/**
 * Where lines go: a buffer written in place, grown by doubling and kept from one scrape to the
 * next, so a scrape of 100,000 series leaves no line strings alive to be promoted and collected
 * (each line is a short-lived string, written and dropped).
 */
export class TextSink {
  #buf: Buffer;
  #len = 0;
  constructor(initial = 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(initial);
  }
  /** Appends `s` as UTF-8. */
  write(s: string): void {
    if (this.#len + s.length * 3 > this.#buf.length) {
      let size = this.#buf.length * 2;
      while (this.#len + s.length * 3 > size) size *= 2;
      const grown = Buffer.allocUnsafe(size);
      this.#buf.copy(grown, 0, 0, this.#len);
      this.#buf = grown;
    }
    this.#len += this.#buf.write(s, this.#len);
  }
  /** A copy of what was written (the sink's buffer is reused), and the sink emptied. */
  take(): Buffer {
    const out = Buffer.from(this.#buf.subarray(0, this.#len));
    this.#len = 0;
    return out;
  }
}

/**
 * Families as the Prometheus text format (version 0.0.4) or, with `openMetrics`, OpenMetrics 1.0
 * (counters' samples named `_total` under a family without it, and `# EOF` at the end), as bytes.
 */
export function formatFamiliesTo(sink: TextSink, families: readonly Family[], openMetrics: boolean): Buffer {
  for (const f of families) familyText(sink, f, openMetrics);
  if (openMetrics) sink.write("# EOF\n");
  return sink.take();
}

/** {@link formatFamiliesTo} as a string, with a sink of its own. */
export function formatFamilies(families: readonly Family[], openMetrics: boolean): string {
  return formatFamiliesTo(new TextSink(), families, openMetrics).toString("utf8");
}
