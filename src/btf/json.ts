import type { Btf } from "./decode.js";

function replacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/**
 * The blob's own types as JSON: `{"types": [{"id": 1, "kind": "int", "name": ..., ...}, ...]}`,
 * each type in the model's shape (64-bit enum values as decimal strings).
 */
export function formatJson(btf: Btf): string {
  const parts: string[] = ['{"types":['];
  for (let id = btf.startId; id < btf.endId; id++) {
    const t = btf.type(id);
    parts.push(`${id === btf.startId ? "" : ","}\n${JSON.stringify({ id, ...t }, replacer)}`);
  }
  parts.push("\n]}\n");
  return parts.join("");
}
