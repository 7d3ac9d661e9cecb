/**
 * Candidate search and matching (libbpf's relo_core.c, rewritten): candidates are the target types
 * of the same kind whose name equals the local root type's "essential" name (the name without a
 * `___flavour` suffix); a candidate matches when every named member of the access is found in it
 * (anonymous members searched through) with a compatible type and every array index is in bounds.
 */
import type { Btf } from "../decode.js";
import { Kind } from "../kinds.js";
import { CoreKind, isEnumvalKind, isFieldKind, isTypeKind } from "./kinds.js";
import {
  type AccessSpec,
  enumeratorName,
  isFlexArray,
  memberBitOffset,
  memberName,
  memberType,
  SPEC_MAX_LEN,
  skipMods,
} from "./spec.js";

/** Recursion limit of the compatibility checks (libbpf's). */
const MAX_LEVEL = 32;

/** Thrown inside matching for what libbpf reports as an error (-EINVAL, -E2BIG). */
export class MatchError extends Error {}

/**
 * Length of a name's essential part: up to the last `X___Y` separator (X and Y not underscores),
 * so `task_struct___old` → `task_struct`.
 */
export function essentialNameLength(name: string): number {
  const n = name.length;
  for (let i = n - 5; i >= 0; i--) {
    if (
      name.charCodeAt(i) !== 95 &&
      name.charCodeAt(i + 1) === 95 &&
      name.charCodeAt(i + 2) === 95 &&
      name.charCodeAt(i + 3) === 95 &&
      name.charCodeAt(i + 4) !== 95
    ) {
      return i + 1;
    }
  }
  return n;
}

/** A name without its flavour suffix. */
export function essentialName(name: string): string {
  const len = essentialNameLength(name);
  return len === name.length ? name : name.slice(0, len);
}

function isAnyEnum(k: number): boolean {
  return k === Kind.ENUM || k === Kind.ENUM64;
}

function isComposite(k: number): boolean {
  return k === Kind.STRUCT || k === Kind.UNION;
}

/** Same kind, or both enums (32 or 64-bit). */
function kindsCompat(a: number, b: number): boolean {
  return a === b || (isAnyEnum(a) && isAnyEnum(b));
}

/**
 * Types of one blob (its own ids) whose names carry a flavour, by essential name: built once a
 * blob has been asked for many names (a scan of the strings for `X___Y`, then of the types that
 * carry those strings).
 */
const flavoured = new WeakMap<Btf, Map<string, number[]>>();

function flavouredIndex(btf: Btf): Map<string, number[]> {
  let index = flavoured.get(btf);
  if (index) return index;
  index = new Map();
  const text = btf.stringText();
  const offsets = new Set<number>();
  for (const m of text.matchAll(/[^_\0]___[^_\0]/g)) {
    offsets.add(btf.stringsStart + text.lastIndexOf("\0", m.index) + 1);
  }
  if (offsets.size > 0) {
    const { words, starts } = btf.typeWords;
    for (let i = 0; i < starts.length; i++) {
      const off = words[starts[i]!]!;
      if (!offsets.has(off)) continue;
      const name = essentialName(btf.string(off));
      const list = index.get(name);
      if (list) list.push(btf.startId + i);
      else index.set(name, [btf.startId + i]);
    }
  }
  flavoured.set(btf, index);
  return index;
}

/** Candidate searches made in each blob: the first few walk its types, later ones use indexes. */
const scans = new WeakMap<Btf, number>();
const SCANS = 8;
const utf8 = new TextEncoder();

/**
 * Ids of blob `b`'s own types named `name` or `name___flavour`, of a kind compatible with `kind`,
 * in id order (as libbpf's bpf_core_add_cands, which walks every type comparing essential names).
 */
function namedIn(b: Btf, name: string, kind: number): number[] {
  const n = scans.get(b) ?? 0;
  if (n < SCANS && !name.includes("\0")) {
    scans.set(b, n + 1);
    return b.scanNamed(utf8.encode(name), (k) => kindsCompat(k, kind), true, name);
  }
  const exact = b.findIds(name).filter((id) => id >= b.startId);
  const more = flavouredIndex(b).get(name);
  const all = more ? [...exact, ...more].sort((x, y) => x - y) : exact;
  return all.filter((id) => kindsCompat(b.kindOf(id), kind));
}

