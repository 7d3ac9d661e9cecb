/**
 * Computing a relocation's value for the local and the target spec, and patching the instruction
 * (libbpf's bpf_core_calc_relo and bpf_core_patch_insn, rewritten). A relocation that finds no
 * target poisons its instruction as libbpf does: `call 0xbad2310`, which the verifier reports as
 * "invalid func unknown#195896080" if (and only if) the program can reach it.
 */
import type { Btf } from "../decode.js";
import { Kind } from "../kinds.js";
import { CoreRelocationError, type CoreWhere } from "./errors.js";
import type { CoreRelocation } from "./ext.js";
import { CoreKind, coreKindName, isEnumvalKind, isFieldKind, isTypeKind } from "./kinds.js";
import { findCandidates, MatchError, matchSpec } from "./match.js";
import {
  type AccessSpec,
  enumeratorValue,
  formatAccessSpec,
  memberBitfieldSize,
  memberType,
  parseAccessSpec,
  skipMods,
  typeName,
} from "./spec.js";

/** The immediate of the call a poisoned instruction becomes: 0xbad2310, "bad relo". */
export const POISON_IMM = 195896080;

/** What one relocation did. */
export interface CoreRelocationResult {
  readonly relocation: CoreRelocation;
  /** index of the relocation in the list it was given in */
  readonly index: number;
  /** instruction index (8-byte slot) in the section's code */
  readonly insnIndex: number;
  /** the kind as libbpf names it: "byte_off", "field_exists", "enumval_value" ... */
  readonly kindName: string;
  /** the local access as C: "struct task_struct: real_parent", "enum pid_type::PIDTYPE_TGID" */
  readonly local: string;
  /** the target access found, as C with the type id (undefined when none was found) */
  readonly target: string | undefined;
  /** the target root type id (undefined when none was found) */
  readonly targetTypeId: number | undefined;
  /** number of target candidates (same essential name and kind) and of those that matched */
  readonly candidates: number;
  readonly matched: number;
  /** why no target was found or why the instruction was poisoned; undefined when relocated */
  readonly reason: string | undefined;
  /** the value the compiler assumed (the local one) and the value patched in */
  readonly oldValue: bigint;
  readonly newValue: bigint;
  /** the instruction was turned into the invalid call */
  readonly poisoned: boolean;
  /** the patch in words: "off 8 -> 16", "imm 1 -> 0", "off 4 -> 8, size 4 -> 8", "poisoned" */
  readonly patch: string;
}

/** Candidate lists by local type id, pruned as relocations are applied (as libbpf does). */
export type CoreCandidateCache = Map<number, number[]>;

interface Res {
  orig: bigint;
  next: bigint;
  poison: boolean;
  validate: boolean;
  failMemsz: boolean;
  origSize: number;
  newSize: number;
  reason: string | undefined;
}

class Unsatisfiable extends Error {}

interface FieldValue {
  value: bigint;
  size: number;
  typeId: number;
  validate: boolean;
}

