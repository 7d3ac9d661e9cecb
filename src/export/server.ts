/**
 * The HTTP side: `/metrics` (Prometheus text or OpenMetrics, by the Accept header) and `/healthz`.
 * Scrapes and reloads run one at a time, so a scrape never sees half a reload.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ListenError } from "./errors.js";
import type { Exporter } from "./exporter.js";
import { PrometheusView, wantsOpenMetrics } from "./prometheus.js";

/** `HOST:PORT`, `:PORT` (every address) or `[V6]:PORT`. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535)
    throw new ListenError(`--listen takes HOST:PORT (127.0.0.1:9435, :9435, [::1]:9435), got '${text}'`);
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

/** The metrics server around an exporter that can be swapped (reload) between scrapes. */
export class MetricsServer {
  readonly #server: Server;
  readonly #view = new PrometheusView();
  #exporter: Exporter;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #log: (s: string) => void;

  constructor(exporter: Exporter, log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)) {
    this.#exporter = exporter;
    this.#log = log;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((e) => {
        this.#log(`rawbpf export: ${req.url}: ${(e as Error).message}`);
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
        res.end(`error: ${(e as Error).message}\n`);
      });
    });
  }

  /** The exporter being served. */
  get exporter(): Exporter {
    return this.#exporter;
  }

  /** Runs `fn` between scrapes (after the running one, before the next). */
  exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Swaps in a new exporter between scrapes; returns the old one (close it). */
  swap(next: Exporter): Promise<Exporter> {
    return this.exclusive(() => {
      const old = this.#exporter;
      this.#exporter = next;
      return old;
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("ok\n");
      return;
    }
    if (url === "/") {
      res
        .writeHead(200, { "content-type": "text/html; charset=utf-8" })
        .end('<html><body><h1>rawbpf export</h1><a href="/metrics">/metrics</a></body></html>\n');
      return;
    }
    if (url !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: try /metrics\n");
      return;
    }
    const om = wantsOpenMetrics(req.headers.accept);
    const { contentType, body } = await this.exclusive(async () => {
      const t0 = process.hrtime.bigint();
      const snapshot = this.#exporter.collect();
      this.#view.observeScrape(Number(process.hrtime.bigint() - t0) / 1e9);
      return this.#view.render(snapshot, om);
    });
    res.writeHead(200, { "content-type": contentType, "content-length": body.length });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  /** Listens on `host:port` (port 0: any free one); resolves with the address really bound. */
  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) => {
        const why =
          e.code === "EADDRINUSE"
            ? `${host}:${port} is in use (another exporter, or another service): stop it or choose another --listen`
            : e.code === "EACCES"
              ? `${host}:${port} needs privileges (ports below 1024): choose another --listen`
              : `cannot listen on ${host}:${port}: ${e.message}`;
        reject(new ListenError(why, { cause: e }));
      };
      this.#server.once("error", onError);
      this.#server.listen(port, host, () => {
        this.#server.off("error", onError);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  /** Stops listening and ends open connections. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