/**
 * Target types that may stand for local type `localId`: same kind (enum and enum64 mix), same
 * essential name. For a split target (a module's BTF) the base is searched first, and the split
 * part only when the base has none, as the kernel and libbpf search vmlinux before modules.
 */
export function findCandidates(local: Btf, localId: number, target: Btf): number[] {
  const name = essentialName(local.nameOf(localId));
  const kind = local.kindOf(localId);
  const chain: Btf[] = [];
  for (let b: Btf | undefined = target; b; b = b.base) chain.unshift(b);
  for (const b of chain) {
    const out = namedIn(b, name, kind);
    if (out.length > 0) return out;
  }
  return [];
}

function intOffset(btf: Btf, id: number): number {
  return (btf.extraWord(id, 0) >>> 16) & 0xff;
}

function intSigned(btf: Btf, id: number): boolean {
  return ((btf.extraWord(id, 0) >>> 24) & 1) !== 0;
}

/** Whether names match by essential name; an anonymous name matches only an anonymous one. */
function namesMatch(local: Btf, localNameOff: number, target: Btf, targetNameOff: number): boolean {
  const l = local.string(localNameOff);
  const t = target.string(targetNameOff);
  if (t === "") return l === "";
  const len = essentialNameLength(t);
  return len === essentialNameLength(l) && l.slice(0, len) === t.slice(0, len);
}

/** libbpf's bpf_core_types_are_compat: for type-based relocations (exists, size, ids). */
export function typesCompat(
  local: Btf,
  localId: number,
  target: Btf,
  targetId: number,
  level = MAX_LEVEL,
): boolean {
  if (!kindsCompat(local.kindOf(localId), target.kindOf(targetId))) return false;
  let depth = 32;
  for (;;) {
    if (--depth < 0) throw new MatchError("types nest too deep");
    localId = skipMods(local, localId);
    targetId = skipMods(target, targetId);
    const lk = local.kindOf(localId);
    const tk = target.kindOf(targetId);
    if (!kindsCompat(lk, tk)) return false;
    switch (lk) {
      case 0:
      case Kind.STRUCT:
      case Kind.UNION:
      case Kind.ENUM:
      case Kind.ENUM64:
      case Kind.FWD:
        return true;
      case Kind.INT:
        return intOffset(local, localId) === 0 && intOffset(target, targetId) === 0;
      case Kind.PTR:
        localId = local.sizeOrTypeOf(localId);
        targetId = target.sizeOrTypeOf(targetId);
        continue;
      case Kind.ARRAY:
        localId = local.extraWord(localId, 0);
        targetId = target.extraWord(targetId, 0);
        continue;
      case Kind.FUNC_PROTO: {
        const n = local.vlenOf(localId);
        if (n !== target.vlenOf(targetId)) return false;
        for (let i = 0; i < n; i++) {
          if (level <= 0) throw new MatchError("function prototypes nest too deep");
          const lp = skipMods(local, local.extraWord(localId, 2 * i + 1));
          const tp = skipMods(target, target.extraWord(targetId, 2 * i + 1));
          if (!typesCompat(local, lp, target, tp, level - 1)) return false;
        }
        localId = skipMods(local, local.sizeOrTypeOf(localId));
        targetId = skipMods(target, target.sizeOrTypeOf(targetId));
        continue;
      }
      default:
        return false;
    }
  }
}

/** libbpf's bpf_core_fields_are_compat: a member's local and target types. */
function fieldsCompat(local: Btf, localId: number, target: Btf, targetId: number): boolean {
  for (let depth = 0; depth < 64; depth++) {
    localId = skipMods(local, localId);
    targetId = skipMods(target, targetId);
    const lk = local.kindOf(localId);
    const tk = target.kindOf(targetId);
    if (isComposite(lk) && isComposite(tk)) return true;
    if (!kindsCompat(lk, tk)) return false;
    switch (lk) {
      case Kind.PTR:
      case Kind.FLOAT:
        return true;
      case Kind.FWD:
      case Kind.ENUM:
      case Kind.ENUM64: {
        const ln = local.nameOf(localId);
        const tn = target.nameOf(targetId);
        const ll = essentialNameLength(ln);
        const tl = essentialNameLength(tn);
        return ll === 0 || tl === 0 || (ll === tl && ln.slice(0, ll) === tn.slice(0, ll));
      }
      case Kind.INT:
        return intOffset(local, localId) === 0 && intOffset(target, targetId) === 0;
      case Kind.ARRAY:
        localId = local.extraWord(localId, 0);
        targetId = target.extraWord(targetId, 0);
        continue;
      default:
        return false;
    }
  }
  throw new MatchError("array types nest too deep");
}

