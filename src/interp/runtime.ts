/**
 * The runtime object compiled programs call: 64-bit arithmetic that does not fit inline, atomics,
 * map and function pointers, helper dispatch, the instruction budget and the tracer.
 */
import type { Instruction } from "../isa/insn.js";
import type { CompiledFn } from "./compile.js";
import { BudgetExceededError, CallDepthError, HelperError, InterpInvalidProgramError } from "./errors.js";
import { type MemoryMap, objectByFd } from "./maps.js";
import { at, clearFrame, lastView, PACKET_ID, pointer, regionOf, regions, T, where } from "./memory.js";

/** A program as the runtime sees it. */
export interface RunnableProgram {
  readonly fn: CompiledFn;
  readonly bySlot: readonly (Instruction | undefined)[];
  readonly type: string;
}

/** One step of a trace: the slot about to run and the registers before it. */
export type TraceHook = (slot: number, regs: readonly bigint[]) => void;

/** [instructions run, budget] */
export const B = new Float64Array(2);

type HelperFn = (
  pc: number,
  a1l: number,
  a1h: number,
  a2l: number,
  a2h: number,
  a3l: number,
  a3h: number,
  a4l: number,
  a4h: number,
  a5l: number,
  a5h: number,
) => number;

/** Helper implementations by id (filled by helpers.ts). */
export const helperTable: (HelperFn | undefined)[] = [];
/** Kfunc implementations by BTF id (filled by the loader, which knows the names). */
export const kfuncTable = new Map<number, HelperFn>();
/** Names of kfunc BTF ids a program calls, for messages. */
export const kfuncNames = new Map<number, string>();
let helperName: (id: number) => string = (id) => `helper #${id}`;
export function setHelperNamer(f: (id: number) => string): void {
  helperName = f;
}

const U64 = 0xffffffffffffffffn;
function big(l: number, h: number): bigint {
  return (BigInt(h >>> 0) << 32n) | BigInt(l >>> 0);
}
function sbig(l: number, h: number): bigint {
  return BigInt.asIntN(64, big(l, h));
}
function ret(v: bigint): number {
  const u = v & U64;
  T[0] = Number(u >> 32n) | 0;
  return Number(u & 0xffffffffn) | 0;
}

export function mulhu(a: number, b: number): number {
  // product = ah·bh·2^32 + (al·bh + ah·bl)·2^16 + al·bl; the middle sum (< 2^34) is exact in a double
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const mid = ((al * bl) >>> 16) + al * bh + ah * bl;
  return (ah * bh + Math.floor(mid / 65536)) | 0;
}

