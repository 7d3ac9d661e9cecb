/**
 * Externs of a clang object, as libbpf reads them (pure): `.kconfig` ones (CONFIG_* and the
 * LINUX_* values libbpf makes up, laid out in one read-only `.kconfig` map) and `.ksyms` ones
 * (kernel variables and kfuncs, found by name in the kernel's BTF, or typeless ones by address).
 * Also the object BTF's extern entries turned into what the kernel accepts, the `.kconfig` bytes
 * filled from a Kconfig text, and the ld_imm64 / call instructions patched once resolved.
 */
import type { Btf } from "../btf/decode.js";
import { Kind } from "../btf/kinds.js";
import type { ElfFile } from "../elf/index.js";
import { InputError } from "../sys/error.js";

const SHN_UNDEF = 0;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STT_NOTYPE = 0;
const BTF_KIND_VAR = 14;
const BTF_VAR_GLOBAL_ALLOCATED = 1;
const BTF_FUNC_GLOBAL = 1;
/** libbpf's poison for a call of a __weak kfunc the kernel lacks: "invalid func unknown#2002000000+N" */
export const POISON_CALL_KFUNC_BASE = 2002000000;

/** What a `.kconfig` extern holds, by its C type (libbpf's kcfg types). */
export type KconfigKind = "bool" | "tristate" | "char" | "int" | "char_array";

/** An extern of the object (an undefined symbol declared `__kconfig` or `__ksym`). */
export interface ObjectExtern {
  readonly name: string;
  readonly kind: "kconfig" | "ksym";
  /** declared `__weak`: absent is fine (zero, or a poisoned call) */
  readonly weak: boolean;
  /** a kfunc (a FUNC in BTF) rather than a variable */
  readonly func: boolean;
  /** the VAR or FUNC in the object's BTF */
  readonly btfId: number;
  /** its type past modifiers and typedefs (a FUNC's prototype); 0 for a typeless (`void`) ksym */
  readonly typeId: number;
  /** `.kconfig`: where its value lives in the kconfig map */
  readonly kconfig: KconfigSlot | undefined;
}

/** Where and how a `.kconfig` value is kept. */
export interface KconfigSlot {
  readonly offset: number;
  readonly size: number;
  readonly align: number;
  readonly type: KconfigKind;
  readonly signed: boolean;
}

/** An instruction of a linked program that uses a `.ksyms` extern. */
export interface ExternReference {
  /** slot of the call or ld_imm64 */
  readonly insn: number;
  readonly extern: string;
  /** a call of a kfunc (otherwise an ld_imm64 taking an address) */
  readonly call: boolean;
}

/** An extern that is wrong, or that this kernel cannot give. */
export class ExternError extends InputError {
  /** the extern's name */
  readonly extern: string;
  constructor(name: string, why: string) {
    super(`extern '${name}': ${why}`);
    this.extern = name;
  }
}

/** The essential name: `foo___v2` → `foo` (libbpf's flavour convention). */
export function essentialName(name: string): string {
  const at = name.indexOf("___");
  return at > 0 ? name.slice(0, at) : name;
}

function kconfigKind(btf: Btf, id: number): { type: KconfigKind; signed: boolean } | undefined {
  const t = btf.type(btf.resolve(id));
  switch (t.kind) {
    case "int":
      if (t.bool) return t.size === 1 ? { type: "bool", signed: false } : undefined;
      if (t.size === 1) return { type: "char", signed: t.signed };
      if (![2, 4, 8].includes(t.size)) return undefined;
      return { type: "int", signed: t.signed };
    case "enum":
    case "enum64":
      return t.name === "libbpf_tristate" && (t.kind === "enum64" || t.size === 4)
        ? { type: "tristate", signed: false }
        : undefined;
    case "array":
      return t.length > 0 && kconfigKind(btf, t.type)?.type === "char"
        ? { type: "char_array", signed: false }
        : undefined;
    default:
      return undefined;
  }
}

/**
 * The object's externs in libbpf's order (`.kconfig` first, by alignment down, size up, name; then
 * `.ksyms` by name), so a poisoned call's number is libbpf's; `.kconfig` ones with their offsets.
 */
