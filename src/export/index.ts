/** `rawbpf export`: eBPF maps served as Prometheus metrics and pushed as OpenTelemetry metrics. */
export {
  type AttachSpec,
  checkConfig,
  type DecoderSpec,
  type ExportConfig,
  type LabelSpec,
  type MapConfig,
  type MetricSpec,
  type ProgramConfig,
  parseConfig,
  readConfig,
} from "./config.js";
export { DECODERS, type DecoderName, formatIpv6 } from "./decoders.js";
export { ConfigError, ListenError, UnsupportedSourceError } from "./errors.js";
export { Exporter, type ExporterOptions, type Snapshot } from "./exporter.js";
export type { Family, HistogramSeries, Labels, Series } from "./metrics.js";
export { type OtlpOptions, OtlpPusher } from "./otlp.js";
export { OPENMETRICS_TYPE, PROMETHEUS_TYPE, PrometheusView, wantsOpenMetrics } from "./prometheus.js";
export { MetricsServer, parseListen } from "./server.js";
