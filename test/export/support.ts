/** Helpers for the exporter tests: the exporter as a real process, the workload, free ports. */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
export const FIXTURES = join(import.meta.dirname, "fixtures");

/** A temporary folder. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "rawbpf-export-"));
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Reads a child's stdout until `re` matches; rejects when it exits first. */
export function waitFor(child: ChildProcess, re: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const onOut = (b: Buffer) => {
      out += b.toString();
      const m = re.exec(out);
      if (m) {
        child.stdout!.off("data", onOut);
        child.off("exit", onExit);
        resolve(m);
      }
    };
    const onErr = (b: Buffer) => {
      err += b.toString();
    };
    const onExit = (code: number | null) =>
      reject(new Error(`${what} exited (${code}) before saying ${re}: ${out}${err}`));
    child.stdout!.on("data", onOut);
    child.stderr?.on("data", onErr);
    child.once("exit", onExit);
  });
}

/** `rawbpf export CONFIG ...args` from the sources, listening on a free loopback port. */
export async function startExporter(
  config: string,
  args: string[] = [],
): Promise<{ child: ChildProcess; port: number; stderr: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "test/cli/fixtures/rawbpf.ts"), "export", config, ...args],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const m = await waitFor(child, /serving http:\/\/127\.0\.0\.1:(\d+)\/metrics/, "rawbpf export");
  return {
    child,
    port: Number(m[1]),
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Compiles the workload (fixtures/workload.c) into `dir`. */
export function buildWorkload(dir: string): string {
  const out = join(dir, "exportchild");
  execFileSync("cc", ["-O1", "-o", out, join(FIXTURES, "workload.c")]);
  return out;
}

/** GET over loopback: status, content type and body. */
export async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string; body: string }> {
  const r = await fetch(url, { headers });
  return { status: r.status, type: r.headers.get("content-type") ?? "", body: await r.text() };
}
