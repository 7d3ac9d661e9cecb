/**
 * Clang objects on the memory back end (`BpfObject.load({ backend: "memory" })`): the object's
 * maps become in-memory maps and its programs run in the interpreter (src/interp), with no bpf()
 * call on the way — no BTF load, no map or program descriptors. What differs from the kernel path
 * is kept here: `.ksyms` are resolved for the interpreter (kfuncs it emulates get ids it knows),
 * global data is read and written through the memory map's own value (no mmap), and programs are
 * loaded without BTF, func_info or attach targets, which only the kernel's verifier reads.
 */

import type { Btf } from "../btf/decode.js";
import { vmlinuxBtf } from "../btf/kernel.js";
import { emulatedKfuncs, MemoryMap, objectByFd, registerKfunc } from "../interp/index.js";
import { decode } from "../isa/decode.js";
import { BpfMap } from "../map/map.js";
import type { MapSpec } from "../map/spec.js";
import type { MapTypeName } from "../map/types.js";
import { Program } from "../program/program.js";
import { InputError } from "../sys/error.js";
import { ExternError, essentialName, type KsymResolution, type ObjectExtern } from "./externs.js";
import { kallsymsAddresses } from "./host.js";
import type { AnyMap } from "./object.js";
import type { ObjectProgram } from "./spec.js";

/** The kernel's BTF when it can be read (the memory back end does without it), else undefined. */
function readableVmlinux(): Btf | undefined {
  try {
    return vmlinuxBtf();
  } catch {
    return undefined;
  }
}

/** Ids for kfuncs when there is no vmlinux BTF to take them from (above any real BTF id). */
const SYNTHETIC_KFUNC_BASE = 0x7e000000;
const syntheticIds = new Map<string, number>();
function syntheticId(name: string): number {
  let id = syntheticIds.get(name);
  if (id === undefined) {
    id = SYNTHETIC_KFUNC_BASE + syntheticIds.size;
    syntheticIds.set(name, id);
  }
  return id;
}

/**
 * Resolves an object's `.ksyms` externs for the interpreter, reading files only (vmlinux BTF and
 * /proc/kallsyms when readable; no bpf() call):
 * - a kfunc the interpreter emulates gets its vmlinux BTF id (or an id of its own when vmlinux
 *   BTF cannot be read), registered with the interpreter under its name;
 * - a kfunc it does not emulate: a __weak one is absent (the program's fallback runs, as on a
 *   kernel without it); a strong one is registered by name only, so a call to it stops the run
 *   with a `HelperError` naming it;
 * - a typed variable resolves to its vmlinux BTF id (a __weak one absent from vmlinux loads 0);
 *   the interpreter cannot read kernel memory, so a dereference stops with a `MemoryAccessError`;
 * - a typeless variable takes its /proc/kallsyms address as on the kernel path.
 */
export function memoryKsyms(externs: readonly ObjectExtern[]): Map<string, KsymResolution> {
  const out = new Map<string, KsymResolution>();
  const ksyms = externs.filter((e) => e.kind === "ksym");
  if (ksyms.length === 0) return out;
  const emulated = new Set(emulatedKfuncs());
  const vm = readableVmlinux();
  const typeless = new Set(ksyms.filter((e) => !e.func && e.typeId === 0).map((e) => e.name));
  const addresses = kallsymsAddresses(typeless);
  for (const e of ksyms) {
    if (e.func) {
      const name = essentialName(e.name);
      if (!emulated.has(name) && e.weak) {
        out.set(e.name, undefined);
        continue;
      }
      const id = vm?.findId(name, "func") ?? syntheticId(name);
      registerKfunc(id, name);
      out.set(e.name, { btfId: id });
      continue;
    }
    if (typeless.has(e.name)) {
      const a = addresses.get(e.name);
      if (a === undefined && !e.weak)
        throw new ExternError(
          e.name,
          "a typeless __ksym, is not in /proc/kallsyms; declare it __weak to load 0 instead",
        );
      out.set(e.name, a === undefined ? undefined : { address: a });
      continue;
    }
    const id = vm === undefined ? syntheticId(e.name) : vm.findId(e.name, "var");
    if (id === undefined) {
      if (e.weak) {
        out.set(e.name, undefined);
        continue;
      }
      throw new ExternError(e.name, `the kernel's BTF has no variable '${e.name}'`);
    }
    out.set(e.name, { btfId: id });
  }
  return out;
}

/** Creates an object's map on the memory back end (pinning does not apply: there is no bpffs). */
export function createMemoryMap(spec: MapSpec<MapTypeName>): AnyMap {
  return BpfMap.create({ ...spec, backend: "memory" } as MapSpec<MapTypeName>) as AnyMap;
}

/**
 * The live bytes of a memory array map's first value (global data: .data, .bss, .rodata), as the
 * kernel path's shared mapping gives them: a write is seen by the program's next run.
 */
export function memoryValueView(map: AnyMap, size: number): DataView {
  const m = objectByFd(map.fd);
  const value = m instanceof MemoryMap ? m.lookup(new Uint8Array(4), 0) : undefined;
  if (value === undefined || value.byteLength < size)
    throw new InputError(`map ${map.name} is not a memory array map holding ${size} bytes of global data`);
  return new DataView(value.buffer, value.byteOffset, size);
}

/**
 * Loads one of an object's programs into the interpreter: its instructions as relocated and
 * linked (maps as memory descriptors), without BTF or attach target (only the kernel reads them).
 */
export function loadMemoryProgram(p: ObjectProgram, insns: Uint8Array): Program {
  return Program.load({
    type: p.def.programType,
    instructions: decode(insns),
    name: p.name.slice(0, 15),
    backend: "memory",
  });
}
