/** Raw bytes and fixed-size string codecs. */
import { InputError } from "../sys/error.js";
import type { Codec } from "./codec.js";
import { show } from "./codec.js";

function checkCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) {
    throw new InputError(`${what} size must be an integer from 0 to 4294967295, got ${show(n)}`);
  }
}

/** A codec of raw bytes: writes any Uint8Array of exactly `size` bytes, reads a fresh Buffer copy. */
export interface BytesCodec extends Codec<Uint8Array, Buffer> {
  readonly raw: true;
}

/** `size` raw bytes (`__u8 name[size]` as bytes): the codec of maps created without codecs. */
export function bytes(size: number): BytesCodec {
  checkCount(size, "bytes");
  const description = `${size} bytes`;
  return Object.freeze({
    size,
    align: 1,
    description,
    raw: true as const,
    write(buf: Buffer, offset: number, value: Uint8Array) {
      if (!(value instanceof Uint8Array)) {
        throw new InputError(`${description}: expected a Buffer or Uint8Array, got ${show(value)}`);
      }
      if (value.byteLength !== size) {
        throw new InputError(
          `expected exactly ${size} bytes but ${value.byteLength} were given (key and value sizes are fixed by the map)`,
        );
      }
      buf.set(value, offset);
    },
    read(buf: Buffer, offset: number): Buffer {
      return Buffer.from(buf.subarray(offset, offset + size));
    },
  });
}

/**
 * A fixed-size C string (`char name[size]`): UTF-8, NUL-padded. Writing accepts at most `size`
 * bytes (a string that fills the array exactly has no terminating NUL, as the kernel allows for
 * `comm`); a NUL inside the string is refused. Reading stops at the first NUL.
 */
export function cstring(size: number): Codec<string> {
  checkCount(size, "string");
  const description = `char[${size}]`;
  return Object.freeze({
    size,
    align: 1,
    description,
    write(buf: Buffer, offset: number, value: string) {
      if (typeof value !== "string")
        throw new InputError(`${description} must be a string, got ${show(value)}`);
      if (value.includes("\0"))
        throw new InputError(`${description}: the string ${show(value)} contains a NUL`);
      const n = Buffer.byteLength(value, "utf8");
      if (n > size) {
        throw new InputError(
          `${description}: the string ${show(value)} is ${n} bytes in UTF-8, more than ${size}`,
        );
      }
      buf.write(value, offset, n, "utf8");
      buf.fill(0, offset + n, offset + size);
    },
    read(buf: Buffer, offset: number): string {
      let end = buf.indexOf(0, offset);
      if (end < 0 || end > offset + size) end = offset + size;
      return buf.toString("utf8", offset, end);
    },
  });
}