/** libbpf's bpf_core_types_match (bpf_core_type_matches): a stricter, structural match. */
export function typesMatch(
  local: Btf,
  localId: number,
  target: Btf,
  targetId: number,
  behindPtr = false,
  level = MAX_LEVEL,
): boolean {
  if (level <= 0) throw new MatchError("types nest too deep");
  let depth = 32;
  for (;;) {
    if (--depth < 0) throw new MatchError("types nest too deep");
    localId = skipMods(local, localId);
    targetId = skipMods(target, targetId);
    if (!namesMatch(local, local.nameOffsetOf(localId), target, target.nameOffsetOf(targetId))) return false;
    const lk = local.kindOf(localId);
    const tk = target.kindOf(targetId);
    switch (lk) {
      case 0:
        return tk === 0;
      case Kind.FWD: {
        const lf = local.kindFlagOf(localId);
        if (behindPtr) {
          if (lk === tk) return lf === target.kindFlagOf(targetId);
          return (tk === Kind.STRUCT && !lf) || (tk === Kind.UNION && lf);
        }
        return lk === tk && lf === target.kindFlagOf(targetId);
      }
      case Kind.ENUM:
      case Kind.ENUM64: {
        if (!isAnyEnum(tk)) return false;
        if (local.sizeOrTypeOf(localId) !== target.sizeOrTypeOf(targetId)) return false;
        const ln = local.vlenOf(localId);
        const tn = target.vlenOf(targetId);
        if (ln > tn) return false;
        const lw = lk === Kind.ENUM ? 2 : 3;
        const tw = tk === Kind.ENUM ? 2 : 3;
        for (let i = 0; i < ln; i++) {
          let found = false;
          for (let j = 0; j < tn && !found; j++) {
            found = namesMatch(
              local,
              local.extraWord(localId, lw * i),
              target,
              target.extraWord(targetId, tw * j),
            );
          }
          if (!found) return false;
        }
        return true;
      }
      case Kind.STRUCT:
      case Kind.UNION: {
        if (behindPtr) {
          if (lk === tk) return true;
          if (tk !== Kind.FWD) return false;
          return (lk === Kind.UNION) === target.kindFlagOf(targetId);
        }
        if (lk !== tk) return false;
        const ln = local.vlenOf(localId);
        const tn = target.vlenOf(targetId);
        if (ln > tn) return false;
        for (let i = 0; i < ln; i++) {
          let found = false;
          for (let j = 0; j < tn && !found; j++) {
            if (
              !namesMatch(local, local.extraWord(localId, 3 * i), target, target.extraWord(targetId, 3 * j))
            )
              continue;
            found = typesMatch(
              local,
              memberType(local, localId, i),
              target,
              memberType(target, targetId, j),
              behindPtr,
              level - 1,
            );
          }
          if (!found) return false;
        }
        return true;
      }
      case Kind.INT:
        return (
          lk === tk &&
          local.sizeOrTypeOf(localId) === target.sizeOrTypeOf(targetId) &&
          intSigned(local, localId) === intSigned(target, targetId)
        );
      case Kind.PTR:
        if (lk !== tk) return false;
        behindPtr = true;
        localId = local.sizeOrTypeOf(localId);
        targetId = target.sizeOrTypeOf(targetId);
        continue;
      case Kind.ARRAY:
        if (lk !== tk || local.extraWord(localId, 2) !== target.extraWord(targetId, 2)) return false;
        localId = local.extraWord(localId, 0);
        targetId = target.extraWord(targetId, 0);
        continue;
      case Kind.FUNC_PROTO: {
        if (lk !== tk) return false;
        const n = local.vlenOf(localId);
        if (n !== target.vlenOf(targetId)) return false;
        for (let i = 0; i < n; i++) {
          if (
            !typesMatch(
              local,
              local.extraWord(localId, 2 * i + 1),
              target,
              target.extraWord(targetId, 2 * i + 1),
              behindPtr,
              level - 1,
            )
          )
            return false;
        }
        localId = local.sizeOrTypeOf(localId);
        targetId = target.sizeOrTypeOf(targetId);
        continue;
      }
      default:
        return false;
    }
  }
}

/** Member names of target composites, read once per type (a struct is searched by every relocation into it). */
const memberNames = new WeakMap<Btf, Map<number, string[]>>();

