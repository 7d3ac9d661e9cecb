/** Per-CPU values: one value per possible CPU, each padded to 8 bytes, as the kernel copies them. */
import { readFileSync } from "node:fs";
import type { Codec, In, Out } from "../codec/codec.js";
import { show } from "../codec/codec.js";
import { InputError } from "../sys/error.js";

/** Parses a CPU list such as `0-3,5,7-8` into the number of CPUs it names. */
export function parseCpuList(text: string): number {
  let count = 0;
  for (const part of text.trim().split(",")) {
    if (part === "") continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new InputError(`cannot read the CPU list ${JSON.stringify(text)}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new InputError(`cannot read the CPU list ${JSON.stringify(text)}`);
    count += hi - lo + 1;
  }
  if (count === 0) throw new InputError(`the CPU list ${JSON.stringify(text)} names no CPU`);
  return count;
}

let possible: number | undefined;

/** The number of possible CPUs (/sys/devices/system/cpu/possible), read once. */
export function possibleCpus(): number {
  if (possible === undefined)
    possible = parseCpuList(readFileSync("/sys/devices/system/cpu/possible", "latin1"));
  return possible;
}

/** Rounds a per-CPU value size up to the 8-byte slot the kernel gives each CPU. */
export function perCpuSlot(size: number): number {
  return Math.ceil(size / 8) * 8;
}

/** The value codec of a per-CPU map: reads one value per CPU; writes an array or one value for all. */
export interface PerCpuCodec<C extends Codec<never, unknown>> extends Codec<In<C> | In<C>[], Out<C>[]> {
  readonly element: C;
  readonly cpus: number;
  /** bytes per CPU (the element size rounded up to 8) */
  readonly slot: number;
}

/** Wraps `element` for a per-CPU map on `cpus` possible CPUs. */
export function perCpu<C extends Codec<never, unknown>>(
  element: C,
  cpus: number = possibleCpus(),
): PerCpuCodec<C> {
  const slot = perCpuSlot(element.size);
  const el = element as unknown as Codec<In<C>, Out<C>>;
  // an array element takes arrays itself: then "one value per CPU" is an array of arrays
  const takesArrays = "arrayLength" in element;
  const description = `${element.description} per CPU (${cpus} CPUs)`;
  return Object.freeze({
    size: slot * cpus,
    align: 8,
    description,
    element,
    cpus,
    slot,
    write(buf: Buffer, offset: number, value: In<C> | In<C>[]) {
      buf.fill(0, offset, offset + slot * cpus);
      if (Array.isArray(value) && (!takesArrays || Array.isArray(value[0]))) {
        if (value.length !== cpus) {
          throw new InputError(
            `a per-CPU value needs one value for each of the ${cpus} possible CPUs, got ${show(value)} (or pass one value for all)`,
          );
        }
        for (let i = 0; i < cpus; i++) el.write(buf, offset + i * slot, value[i] as In<C>);
        return;
      }
      for (let i = 0; i < cpus; i++) el.write(buf, offset + i * slot, value as In<C>);
    },
    read(buf: Buffer, offset: number): Out<C>[] {
      const out = new Array<Out<C>>(cpus);
      for (let i = 0; i < cpus; i++) out[i] = el.read(buf, offset + i * slot);
      return out;
    },
  });
}
