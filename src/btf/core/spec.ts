/**
 * Access specs: what a relocation's access string means in terms of types. A field access string
 * "0:1:2:3" is a list of indexes: the first indexes the root type as an array (`&p[0]`), the next
 * ones walk struct/union members and array elements. The "high-level" accessors keep only what
 * can be matched by meaning: the root index, named members, array indexes (anonymous members
 * are passed through).
 */
import type { Btf } from "../decode.js";
import { Kind } from "../kinds.js";
import { CoreRelocationError, type CoreWhere } from "./errors.js";
import type { CoreRelocation } from "./ext.js";
import { isEnumvalKind, isFieldKind, isTypeKind } from "./kinds.js";

/** The most indexes an access string may hold (BPF_CORE_SPEC_MAX_LEN). */
export const SPEC_MAX_LEN = 64;

/** One high-level step: a named member (`name`), or an array index (`name` undefined). */
export interface Accessor {
  /** the struct/union (member) or array element type (index) this step is in */
  readonly typeId: number;
  readonly index: number;
  readonly name: string | undefined;
}

/** A relocation's access resolved against one BTF. */
export interface AccessSpec {
  readonly btf: Btf;
  readonly rootId: number;
  readonly kind: number;
  readonly accessors: Accessor[];
  /** the low-level indexes (the access string, for the target: the path found) */
  readonly raw: number[];
  bitOffset: number;
}

/** @internal Skips typedefs and modifiers (const, volatile, restrict, type tags). */
export function skipMods(btf: Btf, id: number): number {
  return btf.resolve(id);
}

/** @internal Bit offset of member `i` of struct/union `id`. */
export function memberBitOffset(btf: Btf, id: number, i: number): number {
  const o = btf.extraWord(id, 3 * i + 2);
  return btf.kindFlagOf(id) ? o & 0xffffff : o;
}

/** @internal Bitfield size of member `i` of struct/union `id` (0 when not a bitfield). */
export function memberBitfieldSize(btf: Btf, id: number, i: number): number {
  return btf.kindFlagOf(id) ? btf.extraWord(id, 3 * i + 2) >>> 24 : 0;
}

/** @internal Name of member `i`. */
export function memberName(btf: Btf, id: number, i: number): string {
  return btf.string(btf.extraWord(id, 3 * i));
}

/** @internal Type of member `i`. */
export function memberType(btf: Btf, id: number, i: number): number {
  return btf.extraWord(id, 3 * i + 1);
}

/** @internal Name of enumerator `i` of an enum or enum64. */
export function enumeratorName(btf: Btf, id: number, i: number): string {
  const k = btf.kindOf(id);
  return btf.string(btf.extraWord(id, k === Kind.ENUM ? 2 * i : 3 * i));
}

/**
 * @internal Value of enumerator `i` as libbpf computes it: a 32-bit value is sign-extended to 64
 * bits (its field is `__s32`), a 64-bit one is taken as is.
 */
export function enumeratorValue(btf: Btf, id: number, i: number): bigint {
  if (btf.kindOf(id) === Kind.ENUM) return BigInt.asUintN(64, BigInt(btf.extraWord(id, 2 * i + 1) | 0));
  return (BigInt(btf.extraWord(id, 3 * i + 2)) << 32n) | BigInt(btf.extraWord(id, 3 * i + 1));
}

/** @internal Whether an array type is a flexible array: no elements, last member of its struct. */
export function isFlexArray(btf: Btf, previous: Accessor | undefined, arrayId: number): boolean {
  if (!previous || previous.name === undefined || btf.extraWord(arrayId, 2) > 0) return false;
  return previous.index === btf.vlenOf(previous.typeId) - 1;
}

function isComposite(k: number): boolean {
  return k === Kind.STRUCT || k === Kind.UNION;
}

/**
 * Parses a relocation's access string against the local BTF (libbpf's bpf_core_parse_spec).
 * @throws CoreRelocationError when the string is malformed or walks outside the types
 */
