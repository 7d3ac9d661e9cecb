/** Network interfaces by name or index, checked against this network namespace. */
import { readdirSync, readFileSync } from "node:fs";
import { InputError } from "../sys/error.js";
import { interfaceIndex } from "../sys/link.js";
import { UnknownInterfaceError } from "./errors.js";

/** A network interface: its name (`"lo"`, `"eth0"`) or its index. */
export type Interface = string | number;

/** The interfaces of this network namespace, as /sys/class/net lists them (name and index). */
function interfaces(): { name: string; index: number }[] {
  let names: string[];
  try {
    names = readdirSync("/sys/class/net");
  } catch {
    return [];
  }
  const out: { name: string; index: number }[] = [];
  for (const name of names) {
    try {
      out.push({ name, index: Number(readFileSync(`/sys/class/net/${name}/ifindex`, "latin1").trim()) });
    } catch {
      // a device that went away while we read
    }
  }
  return out.sort((a, b) => a.index - b.index);
}

function known(): string[] {
  return interfaces().map((i) => `${i.name} (${i.index})`);
}

/** The index of an interface given by name or index; an unknown one throws {@link UnknownInterfaceError}. */
export function resolveInterface(iface: Interface): number {
  if (typeof iface === "number") {
    if (!Number.isInteger(iface) || iface < 1 || iface > 0x7fffffff) {
      throw new InputError(`an interface index must be a positive integer, got ${iface}`);
    }
    const list = interfaces();
    if (list.length > 0 && !list.some((i) => i.index === iface))
      throw new UnknownInterfaceError(iface, known());
    return iface;
  }
  if (typeof iface !== "string" || iface.length === 0 || iface.length > 15 || iface.includes("\0")) {
    throw new InputError(
      `an interface must be a name of at most 15 characters ('lo', 'eth0') or an index, got ${JSON.stringify(iface)}`,
    );
  }
  const index = interfaceIndex(iface);
  if (index === 0) throw new UnknownInterfaceError(iface, known());
  return index;
}
