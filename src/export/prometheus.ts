/**
 * A snapshot in the Prometheus text format or OpenMetrics, through prom-client's registry and
 * formatter: each family is a prom-client metric object whose values come from the snapshot, so the
 * maps are read once a scrape and nothing is copied into prom-client's own label-hashed storage.
 */
import { Histogram, Registry } from "prom-client";
import type { Snapshot } from "./exporter.js";
import type { Family } from "./metrics.js";

/** The two content types served. */
export const PROMETHEUS_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
export const OPENMETRICS_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;

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

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** A family as prom-client's registry wants a metric: `name`, `type`, `get()`. */
class FamilyMetric {
  readonly type: string;
  readonly help: string;
  readonly #family: Family;
  readonly #openMetrics: boolean;
  constructor(family: Family, openMetrics: boolean) {
    this.#family = family;
    this.#openMetrics = openMetrics;
    this.type = family.kind;
    this.help = family.help;
  }
  /** the family name; prom-client renames counters in OpenMetrics mode, which this ignores */
  get name(): string {
    const f = this.#family;
    return f.kind === "counter" && !this.#openMetrics ? `${f.name}_total` : f.name;
  }
  set name(_: string) {}
  reset(): void {}
  get(): { name: string; help: string; type: string; aggregator: string; values: Value[] } {
    const f = this.#family;
    let values: Value[];
    if (f.kind !== "histogram") values = f.series as Value[];
    else {
      values = [];
      for (const h of f.histograms) {
        let cum = 0;
        for (let i = 0; i < h.bounds.length; i++) {
          cum += h.counts[i]!;
          values.push({
            metricName: `${f.name}_bucket`,
            labels: { ...h.labels, le: h.bounds[i]! },
            value: cum,
          });
        }
        values.push({ metricName: `${f.name}_bucket`, labels: { ...h.labels, le: "+Inf" }, value: h.count });
        values.push({ metricName: `${f.name}_sum`, labels: h.labels, value: h.sum });
        values.push({ metricName: `${f.name}_count`, labels: h.labels, value: h.count });
      }
    }
    return { name: this.name, help: f.help, type: f.kind, aggregator: "sum", values };
  }
}

/** Renders snapshots; keeps the exporter's own scrape-duration histogram across scrapes. */
export class PrometheusView {
  readonly scrapeDuration = new Histogram({
    name: "rawbpf_export_scrape_duration_seconds",
    help: "Time to read every map and format the answer, per scrape",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [],
  });

  /** The snapshot as text in one of the two formats. */
  async render(snapshot: Snapshot, openMetrics: boolean): Promise<{ contentType: string; body: string }> {
    const contentType = openMetrics ? OPENMETRICS_TYPE : PROMETHEUS_TYPE;
    const registry = new Registry();
    registry.setContentType(contentType as typeof PROMETHEUS_TYPE);
    for (const f of snapshot.families) registry.registerMetric(new FamilyMetric(f, openMetrics) as never);
    registry.registerMetric(this.scrapeDuration);
    return { contentType, body: await registry.metrics() };
  }
}
