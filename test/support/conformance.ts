/** Reading the bpf_conformance suite's `.data` files (test/fixtures/bpf_conformance): one reader for the kernel's and the interpreter's tests. */
import { join } from "node:path";

/** The suite's data, copied into the repository (licence and source beside it). */
export const SUITE = join(import.meta.dirname, "../fixtures/bpf_conformance");

/** A `.data` file's sections by name (`-- asm`, `-- raw`, `-- mem`, `-- result`...); comments dropped outside `asm`. */
export function conformanceSections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("-- ")) {
      current = line.slice(3).trim();
      out.set(current, "");
    } else if (line.startsWith("#") && current !== "asm") {
    } else if (current !== undefined) out.set(current, `${out.get(current)}${line}\n`);
  }
  return out;
}

/** `-- raw`: 64-bit words (0x...) or lines of byte pairs, little-endian. */
export function rawBytes(raw: string): Uint8Array {
  const out: number[] = [];
  for (const line of raw.split("\n").map((l) => l.trim())) {
    if (line === "") continue;
    if (line.startsWith("0x")) {
      let v = BigInt(line);
      for (let i = 0; i < 8; i++, v >>= 8n) out.push(Number(v & 0xffn));
    } else for (const b of line.split(/\s+/)) out.push(Number.parseInt(b, 16));
  }
  return Uint8Array.from(out);
}

/** `-- mem`: hexadecimal byte pairs separated by white space. */
export function hexBytes(text: string): Uint8Array {
  return Uint8Array.from(
    text
      .split(/\s+/)
      .filter((s) => s !== "")
      .map((s) => Number.parseInt(s, 16)),
  );
}