function membersOf(btf: Btf, id: number): string[] {
  let byId = memberNames.get(btf);
  if (!byId) memberNames.set(btf, (byId = new Map()));
  let names = byId.get(id);
  if (!names) {
    const n = btf.vlenOf(id);
    names = new Array<string>(n);
    for (let i = 0; i < n; i++) names[i] = memberName(btf, id, i);
    byId.set(id, names);
  }
  return names;
}

/** Finds the local named member `acc` in target composite `targetId` (searching anonymous members). */
function matchMember(
  local: Btf,
  acc: { typeId: number; index: number },
  target: Btf,
  targetId: number,
  spec: AccessSpec,
): number | undefined {
  targetId = skipMods(target, targetId);
  if (!isComposite(target.kindOf(targetId))) return undefined;
  const localName = memberName(local, acc.typeId, acc.index);
  const names = membersOf(target, targetId);
  const n = names.length;
  for (let i = 0; i < n; i++) {
    const bit = memberBitOffset(target, targetId, i);
    if (spec.raw.length === SPEC_MAX_LEN) throw new MatchError(`access deeper than ${SPEC_MAX_LEN} levels`);
    spec.bitOffset += bit;
    spec.raw.push(i);
    const name = names[i]!;
    if (name === "") {
      const next = matchMember(local, acc, target, memberType(target, targetId, i), spec);
      if (next !== undefined) return next;
    } else if (name === localName) {
      const mt = memberType(target, targetId, i);
      if (fieldsCompat(local, memberType(local, acc.typeId, acc.index), target, mt)) {
        spec.accessors.push({ typeId: targetId, index: i, name });
        return mt;
      }
      return undefined;
    }
    spec.bitOffset -= bit;
    spec.raw.pop();
  }
  return undefined;
}

/**
 * Matches a local spec against target type `targetId` (libbpf's bpf_core_spec_match); the target
 * spec when it matches, undefined when not.
 * @throws MatchError where libbpf fails the relocation
 */
export function matchSpec(localSpec: AccessSpec, target: Btf, targetId: number): AccessSpec | undefined {
  const local = localSpec.btf;
  const spec: AccessSpec = {
    btf: target,
    rootId: targetId,
    kind: localSpec.kind,
    accessors: [],
    raw: [],
    bitOffset: 0,
  };
  if (isTypeKind(localSpec.kind)) {
    const ok =
      localSpec.kind === CoreKind.TYPE_MATCHES
        ? typesMatch(local, localSpec.rootId, target, targetId)
        : typesCompat(local, localSpec.rootId, target, targetId);
    return ok ? spec : undefined;
  }
  const first = localSpec.accessors[0]!;
  if (isEnumvalKind(localSpec.kind)) {
    const id = skipMods(target, targetId);
    if (!isAnyEnum(target.kindOf(id))) return undefined;
    const want = first.name ?? "";
    const len = essentialNameLength(want);
    const n = target.vlenOf(id);
    for (let i = 0; i < n; i++) {
      const name = enumeratorName(target, id, i);
      if (essentialNameLength(name) !== len || name.slice(0, len) !== want.slice(0, len)) continue;
      spec.accessors.push({ typeId: id, index: i, name });
      spec.raw.push(i);
      return spec;
    }
    return undefined;
  }
  if (!isFieldKind(localSpec.kind)) throw new MatchError(`unknown relocation kind ${localSpec.kind}`);
  let id = targetId;
  for (let i = 0; i < localSpec.accessors.length; i++) {
    const acc = localSpec.accessors[i]!;
    id = skipMods(target, id);
    if (acc.name !== undefined) {
      const next = matchMember(local, acc, target, id, spec);
      if (next === undefined) return undefined;
      id = next;
    } else {
      if (i > 0) {
        if (target.kindOf(id) !== Kind.ARRAY) return undefined;
        const flex = isFlexArray(target, spec.accessors[spec.accessors.length - 1], id);
        if (!flex && acc.index >= target.extraWord(id, 2)) return undefined;
        id = skipMods(target, target.extraWord(id, 0));
      }
      if (spec.raw.length === SPEC_MAX_LEN) throw new MatchError(`access deeper than ${SPEC_MAX_LEN} levels`);
      spec.accessors.push({ typeId: id, index: acc.index, name: undefined });
      spec.raw.push(acc.index);
      spec.bitOffset += acc.index * target.sizeOf(id) * 8;
    }
  }
  return spec;
}