function fieldValue(spec: AccessSpec, kind: number): FieldValue {
  const btf = spec.btf;
  const acc = spec.accessors[spec.accessors.length - 1]!;
  if (acc.name === undefined) {
    // an array element (or the root itself)
    const size = btf.sizeOf(acc.typeId);
    if (kind === CoreKind.FIELD_BYTE_OFFSET) {
      return { value: BigInt(spec.bitOffset >>> 3), size, typeId: acc.typeId, validate: true };
    }
    if (kind === CoreKind.FIELD_BYTE_SIZE) return { value: BigInt(size), size: 0, typeId: 0, validate: true };
    throw new Unsatisfiable(`a ${coreKindName(kind)} relocation cannot apply to an array element`);
  }
  const fieldTypeId = skipMods(btf, memberType(btf, acc.typeId, acc.index));
  const mk = btf.kindOf(fieldTypeId);
  const bitOff = spec.bitOffset;
  let bitSize = memberBitfieldSize(btf, acc.typeId, acc.index);
  const bitfield = bitSize > 0;
  let byteSize: number;
  let byteOff: number;
  if (bitfield) {
    byteSize = btf.sizeOrTypeOf(fieldTypeId);
    if (byteSize === 0) throw new Unsatisfiable("a bitfield of a type without a size");
    byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    while (bitOff + bitSize - byteOff * 8 > byteSize * 8) {
      if (byteSize >= 8) throw new Unsatisfiable("the bitfield cannot be read with one 64-bit load");
      byteSize *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    }
  } else {
    byteSize = btf.sizeOf(fieldTypeId);
    byteOff = bitOff >>> 3;
    bitSize = byteSize * 8;
  }
  switch (kind) {
    case CoreKind.FIELD_BYTE_OFFSET:
      return bitfield
        ? { value: BigInt(byteOff), size: 0, typeId: 0, validate: false }
        : { value: BigInt(byteOff), size: byteSize, typeId: fieldTypeId, validate: true };
    case CoreKind.FIELD_BYTE_SIZE:
      return { value: BigInt(byteSize), size: 0, typeId: 0, validate: !bitfield };
    case CoreKind.FIELD_SIGNED: {
      const signed =
        ((mk === Kind.ENUM || mk === Kind.ENUM64) && btf.kindFlagOf(fieldTypeId)) ||
        (mk === Kind.INT && ((btf.extraWord(fieldTypeId, 0) >>> 24) & 1) !== 0);
      return { value: signed ? 1n : 0n, size: 0, typeId: 0, validate: true };
    }
    case CoreKind.FIELD_LSHIFT_U64:
      return {
        value: BigInt(64 - (bitOff + bitSize - byteOff * 8)),
        size: 0,
        typeId: 0,
        validate: !bitfield,
      };
    case CoreKind.FIELD_RSHIFT_U64:
      return { value: BigInt(64 - bitSize), size: 0, typeId: 0, validate: true };
    default:
      throw new Unsatisfiable(`unknown field relocation kind ${kind}`);
  }
}

function isUnsignedInt(btf: Btf, id: number): boolean {
  return btf.kindOf(id) === Kind.INT && ((btf.extraWord(id, 0) >>> 24) & 1) === 0;
}

/** libbpf's bpf_core_calc_relo: the local (expected) and target values, or a poison decision. */
function calc(local: AccessSpec, target: AccessSpec | undefined, kind: number, noTarget: string): Res {
  const res: Res = {
    orig: 0n,
    next: 0n,
    poison: false,
    validate: true,
    failMemsz: false,
    origSize: 0,
    newSize: 0,
    reason: undefined,
  };
  if (isFieldKind(kind)) {
    if (kind === CoreKind.FIELD_EXISTS) {
      res.orig = 1n;
      res.next = target ? 1n : 0n;
      if (!target) res.reason = noTarget;
      return res;
    }
    const o = fieldValue(local, kind);
    res.orig = o.value;
    res.origSize = o.size;
    res.validate = o.validate;
    if (!target) {
      res.poison = true;
      res.reason = noTarget;
      return res;
    }
    const n = fieldValue(target, kind);
    res.next = n.value;
    res.newSize = n.size;
    if (res.origSize !== res.newSize) {
      const bothPtr = local.btf.kindOf(o.typeId) === Kind.PTR && target.btf.kindOf(n.typeId) === Kind.PTR;
      const bothUnsigned = isUnsignedInt(local.btf, o.typeId) && isUnsignedInt(target.btf, n.typeId);
      if (!bothPtr && !bothUnsigned) res.failMemsz = true;
    }
    return res;
  }
  if (isTypeKind(kind)) {
    const value = (spec: AccessSpec | undefined): bigint => {
      if (!spec) return 0n;
      if (kind === CoreKind.TYPE_ID_TARGET) return BigInt(spec.rootId);
      if (kind === CoreKind.TYPE_SIZE) return BigInt(spec.btf.sizeOf(spec.rootId));
      return 1n;
    };
    res.orig = value(local);
    res.next = value(target);
    if (kind === CoreKind.TYPE_ID_TARGET) res.validate = false;
    if (!target) res.reason = noTarget;
    return res;
  }
  if (isEnumvalKind(kind)) {
    const value = (spec: AccessSpec): bigint =>
      kind === CoreKind.ENUMVAL_EXISTS
        ? 1n
        : enumeratorValue(spec.btf, spec.accessors[0]!.typeId, spec.accessors[0]!.index);
    res.orig = value(local);
    if (!target) {
      res.reason = noTarget;
      if (kind === CoreKind.ENUMVAL_EXISTS) res.next = 0n;
      else res.poison = true;
      return res;
    }
    res.next = value(target);
    return res;
  }
  throw new Unsatisfiable(`unknown relocation kind ${kind}`);
}

