/**
 * The raw lister: one `[id] KIND 'name' ...` entry per type, as `bpftool btf dump file X format
 * raw` prints it. The listing itself is WebAssembly (`wasm/raw.as.ts`; the glue is wasm.ts), as
 * the C printer is: `rawbpf btf dump` lists once per process, and JavaScript spent most of such
 * a process waiting for V8's optimising compiler.
 */
import type { Btf } from "./decode.js";
import { type Engine, engineOf, engineOfBlob, run } from "./wasm.js";

const utf8Out = new TextDecoder();

/** An engine per blob for {@link rawType}: loading one costs about as much as listing it all. */
const engines = new WeakMap<Btf, { e: Engine; bytes: number }>();

/** One type as `bpftool btf dump ... format raw` prints it (members on following tab-indented lines). */
export function rawType(btf: Btf, id: number): string {
  btf.kindOf(id); // a BtfError when out of range
  if (id === 0) return "[0] UNKNOWN '(anon)'";
  if (id < btf.startId) return rawType(btf.base!, id);
  let engine = engines.get(btf);
  if (!engine) {
    engine = engineOf(btf);
    engines.set(btf, engine);
  }
  const { e, bytes } = engine;
  const entry = run(e, () => e.printRaw(id, id + 1, bytes));
  return utf8Out.decode(entry.subarray(0, entry.length - 1));
}

/**
 * The whole blob as `bpftool btf dump file X format raw` prints it, as UTF-8 bytes: one
 * `[id] KIND 'name' ...` entry per type (this blob's own types, for split BTF), each ending with a
 * newline. {@link formatRaw} is the same as a string.
 */
export function formatRawBytes(btf: Btf): Uint8Array {
  const { e, bytes } = engineOf(btf);
  return run(e, () => e.printRaw(btf.startId, btf.endId, bytes));
}

/**
 * {@link formatRawBytes} of a whole blob (not split BTF) that `read` writes straight into the
 * lister's memory: no `Btf` object and no copy, for `rawbpf btf dump`. The blob is checked as
 * {@link Btf.parse} checks it, with the same errors.
 * @param size how many bytes `read` may write
 * @param read writes the blob at the start of `into` and returns how many bytes it wrote
 */
export function formatRawBytesOfBlob(size: number, read: (into: Uint8Array) => number): Uint8Array {
  const { e, bytes } = engineOfBlob(size, read);
  return run(e, () => e.printRaw(1, e.endId(), bytes));
}

/**
 * The whole blob as `bpftool btf dump file X format raw` prints it: one `[id] KIND 'name' ...`
 * entry per type (this blob's own types, for split BTF), each ending with a newline.
 */
export function formatRaw(btf: Btf): string {
  return utf8Out.decode(formatRawBytes(btf));
}
