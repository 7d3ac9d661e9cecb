/**
 * libbpf as the oracle: a C harness (libbpf-harness.c, compiled here with -lbpf) loads an object,
 * test-runs named programs and prints their return values and named maps; our side prints the
 * same lines, and both programs' xlated instructions compare with map ids renumbered.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { BpfObject } from "../../src/object/index.js";
import { BUILD_DIR, FIXTURES } from "./compile.js";

/** Map ids in ld_imm64 (src 1 and 2) renumbered by first use, so two loads compare. */
export function normaliseXlated(xlated: Uint8Array): string {
  const b = Uint8Array.from(xlated);
  const v = new DataView(b.buffer);
  const ids = new Map<number, number>();
  for (let at = 0; at + 16 <= b.length; at += 8) {
    if (b[at] !== 0x18) continue;
    const src = (b[at + 1] as number) >> 4;
    if (src === 1 || src === 2) {
      const id = v.getInt32(at + 4, true);
      if (!ids.has(id)) ids.set(id, ids.size + 1);
      v.setInt32(at + 4, ids.get(id) as number, true);
    }
    at += 8;
  }
  return Buffer.from(b)
    .toString("hex")
    .replace(/(.{16})/g, "$1\n");
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

let harnessBin: string | undefined;
function harness(): string {
  if (harnessBin) return harnessBin;
  const out = join(BUILD_DIR, "libbpf-harness");
  execFileSync("cc", ["-O1", "-o", out, join(FIXTURES, "..", "libbpf-harness.c"), "-lbpf"]);
  harnessBin = out;
  return out;
}

/**
 * Loads `path` with libbpf and test-runs `programs` on 64 zero bytes there and in `obj` (loaded
 * by rawbpf); asserts the same return values and `maps` contents, and the same xlated programs.
 * `pinRoot` is where libbpf pins maps pinned by name (keep it apart from rawbpf's).
 */
export function sameAsLibbpf(
  obj: BpfObject,
  path: string,
  programs: readonly string[],
  maps: readonly string[],
  options: { pinRoot?: string } = {},
): void {
  const dir = mkdtempSync(join(BUILD_DIR, "libbpf-"));
  const theirs = execFileSync(harness(), [path, dir, ...programs, "--", ...maps], {
    encoding: "utf8",
    env: { ...process.env, ...(options.pinRoot ? { PIN_ROOT: options.pinRoot } : {}) },
  });
  const lines: string[] = [];
  const data = new Uint8Array(64);
  for (const name of programs) {
    const r = obj.program(name).testRun({ data });
    lines.push(`prog ${name} ${r.retval >>> 0}`);
  }
  for (const name of maps) {
    for (const [k, v] of obj.map(name).entries())
      lines.push(`map ${name} ${hex(k as Uint8Array)} ${hex(v as Uint8Array)}`);
  }
  assert.equal(lines.join("\n"), theirs.trim(), "test runs and maps agree with libbpf");
  for (const name of programs) {
    const ours = join(dir, `${name}.ours`);
    execFileSync("bpftool", [
      "prog",
      "dump",
      "xlated",
      "id",
      String(obj.program(name).info().id),
      "file",
      ours,
    ]);
    assert.equal(
      normaliseXlated(readFileSync(ours)),
      normaliseXlated(readFileSync(join(dir, `${name}.xlated`))),
      `xlated instructions of ${name}`,
    );
  }
}

/** The return values of `programs` test-run by libbpf (the harness) on 64 zero bytes, by name. */
export function libbpfRuns(path: string, programs: readonly string[]): Map<string, number> {
  const dir = mkdtempSync(join(BUILD_DIR, "libbpf-"));
  const theirs = execFileSync(harness(), [path, dir, ...programs, "--"], { encoding: "utf8" });
  const out = new Map<string, number>();
  for (const m of theirs.matchAll(/^prog (\S+) (\d+)$/gm)) out.set(m[1] as string, Number(m[2]));
  assert.equal(out.size, programs.length, `libbpf ran every program: ${theirs}`);
  return out;
}

/**
 * Loads `path` with libbpf, test-runs `programs` once on 64 zero bytes, and returns the values of
 * `map` after the runs (its entries in key order, as hex), with the return values.
 */
export function libbpfRunsAndMap(
  path: string,
  programs: readonly string[],
  map: string,
): { retvals: Map<string, number>; values: string[] } {
  const dir = mkdtempSync(join(BUILD_DIR, "libbpf-"));
  const theirs = execFileSync(harness(), [path, dir, ...programs, "--", map], { encoding: "utf8" });
  const retvals = new Map<string, number>();
  for (const m of theirs.matchAll(/^prog (\S+) (\d+)$/gm)) retvals.set(m[1] as string, Number(m[2]));
  const values = [...theirs.matchAll(/^map (\S+) ([0-9a-f]+) ([0-9a-f]+)$/gm)]
    .filter((m) => m[1] === map)
    .map((m) => m[3] as string);
  return { retvals, values };
}