const SIZE_BYTES = [4, 2, 1, 8];

function sizeCode(bytes: number): number {
  return bytes === 4 ? 0x00 : bytes === 2 ? 0x08 : bytes === 1 ? 0x10 : bytes === 8 ? 0x18 : -1;
}

function poison(code: Uint8Array, v: DataView, at: number): void {
  const ldImm64 = code[at] === 0x18;
  const slots = ldImm64 && at + 16 <= code.length ? [at, at + 8] : [at];
  for (const s of slots) {
    code[s] = 0x85;
    code[s + 1] = 0;
    v.setInt16(s + 2, 0, true);
    v.setInt32(s + 4, POISON_IMM, true);
  }
}

/**
 * A resolution's values as the patching needs them, worked out once per {@link Solved} so that
 * patching an instruction makes no BigInt: `orig` sign-reduced to a number (for the 16- and
 * 32-bit compares), `next` as the 32-bit immediate, the offset and the two words of an ld_imm64.
 */
interface Numbers {
  /**
   * Number(BigInt.asIntN(64, orig)) (NaN when orig is outside 0..2^64-1): equal to an
   * instruction's imm or off exactly when BigInt.asUintN(64, BigInt(that)) === orig
   */
  readonly origSigned: number;
  /** orig as an unsigned 64-bit ld_imm64 immediate, low and high words (-1: orig is outside 0..2^64-1, no immediate equals it) */
  readonly origLo: number;
  readonly origHi: number;
  /** BigInt.asIntN(32, next) */
  readonly next32: number;
  /** next as a 16-bit offset, or NaN when it is past 32767 */
  readonly nextOff: number;
  /** BigInt.asUintN(64, next), low and high words */
  readonly nextLo: number;
  readonly nextHi: number;
}

const U64_MAX = (1n << 64n) - 1n;

function numbersOf(res: Res): Numbers {
  const origOk = res.orig >= 0n && res.orig <= U64_MAX;
  const n = BigInt.asUintN(64, res.next);
  return {
    origSigned: origOk ? Number(BigInt.asIntN(64, res.orig)) : Number.NaN,
    origLo: origOk ? Number(res.orig & 0xffffffffn) : -1,
    origHi: origOk ? Number(res.orig >> 32n) : -1,
    next32: Number(BigInt.asIntN(32, res.next)),
    nextOff: res.next > 32767n ? Number.NaN : Number(res.next),
    nextLo: Number(n & 0xffffffffn),
    nextHi: Number(n >> 32n),
  };
}

/** Why patching stopped: thrown, with where the relocation is, by {@link patchCoreRelocations}. */
class PatchFailure extends Error {}

/**
 * libbpf's bpf_core_patch_insn, without words or allocation: patches the instruction at byte `at`
 * and says whether it poisoned it. The words come later, from {@link patchText}.
 * @throws PatchFailure when the instruction cannot take this relocation
 */
