/**
 * Pushing the same snapshot to an OpenTelemetry collector: the official SDK's periodic reader and
 * OTLP/HTTP protobuf exporter, fed by a MetricProducer that turns each snapshot into OTLP data
 * (cumulative sums, gauges and explicit-bucket histograms).
 */
import { type Attributes, ValueType } from "@opentelemetry/api";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  MeterProvider,
  type MetricData,
  type MetricProducer,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import type { Snapshot } from "./exporter.js";

/** Options of {@link OtlpPusher}. */
export interface OtlpOptions {
  /** the collector's OTLP/HTTP metrics endpoint, e.g. http://127.0.0.1:4318/v1/metrics */
  url: string;
  /** milliseconds between pushes (default 15000) */
  intervalMs?: number;
  /** resource attributes (service.name defaults to rawbpf-export) */
  resource?: Attributes;
}

type HrTime = [number, number];
const hr = (ms: number): HrTime => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

/** Turns a snapshot into OTLP metric data (counters are monotonic cumulative sums since `start`). */
export function toMetricData(snapshot: Snapshot, start: number): MetricData[] {
  const startTime = hr(start);
  const endTime = hr(snapshot.time);
  const out: MetricData[] = [];
  for (const f of snapshot.families) {
    const descriptor = { name: f.name, description: f.help, unit: "", valueType: ValueType.DOUBLE };
    if (f.kind === "histogram") {
      out.push({
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: f.histograms.map((h) => ({
          startTime,
          endTime,
          attributes: h.labels,
          value: {
            buckets: { boundaries: h.bounds, counts: [...h.counts, h.over] },
            sum: h.sum,
            count: h.count,
          },
        })),
      });
      continue;
    }
    const dataPoints = f.series.map((s) => ({ startTime, endTime, attributes: s.labels, value: s.value }));
    if (f.kind === "counter")
      out.push({
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints,
      });
    else
      out.push({
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints,
      });
  }
  return out;
}

/** Pushes snapshots from `collect` to an OTLP/HTTP endpoint every interval (and at shutdown). */
export class OtlpPusher {
  readonly #provider: MeterProvider;
  readonly #reader: PeriodicExportingMetricReader;

  constructor(collect: () => Snapshot, options: OtlpOptions) {
    const start = Date.now();
    const producer: MetricProducer = {
      collect: async (): Promise<CollectionResult> => ({
        resourceMetrics: {
          resource: resourceFromAttributes({}),
          scopeMetrics: [{ scope: { name: "rawbpf-export" }, metrics: toMetricData(collect(), start) }],
        },
        errors: [],
      }),
    };
    const interval = options.intervalMs ?? 15000;
    this.#reader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: options.url }),
      exportIntervalMillis: interval,
      exportTimeoutMillis: Math.min(interval, 30000),
      metricProducers: [producer],
    });
    this.#provider = new MeterProvider({
      resource: resourceFromAttributes({ "service.name": "rawbpf-export", ...options.resource }),
      readers: [this.#reader],
    });
  }

  /** Pushes now. */
  flush(): Promise<void> {
    return this.#reader.forceFlush();
  }

  /** Pushes a last time and stops. */
  shutdown(): Promise<void> {
    return this.#provider.shutdown();
  }
}
