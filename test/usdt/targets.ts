/**
 * The C programs the USDT tests probe, built by `cc` with <sys/sdt.h> (systemtap-sdt-dev) into a
 * temporary folder before the file's tests run, and removed after them.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** What {@link sdtTargets} built. */
export interface SdtTargets {
  /** The binaries by variant name (filled in by the file's `before`). */
  readonly builds: Record<string, string>;
  /** The temporary folder the binaries are in. */
  dir(): string;
  /** Whether the binaries were built (false where <sys/sdt.h> is missing). */
  built(): boolean;
  /**
   * Whether the test was skipped because <sys/sdt.h> is missing; under CI=true that fails
   * instead (.ci/run installs systemtap-sdt-dev).
   */
  skipWithoutSdt(t: { skip: (why: string) => void }): boolean;
}

/**
 * Builds test/usdt/SOURCE once per variant (`{ name: cc flags }`) before the calling file's tests.
 * A compiler error other than a missing <sys/sdt.h> fails the file.
 */
export function sdtTargets(
  prefix: string,
  source: string,
  variants: Record<string, readonly string[]>,
): SdtTargets {
  let dir = "";
  let hasSdt = true;
  const builds: Record<string, string> = {};
  before(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    for (const [name, flags] of Object.entries(variants)) {
      const out = join(dir, name);
      const r = spawnSync("cc", [...flags, "-o", out, join(here, source)], { encoding: "utf8" });
      if (r.status !== 0) {
        if (/sys\/sdt\.h/.test(r.stderr)) hasSdt = false;
        else assert.fail(`cc ${flags.join(" ")} ${source} failed: ${r.stderr}`);
      }
      builds[name] = out;
    }
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    builds,
    dir: () => dir,
    built: () => hasSdt,
    skipWithoutSdt(t) {
      if (hasSdt) return false;
      if (process.env.CI === "true") assert.fail("<sys/sdt.h> is missing: install systemtap-sdt-dev");
      t.skip("<sys/sdt.h> is missing (systemtap-sdt-dev)");
      return true;
    },
  };
}