export const R = {
  depth: 0,
  tail: false,
  tailCount: 0,
  prog: undefined as unknown as RunnableProgram,
  traceHook: undefined as TraceHook | undefined,
  clearFrame,

  mul64(al: number, ah: number, bl: number, bh: number): number {
    T[0] = (mulhu(al, bl) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0;
    return Math.imul(al, bl);
  },
  udiv64(al: number, ah: number, bl: number, bh: number): number {
    if (bl === 0 && bh === 0) {
      T[0] = 0;
      return 0;
    }
    if (ah === 0 && bh === 0) {
      T[0] = 0;
      return ((al >>> 0) / (bl >>> 0)) | 0;
    }
    return ret(big(al, ah) / big(bl, bh));
  },
  umod64(al: number, ah: number, bl: number, bh: number): number {
    if (bl === 0 && bh === 0) {
      T[0] = ah;
      return al;
    }
    if (ah === 0 && bh === 0) {
      T[0] = 0;
      return ((al >>> 0) % (bl >>> 0)) | 0;
    }
    return ret(big(al, ah) % big(bl, bh));
  },
  sdiv64(al: number, ah: number, bl: number, bh: number): number {
    if (bl === 0 && bh === 0) {
      T[0] = 0;
      return 0;
    }
    if (bl === -1 && bh === -1) return ret(-sbig(al, ah));
    return ret(sbig(al, ah) / sbig(bl, bh));
  },
  smod64(al: number, ah: number, bl: number, bh: number): number {
    if (bl === 0 && bh === 0) {
      T[0] = ah;
      return al;
    }
    if (bl === -1 && bh === -1) {
      T[0] = 0;
      return 0;
    }
    return ret(sbig(al, ah) % sbig(bl, bh));
  },
  lsh64(l: number, h: number, n: number): number {
    n &= 63;
    if (n === 0) {
      T[0] = h;
      return l;
    }
    if (n < 32) {
      T[0] = (h << n) | (l >>> (32 - n));
      return l << n;
    }
    T[0] = l << (n - 32);
    return 0;
  },
  rsh64(l: number, h: number, n: number): number {
    n &= 63;
    if (n === 0) {
      T[0] = h;
      return l;
    }
    if (n < 32) {
      T[0] = (h >>> n) | 0;
      return (l >>> n) | (h << (32 - n));
    }
    T[0] = 0;
    return (h >>> (n - 32)) | 0;
  },
  arsh64(l: number, h: number, n: number): number {
    n &= 63;
    if (n === 0) {
      T[0] = h;
      return l;
    }
    if (n < 32) {
      T[0] = h >> n;
      return (l >>> n) | (h << (32 - n));
    }
    T[0] = h >> 31;
    return h >> (n - 32);
  },

  atomic32(op: number, hi: number, lo: number, off: number, x: number, r0: number, pc: number): number {
    const o = at(hi, lo, off, 4, true, pc);
    const v = lastView();
    const old = v.getInt32(o, true);
    let nv: number;
    switch (op & ~1) {
      case 0x00:
        nv = (old + x) | 0;
        break;
      case 0x40:
        nv = old | x;
        break;
      case 0x50:
        nv = old & x;
        break;
      case 0xa0:
        nv = old ^ x;
        break;
      case 0xe0:
        nv = x;
        break;
      default: // cmpxchg
        nv = old === r0 ? x : old;
    }
    v.setInt32(o, nv, true);
    return old;
  },
  atomic64(
    op: number,
    hi: number,
    lo: number,
    off: number,
    xl: number,
    xh: number,
    r0l: number,
    r0h: number,
    pc: number,
  ): number {
    const o = at(hi, lo, off, 8, true, pc);
    const v = lastView();
    const ol = v.getInt32(o, true);
    const oh = v.getInt32(o + 4, true);
    let nl: number;
    let nh: number;
    switch (op & ~1) {
      case 0x00: {
        const t = (ol >>> 0) + (xl >>> 0);
        nh = (oh + xh + (t > 4294967295 ? 1 : 0)) | 0;
        nl = t | 0;
        break;
      }
      case 0x40:
        nl = ol | xl;
        nh = oh | xh;
        break;
      case 0x50:
        nl = ol & xl;
        nh = oh & xh;
        break;
      case 0xa0:
        nl = ol ^ xl;
        nh = oh ^ xh;
        break;
      case 0xe0:
        nl = xl;
        nh = xh;
        break;
      default:
        if (ol === r0l && oh === r0h) {
          nl = xl;
          nh = xh;
        } else {
          nl = ol;
          nh = oh;
        }
    }
    v.setInt32(o, nl, true);
    v.setInt32(o + 4, nh, true);
    T[0] = oh;
    return ol;
  },

  /** checks that an ld_imm64 map descriptor names a memory map */
  mapCheck(fd: number, pc: number): void {
    if (!(objectByFd(fd) instanceof Object && (objectByFd(fd) as MemoryMap).keySize !== undefined))
      throw new InterpInvalidProgramError(
        pc,
        R.prog.bySlot[pc],
        `map descriptor ${fd} is not an in-memory map (load the maps with backend "memory")`,
      );
  },
  /** ld_imm64 src=2: the address of a map value (element 0 of an array map) plus `off` */
  mapValue(fd: number, off: number, pc: number): number {
    const m = objectByFd(fd) as MemoryMap | undefined;
    if (m === undefined || m.keySize === undefined)
      throw new InterpInvalidProgramError(
        pc,
        R.prog.bySlot[pc],
        `map descriptor ${fd} is not an in-memory map (load the maps with backend "memory")`,
      );
    const v = m.isArray ? m.lookup(new Uint8Array(4), 0) : undefined;
    if (v === undefined)
      throw new InterpInvalidProgramError(
        pc,
        R.prog.bySlot[pc],
        `a map value address needs an array map, ${m.label} is a ${m.type}`,
      );
    if (off < 0 || off > v.byteLength)
      throw new InterpInvalidProgramError(
        pc,
        R.prog.bySlot[pc],
        `offset ${off} is outside the ${v.byteLength}-byte value of ${m.label}`,
      );
    const id = regionOf(v, `value of ${m.label}`, m.progWritable);
    return pointer(id, off);
  },

  helper(
    id: number,
    pc: number,
    a1l: number,
    a1h: number,
    a2l: number,
    a2h: number,
    a3l: number,
    a3h: number,
    a4l: number,
    a4h: number,
    a5l: number,
    a5h: number,
  ): number {
    const f = helperTable[id];
    if (f === undefined)
      throw new HelperError(
        pc,
        R.prog.bySlot[pc],
        helperName(id),
        "this helper is not emulated by the interpreter",
      );
    return f(pc, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h);
  },
  kfunc(
    id: number,
    pc: number,
    a1l: number,
    a1h: number,
    a2l: number,
    a2h: number,
    a3l: number,
    a3h: number,
    a4l: number,
    a4h: number,
    a5l: number,
    a5h: number,
  ): number {
    const f = kfuncTable.get(id);
    if (f === undefined)
      throw new HelperError(
        pc,
        R.prog.bySlot[pc],
        kfuncNames.get(id) ?? `kfunc #${id}`,
        "this kfunc is not emulated by the interpreter",
      );
    return f(pc, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h);
  },
  callx(
    l: number,
    h: number,
    pc: number,
    a1l: number,
    a1h: number,
    a2l: number,
    a2h: number,
    a3l: number,
    a3h: number,
    a4l: number,
    a4h: number,
    a5l: number,
    a5h: number,
  ): number {
    if (h === -196608) {
      const s = l;
      if (s < 0 || s >= R.prog.bySlot.length || R.prog.bySlot[s] === undefined)
        throw new InterpInvalidProgramError(
          pc,
          R.prog.bySlot[pc],
          `callx to slot ${s}, not an instruction of this program`,
        );
      return R.prog.fn(s, R.depth + 1, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h);
    }
    if (h === 0) return R.helper(l, pc, a1l, a1h, a2l, a2h, a3l, a3h, a4l, a4h, a5l, a5h);
    throw new InterpInvalidProgramError(
      pc,
      R.prog.bySlot[pc],
      "callx through a register that holds neither a function pointer nor a helper id",
    );
  },

  /** legacy packet load (ld_abs / ld_ind): big-endian; T[1] = 0 when out of bounds */
  ldAbs(size: number, off: number, pc: number): number {
    const r = regions[PACKET_ID]!;
    const o = r.start + off;
    void pc;
    if (off < 0 || o + size > r.end) {
      T[1] = 0;
      return 0;
    }
    T[1] = 1;
    if (size === 1) return r.bytes[o]!;
    if (size === 2) return r.view.getUint16(o, false);
    return r.view.getInt32(o, false);
  },

  // the next three return their error for the compiled code to throw (`throw R.overBudget(s)`),
  // outside its loops (compile.ts: a budget check jumps to the default case to do it)
  overBudget(pc: number): BudgetExceededError {
    B[0] = B[1];
    return new BudgetExceededError(pc, R.prog.bySlot[pc], B[1]);
  },
  fellOff(pc: number, n: number): InterpInvalidProgramError {
    void pc;
    return new InterpInvalidProgramError(
      n - 1,
      R.prog.bySlot[n - 1],
      "execution ran past the last instruction (a program must end with exit)",
    );
  },
  tooDeep(pc: number): CallDepthError {
    return new CallDepthError(
      pc,
      R.prog.bySlot[pc],
      "calls nested deeper than 8 frames (the kernel's MAX_CALL_FRAMES)",
    );
  },
  trace(pc: number, ...w: number[]): void {
    const regs: bigint[] = [];
    for (let r = 0; r < 11; r++) regs.push(big(w[2 * r]!, w[2 * r + 1]!));
    R.traceHook?.(pc, regs);
  },
};

/** Runs a program at `slot` with r1..r5 (as bigints): used for entry, callbacks and tail calls. */
export function invoke(prog: RunnableProgram, slot: number, depth: number, args: readonly number[]): number {
  const saved = R.prog;
  R.prog = prog;
  where.insns = prog.bySlot;
  try {
    return prog.fn(
      slot,
      depth,
      args[0] ?? 0,
      args[1] ?? 0,
      args[2] ?? 0,
      args[3] ?? 0,
      args[4] ?? 0,
      args[5] ?? 0,
      args[6] ?? 0,
      args[7] ?? 0,
      args[8] ?? 0,
      args[9] ?? 0,
    );
  } finally {
    R.prog = saved;
    if (saved !== undefined) where.insns = saved.bySlot;
  }
}
