/**
 * A snapshot in the Prometheus text format or OpenMetrics (written by `text.ts`), and the
 * exporter's own scrape-duration histogram kept across scrapes.
 */
import type { Snapshot } from "./exporter.js";
import type { Family, HistogramSeries } from "./metrics.js";
import { formatFamiliesTo, OPENMETRICS_TYPE, PROMETHEUS_TYPE, TextSink } from "./text.js";

export { OPENMETRICS_TYPE, PROMETHEUS_TYPE };

/** Whether an Accept header asks for OpenMetrics (Prometheus itself does, first). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  for (const part of accept.split(",")) {
    const [type, ...params] = part.trim().split(";");
    if (type?.trim() !== "application/openmetrics-text") continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

const SCRAPE_BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Renders snapshots; keeps the exporter's own scrape-duration histogram across scrapes. */
export class PrometheusView {
  readonly #sink = new TextSink();
  readonly #scrapes: HistogramSeries = {
    labels: {},
    bounds: SCRAPE_BOUNDS,
    counts: SCRAPE_BOUNDS.map(() => 0),
    over: 0,
    count: 0,
    sum: 0,
  };

  /** Counts one scrape's duration (read and format) in `rawbpf_export_scrape_duration_seconds`. */
  observeScrape(seconds: number): void {
    const h = this.#scrapes;
    const i = h.bounds.findIndex((b) => seconds <= b);
    if (i < 0) h.over++;
    else h.counts[i]!++;
    h.count++;
    h.sum += seconds;
  }

  /** The snapshot as text in one of the two formats. */
  render(snapshot: Snapshot, openMetrics: boolean): { contentType: string; body: Buffer } {
    const own: Family = {
      name: "rawbpf_export_scrape_duration_seconds",
      help: "Time to read every map and format the answer, per scrape",
      kind: "histogram",
      series: [],
      histograms: [this.#scrapes],
    };
    return {
      contentType: openMetrics ? OPENMETRICS_TYPE : PROMETHEUS_TYPE,
      body: formatFamiliesTo(this.#sink, [...snapshot.families, own], openMetrics),
    };
  }
}
