/** Struct codec with C layout: each field at its natural alignment, the size padded to the largest. */
import { InputError } from "../sys/error.js";
import type { AnyCodec, Codec, In, Out } from "./codec.js";
import { show } from "./codec.js";

/** Field codecs by name, in declaration order. */
export type Fields = Record<string, AnyCodec>;
/** The object a struct codec accepts. */
export type StructIn<F extends Fields> = { [K in keyof F]: In<F[K]> };
/** The object a struct codec returns. */
export type StructOut<F extends Fields> = { [K in keyof F]: Out<F[K]> };

/** A struct codec, with the offset of each field. */
export interface StructCodec<F extends Fields> extends Codec<StructIn<F>, StructOut<F>> {
  readonly fields: Readonly<F>;
  /** byte offset of each field, as C's offsetof */
  readonly offsets: { readonly [K in keyof F]: number };
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `struct { ... }` from named field codecs, in order. Fields are placed as a C compiler places them
 * (each at a multiple of its alignment); the size is rounded up to the struct's alignment. Padding
 * is written as zeros, which the kernel's hash maps need for equal keys to be equal bytes.
 */
export function struct<const F extends Fields>(fields: F): StructCodec<F> {
  const names = Object.keys(fields);
  const codecs: AnyCodec[] = [];
  const offsetList: number[] = [];
  const offsets: Record<string, number> = {};
  let at = 0;
  let align = 1;
  for (const name of names) {
    if (!NAME.test(name)) throw new InputError(`struct field name ${show(name)} is not a C identifier`);
    const c = fields[name];
    if (!c || typeof c.write !== "function" || !Number.isInteger(c.size) || !Number.isInteger(c.align)) {
      throw new InputError(`struct field '${name}' is not a codec`);
    }
    at = Math.ceil(at / c.align) * c.align;
    offsets[name] = at;
    offsetList.push(at);
    codecs.push(c);
    at += c.size;
    align = Math.max(align, c.align);
  }
  const size = Math.ceil(at / align) * align;
  const description = `struct { ${names.map((n, i) => `${codecs[i]!.description} ${n};`).join(" ")} }`;
  const count = names.length;
  return Object.freeze({
    size,
    align,
    description,
    fields: Object.freeze({ ...fields }),
    offsets: Object.freeze(offsets) as { readonly [K in keyof F]: number },
    write(buf: Buffer, offset: number, value: StructIn<F>) {
      if (
        value === null ||
        typeof value !== "object" ||
        Array.isArray(value) ||
        value instanceof Uint8Array
      ) {
        throw new InputError(
          `${description} needs an object with fields ${names.join(", ")}, got ${show(value)}`,
        );
      }
      buf.fill(0, offset, offset + size);
      const v = value as Record<string, unknown>;
      for (let i = 0; i < count; i++) {
        const name = names[i]!;
        const fv = v[name];
        if (fv === undefined) throw new InputError(`${description}: field '${name}' is missing`);
        try {
          codecs[i]!.write(buf, offset + offsetList[i]!, fv);
        } catch (e) {
          if (e instanceof InputError) throw new InputError(`field '${name}': ${e.message}`, { cause: e });
          throw e;
        }
      }
    },
    read(buf: Buffer, offset: number): StructOut<F> {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < count; i++) out[names[i]!] = codecs[i]!.read(buf, offset + offsetList[i]!);
      return out as StructOut<F>;
    },
  });
}