export function parseAccessSpec(btf: Btf, relo: CoreRelocation, where: CoreWhere = {}): AccessSpec {
  const s = relo.accessString;
  const fail = (why: string): never => {
    throw new CoreRelocationError(
      `access string ${JSON.stringify(s)} of type [${relo.typeId}] ${typeName(btf, relo.typeId)}: ${why}`,
      { ...where, typeId: relo.typeId },
    );
  };
  if (!(relo.typeId > 0 && relo.typeId < btf.endId))
    fail(`type id past the end of the BTF (${btf.endId - 1})`);
  const spec: AccessSpec = {
    btf,
    rootId: relo.typeId,
    kind: relo.kind,
    accessors: [],
    raw: [],
    bitOffset: 0,
  };
  if (isTypeKind(relo.kind)) {
    if (s !== "0") fail('a type relocation\'s access string must be "0"');
    return spec;
  }
  if (!/^\d+(:\d+)*$/.test(s)) fail("not a list of indexes separated by ':'");
  const parts = s.split(":");
  if (parts.length > SPEC_MAX_LEN) fail(`more than ${SPEC_MAX_LEN} indexes`);
  for (const p of parts) {
    const n = Number(p);
    if (n > 0x7fffffff) fail(`index ${p} is out of range`);
    spec.raw.push(n);
  }
  let id = skipMods(btf, relo.typeId);
  const first = spec.raw[0]!;
  spec.accessors.push({ typeId: id, index: first, name: undefined });
  if (isEnumvalKind(relo.kind)) {
    const k = btf.kindOf(id);
    if (k !== Kind.ENUM && k !== Kind.ENUM64) fail("an enumerator relocation on a type that is not an enum");
    if (spec.raw.length > 1) fail("an enumerator relocation takes one index");
    if (first >= btf.vlenOf(id)) fail(`enumerator ${first} of ${btf.vlenOf(id)}`);
    spec.accessors[0] = { typeId: id, index: first, name: enumeratorName(btf, id, first) };
    return spec;
  }
  if (!isFieldKind(relo.kind)) fail(`unknown relocation kind ${relo.kind}`);
  let size: number;
  try {
    size = btf.sizeOf(id);
  } catch (e) {
    return fail(`the root type has no size (${(e as Error).message})`);
  }
  spec.bitOffset = first * size * 8;
  for (let i = 1; i < spec.raw.length; i++) {
    id = skipMods(btf, id);
    const idx = spec.raw[i]!;
    const k = btf.kindOf(id);
    if (isComposite(k)) {
      const n = btf.vlenOf(id);
      if (idx >= n) fail(`member ${idx} of a ${n}-member ${typeName(btf, id)}`);
      spec.bitOffset += memberBitOffset(btf, id, idx);
      const nameOff = btf.extraWord(id, 3 * idx);
      if (nameOff !== 0) {
        const name = btf.string(nameOff);
        if (name === "") fail("a member with an empty name");
        spec.accessors.push({ typeId: id, index: idx, name });
      }
      id = memberType(btf, id, idx);
    } else if (k === Kind.ARRAY) {
      const arrayId = id;
      const elem = skipMods(btf, btf.extraWord(id, 0));
      const flex = isFlexArray(btf, spec.accessors[spec.accessors.length - 1], arrayId);
      const n = btf.extraWord(arrayId, 2);
      if (!flex && idx >= n) fail(`element ${idx} of an array of ${n}`);
      spec.accessors.push({ typeId: elem, index: idx, name: undefined });
      id = elem;
      spec.bitOffset += idx * btf.sizeOf(elem) * 8;
    } else {
      fail(`index ${i} reaches a ${btf.kindName(id)} ([${id}]), which has neither members nor elements`);
    }
  }
  return spec;
}

/** A type as C spells it: `struct task_struct`, `enum pid_type`, `u32`, `int *`. */
export function typeName(btf: Btf, id: number, depth = 0): string {
  if (id === 0) return "void";
  if (depth > 8) return "...";
  let k: number;
  let name: string;
  try {
    k = btf.kindOf(id);
    name = btf.nameOf(id);
  } catch {
    return `type [${id}]`;
  }
  const anon = name === "" ? "<anon>" : name;
  switch (k) {
    case Kind.STRUCT:
      return `struct ${anon}`;
    case Kind.UNION:
      return `union ${anon}`;
    case Kind.ENUM:
    case Kind.ENUM64:
      return `enum ${anon}`;
    case Kind.FWD:
      return `${btf.kindFlagOf(id) ? "union" : "struct"} ${anon}`;
    case Kind.PTR:
      return `${typeName(btf, btf.sizeOrTypeOf(id), depth + 1)} *`;
    case Kind.CONST:
      return `const ${typeName(btf, btf.sizeOrTypeOf(id), depth + 1)}`;
    case Kind.VOLATILE:
      return `volatile ${typeName(btf, btf.sizeOrTypeOf(id), depth + 1)}`;
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
      return typeName(btf, btf.sizeOrTypeOf(id), depth + 1);
    case Kind.ARRAY:
      return `${typeName(btf, btf.extraWord(id, 0), depth + 1)}[${btf.extraWord(id, 2)}]`;
    case Kind.FUNC_PROTO:
      return "function";
    default:
      return anon;
  }
}

/**
 * A spec as C: `struct task_struct: real_parent`, `struct s: a.b[3].c`, `struct s[2]` (the whole
 * third element), `enum pid_type::PIDTYPE_TGID`, `struct file` (type relocations).
 */
export function formatAccessSpec(spec: AccessSpec): string {
  const root = typeName(spec.btf, spec.rootId);
  if (isTypeKind(spec.kind)) return root;
  if (isEnumvalKind(spec.kind)) return `${root}::${spec.accessors[0]?.name ?? "?"}`;
  let path = "";
  for (let i = 1; i < spec.accessors.length; i++) {
    const a = spec.accessors[i]!;
    path += a.name === undefined ? `[${a.index}]` : path === "" ? a.name : `.${a.name}`;
  }
  const first = spec.accessors[0]?.index ?? 0;
  const head = first > 0 ? `${root}[${first}]` : root;
  return path === "" ? head : `${head}: ${path}`;
}
