/**
 * The exporter's own text writer against prom-client's registry (an independent formatter, kept as
 * a development dependency for this test): random families of every kind, label values with the
 * characters that need escaping, both formats. The two must say the same samples in the same order;
 * prom-client puts a blank line between families in the text format, which both formats allow.
 */
import assert from "node:assert/strict";
import test from "node:test";
import fc from "fast-check";
import { Registry } from "prom-client";
import type { Family } from "../../src/export/metrics.js";
import { formatFamilies } from "../../src/export/text.js";

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** A family as prom-client's registry wants a metric (its `get()`), cumulative buckets included. */
function promMetric(f: Family, openMetrics: boolean) {
  const name = f.kind === "counter" && !openMetrics ? `${f.name}_total` : f.name;
  return {
    name,
    help: f.help,
    type: f.kind,
    reset() {},
    get() {
      const values: Value[] = [];
      if (f.kind !== "histogram") values.push(...f.series);
      for (const h of f.histograms) {
        let cum = 0;
        h.bounds.forEach((b, i) => {
          cum += h.counts[i]!;
          values.push({ metricName: `${f.name}_bucket`, labels: { ...h.labels, le: b }, value: cum });
        });
        values.push({ metricName: `${f.name}_bucket`, labels: { ...h.labels, le: "+Inf" }, value: h.count });
        values.push({ metricName: `${f.name}_sum`, labels: h.labels, value: h.sum });
        values.push({ metricName: `${f.name}_count`, labels: h.labels, value: h.count });
      }
      return { name, help: f.help, type: f.kind, aggregator: "sum", values };
    },
  };
}

async function promClient(families: Family[], openMetrics: boolean): Promise<string> {
  const r = new Registry();
  if (openMetrics)
    r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as typeof Registry.PROMETHEUS_CONTENT_TYPE);
  for (const f of families) r.registerMetric(promMetric(f, openMetrics) as never);
  return (await r.metrics()).replace(/\n\n/g, "\n");
}

const text = fc.string({ unit: fc.constantFrom("a", "Z", "0", " ", "\\", '"', "\n", "é", "{", "=", ",") });
const labelName = fc.constantFrom("pid", "comm", "cpu", "addr", "proto");
const labelsOf = (names: string[]) =>
  fc.tuple(...names.map(() => text)).map((vs) => Object.fromEntries(names.map((n, i) => [n, vs[i]!])));
const count = fc.nat({ max: 2 ** 40 });
// a map's families have one set of label names (the writer's columns); built-in ones need not
const family = fc
  .uniqueArray(labelName, { maxLength: 5 })
  .chain((names) =>
    fc.record({
      names: fc.constant(names),
      columns: fc.boolean(),
      id: fc.nat(),
      kind: fc.constantFrom("counter" as const, "gauge" as const, "histogram" as const),
      // prom-client leaves '"' in HELP as it is, which OpenMetrics forbids; the writer escapes it
      help: fc.string({ unit: fc.constantFrom("a", " ", "\\", "\n", "é") }),
      series: fc.array(fc.record({ labels: labelsOf(names), value: count }), { maxLength: 5 }),
      bounds: fc.uniqueArray(fc.integer({ min: 1, max: 1 << 20 }), { minLength: 1, maxLength: 6 }),
      counts: fc.array(count, { minLength: 6, maxLength: 6 }),
      over: count,
    }),
  )
  .map((r): Family => {
    const bounds = [...r.bounds].sort((a, b) => a - b);
    const counts = r.counts.slice(0, bounds.length);
    const histograms =
      r.kind === "histogram"
        ? r.series.map((s) => {
            const c = counts.reduce((a, b) => a + b, 0) + r.over;
            return { labels: s.labels, bounds, counts, over: r.over, count: c, sum: c * 3 };
          })
        : [];
    const series = r.kind === "histogram" ? [] : r.series;
    const f: Family = { name: `fam_${r.id}`, help: r.help, kind: r.kind, series, histograms };
    if (r.columns && r.kind !== "histogram")
      f.columns = {
        names: r.names,
        labelValues: series.flatMap((s) => r.names.map((n) => s.labels[n]!)),
        values: Float64Array.from(series, (s) => s.value),
      };
    return f;
  });
const families = fc.uniqueArray(family, { minLength: 1, maxLength: 4, selector: (f) => f.name });

for (const openMetrics of [false, true]) {
  test(`the text writer says what prom-client says (${openMetrics ? "OpenMetrics" : "text 0.0.4"})`, async () => {
    await fc.assert(
      fc.asyncProperty(families, async (fs) => {
        assert.equal(formatFamilies(fs, openMetrics), await promClient(fs, openMetrics));
      }),
      { numRuns: 300 },
    );
  });
}

test("OpenMetrics HELP escapes double quotes; the text format leaves them", () => {
  const f: Family = {
    name: "q",
    help: 'say "hi"',
    kind: "gauge",
    series: [{ labels: {}, value: 1 }],
    histograms: [],
  };
  assert.equal(formatFamilies([f], true), '# HELP q say \\"hi\\"\n# TYPE q gauge\nq 1\n# EOF\n');
  assert.equal(formatFamilies([f], false), '# HELP q say "hi"\n# TYPE q gauge\nq 1\n');
});