export function collectExterns(
  elf: ElfFile,
  btf: Btf | undefined,
  fail: (why: string) => never,
): ObjectExtern[] {
  const syms = elf.symbols.filter(
    (s) =>
      s.index > 0 &&
      s.section === SHN_UNDEF &&
      s.name !== "" &&
      s.type === STT_NOTYPE &&
      (s.bind === STB_GLOBAL || s.bind === STB_WEAK),
  );
  if (syms.length === 0) return [];
  if (!btf)
    fail(`it has externs (${syms.map((s) => s.name).join(", ")}) but no .BTF to type them (compile with -g)`);
  const b = btf as Btf;
  // where each extern VAR/FUNC is declared: the DATASEC that lists it
  const secOf = new Map<number, string>();
  for (let id = 1; id < b.endId; id++) {
    if (b.kindOf(id) !== Kind.DATASEC) continue;
    const ds = b.type(id);
    if (ds.kind === "datasec") for (const v of ds.vars) secOf.set(v.type, ds.name);
  }
  const out: ObjectExtern[] = [];
  for (const s of syms) {
    const id = [...b.findIds(s.name, "var"), ...b.findIds(s.name, "func")].find((i) => {
      const t = b.type(i);
      return (t.kind === "var" || t.kind === "func") && t.linkage === "extern";
    });
    if (id === undefined)
      fail(`its BTF has no extern variable or function '${s.name}' for the undefined symbol`);
    const t = b.type(id as number);
    const func = t.kind === "func";
    const sec = secOf.get(id as number);
    const declared = (t as { type: number }).type;
    const typeId = declared === 0 ? 0 : b.resolve(declared);
    const weak = s.bind === STB_WEAK;
    if (sec === ".kconfig") {
      if (func) fail(`extern function '${s.name}' is in .kconfig, where only variables can be`);
      const kind = kconfigKind(b, declared);
      if (!kind)
        fail(
          `.kconfig extern '${s.name}' has a type libbpf's convention cannot fill ` +
            "(bool, char, 1/2/4/8-byte integers, enum libbpf_tristate or char arrays)",
        );
      const k = kind as { type: KconfigKind; signed: boolean };
      out.push({
        name: s.name,
        kind: "kconfig",
        weak,
        func,
        btfId: id as number,
        typeId,
        kconfig: { offset: 0, size: b.sizeOf(declared), align: b.alignOf(declared), ...k },
      });
    } else if (sec === ".ksyms") {
      out.push({ name: s.name, kind: "ksym", weak, func, btfId: id as number, typeId, kconfig: undefined });
    } else {
      fail(`extern '${s.name}' is in section '${sec ?? "(none)"}', neither .kconfig nor .ksyms`);
    }
  }
  out.sort((x, y) => {
    if (x.kind !== y.kind) return x.kind === "kconfig" ? -1 : 1;
    if (x.kconfig && y.kconfig) {
      if (x.kconfig.align !== y.kconfig.align) return y.kconfig.align - x.kconfig.align;
      if (x.kconfig.size !== y.kconfig.size) return x.kconfig.size - y.kconfig.size;
    }
    return x.name < y.name ? -1 : x.name > y.name ? 1 : 0;
  });
  let off = 0;
  return out.map((e) => {
    if (!e.kconfig) return e;
    const offset = Math.ceil(off / e.kconfig.align) * e.kconfig.align;
    off = offset + e.kconfig.size;
    return { ...e, kconfig: { ...e.kconfig, offset } };
  });
}

/** Bytes the `.kconfig` map's value takes (0: no kconfig externs). */
export function kconfigSize(externs: readonly ObjectExtern[]): number {
  let end = 0;
  for (const e of externs) if (e.kconfig) end = Math.max(end, e.kconfig.offset + e.kconfig.size);
  return end;
}

/**
 * The object's BTF with its extern entries made loadable, as libbpf does: `.kconfig` VARs
 * allocated at their map offsets; `.ksyms` VARs allocated as 4-byte ints; kfunc FUNCs made global
 * (unnamed parameters named) and replaced in the DATASEC by one added `dummy_ksym` VAR.
 */