function patch(code: Uint8Array, v: DataView, at: number, res: Res, num: Numbers): boolean {
  if (res.poison) {
    poison(code, v, at);
    return true;
  }
  const op = code[at]!;
  const cls = op & 7;
  switch (cls) {
    case 4: // ALU
    case 7: {
      // ALU64
      if ((op & 0x08) !== 0)
        throw new PatchFailure(
          `the instruction (opcode 0x${op.toString(16)}) takes a register, not an immediate to relocate`,
        );
      const imm = v.getInt32(at + 4, true);
      if (res.validate && imm !== num.origSigned) {
        throw new PatchFailure(
          `the instruction's immediate is ${imm}, but the compiler's value for this relocation is ${res.orig}: the object and its BTF disagree`,
        );
      }
      v.setInt32(at + 4, num.next32, true);
      return false;
    }
    case 1: // LDX
    case 2: // ST
    case 3: {
      // STX
      const off = v.getInt16(at + 2, true);
      if (res.validate && off !== num.origSigned) {
        throw new PatchFailure(
          `the instruction's offset is ${off}, but the compiler's value for this relocation is ${res.orig}: the object and its BTF disagree`,
        );
      }
      if (Number.isNaN(num.nextOff))
        throw new PatchFailure(`the new offset ${res.next} does not fit the instruction's 16-bit offset`);
      if (res.failMemsz) {
        poison(code, v, at);
        return true;
      }
      v.setInt16(at + 2, num.nextOff, true);
      if (res.newSize !== res.origSize) {
        const bytes = SIZE_BYTES[(op >> 3) & 3]!;
        if (bytes !== res.origSize)
          throw new PatchFailure(
            `the instruction accesses ${bytes} bytes, but the field has ${res.origSize}`,
          );
        const sc = sizeCode(res.newSize);
        if (sc < 0)
          throw new PatchFailure(
            `the target field's size ${res.newSize} is not one a load or store can have`,
          );
        code[at] = (op & 0xe0) | sc | cls;
      }
      return false;
    }
    case 0: {
      // LD: only ld_imm64
      if (
        op !== 0x18 ||
        at + 16 > code.length ||
        code[at + 1]! >> 4 !== 0 ||
        v.getInt16(at + 2, true) !== 0 ||
        code[at + 8] !== 0 ||
        code[at + 9] !== 0 ||
        v.getInt16(at + 10, true) !== 0
      ) {
        throw new PatchFailure(
          "the ld_imm64 instruction has an unexpected form (a map or BTF reference, or a broken second slot)",
        );
      }
      const lo = v.getUint32(at + 4, true);
      const hi = v.getUint32(at + 12, true);
      if (res.validate && (lo !== num.origLo || hi !== num.origHi)) {
        throw new PatchFailure(
          `the instruction's 64-bit immediate is ${(BigInt(hi) << 32n) | BigInt(lo)}, but the compiler's value for this relocation is ${res.orig}`,
        );
      }
      v.setUint32(at + 4, num.nextLo, true);
      v.setUint32(at + 12, num.nextHi, true);
      return false;
    }
    default:
      throw new PatchFailure(
        `opcode 0x${op.toString(16)} is not an instruction a CO-RE relocation can patch`,
      );
  }
}

/**
 * The patch in words ("off 8 -> 16", "imm 1 -> 0", "off 4 -> 8, size 4 -> 8", "imm64 ...",
 * "poisoned"), from the instruction as it was before the patch (opcode, imm or off, and for an
 * ld_imm64 its second immediate).
 */
function patchText(res: Res, poisoned: boolean, op: number, imm: number, off: number, hi: number): string {
  if (poisoned) return "poisoned";
  const cls = op & 7;
  if (cls === 4 || cls === 7) return `imm ${imm} -> ${BigInt.asIntN(32, res.next)}`;
  if (cls >= 1 && cls <= 3) {
    const text = `off ${off} -> ${res.next}`;
    return res.newSize !== res.origSize ? `${text}, size ${res.origSize} -> ${res.newSize}` : text;
  }
  return `imm64 ${(BigInt(hi >>> 0) << 32n) | BigInt(imm >>> 0)} -> ${BigInt.asUintN(64, res.next)}`;
}

