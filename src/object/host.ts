/**
 * What the running kernel says about itself for externs, read as libbpf reads it: its Kconfig
 * (/boot/config-$(uname -r), else /proc/config.gz), its version (LINUX_KERNEL_VERSION, with
 * Ubuntu's and Debian's real patch levels) and /proc/kallsyms for typeless `.ksyms`.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { release, version } from "node:os";
import type { Btf } from "../btf/decode.js";
import { vmlinuxBtf } from "../btf/kernel.js";
import {
  ExternError,
  essentialName,
  type KsymResolution,
  type ObjectExtern,
  parseKconfig,
  typesCompatible,
} from "./externs.js";

const require = createRequire(import.meta.url);

function tryRead(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** The running kernel's Kconfig, or undefined when neither file is there. */
export function systemKconfig(): { values: Map<string, string>; from: string } | undefined {
  for (const path of [`/boot/config-${release()}`, "/proc/config.gz"]) {
    const raw = tryRead(path);
    if (!raw) continue;
    const gz = raw[0] === 0x1f && raw[1] === 0x8b;
    // node:zlib only when the config is gzipped (its start-up is a few ms every load would pay)
    const text = (gz ? (require("node:zlib") as typeof import("node:zlib")).gunzipSync(raw) : raw).toString(
      "latin1",
    );
    return { values: parseKconfig(text), from: path };
  }
  return undefined;
}

const kv = (a: string, b: string, c: string) =>
  (Number(a) << 16) + (Number(b) << 8) + Math.min(Number(c), 255);

/** LINUX_KERNEL_VERSION as libbpf computes it (0 when the release cannot be read). */
export function kernelVersionCode(): number {
  const ubuntu = /^\S+ \S+ (\d+)\.(\d+)\.(\d+)/.exec(tryRead("/proc/version_signature")?.toString() ?? "");
  if (ubuntu) return kv(ubuntu[1] as string, ubuntu[2] as string, ubuntu[3] as string);
  const debian = /Debian (\d+)\.(\d+)\.(\d+)/.exec(version());
  if (debian) return kv(debian[1] as string, debian[2] as string, debian[3] as string);
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(release());
  return m ? kv(m[1] as string, m[2] as string, m[3] as string) : 0;
}

/**
 * The addresses /proc/kallsyms gives the named symbols (libbpf's rule: a name, or for data a
 * `name.llvm.N` one); a name with two different addresses is an {@link ExternError}.
 */
export function kallsymsAddresses(names: ReadonlySet<string>): Map<string, bigint> {
  const out = new Map<string, bigint>();
  if (names.size === 0) return out;
  const text = tryRead("/proc/kallsyms")?.toString("latin1") ?? "";
  for (const line of text.split("\n")) {
    const sp1 = line.indexOf(" ");
    const sp2 = line.indexOf(" ", sp1 + 1);
    if (sp1 < 0 || sp2 < 0) continue;
    const end = line.indexOf("\t", sp2 + 1);
    let name = end < 0 ? line.slice(sp2 + 1) : line.slice(sp2 + 1, end);
    const llvm = name.indexOf(".llvm.");
    if (llvm > 0 && line[sp1 + 1] === "d") name = name.slice(0, llvm);
    if (!names.has(name)) continue;
    const addr = BigInt(`0x${line.slice(0, sp1)}`);
    const had = out.get(name);
    if (had !== undefined && had !== addr)
      throw new ExternError(
        name,
        `/proc/kallsyms has it at two addresses (0x${had.toString(16)} and 0x${addr.toString(16)}): it is ambiguous`,
      );
    out.set(name, addr);
  }
  return out;
}

/**
 * Finds every `.ksyms` extern on this kernel: typed variables and kfuncs by name in vmlinux's BTF
 * (their types checked as libbpf checks them), typeless variables in /proc/kallsyms. A __weak one
 * that is absent (or a __weak kfunc of another prototype) resolves to undefined; a strong one is
 * an {@link ExternError}. Module BTF is not searched yet.
 */
export function resolveKsyms(
  externs: readonly ObjectExtern[],
  local: Btf | undefined,
): Map<string, KsymResolution> {
  const out = new Map<string, KsymResolution>();
  const ksyms = externs.filter((e) => e.kind === "ksym");
  if (ksyms.length === 0) return out;
  const typeless = new Set(ksyms.filter((e) => !e.func && e.typeId === 0).map((e) => e.name));
  const addresses = kallsymsAddresses(typeless);
  for (const e of ksyms) {
    if (typeless.has(e.name)) {
      const a = addresses.get(e.name);
      if (a === undefined && !e.weak)
        throw new ExternError(
          e.name,
          "a typeless __ksym, is not in /proc/kallsyms (this kernel may list only functions there: " +
            "without CONFIG_KALLSYMS_ALL data symbols are missing); declare it __weak to load 0 instead",
        );
      out.set(e.name, a === undefined ? undefined : { address: a });
      continue;
    }
    const vm = vmlinuxBtf();
    const lookup = e.func ? essentialName(e.name) : e.name;
    const id = vm.findId(lookup, e.func ? "func" : "var");
    if (id === undefined) {
      if (e.weak) {
        out.set(e.name, undefined);
        continue;
      }
      throw new ExternError(
        e.name,
        `the kernel's BTF has no ${e.func ? "function (kfunc)" : "variable"} '${lookup}' ` +
          "(rawbpf looks in vmlinux only, not in modules yet); declare it __weak if the program copes without it",
      );
    }
    const targetType = (vm.type(id) as { type: number }).type;
    if (local && !typesCompatible(local, e.typeId, vm, targetType)) {
      if (e.weak && e.func) {
        out.set(e.name, undefined);
        continue;
      }
      throw new ExternError(
        e.name,
        `its type in the object ([${e.typeId}] ${local.kindName(local.resolve(e.typeId))}) does not match ` +
          `the kernel's ([${targetType}] ${vm.kindName(vm.resolve(targetType))})`,
      );
    }
    out.set(e.name, { btfId: id });
  }
  return out;
}
