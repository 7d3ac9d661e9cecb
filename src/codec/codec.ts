/**
 * Typed codecs for map keys and values: fixed-size, little-endian (the byte order of every BPF
 * target rawbpf runs on), laid out with C alignment. A codec writes into and reads from a Buffer
 * at an offset, so a map can encode straight into its preallocated key and value buffers.
 */
import { InputError } from "../sys/error.js";

/**
 * Encodes values of type `I` into exactly `size` bytes and decodes them back as `O` (usually the
 * same type; `u64` takes a bigint or a safe integer and gives back a bigint).
 */
export interface Codec<I, O = I> {
  /** size in bytes (a C `sizeof`) */
  readonly size: number;
  /** C alignment in bytes */
  readonly align: number;
  /** a short C-like description, e.g. `u32` or `struct { u32 pid; char comm[16]; }` */
  readonly description: string;
  /** Writes `value` at `offset`; throws {@link InputError} when `value` does not fit. */
  write(buf: Buffer, offset: number, value: I): void;
  /** Reads the value at `offset`. */
  read(buf: Buffer, offset: number): O;
}

/** Any codec. */
// biome-ignore lint/suspicious/noExplicitAny: the codec's own types are recovered with In/Out
export type AnyCodec = Codec<any, any>;
/** The type a codec accepts. */
export type In<C> = C extends Codec<infer I, unknown> ? I : never;
/** The type a codec returns. */
export type Out<C> = C extends Codec<never, infer O> ? O : never;

/** Wraps a Uint8Array as a Buffer over the same memory (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Encodes `value` into a new Buffer of `codec.size` bytes. */
export function encode<I>(codec: Codec<I, unknown>, value: I): Buffer {
  const buf = Buffer.alloc(codec.size);
  codec.write(buf, 0, value);
  return buf;
}

/** Decodes `bytes`, which must be exactly `codec.size` long. */
export function decode<O>(codec: Codec<never, O>, bytes: Uint8Array): O {
  if (!(bytes instanceof Uint8Array)) {
    throw new InputError(
      `${codec.description}: expected a Buffer or Uint8Array to decode, got ${typeof bytes}`,
    );
  }
  checkLength(codec, bytes.byteLength);
  return codec.read(asBuffer(bytes), 0);
}

/** Throws InputError unless `length` is the codec's size. */
export function checkLength(codec: { size: number; description: string }, length: number): void {
  if (length !== codec.size) {
    throw new InputError(
      `${codec.description} is ${codec.size} bytes but ${length} bytes were given: pass exactly ${codec.size} bytes`,
    );
  }
}

/** A readable rendering of a value for error messages (bigint-safe, short). */
export function show(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string")
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (value === null || typeof value !== "object") return String(value);
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.byteLength})`;
  if (Array.isArray(value)) return `array(${value.length})`;
  return "object";
}