export function fixupExternBtf(
  bytes: Uint8Array,
  btf: Btf,
  externs: readonly ObjectExtern[],
  fail: (why: string) => never,
): Uint8Array {
  if (externs.length === 0) return bytes;
  const v0 = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = v0.getUint32(4, true);
  const typeOff = v0.getUint32(8, true);
  const typeLen = v0.getUint32(12, true);
  const strOff = v0.getUint32(16, true);
  const strLen = v0.getUint32(20, true);
  const ksymsSec = btf.findId(".ksyms", "datasec");
  const needsDummy =
    ksymsSec !== undefined &&
    (btf.type(ksymsSec) as { vars: readonly { type: number }[] }).vars.some(
      (x) => btf.kindName(x.type) === "func",
    );
  let out = new Uint8Array(bytes);
  let dummyId = 0;
  let dummyName = 0;
  if (needsDummy) {
    if (typeOff !== 0 || strOff !== typeLen)
      fail("its .BTF does not keep its strings right after its types, so an extern entry cannot be added");
    const name = new TextEncoder().encode("dummy_ksym\0");
    const int32 = findInt32(btf);
    if (int32 === 0) fail("its .BTF has no 32-bit integer type for the kfuncs' placeholder variable");
    out = new Uint8Array(bytes.length + 16 + name.length);
    out.set(bytes.subarray(0, hdrLen + typeLen), 0);
    const at = hdrLen + typeLen;
    out.set(bytes.subarray(hdrLen + strOff, hdrLen + strOff + strLen), at + 16);
    out.set(name, at + 16 + strLen);
    dummyName = strLen;
    const w = new DataView(out.buffer);
    w.setUint32(at, dummyName, true);
    w.setUint32(at + 4, BTF_KIND_VAR << 24, true);
    w.setUint32(at + 8, int32, true);
    w.setUint32(at + 12, BTF_VAR_GLOBAL_ALLOCATED, true);
    w.setUint32(12, typeLen + 16, true);
    w.setUint32(16, typeLen + 16, true);
    w.setUint32(20, strLen + name.length, true);
    dummyId = btf.endId;
  }
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const { starts } = btf.typeWords;
  const typeAt = (id: number) => hdrLen + typeOff + (starts[id - btf.startId] as number) * 4;
  const byName = new Map(externs.map((e) => [e.name, e]));
  const int32 = findInt32(btf);
  const kconfigSec = btf.findId(".kconfig", "datasec");
  if (kconfigSec !== undefined) {
    const at = typeAt(kconfigSec);
    v.setUint32(at + 8, kconfigSize(externs), true);
    for (let i = 0; i < btf.vlenOf(kconfigSec); i++) {
      const info = at + 12 + i * 12;
      const varId = v.getUint32(info, true);
      const e = byName.get(btf.nameOf(varId));
      if (!e?.kconfig) fail(`its .kconfig DATASEC lists '${btf.nameOf(varId)}', which is no .kconfig extern`);
      v.setUint32(typeAt(varId) + 12, BTF_VAR_GLOBAL_ALLOCATED, true);
      v.setUint32(info + 4, (e as ObjectExtern).kconfig?.offset ?? 0, true);
    }
  }
  if (ksymsSec !== undefined) {
    const at = typeAt(ksymsSec);
    const n = btf.vlenOf(ksymsSec);
    for (let i = 0; i < n; i++) {
      const info = at + 12 + i * 12;
      const id = v.getUint32(info, true);
      if (btf.kindName(id) === "func") {
        const f = typeAt(id);
        v.setUint32(f + 4, (v.getUint32(f + 4, true) & ~0xffff) | BTF_FUNC_GLOBAL, true);
        const proto = v.getUint32(f + 8, true);
        const p = typeAt(proto);
        for (let j = 0; j < btf.vlenOf(proto); j++) {
          const param = p + 12 + j * 8;
          if (v.getUint32(param, true) === 0 && v.getUint32(param + 4, true) !== 0)
            v.setUint32(param, dummyName, true);
        }
        v.setUint32(info, dummyId, true);
      } else {
        const t = typeAt(id);
        v.setUint32(t + 8, int32, true);
        v.setUint32(t + 12, BTF_VAR_GLOBAL_ALLOCATED, true);
      }
      v.setUint32(info + 4, i * 4, true);
      v.setUint32(info + 8, 4, true);
    }
    v.setUint32(at + 8, n * 4, true);
  }
  return out;
}

function findInt32(btf: Btf): number {
  for (let id = btf.startId; id < btf.endId; id++) {
    if (btf.kindOf(id) !== Kind.INT) continue;
    const t = btf.type(id);
    if (t.kind === "int" && t.bits === 32) return id;
  }
  return 0;
}

/** A Kconfig text (`CONFIG_X=y` lines, as /proc/config.gz holds) as name → raw value. */
export function parseKconfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("CONFIG_")) continue;
    const eq = line.indexOf("=");
    if (eq < 0 || eq === line.length - 1) continue;
    out.set(line.slice(0, eq), line.slice(eq + 1).trimEnd());
  }
  return out;
}

/** Where the `.kconfig` values come from: given lines first, then the system's Kconfig. */
export interface KconfigSources {
  /** extra Kconfig lines given by the caller; they win over the system's */
  readonly extra?: ReadonlyMap<string, string>;
  /** the running kernel's Kconfig, read when first needed (undefined: none found) */
  readonly system: () => { readonly values: ReadonlyMap<string, string>; readonly from: string } | undefined;
  /** LINUX_KERNEL_VERSION as libbpf computes it */
  readonly kernelVersion: () => number;
}