function targetText(spec: AccessSpec): string {
  return `[${spec.rootId}] ${formatAccessSpec(spec)}`;
}

/**
 * What one (local type, access string, kind) resolves to against the target: relocations with the
 * same three (the same field read in many programs) share it, as long as the candidate list it was
 * matched against is still the one in the cache (libbpf prunes that list as it relocates).
 */
interface Solved {
  /** the candidate list matched against (undefined: a type_id_local relocation, no target) */
  readonly cands: number[] | undefined;
  readonly kindName: string;
  readonly localText: string;
  readonly target: AccessSpec | undefined;
  readonly targetText: string | undefined;
  readonly res: Res;
  readonly candidates: number;
  readonly matched: number;
  /** res's values for the patching (no BigInt per instruction) */
  readonly num: Numbers;
}

/** Resolutions by cache (one per object), then by type id and kind (`typeId * 16 + kind`), then by access string. */
const solvedByCache = new WeakMap<CoreCandidateCache, Map<number, Map<string, Solved>>>();

/** Resolves one relocation (no instruction is read or patched here). */
function solve(
  relo: CoreRelocation,
  local: Btf,
  target: Btf,
  cache: CoreCandidateCache,
  where: () => CoreWhere,
): Solved {
  const localSpec = parseAccessSpec(local, relo, where());
  const localText = formatAccessSpec(localSpec);
  const kindName = coreKindName(relo.kind);
  const failWith = (why: string): never => {
    throw new CoreRelocationError(`${kindName} of ${localText}: ${why}`, where());
  };
  if (relo.kind === CoreKind.TYPE_ID_LOCAL) {
    const id = BigInt(relo.typeId);
    const res: Res = {
      orig: id,
      next: id,
      poison: false,
      validate: false,
      failMemsz: false,
      origSize: 0,
      newSize: 0,
      reason: undefined,
    };
    return {
      cands: undefined,
      kindName,
      localText,
      target: undefined,
      targetText: undefined,
      res,
      candidates: 0,
      matched: 0,
      num: numbersOf(res),
    };
  }
  try {
    const localName = local.nameOf(relo.typeId);
    if (localName === "") failWith("CO-RE cannot relocate an anonymous type (give it a name)");
    let cands = cache.get(relo.typeId);
    if (!cands) {
      cands = findCandidates(local, relo.typeId, target);
      cache.set(relo.typeId, cands);
    }
    let targetSpec: AccessSpec | undefined;
    let first: Res | undefined;
    let kept: number[] | undefined;
    for (let c = 0; c < cands.length; c++) {
      const id = cands[c]!;
      const spec = matchSpec(localSpec, target, id);
      if (!spec) continue;
      const r = calc(localSpec, spec, relo.kind, "");
      if (!first || !targetSpec) {
        first = r;
        targetSpec = spec;
      } else if (spec.bitOffset !== targetSpec.bitOffset) {
        failWith(
          `target candidates disagree on the field's offset: ${targetText(targetSpec)} at bit ${targetSpec.bitOffset}, ${targetText(spec)} at bit ${spec.bitOffset}`,
        );
      } else if (r.poison !== first.poison || r.next !== first.next) {
        failWith(
          `target candidates disagree on the value: ${targetText(targetSpec)} gives ${first.next}, ${targetText(spec)} gives ${r.next}`,
        );
      }
      (kept ??= []).push(id);
    }
    const matched = kept?.length ?? 0;
    const considered = cands.length;
    let res: Res;
    if (kept && first) {
      // the list is pruned to the candidates that matched; unchanged, it stays the same array
      if (kept.length !== cands.length) {
        cache.set(relo.typeId, kept);
        cands = kept;
      }
      res = first;
    } else {
      const essential = localName.replace(/___[^_].*$/, "");
      const why =
        cands.length === 0
          ? `the target BTF has no ${local.kindName(relo.typeId)} named ${essential}`
          : `none of the ${cands.length} target candidate${cands.length > 1 ? "s" : ""} (${cands
              .slice(0, 4)
              .map((id) => `[${id}] ${typeName(target, id)}`)
              .join(", ")}${cands.length > 4 ? ", ..." : ""}) has ${
              isFieldKind(relo.kind)
                ? "this field with a compatible type"
                : isEnumvalKind(relo.kind)
                  ? "this enumerator"
                  : "a compatible shape"
            }`;
      res = calc(localSpec, undefined, relo.kind, why);
    }
    return {
      cands,
      kindName,
      localText,
      target: targetSpec,
      targetText: targetSpec ? targetText(targetSpec) : undefined,
      res,
      candidates: considered,
      matched,
      num: numbersOf(res),
    };
  } catch (e) {
    if (e instanceof CoreRelocationError) throw e;
    if (e instanceof MatchError || e instanceof Unsatisfiable || (e as Error).name === "BtfError") {
      return failWith((e as Error).message);
    }
    throw e;
  }
}

