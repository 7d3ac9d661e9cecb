/**
 * The glue of rawbpf's WebAssembly for BTF (src/btf/wasm/btf.as.ts, compiled into
 * wasm/btf.wasm.ts): a fresh instance with the type words and strings of a blob in its memory,
 * indexed, for a printer (c.ts, raw.ts) to run; and the errors it records, as `BtfError`s in the
 * words the JavaScript code used.
 */
import { Btf, EXTRA_FIXED, EXTRA_PER_VLEN } from "./decode.js";
import { BtfError } from "./errors.js";
import { KIND_NAMES } from "./kinds.js";
import { WASM } from "./wasm/btf.wasm.js";

/** What the module exports (see wasm/btf.as.ts). */
export interface Engine {
  readonly memory: WebAssembly.Memory;
  begin(bytes: number): number;
  tablesAt(): number;
  index(at: number, words: number): number;
  indexStop(): number;
  endId(): number;
  startOf(id: number): number;
  setStrings(at: number, strings: number): void;
  printC(head: number, tail: number, blob: number): number;
  printRaw(from: number, to: number, blob: number): number;
  outputAt(): number;
  errorCode(): number;
  errorA(): number;
  errorB(): number;
  errorType(): number;
  readonly [error: `ERR_${string}`]: WebAssembly.Global;
}

let compiled: WebAssembly.Module | undefined;

/** The most input an engine takes: a quarter of the 4 GiB it can address, the rest is for its state and output. */
const MAX_INPUT = 2 ** 30;

/**
 * A fresh instance (its memory starts zeroed, as the module expects) with decode.ts's record
 * sizes in, and `bytes` of its memory taken for the input.
 * @returns the instance's exports, and where the input goes
 */
function fresh(bytes: number): { e: Engine; at: number } {
  if (bytes > MAX_INPUT) {
    throw new BtfError(
      `${bytes} bytes of BTF do not fit in WebAssembly's 4 GiB memory with the printer's state`,
    );
  }
  compiled ??= new WebAssembly.Module(Buffer.from(WASM, "base64"));
  const e = new WebAssembly.Instance(compiled, {}).exports as unknown as Engine;
  const at = e.begin(bytes);
  const tables = new Int8Array(e.memory.buffer, e.tablesAt(), 64);
  tables.set(EXTRA_FIXED, 0);
  tables.set(EXTRA_PER_VLEN, 32);
  return { e, at };
}

/** Has the engine find where each of the `words` type words at `at` starts; throws decode.ts's errors. */
function index(e: Engine, at: number, words: number): void {
  const n = e.index(at, words);
  const stop = e.indexStop();
  if (stop !== words) {
    // a copy: the words need not be 4-byte aligned in the engine's memory
    const tw = new Uint32Array(new Uint8Array(e.memory.buffer, at, words * 4).slice().buffer);
    Btf.badIndex(tw, stop, n, e.startOf(n), 1);
  }
}

/**
 * An engine holding a parsed blob and its bases: their type words one after another (one id
 * space), then their strings (one offset space).
 * @returns the engine, and the size of the blobs (which bounds what a printer may write)
 */
export function engineOf(btf: Btf): { e: Engine; bytes: number } {
  const chain: Btf[] = [];
  for (let b: Btf | undefined = btf; b; b = b.base) chain.unshift(b);
  let words = 0;
  let bytes = 0;
  for (const b of chain) {
    words += b.typeWords.words.length;
    bytes += b.bytes.length;
  }
  const strings = btf.stringsEnd;
  const { e, at } = fresh(words * 4 + strings);
  const wordsTo = new Uint32Array(e.memory.buffer, at, words);
  const stringsTo = new Uint8Array(e.memory.buffer, at + words * 4, strings);
  let w = 0;
  for (const b of chain) {
    const v = b.typeWords.words;
    wordsTo.set(v, w);
    w += v.length;
    stringsTo.set(b.stringBytes, b.stringsStart);
  }
  index(e, at, words);
  e.setStrings(at + words * 4, strings);
  return { e, bytes };
}

/**
 * An engine holding a whole blob (not split BTF) that `read` writes straight into its memory: no
 * `Btf` object, no copy. The blob is checked as {@link Btf.parse} checks it, with the same errors.
 * @param size how many bytes `read` may write
 * @param read writes the blob at the start of `into` and returns how many bytes it wrote
 * @returns the engine, and the size of the blob
 */
export function engineOfBlob(size: number, read: (into: Uint8Array) => number): { e: Engine; bytes: number } {
  const { e, at } = fresh(size);
  const got = read(new Uint8Array(e.memory.buffer, at, size));
  const h = Btf.readHeader(new Uint8Array(e.memory.buffer, at, got));
  index(e, at + h.hdrLen + h.typeOff, h.typeLen / 4);
  e.setStrings(at + h.hdrLen + h.strOff, h.strLen);
  return { e, bytes: got };
}

/**
 * Runs a printer of the engine; returns what it wrote (a view of the engine's memory, not a
 * copy), or throws the error it recorded as a BtfError.
 */
export function run(e: Engine, print: () => number): Uint8Array {
  let length: number;
  try {
    length = print();
  } catch (x) {
    throw engineError(e) ?? x;
  }
  return new Uint8Array(e.memory.buffer, e.outputAt(), length);
}

/** The error the engine recorded before it trapped, as a BtfError. */
function engineError(e: Engine): BtfError | undefined {
  const code = e.errorCode();
  if (code === 0) return undefined;
  const a = e.errorA();
  const b = e.errorB();
  const id = e.errorType();
  const where = id >= 0 ? { typeId: id } : {};
  const is = (name: string) => code === e[`ERR_${name}`].value;
  let message: string;
  if (is("STRING")) message = `string offset ${a} is past the string table (${b} bytes)`;
  else if (is("REFERENCE")) message = `reference to type id ${a}, which does not exist (ids go up to ${b})`;
  else if (is("TOO_DEEP")) message = "types nest deeper than 1000 levels: a loop?";
  else if (is("BY_VALUE")) message = "types contain each other by value: no C declaration order exists";
  else if (is("CHAIN_LOOP")) message = "type chain loops back on itself";
  else if (is("SIZE")) message = `size ${a * b} overflows 32 bits`;
  else if (is("ARRAY_SIZE")) message = "array size overflows 32 bits";
  else if (is("DECL_KIND")) message = `a ${KIND_NAMES[a]} cannot appear in a C declaration`;
  else if (is("DECL_LOOP")) message = "declarator chain loops back on itself";
  else if (is("TOO_BIG"))
    message =
      `the output would exceed ${a} bytes, far more than this BTF's size warrants: ` +
      "anonymous types nested many times over, or huge padding gaps (malformed BTF?)";
  else if (is("MEMORY")) message = `this BTF needs more memory (${a} bytes) than WebAssembly's 4 GiB`;
  else message = `the WebAssembly for BTF stopped with error code ${code}`;
  return new BtfError(message, where);
}
