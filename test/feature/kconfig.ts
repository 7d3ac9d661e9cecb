/** The running kernel's build configuration (/proc/config.gz), for tests whose answer depends on it. */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

let config: Map<string, string> | null | undefined;

/**
 * The value of `CONFIG_NAME` in the running kernel ("y", "m", a string), "n" when it is not set,
 * or undefined when this kernel does not publish its configuration (no /proc/config.gz).
 */
export function kernelConfig(name: string): string | undefined {
  if (config === undefined) {
    try {
      const text = gunzipSync(readFileSync("/proc/config.gz")).toString("latin1");
      config = new Map();
      for (const m of text.matchAll(/^(CONFIG_\w+)=(.*)$/gm)) config.set(m[1]!, m[2]!);
    } catch {
      config = null;
    }
  }
  if (config === null) return undefined;
  return config.get(name) ?? "n";
}