/**
 * @internal What {@link patchCoreRelocations} did to one section, kept compact (one entry per
 * relocation in typed arrays, the resolutions shared): {@link coreRelocationResults} makes the
 * results from it when they are asked for (`rawbpf object --core`, a poisoned instruction the
 * verifier stopped at), so a load allocates nothing per relocation.
 */
export interface CorePatchLog {
  readonly relocations: readonly CoreRelocation[];
  /** the resolution of each relocation */
  readonly solved: readonly Solved[];
  /** candidates considered by each relocation (the pruned list's length when it was resolved before) */
  readonly candidates: Int32Array;
  /** 1 where the instruction was poisoned */
  readonly poisoned: Uint8Array;
  /** the instruction before the patch: opcode, imm, off, and the second immediate of an ld_imm64 */
  readonly op: Uint8Array;
  readonly imm: Int32Array;
  readonly off: Int16Array;
  readonly hi: Int32Array;
}

/**
 * @internal Applies CO-RE relocations to one section's instructions, in place, as
 * {@link applyCoreRelocations} does, and returns what it did compactly (see {@link CorePatchLog}).
 * @throws CoreRelocationError as applyCoreRelocations
 */
export function patchCoreRelocations(
  code: Uint8Array,
  relocations: readonly CoreRelocation[],
  local: Btf,
  target: Btf,
  options: { cache?: CoreCandidateCache; section?: string } = {},
): CorePatchLog {
  const cache = options.cache ?? new Map<number, number[]>();
  let solvedMap = solvedByCache.get(cache);
  if (!solvedMap) solvedByCache.set(cache, (solvedMap = new Map()));
  const v = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const n = relocations.length;
  const solved: Solved[] = new Array(n);
  const log: CorePatchLog = {
    relocations,
    solved,
    candidates: new Int32Array(n),
    poisoned: new Uint8Array(n),
    op: new Uint8Array(n),
    imm: new Int32Array(n),
    off: new Int16Array(n),
    hi: new Int32Array(n),
  };
  const section = options.section;
  const whereOf = (index: number): CoreWhere => {
    const relo = relocations[index]!;
    return {
      relocation: index,
      insn: relo.insnOffset / 8,
      typeId: relo.typeId,
      ...(section === undefined ? {} : { section }),
    };
  };
  for (let index = 0; index < n; index++) {
    const relo = relocations[index]!;
    const at = relo.insnOffset;
    if (!Number.isInteger(at / 8) || at < 0 || at + 8 > code.length) {
      throw new CoreRelocationError(
        `instruction offset ${at} is not an instruction of this ${code.length}-byte code`,
        whereOf(index),
      );
    }
    // the same target for the same (type, kind, access) while its candidate list is unchanged;
    // an ambiguity or malformed access throws (and so is never kept)
    // (a kind past 15 or a type id that is no integer would share a key: never kept)
    const typeKind =
      relo.kind >>> 0 === relo.kind && relo.kind < 16 && relo.typeId >>> 0 === relo.typeId
        ? relo.typeId * 16 + relo.kind
        : -1;
    let byAccess = typeKind < 0 ? undefined : solvedMap.get(typeKind);
    if (!byAccess && typeKind >= 0) solvedMap.set(typeKind, (byAccess = new Map()));
    let s = byAccess?.get(relo.accessString);
    if (s && s.cands === cache.get(relo.typeId)) {
      // as a second match would see it: the (pruned) list in the cache
      log.candidates[index] = s.cands?.length ?? 0;
    } else {
      s = solve(relo, local, target, cache, () => whereOf(index));
      byAccess?.set(relo.accessString, s);
      log.candidates[index] = s.candidates;
    }
    solved[index] = s;
    log.op[index] = code[at]!;
    log.off[index] = v.getInt16(at + 2, true);
    log.imm[index] = v.getInt32(at + 4, true);
    if (at + 16 <= code.length) log.hi[index] = v.getInt32(at + 12, true);
    try {
      log.poisoned[index] = patch(code, v, at, s.res, s.num) ? 1 : 0;
    } catch (e) {
      if (e instanceof PatchFailure) throw new CoreRelocationError(e.message, whereOf(index));
      throw e;
    }
  }
  return log;
}

