/** Fixed-length array codec (`T name[length]`). */
import { InputError } from "../sys/error.js";
import type { Codec, In, Out } from "./codec.js";
import { show } from "./codec.js";

/** An array codec; `arrayLength` tells it apart from codecs of single values. */
export interface ArrayCodec<C extends Codec<never, unknown>> extends Codec<In<C>[], Out<C>[]> {
  readonly element: C;
  readonly arrayLength: number;
}

/** `length` elements of `element`, back to back (C arrays have no padding between elements). */
export function array<C extends Codec<never, unknown>>(element: C, length: number): ArrayCodec<C> {
  if (!Number.isSafeInteger(length) || length < 0 || length * element.size > 0xffffffff) {
    throw new InputError(
      `array length must be a non-negative integer that keeps the size under 4 GiB, got ${show(length)}`,
    );
  }
  const stride = element.size;
  const el = element as unknown as Codec<In<C>, Out<C>>;
  const description = `${element.description}[${length}]`;
  return Object.freeze({
    size: stride * length,
    align: element.align,
    description,
    element,
    arrayLength: length,
    write(buf: Buffer, offset: number, value: In<C>[]) {
      if (!Array.isArray(value) || value.length !== length) {
        throw new InputError(
          `${description} needs an array of exactly ${length} elements, got ${show(value)}`,
        );
      }
      for (let i = 0; i < length; i++) el.write(buf, offset + i * stride, value[i] as In<C>);
    },
    read(buf: Buffer, offset: number): Out<C>[] {
      const out = new Array<Out<C>>(length);
      for (let i = 0; i < length; i++) out[i] = el.read(buf, offset + i * stride);
      return out;
    },
  });
}
