/**
 * The value of a configuration map (`config({...})`) from its fields' values: what a loader
 * stores before freezing the map. Apart from the compiler, so loading a compiled module does not
 * load the compiler (and its parser).
 */
import { InputError } from "../sys/error.js";
import type { CompiledMap } from "./compile.js";

/**
 * Encodes the value of a configuration map (`config({...})`) from the values of its fields;
 * fields left out are 0. Store it under key 0 and freeze the map before loading the programs.
 */
export function configValue(
  map: CompiledMap,
  values: Readonly<Record<string, number | bigint | boolean>>,
): Uint8Array {
  const fields = map.config;
  if (fields === undefined) throw new InputError(`map '${map.name}' is not a config({...}) map`);
  const out = new Uint8Array(map.valueSize);
  const view = new DataView(out.buffer);
  for (const [name, value] of Object.entries(values)) {
    const f = fields.find((x) => x.name === name);
    if (f === undefined)
      throw new InputError(
        `config '${map.name}' has no field '${name}' (fields: ${fields.map((x) => x.name).join(", ")})`,
      );
    const v = typeof value === "boolean" ? (value ? 1n : 0n) : BigInt(value);
    const bits = BigInt(f.size * 8);
    const min = f.signed ? -(1n << (bits - 1n)) : 0n;
    const max = f.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
    if (v < min || v > max)
      throw new InputError(
        `config field '${name}' is ${f.size * 8}-bit ${f.signed ? "signed" : "unsigned"}: ${v} does not fit`,
      );
    const u = BigInt.asUintN(f.size * 8, v);
    if (f.size === 8) view.setBigUint64(f.offset, u, true);
    else if (f.size === 4) view.setUint32(f.offset, Number(u), true);
    else if (f.size === 2) view.setUint16(f.offset, Number(u), true);
    else view.setUint8(f.offset, Number(u));
  }
  return out;
}