/** @internal The results of a {@link CorePatchLog}, as {@link applyCoreRelocations} returns them. */
export function coreRelocationResults(log: CorePatchLog): CoreRelocationResult[] {
  const out: CoreRelocationResult[] = new Array(log.relocations.length);
  for (let index = 0; index < out.length; index++) {
    const relo = log.relocations[index]!;
    const s = log.solved[index]!;
    const res = s.res;
    const op = log.op[index]!;
    const poisoned = log.poisoned[index] === 1;
    let reason = res.reason;
    if (res.failMemsz && !res.poison) {
      const cls = op & 7;
      if (cls >= 1 && cls <= 3) {
        reason = `the field is ${res.origSize} bytes here and ${res.newSize} in the target, and it is neither a pointer nor an unsigned integer, so a load of another size would read a wrong value`;
      }
    }
    out[index] = {
      relocation: relo,
      index,
      insnIndex: relo.insnOffset / 8,
      kindName: s.kindName,
      local: s.localText,
      target: s.targetText,
      targetTypeId: s.target?.rootId,
      candidates: log.candidates[index]!,
      matched: s.matched,
      reason: poisoned || !s.target ? reason : undefined,
      oldValue: res.orig,
      newValue: poisoned ? res.orig : res.next,
      poisoned,
      patch: patchText(res, poisoned, op, log.imm[index]!, log.off[index]!, log.hi[index]!),
    };
  }
  return out;
}

/**
 * Applies CO-RE relocations to one section's instructions, in place, against `target` (vmlinux
 * through {@link vmlinuxBtf}, a module's split BTF, a btfhub file, a hand-built BTF).
 * Returns what each relocation did; an instruction whose relocation found no target is poisoned
 * (and `reason` says why). Candidate lists are cached in `options.cache` (give one cache to all
 * sections of an object: lists are pruned as libbpf prunes them), and so is what each distinct
 * (type, access string, kind) resolves to: the same field read in many places is matched once.
 * @throws CoreRelocationError for a malformed relocation, ambiguous candidates, or an instruction
 * that does not hold the value the compiler recorded
 */
export function applyCoreRelocations(
  code: Uint8Array,
  relocations: readonly CoreRelocation[],
  local: Btf,
  target: Btf,
  options: { cache?: CoreCandidateCache; section?: string } = {},
): CoreRelocationResult[] {
  return coreRelocationResults(patchCoreRelocations(code, relocations, local, target, options));
}