/** The `.kconfig` map's value: every kconfig extern filled as libbpf fills it, or a typed error. */
export function fillKconfig(externs: readonly ObjectExtern[], sources: KconfigSources): Uint8Array {
  const data = new Uint8Array(kconfigSize(externs));
  const v = new DataView(data.buffer);
  let system: ReturnType<KconfigSources["system"]> | null = null;
  for (const e of externs) {
    const k = e.kconfig;
    if (!k) continue;
    const setNumber = (n: bigint, shown: string) => {
      if (k.type !== "int" && k.type !== "char" && k.type !== "bool")
        throw new ExternError(e.name, `the value ${shown} is a number, but the extern is a ${k.type}`);
      if (k.type === "bool" && n > 1n) throw new ExternError(e.name, `${shown} is not a boolean (0 or 1)`);
      const bits = BigInt(k.size * 8);
      const fits = k.signed
        ? BigInt.asIntN(64, n) >= -(1n << (bits - 1n)) && BigInt.asIntN(64, n) < 1n << (bits - 1n)
        : n >= 0n && n < 1n << bits;
      if (k.size < 8 && !fits)
        throw new ExternError(e.name, `${shown} does not fit its ${k.size} byte${k.size > 1 ? "s" : ""}`);
      const u = BigInt.asUintN(64, n);
      for (let i = 0; i < k.size; i++) v.setUint8(k.offset + i, Number((u >> BigInt(8 * i)) & 0xffn));
    };
    if (e.name.startsWith("CONFIG_")) {
      let raw = sources.extra?.get(e.name);
      if (raw === undefined) {
        if (system === null) system = sources.system();
        raw = system?.values.get(e.name);
      }
      if (raw === undefined) {
        if (e.weak) continue;
        throw new ExternError(
          e.name,
          system
            ? `the kernel's config (${system.from}) does not set it, and it is not __weak ` +
                "(declare it `extern ... __kconfig __weak;` to default to zero, or give it in the kconfig option)"
            : "no kernel config was found (/boot/config-$(uname -r), /proc/config.gz) and the kconfig option " +
                "does not set it: give it there, or declare it __weak to default to zero",
        );
      }
      const c = raw[0];
      if ((c === "y" || c === "n" || c === "m") && raw.length === 1) {
        if (k.type === "bool") {
          if (c === "m")
            throw new ExternError(e.name, "the value 'm' (module) needs a tristate or char extern");
          v.setUint8(k.offset, c === "y" ? 1 : 0);
        } else if (k.type === "tristate") v.setUint32(k.offset, c === "y" ? 1 : c === "m" ? 2 : 0, true);
        else if (k.type === "char") v.setUint8(k.offset, c.charCodeAt(0));
        else
          throw new ExternError(
            e.name,
            `the value '${c}' needs a bool, tristate or char extern, not ${k.type}`,
          );
      } else if (c === '"') {
        if (k.type !== "char_array")
          throw new ExternError(e.name, `the value ${raw} is a string, but the extern is a ${k.type}`);
        if (raw.length < 2 || !raw.endsWith('"'))
          throw new ExternError(e.name, `the string ${raw} is not quoted`);
        const bytes = new TextEncoder().encode(raw.slice(1, -1)).subarray(0, k.size - 1);
        data.set(bytes, k.offset);
        data.fill(0, k.offset + bytes.length, k.offset + k.size);
      } else {
        let n: bigint;
        try {
          n = BigInt(raw);
        } catch {
          throw new ExternError(e.name, `the value '${raw}' is not an integer`);
        }
        if (k.type !== "int" && k.type !== "char")
          throw new ExternError(e.name, `the value ${raw} is an integer, but the extern is a ${k.type}`);
        setNumber(n, raw);
      }
    } else if (e.name === "LINUX_KERNEL_VERSION") {
      setNumber(BigInt(sources.kernelVersion()), "the kernel version");
    } else if (e.name === "LINUX_HAS_BPF_COOKIE") {
      // libbpf's own: whether bpf_get_attach_cookie works (Linux 5.15 and later); usdt.bpf.h reads it
      setNumber(1n, "BPF cookies (Linux 5.15+)");
    } else if (!e.name.startsWith("LINUX_") || !e.weak) {
      throw new ExternError(
        e.name,
        "is not a .kconfig name rawbpf knows (CONFIG_* options, LINUX_KERNEL_VERSION; other LINUX_* ones only __weak, as zero)",
      );
    }
  }
  return data;
}

