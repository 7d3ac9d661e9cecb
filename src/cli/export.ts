/** `rawbpf export CONFIG`: serve eBPF maps as Prometheus metrics, and/or push them over OTLP. */
import { parseArgs } from "node:util";
import { readConfig } from "../export/config.js";
import { ConfigError } from "../export/errors.js";
import { Exporter } from "../export/exporter.js";
import type { OtlpPusher } from "../export/otlp.js";
import { MetricsServer, parseListen } from "../export/server.js";
import { ProgramRejectedError } from "../index.js";
import { type CliIo, docPath, UsageError } from "./io.js";

const HELP = `usage: rawbpf export CONFIG [--listen HOST:PORT] [--otlp URL]

Loads and attaches the programs CONFIG names (.s assembly or .bin instructions), and serves the
maps it names as metrics: /metrics (Prometheus text, or OpenMetrics when asked), /healthz.
CONFIG is YAML (see examples/export.yaml and ${docPath("export.md")}) or a .js/.ts module whose default
export is the same object. SIGTERM or SIGINT detaches everything and exits 0; SIGHUP reloads
CONFIG (the old programs keep running if the new config fails).

options:
  --listen HOST:PORT   where to serve (default 127.0.0.1:9435; :9435 for every address)
  --otlp URL           also push every interval to an OTLP/HTTP endpoint
                       (e.g. http://127.0.0.1:4318/v1/metrics)
  --otlp-interval MS   milliseconds between pushes (default 15000)
  --no-serve           do not serve /metrics (with --otlp: push only)
  --check              check CONFIG, load and attach, print the metrics once and exit
  -h, --help           this help
`;

function describe(e: unknown): string {
  const err = e as Error;
  let text = err.message;
  const cause = (err as { cause?: unknown }).cause;
  if (e instanceof ConfigError && cause instanceof ProgramRejectedError)
    text += `\n\n${cause.render("terminal", { color: false })}`;
  return text;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  let args: ReturnType<typeof parse>;
  const parse = (a: string[]) =>
    parseArgs({
      args: a,
      allowPositionals: true,
      options: {
        listen: { type: "string" },
        otlp: { type: "string" },
        "otlp-interval": { type: "string" },
        "no-serve": { type: "boolean" },
        check: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  try {
    args = parse(argv);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = args.values;
  if (v.help) {
    io.stdout(HELP);
    return 0;
  }
  if (args.positionals.length !== 1) throw new UsageError("expected one CONFIG file");
  const file = args.positionals[0]!;
  const serve = !v["no-serve"];
  if (!serve && !v.otlp && !v.check)
    throw new UsageError("--no-serve needs --otlp (else nothing would be exported)");
  let interval = 15000;
  if (v["otlp-interval"] !== undefined) {
    interval = Number(v["otlp-interval"]);
    if (!Number.isInteger(interval) || interval < 100)
      throw new UsageError(`--otlp-interval takes milliseconds (at least 100), got '${v["otlp-interval"]}'`);
  }
  if (v.otlp !== undefined && !/^https?:\/\/\S+$/.test(v.otlp))
    throw new UsageError(`--otlp takes an http(s) URL, got '${v.otlp}'`);
  const listen = parseListen(v.listen ?? "127.0.0.1:9435");
  const log = (s: string) => io.stderr(`${s}\n`);

  let exporter: Exporter;
  try {
    exporter = Exporter.start(await readConfig(file), { log });
  } catch (e) {
    io.stderr(`rawbpf export: ${describe(e)}\n`);
    return 1;
  }
  if (v.check) {
    using _ = exporter;
    const { PrometheusView } = await import("../export/prometheus.js");
    io.stdout(new PrometheusView().render(exporter.collect(), false).body.toString("utf8"));
    return 0;
  }

  let server: MetricsServer | undefined;
  let otlp: OtlpPusher | undefined;
  try {
    // the OpenTelemetry SDK is loaded only when pushing (it adds ~40 MB and start-up time), and
    // before the server says it serves, so a signal after that line finds the exporter whole
    const push = v.otlp ? await import("../export/otlp.js") : undefined;
    if (serve) {
      server = new MetricsServer(exporter, log);
      const a = await server.listen(listen.host, listen.port);
      const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
      io.stdout(`rawbpf export: serving http://${host}:${a.port}/metrics\n`);
    }
    if (v.otlp && push) {
      otlp = new push.OtlpPusher(() => (server ? server.exporter : exporter).collect(), {
        url: v.otlp,
        intervalMs: interval,
      });
      io.stdout(`rawbpf export: pushing to ${v.otlp} every ${interval} ms\n`);
    }
  } catch (e) {
    await server?.close();
    exporter.close();
    io.stderr(`rawbpf export: ${describe(e)}\n`);
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.off("SIGHUP", onHup);
      io.stderr(`rawbpf export: ${signal}: detaching and exiting\n`);
      try {
        await server?.close();
        await otlp?.shutdown();
      } catch (e) {
        io.stderr(`rawbpf export: while stopping: ${(e as Error).message}\n`);
      }
      (server?.exporter ?? exporter).close();
      resolve(0);
    };
    const onHup = async () => {
      try {
        const next = Exporter.start(await readConfig(file), { log });
        if (server) (await server.swap(next)).close();
        else {
          exporter.close();
          exporter = next;
        }
        io.stderr("rawbpf export: SIGHUP: config reloaded\n");
      } catch (e) {
        io.stderr(`rawbpf export: SIGHUP: reload failed, the running config stays: ${describe(e)}\n`);
      }
    };
    process.once("SIGTERM", () => void stop("SIGTERM"));
    process.once("SIGINT", () => void stop("SIGINT"));
    process.on("SIGHUP", onHup);
  });
}