/** How one `.ksyms` extern was resolved on this kernel. */
export type KsymResolution =
  | { readonly btfId: number; readonly address?: undefined }
  | { readonly address: bigint; readonly btfId?: undefined }
  | undefined;

const BPF_PSEUDO_BTF_ID = 3;
const BPF_PSEUDO_KFUNC_CALL = 2;

/**
 * Patches a program's `.ksyms` uses in place: a resolved kfunc call gets BPF_PSEUDO_KFUNC_CALL
 * and the kfunc's BTF id; an ld_imm64 gets BPF_PSEUDO_BTF_ID and the id, or a typeless
 * symbol's address; an unresolved (weak) one loads 0, and its call becomes libbpf's poisoned call.
 */
export function patchKsyms(
  insns: Uint8Array,
  refs: readonly ExternReference[],
  externs: readonly ObjectExtern[],
  resolved: ReadonlyMap<string, KsymResolution>,
): void {
  const v = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  for (const r of refs) {
    const at = r.insn * 8;
    const res = resolved.get(r.extern);
    const regs = insns[at + 1] as number;
    if (r.call) {
      if (res?.btfId !== undefined) {
        insns[at + 1] = (regs & 0x0f) | (BPF_PSEUDO_KFUNC_CALL << 4);
        v.setInt16(at + 2, 0, true);
        v.setInt32(at + 4, res.btfId, true);
      } else {
        insns[at] = 0x85;
        insns[at + 1] = 0;
        v.setInt16(at + 2, 0, true);
        v.setInt32(at + 4, POISON_CALL_KFUNC_BASE + externs.findIndex((e) => e.name === r.extern), true);
      }
    } else if (res?.btfId !== undefined) {
      insns[at + 1] = (regs & 0x0f) | (BPF_PSEUDO_BTF_ID << 4);
      v.setInt32(at + 4, res.btfId, true);
      v.setInt32(at + 12, 0, true);
    } else {
      const a = res?.address ?? 0n;
      insns[at + 1] = regs & 0x0f;
      v.setUint32(at + 4, Number(a & 0xffffffffn), true);
      v.setUint32(at + 12, Number((a >> 32n) & 0xffffffffn), true);
    }
  }
}

/**
 * libbpf's bpf_core_types_are_compat: the same kinds through modifiers and typedefs, pointers and
 * arrays followed, prototypes with as many parameters, each compatible; structs, unions, enums
 * and ints compatible by kind alone.
 */
export function typesCompatible(
  local: Btf,
  localId: number,
  target: Btf,
  targetId: number,
  depth = 0,
): boolean {
  if (depth > 32) return false;
  const a = local.type(local.resolve(localId));
  const b = target.type(target.resolve(targetId));
  const kind = (k: string) => (k === "enum64" ? "enum" : k === "fwd" ? "struct" : k);
  if (kind(a.kind) !== kind(b.kind)) return false;
  switch (a.kind) {
    case "ptr":
      return typesCompatible(local, a.type, target, (b as { type: number }).type, depth + 1);
    case "array":
      return typesCompatible(local, a.type, target, (b as { type: number }).type, depth + 1);
    case "func_proto": {
      const bp = b as typeof a;
      if (a.params.length !== bp.params.length) return false;
      if (!typesCompatible(local, a.returnType, target, bp.returnType, depth + 1)) return false;
      return a.params.every((p, i) =>
        typesCompatible(local, p.type, target, (bp.params[i] as { type: number }).type, depth + 1),
      );
    }
    default:
      return true;
  }
}

/** Sorts every DATASEC's entries by offset, in place, as the kernel wants them (libbpf does the same). */
export function sortDatasecs(bytes: Uint8Array, btf: Btf): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const base = v.getUint32(4, true) + v.getUint32(8, true);
  const { starts } = btf.typeWords;
  for (let id = btf.startId; id < btf.endId; id++) {
    if (btf.kindOf(id) !== Kind.DATASEC) continue;
    const at = base + (starts[id - btf.startId] as number) * 4 + 12;
    const n = btf.vlenOf(id);
    const entries = Array.from({ length: n }, (_, i) => bytes.slice(at + i * 12, at + i * 12 + 12));
    entries.sort(
      (a, b) => new DataView(a.buffer).getUint32(4, true) - new DataView(b.buffer).getUint32(4, true),
    );
    entries.forEach((e, i) => {
      bytes.set(e, at + i * 12);
    });
  }
}
