/**
 * The optimizer: a pass over one function's emitted items (instructions, labels, line marks)
 * before layout, so jumps stay symbolic and line info and func info come out right by
 * construction. It repeats, until nothing changes, a few rewrites that each keep the program's
 * meaning:
 *
 * - **cleanup**: unreachable blocks dropped, jumps to the next instruction dropped, jumps to jumps
 *   retargeted, `if c goto A; goto B; A:` inverted to `if !c goto B`, a jump to `exit` (or to
 *   `r0 = K; exit`) replaced by a copy of it;
 * - **values**: a forward analysis of what each register may hold (an unsigned range, and "the
 *   same memory word as" a load whose base is unchanged) decides conditional jumps whose outcome
 *   is known (a packet read's "null" test after a byte load), threads a jump through a small
 *   block whose test the predecessor decides, and drops loads of a word a register still holds;
 * - **dead code**: register definitions nobody reads (liveness);
 * - **coalescing**: `rD = rS` where rS dies is removed by renaming rS's whole web (its defs and
 *   uses) to rD, when rD is free over the web's live range.
 *
 * Line marks stay in front of the instruction they marked; when that instruction goes, they move
 * to the next one (where `compile` reads them). A function using an instruction the passes do not
 * model is returned unchanged.
 */
import type { Instruction } from "../isa/insn.js";
import type { Item } from "./function.js";

/** One instruction with the labels and line marks in front of it. */
interface Op {
  insn: Instruction;
  pre: Item[];
  /** its place in the jump rewrites' buffer ({@link GapOps}), kept up to date by them only */
  pos?: number;
}

interface Block {
  /** index of the first op */
  start: number;
  /** index after the last op */
  end: number;
  /** the blocks it goes to and comes from (read only: the one-block lists are shared) */
  succs: readonly number[];
  preds: readonly number[];
}

/** No blocks. */
const NONE: readonly number[] = [];
/** The list of block b alone, one for each b, shared by every analysis (they are only read). */
const single: (readonly number[])[] = [];
function one(b: number): readonly number[] {
  while (single.length <= b) single.push([single.length]);
  return single[b]!;
}

const CLASS_LD = 0x00;
const CLASS_LDX = 0x01;
const CLASS_ST = 0x02;
const CLASS_STX = 0x03;
const CLASS_ALU = 0x04;
const CLASS_JMP = 0x05;
const CLASS_JMP32 = 0x06;
const CLASS_ALU64 = 0x07;
const LD_IMM64 = 0x18;
const EXIT = 0x95;
const CALL = 0x85;
const JA = 0x05;
const MOV64_X = 0xbf;
const MOV64_K = 0xb7;
const MOV32_K = 0xb4;
const MODE_MEM = 0x60;
const MODE_ATOMIC = 0xc0;

const CALLER_SAVED = 0x3f; // r0..r5
const ARGS = 0x3e; // r1..r5
/**
 * A value a register may hold (unsigned): a number up to 2^53 - 1, a bigint above it. Each value has
 * one form, so `===` compares values, and `<` compares a number with a bigint exactly. Numbers in the
 * common case: the value analysis steps every op of every function, mostly cold, where each
 * operation on a bigint is a call.
 */
type Value = number | bigint;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** A bigint in its one form. */
const normal = (v: bigint): Value => (v <= SAFE ? Number(v) : v);
const U64_MAX: Value = (1n << 64n) - 1n;
const U32_MAX = 0xffffffff;

/** Negations of conditional jump operations (JSET has none). */
const NEGATE: Record<number, number> = {
  16: 0x50,
  80: 0x10,
  32: 0xb0,
  176: 0x20,
  48: 0xa0,
  160: 0x30,
  96: 0xd0,
  208: 0x60,
  112: 0xc0,
  192: 0x70,
};

const cls = (i: Instruction) => i.code & 7;
const isJmpClass = (i: Instruction) => cls(i) === CLASS_JMP || cls(i) === CLASS_JMP32;
const NEGATE_OR_SET = (op: number) => op in NEGATE || op === 0x40;
/** 1 for the codes of conditional jumps, by code. */
const COND = new Uint8Array(256);
for (let code = 0; code < 256; code++) {
  const c = code & 7;
  const jmp = c === CLASS_JMP || c === CLASS_JMP32;
  if (jmp && code !== JA && code !== CALL && code !== EXIT && NEGATE_OR_SET(code & 0xf0)) COND[code] = 1;
}
const isCond = (i: Instruction) => COND[i.code] === 1;
const ends = (i: Instruction) => i.code === JA || i.code === EXIT;
const labelOf = (i: Instruction) => (i.ref?.kind === "label" ? i.ref.name : undefined);

/**
 * A zeroed array of small integers. Plain arrays, not typed arrays: these are many and short-lived,
 * and each typed array's memory outside the heap makes V8 collect garbage far more often.
 */
function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}

/** Whether every instruction is one the passes model; anything else leaves the function alone. */
function supported(i: Instruction): boolean {
  const c = cls(i);
  if (c === CLASS_JMP || c === CLASS_JMP32) {
    if (i.code === CALL) return c === CLASS_JMP;
    if (i.code === EXIT) return true;
    if (i.code === JA) return labelOf(i) !== undefined;
    return isCond(i) && labelOf(i) !== undefined;
  }
  if (c === CLASS_LD) return i.code === LD_IMM64;
  if (c === CLASS_LDX) return (i.code & 0xe0) === MODE_MEM || (i.code & 0xe0) === 0x80;
  if (c === CLASS_ST) return (i.code & 0xe0) === MODE_MEM;
  if (c === CLASS_STX) return (i.code & 0xe0) === MODE_MEM || (i.code & 0xe0) === MODE_ATOMIC;
  return true; // ALU, ALU64
}

/** A register's bit in a mask; r10 (the frame pointer, never written) has none. */
const bit = (r: number) => (r === 10 ? 0 : 1 << r);

/** Registers an instruction reads (bit mask). */
function uses(i: Instruction): number {
  const c = cls(i);
  switch (c) {
    case CLASS_ALU:
    case CLASS_ALU64: {
      const op = i.code & 0xf0;
      const x = (i.code & 0x08) !== 0;
      if (op === 0xb0) return x ? bit(i.src) : 0;
      if (op === 0x80 || op === 0xd0) return bit(i.dst);
      return bit(i.dst) | (x ? bit(i.src) : 0);
    }
    case CLASS_LDX:
      return bit(i.src);
    case CLASS_ST:
      return bit(i.dst);
    case CLASS_STX:
      if ((i.code & 0xe0) === MODE_ATOMIC && i.imm === 0xf1) return bit(i.dst) | bit(i.src) | 1;
      return bit(i.dst) | bit(i.src);
    case CLASS_JMP:
    case CLASS_JMP32:
      if (i.code === CALL) return ARGS;
      if (i.code === EXIT) return 1;
      if (i.code === JA) return 0;
      return bit(i.dst) | ((i.code & 0x08) !== 0 ? bit(i.src) : 0);
    default:
      return 0; // ld_imm64
  }
}

/** Registers an instruction writes (bit mask); calls clobber r0..r5. */
function defs(i: Instruction): number {
  const c = cls(i);
  switch (c) {
    case CLASS_ALU:
    case CLASS_ALU64:
    case CLASS_LDX:
      return 1 << i.dst;
    case CLASS_LD:
      return 1 << i.dst;
    case CLASS_STX:
      if ((i.code & 0xe0) !== MODE_ATOMIC) return 0;
      if (i.imm === 0xf1) return 1;
      return i.imm & 1 ? 1 << i.src : 0;
    case CLASS_JMP:
      return i.code === CALL ? CALLER_SAVED : 0;
    default:
      return 0;
  }
}

/** Whether removing the instruction changes nothing but the registers it defines. */
function pure(i: Instruction): boolean {
  const c = cls(i);
  return c === CLASS_ALU || c === CLASS_ALU64 || c === CLASS_LDX || c === CLASS_LD;
}

// ------------------------------------------------------------------ the op list

function toOps(items: readonly Item[]): { ops: Op[]; tail: Item[] } | undefined {
  const ops: Op[] = [];
  let pre: Item[] = [];
  for (let n = 0; n < items.length; n++) {
    const item = items[n]!;
    if (item.kind === "insn") {
      if (!supported(item.insn)) return undefined;
      ops.push({ insn: item.insn, pre });
      pre = [];
    } else pre.push(item);
  }
  return { ops, tail: pre };
}

function toItems(ops: readonly Op[], tail: readonly Item[]): Item[] {
  const out: Item[] = [];
  for (let n = 0; n < ops.length; n++) {
    const op = ops[n]!;
    const pre = op.pre;
    for (let k = 0; k < pre.length; k++) out.push(pre[k]!);
    out.push({ kind: "insn", insn: op.insn });
  }
  for (let k = 0; k < tail.length; k++) out.push(tail[k]!);
  return out;
}

/** Labels in front of each op, and where each label is. */
function labelIndex(ops: readonly Op[]): Map<string, number> {
  const at = new Map<string, number>();
  for (let i = 0; i < ops.length; i++) {
    const pre = ops[i]!.pre;
    for (let k = 0; k < pre.length; k++) {
      const p = pre[k]!;
      if (p.kind === "label") at.set(p.name, i);
    }
  }
  return at;
}

/** Whether a label is in front of the op. */
function labelled(op: Op): boolean {
  const pre = op.pre;
  for (let k = 0; k < pre.length; k++) if (pre[k]!.kind === "label") return true;
  return false;
}

function blocks(ops: readonly Op[], at: ReadonlyMap<string, number>): { list: Block[]; loops: boolean } {
  const n = ops.length;
  // the block of each op; then each block's first op, successors and number of predecessors
  const of = (scratch.of = grown(scratch.of, n + 1));
  of.fill(0, 0, n + 1);
  // leaders first (1 where a block starts)
  of[0] = 1;
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    const pre = op.pre;
    // labelled(op), written out
    for (let k = 0; k < pre.length; k++)
      if (pre[k]!.kind === "label") {
        of[i] = 1;
        break;
      }
    const code = op.insn.code;
    const c = code & 7;
    if ((c === CLASS_JMP || c === CLASS_JMP32) && code !== CALL) of[i + 1] = 1;
  }
  const starts = (scratch.starts = grown(scratch.starts, n + 1));
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (of[i]) starts[count++] = i;
    of[i] = count - 1;
  }
  starts[count] = n;
  const succs: (readonly number[])[] = new Array<readonly number[]>(count);
  const npreds = (scratch.npreds = grown(scratch.npreds, count));
  npreds.fill(0, 0, count);
  let loops = false;
  for (let b = 0; b < count; b++) {
    const end = starts[b + 1]!;
    const last = ops[end - 1]!.insn;
    let t = -1;
    // labelOf(last), written out
    const ref = last.ref;
    if (ref !== undefined && ref.kind === "label" && last.code !== CALL) {
      const p = at.get(ref.name);
      if (p !== undefined) t = of[p]!;
    }
    const fall = last.code !== JA && last.code !== EXIT && end < n;
    const s = t < 0 ? (fall ? one(b + 1) : NONE) : fall ? [t, b + 1] : one(t);
    succs[b] = s;
    for (let k = 0; k < s.length; k++) {
      npreds[s[k]!]!++;
      if (s[k]! <= b) loops = true;
    }
  }
  // predecessors in the order of the blocks they come from (then target before fallthrough)
  // (a block reached from one other has the shared list of it; npreds becomes where the next goes
  // in the others', -1 for those)
  const preds: (readonly number[])[] = new Array<readonly number[]>(count);
  for (let b = 0; b < count; b++) {
    const k = npreds[b]!;
    preds[b] = k <= 1 ? NONE : new Array<number>(k);
    npreds[b] = k === 1 ? -1 : 0;
  }
  for (let b = 0; b < count; b++) {
    const s = succs[b]!;
    for (let k = 0; k < s.length; k++) {
      const x = s[k]!;
      if (npreds[x] === -1) preds[x] = one(b);
      else (preds[x] as number[])[npreds[x]!++] = b;
    }
  }
  const list: Block[] = new Array<Block>(count);
  for (let b = 0; b < count; b++)
    list[b] = { start: starts[b]!, end: starts[b + 1]!, succs: succs[b]!, preds: preds[b]! };
  return { list, loops };
}

/**
 * Removes the ops at `gone` (indices, ascending), the labels and marks of each moving to the next op
 * kept (or to the tail): in one pass over the ops, not a splice per op.
 */
function removeAll(ops: Op[], tail: Item[], gone: readonly number[]): void {
  if (gone.length === 0) return;
  let w = gone[0]!;
  let g = 0;
  let pending: Item[] = [];
  for (let r = w; r < ops.length; r++) {
    const op = ops[r]!;
    if (g < gone.length && gone[g] === r) {
      g++;
      const pre = op.pre;
      for (let k = 0; k < pre.length; k++) pending.push(pre[k]!);
      continue;
    }
    if (pending.length > 0) {
      prependTo(op.pre, pending);
      pending = [];
    }
    ops[w++] = op;
  }
  ops.length = w;
  if (pending.length > 0) prependTo(tail, pending);
}

/** Puts `first` in front of the items of `to`, in place. */
function prependTo(to: Item[], first: readonly Item[]): void {
  if (first.length === 0) return;
  const n = to.length;
  to.length = n + first.length;
  for (let k = n - 1; k >= 0; k--) to[k + first.length] = to[k]!;
  for (let k = 0; k < first.length; k++) to[k] = first[k]!;
}

// ------------------------------------------------------------------ the passes' shared analysis

/**
 * Counts the changes made to the ops of the function being optimized: each pass that changed
 * them, and each label added. The analysis below is kept while the count stays, and a pass that
 * found nothing to do is not run again before something changes (each pass is a function of the
 * ops alone).
 */
let edits = 0;

/** Labels, blocks and (once asked for) liveness of the ops as they were at `edits`. */
interface Analysis {
  edits: number;
  at: Map<string, number>;
  list: Block[];
  loops: boolean;
  after?: number[];
  /** the registers each op reads and writes (with `after`) */
  U?: number[];
  D?: number[];
}

let analysis: Analysis | undefined;

/**
 * Set by a pass that made changes and knows that running it again at once would find nothing
 * (it went on to its own fixed point): the pass is not run again before something else changes.
 */
let settled = false;

/** The labels and blocks of `ops`, computed once per state of the ops. */
function analysed(ops: readonly Op[]): Analysis {
  if (analysis?.edits !== edits) {
    const at = labelIndex(ops);
    const { list, loops } = blocks(ops, at);
    analysis = { edits, at, list, loops };
  }
  return analysis;
}

/**
 * The live registers after each op (see {@link liveness}), and the registers each op reads and
 * writes, computed once per state of the ops.
 */
function liveAfter(ops: readonly Op[]): {
  list: Block[];
  loops: boolean;
  after: number[];
  U: number[];
  D: number[];
} {
  const a = analysed(ops);
  if (a.after === undefined) {
    const n = ops.length;
    const U = zeros(n);
    const D = zeros(n);
    for (let k = 0; k < n; k++) {
      const i = ops[k]!.insn;
      U[k] = uses(i);
      D[k] = defs(i);
    }
    a.U = U;
    a.D = D;
    a.after = liveness(a.list, a.loops, U, D);
  }
  return a as Analysis & { after: number[]; U: number[]; D: number[] };
}

// ------------------------------------------------------------------ cleanup

let labelSerial = 0;

/** The label in front of op `i`, added when it has none. */
function labelAt(ops: Op[], i: number): string {
  return labelOn(ops[i]!);
}

/** The label in front of an op, added when it has none. */
function labelOn(op: Op): string {
  const pre = op.pre;
  for (let k = 0; k < pre.length; k++) {
    const p = pre[k]!;
    if (p.kind === "label") return p.name;
  }
  const name = `opt_${labelSerial++}`;
  pre.push({ kind: "label", name });
  edits++;
  return name;
}

/**
 * The ops as the jump rewrites edit them: an array with a gap at the last place edited (a gap
 * buffer). The rewrites go through the function mostly in order, so an edit moves the gap by the
 * distance from the one before, not every op after it as an array's splice does; each op's `pos`
 * is its place in the buffer, kept right as the gap moves, so an op's index is found at once.
 */
class GapOps {
  private buf: Op[];
  /** the gap is buf[lo..hi) */
  private lo: number;
  private hi: number;

  constructor(ops: readonly Op[]) {
    const n = ops.length;
    const buf = new Array<Op>(n + 64);
    for (let i = 0; i < n; i++) {
      const op = ops[i]!;
      op.pos = i;
      buf[i] = op;
    }
    this.buf = buf;
    this.lo = n;
    this.hi = n + 64;
  }

  /** The number of ops. */
  get size(): number {
    return this.buf.length - this.hi + this.lo;
  }

  /** Op i, undefined past the end. */
  at(i: number): Op | undefined {
    if (i < this.lo) return this.buf[i];
    const k = i + this.hi - this.lo;
    return k < this.buf.length ? this.buf[k] : undefined;
  }

  /** The index of an op of the function. */
  indexOf(op: Op): number {
    const p = op.pos;
    if (p !== undefined && this.buf[p] === op) {
      if (p < this.lo) return p;
      if (p >= this.hi) return p - this.hi + this.lo;
    }
    for (let i = 0; i < this.size; i++) if (this.at(i) === op) return i; // not reached
    return -1;
  }

  /** Moves the gap to start at index p. */
  private gapTo(p: number): void {
    const buf = this.buf;
    if (p < this.lo) {
      let w = this.hi;
      for (let r = this.lo - 1; r >= p; r--) {
        const op = buf[r]!;
        op.pos = --w;
        buf[w] = op;
      }
      this.hi = w;
      this.lo = p;
    } else if (p > this.lo) {
      let w = this.lo;
      const end = this.hi + p - this.lo;
      for (let r = this.hi; r < end; r++) {
        const op = buf[r]!;
        op.pos = w;
        buf[w++] = op;
      }
      this.lo = p;
      this.hi = end;
    }
  }

  /** Replaces `del` ops at p with `add`; returns the ops removed. */
  splice(p: number, del: number, add: readonly Op[]): Op[] {
    this.gapTo(p);
    const gone = this.buf.slice(this.hi, this.hi + del);
    this.hi += del;
    if (this.hi - this.lo < add.length) {
      // a larger gap: the ops after it move to the end of a longer buffer
      const old = this.buf;
      const after = old.length - this.hi;
      const grow = Math.max(add.length, 64, old.length >> 2);
      const buf = new Array<Op>(old.length + grow);
      for (let i = 0; i < this.lo; i++) buf[i] = old[i]!;
      const hi = buf.length - after;
      for (let i = 0; i < after; i++) {
        const op = old[this.hi + i]!;
        op.pos = hi + i;
        buf[hi + i] = op;
      }
      this.buf = buf;
      this.hi = hi;
    }
    for (let k = 0; k < add.length; k++) {
      const op = add[k]!;
      op.pos = this.lo;
      this.buf[this.lo++] = op;
    }
    return gone;
  }

  /** Writes the ops into `out`, in order. */
  into(out: Op[]): void {
    const n = this.size;
    out.length = n;
    for (let i = 0; i < this.lo; i++) out[i] = this.buf[i]!;
    for (let i = this.lo; i < n; i++) out[i] = this.buf[i + this.hi - this.lo]!;
  }
}

function retarget(i: Instruction, label: string): Instruction {
  return { ...i, ref: { kind: "label", name: label } };
}

/**
 * The jumps to each label, in the order they were added (as a set keeps them): most labels have
 * one, kept as the op itself; a few, in an array; many, in a set. (A set for each label of a long
 * function is many objects for the garbage collector to copy.)
 */
class Jumpers {
  private by = new Map<string, Op | Op[] | Set<Op>>();

  count(label: string): number {
    const j = this.by.get(label);
    if (j === undefined) return 0;
    if (j instanceof Set) return j.size;
    return Array.isArray(j) ? j.length : 1;
  }

  add(label: string, op: Op): void {
    const j = this.by.get(label);
    if (j === undefined) this.by.set(label, op);
    else if (j instanceof Set) j.add(op);
    else if (Array.isArray(j)) {
      if (j.includes(op)) return;
      if (j.length < 8) j.push(op);
      else this.by.set(label, new Set([...j, op]));
    } else if (j !== op) this.by.set(label, [j, op]);
  }

  remove(label: string, op: Op): void {
    const j = this.by.get(label);
    if (j === undefined) return;
    if (j instanceof Set) j.delete(op);
    else if (Array.isArray(j)) {
      const k = j.indexOf(op);
      if (k >= 0) j.splice(k, 1);
    } else if (j === op) this.by.delete(label);
  }

  each(label: string, f: (op: Op) => void): void {
    const j = this.by.get(label);
    if (j === undefined) return;
    if (j instanceof Set)
      j.forEach((op) => {
        f(op);
      });
    else if (Array.isArray(j)) for (let k = 0; k < j.length; k++) f(j[k]!);
    else f(j);
  }
}

/** Whether the op ends a block for the merge of exit blocks: a jump or `exit` (not a call). */
const resets = (i: Instruction) => isJmpClass(i) && i.code !== CALL;

/** The label a jump goes to; none for calls and other instructions. */
const targetOf = (i: Instruction) => (i.code === CALL ? undefined : labelOf(i));

/**
 * The jump rewrites, until none is left to make. They are defined as a scan from the first op that
 * makes each rewrite it meets in place (a jump to a jump goes straight there; a jump to `exit`
 * becomes `exit`) and starts again from the first op after any rewrite that moves ops; a scan that
 * reaches the end merges one pair of identical exit blocks (see `mergeOnce`), and the scans
 * go on while anything changed. Scanning everything again each time is quadratic in the function's
 * size, so the scan here checks only the jumps that may have a rewrite to make: a jump is checked
 * again when something its rewrites look at changed (the op after it, its target, the ops around
 * the target, the number of jumps to the target: see `around` and `link`), and the others are
 * skipped, as the full scan would find nothing to do there. The merge of exit blocks goes on from
 * the first block a change may have touched. The rewrites are made in the same order as the full
 * scans make them, so the output is the same, op for op and label for label.
 */
function rewriteJumps(list: Op[], tail: Item[]): boolean {
  const ops = new GapOps(list);
  /** the op each label is in front of */
  const holder = new Map<string, Op>();
  /** the jumps to each label */
  const jumpers = new Jumpers();
  /** the jumps that may have a rewrite to make (besides those from `fresh` on) */
  const dirty = new Set<Op>();
  /** ops from here on have not been checked yet */
  let fresh = 0;
  /** The index of an op in the ops. */
  const posOf = (op: Op): number => ops.indexOf(op);
  // where each label is, and the jumps to each (from the ops as given, which the buffer copied)
  indexJumps(list, holder, (to, op) => jumpers.add(to, op));
  const refs = (label: string) => jumpers.count(label);
  const fallen = (p: number) => p > 0 && !ends(ops.at(p - 1)!.insn);
  /** how many places lead to op p: jumps to its labels, and the fallthrough */
  const entries = (p: number) => {
    let n = fallen(p) ? 1 : 0;
    const pre = ops.at(p)!.pre;
    for (let k = 0; k < pre.length; k++) {
      const q = pre[k]!;
      if (q.kind === "label") n += refs(q.name);
    }
    return n;
  };

  // ---- the scan's work list: a heap of the positions still to check in this scan
  const heap: number[] = [];
  let cursor = 0;
  const push = (p: number) => {
    let k = heap.length;
    heap.push(p);
    while (k > 0) {
      const up = (k - 1) >> 1;
      if (heap[up]! <= p) break;
      heap[k] = heap[up]!;
      k = up;
    }
    heap[k] = p;
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let k = 0;
      for (;;) {
        let c = 2 * k + 1;
        if (c >= heap.length) break;
        if (c + 1 < heap.length && heap[c + 1]! < heap[c]!) c++;
        if (heap[c]! >= last) break;
        heap[k] = heap[c]!;
        k = c;
      }
      heap[k] = last;
    }
    return top;
  };
  const mark = (op: Op) => {
    if (dirty.has(op)) return;
    dirty.add(op);
    const p = posOf(op);
    if (p >= cursor) push(p);
  };
  const markJumpers = (op: Op) => {
    const pre = op.pre;
    for (let k = 0; k < pre.length; k++) {
      const q = pre[k]!;
      if (q.kind === "label") jumpers.each(q.name, mark);
    }
  };
  /**
   * Marks what a change at op p may have given a rewrite to make: the jumps at p-2..p+1 (they look
   * at the next op and at how far their target is), and the jumps to p-1..p+1 when that op is one a
   * jump to it can be rewritten for (a jump or `exit` at p, `r0 = K` reached once, an op after a
   * jump or `exit`).
   */
  const around = (p: number) => {
    for (let k = Math.max(0, p - 2); k <= p + 1 && k < ops.size; k++)
      if (targetOf(ops.at(k)!.insn) !== undefined) mark(ops.at(k)!);
    for (let k = Math.max(0, p - 1); k <= p + 1 && k < ops.size; k++) {
      const i = ops.at(k)!.insn;
      if (
        (k === p && (i.code === JA || i.code === EXIT)) ||
        (k > 0 && ends(ops.at(k - 1)!.insn)) ||
        ((i.code === MOV64_K || i.code === MOV32_K) && i.dst === 0 && entries(k) === 1)
      )
        markJumpers(ops.at(k)!);
    }
  };

  // ---- the merge of exit blocks: the blocks before `mergeFrom` were looked at, and these are
  // the first of each kind among them
  let mergeFrom = 0;
  const seen = new Map<string, Op>();
  const seenOps: Op[] = [];
  const seenKeys: string[] = [];
  /** Forgets what the merge saw from the block of op p on. */
  const unsee = (p: number) => {
    const c = Math.max(0, p - 2);
    if (c < mergeFrom) mergeFrom = c;
    while (seenOps.length > 0 && posOf(seenOps[seenOps.length - 1]!) >= c) {
      seenOps.pop();
      seen.delete(seenKeys.pop()!);
    }
  };
  const reachedBesides = (op: Op, label: string) => {
    if (fallen(posOf(op))) return true;
    const pre = op.pre;
    for (let k = 0; k < pre.length; k++) {
      const q = pre[k]!;
      if (q.kind === "label" && q.name !== label && refs(q.name) > 0) return true;
    }
    return false;
  };

  /** Counts a jump of `op` to `label` (d = 1) or its end (d = -1). */
  const link = (op: Op, label: string, d: 1 | -1) => {
    const before = jumpers.count(label);
    if (d > 0) jumpers.add(label, op);
    else jumpers.remove(label, op);
    const at = holder.get(label);
    if (at === undefined) return;
    // reached or not any more: the merge looks at it again
    if ((before === 0) !== (jumpers.count(label) === 0) && !reachedBesides(at, label)) unsee(posOf(at));
    if (entries(posOf(at)) === 1) markJumpers(at);
  };
  /** Replaces an op's instruction. */
  const setInsn = (op: Op, insn: Instruction) => {
    const old = op.insn;
    const was = targetOf(old);
    const now = targetOf(insn);
    op.insn = insn;
    if (was !== now) {
      if (was !== undefined) link(op, was, -1);
      if (now !== undefined) link(op, now, 1);
    }
    // exit blocks hold no jumps: a jump changed into another leaves them as they were
    const jumpish = (i: Instruction) => isJmpClass(i) && i.code !== CALL && i.code !== EXIT;
    if (!jumpish(old) || !jumpish(insn)) unsee(posOf(op));
  };
  const endsLast = () => ops.size > 0 && ends(ops.at(ops.size - 1)!.insn);
  /** Replaces `del` ops at p with `add`. */
  const splice = (p: number, del: number, add: Op[]) => {
    unsee(p);
    const ended = endsLast();
    for (let k = p; k < p + del; k++) {
      const op = ops.at(k)!;
      const to = targetOf(op.insn);
      if (to !== undefined) link(op, to, -1);
      dirty.delete(op);
      const pre = op.pre;
      for (let j = 0; j < pre.length; j++) {
        const q = pre[j]!;
        if (q.kind === "label" && holder.get(q.name) === op) holder.delete(q.name);
      }
    }
    ops.splice(p, del, add);
    if (fresh > p) fresh = fresh >= p + del ? fresh - del + add.length : p + add.length;
    indexJumps(add, holder, (to, op) => {
      link(op, to, 1);
      mark(op);
    });
    around(p);
    if (add.length > 0) around(p + add.length);
    if (endsLast() !== ended) fresh = 0;
  };
  /** Removes op p, its labels and marks moving to the next op. */
  const removeAt = (p: number) => {
    const gone = ops.at(p)!;
    const next = ops.at(p + 1);
    if (next !== undefined) prependTo(next.pre, gone.pre);
    else prependTo(tail, gone.pre);
    relabel(gone.pre, next, holder, (label) => jumpers.each(label, mark));
    splice(p, 1, []);
  };

  /** Checks the jump at op i: 0 when it has no rewrite to make, 1 when made in place, 2 when ops moved. */
  const check = (i: number): 0 | 1 | 2 => {
    const op = ops.at(i)!;
    let insn = op.insn;
    let to = targetOf(insn);
    if (to === undefined) return 0;
    let t = posOf(holder.get(to)!);
    let hop = ops.at(t)!.insn;
    let made: 0 | 1 = 0;
    // a jump to a jump goes straight there
    let hops = 0;
    for (; hops < 8 && hop.code === JA && t !== i && labelOf(hop) !== to; hops++) {
      const next = labelOf(hop)!;
      setInsn(op, retarget(insn, next));
      insn = op.insn;
      to = next;
      t = posOf(holder.get(to)!);
      hop = ops.at(t)!.insn;
      made = 1;
    }
    // the next scan goes on where this one stopped
    if (hops === 8 && hop.code === JA && t !== i && labelOf(hop) !== to) mark(op);
    if (insn.code === JA) {
      if (t === i + 1) {
        removeAt(i);
        return 2;
      }
      // goto L; <code nobody falls into, ending in a jump or exit>; L:  ->  the code moves to the end
      if (t > i + 1 && ends(ops.at(t - 1)!.insn) && endsLast()) {
        unsee(i + 1);
        const moved = ops.splice(i + 1, t - i - 1, []);
        ops.splice(ops.size, 0, moved);
        // what follows is checked again from here on
        if (fresh > i + 1) fresh = i + 1;
        around(i + 1);
        around(ops.size - moved.length);
        return 2;
      }
      // a jump to `exit`, or to `r0 = K; exit` reached from here only: copy it
      if (hop.code === EXIT) {
        setInsn(op, hop);
        around(i);
        return 1;
      }
      if (constantExit(hop, ops.at(t + 1)) && entries(t) === 1) {
        setInsn(op, hop);
        dirty.delete(op);
        splice(i + 1, 0, [{ insn: ops.at(t + 1)!.insn, pre: [] }]);
        around(i);
        return 2;
      }
    } else if (isCond(insn)) {
      if (t === i + 1) {
        removeAt(i);
        return 2;
      }
      // if c goto A; goto B; A:  ->  if !c goto B; A:
      const next = ops.at(i + 1);
      const neg = NEGATE[insn.code & 0xf0];
      if (neg !== undefined && t === i + 2 && bareGoto(next)) {
        setInsn(op, { ...retarget(insn, labelOf(next.insn)!), code: (insn.code & 0x0f) | neg });
        removeAt(i + 1);
        mark(op);
        return 2;
      }
    }
    return made;
  };

  /**
   * Identical blocks ending in `exit` (`r0 = 2; exit`) are kept once: the first block that repeats
   * one before it is merged (jumps to it go to the first one; when it is fallen into, it becomes a
   * jump there). False when none repeats.
   */
  const mergeOnce = (): boolean => {
    let b = Math.min(mergeFrom, ops.size);
    while (b > 0 && (b === ops.size || !labelled(ops.at(b)!)) && !resets(ops.at(b - 1)!.insn)) b--;
    while (seenOps.length > 0 && posOf(seenOps[seenOps.length - 1]!) >= b) {
      seenOps.pop();
      seen.delete(seenKeys.pop()!);
    }
    const reached = (i: number) => {
      if (fallen(i)) return true;
      const pre = ops.at(i)!.pre;
      for (let k = 0; k < pre.length; k++) {
        const q = pre[k]!;
        if (q.kind === "label" && refs(q.name) > 0) return true;
      }
      return false;
    };
    const merged = exitBlocks(
      ops.size,
      (i) => ops.at(i)!,
      b,
      reached,
      (from, i, key) => {
        const first = seen.get(key);
        if (first === undefined) {
          seen.set(key, ops.at(from)!);
          seenOps.push(ops.at(from)!);
          seenKeys.push(key);
          return false;
        }
        const label = labelOn(first);
        if (!holder.has(label)) holder.set(label, first);
        const fallsIn = fallen(from);
        // a one-instruction copy is no bigger than the jump that would replace it
        if (fallsIn && i === from) return false;
        // the blocks before this one stay looked at (what the merge changes, it forgets)
        mergeFrom = from;
        if (fallsIn) splice(from, i + 1 - from, [{ insn: jump(label), pre: ops.at(from)!.pre }]);
        else {
          let named = false;
          const pre = ops.at(from)!.pre;
          for (let k = 0; k < pre.length; k++) {
            const q = pre[k]!;
            if (q.kind !== "label") continue;
            named = true;
            const js: Op[] = [];
            jumpers.each(q.name, (j) => {
              js.push(j);
            });
            for (let x = 0; x < js.length; x++) {
              const j = js[x]!;
              setInsn(j, retarget(j.insn, label));
              mark(j);
            }
          }
          if (!named) return false;
          splice(from, i + 1 - from, []);
        }
        return true;
      },
    );
    if (merged) return true;
    mergeFrom = ops.size;
    return false;
  };

  let changed = false;
  for (let scans = 0; scans < 10_000; scans++) {
    // one scan: the jumps to check, in order
    cursor = 0;
    heap.length = 0;
    dirty.forEach((op) => {
      push(posOf(op));
    });
    let made = false;
    let moved = false;
    for (;;) {
      // targetOf(...) === undefined, written out (this looks at every op of the function)
      for (; fresh < ops.size; fresh++) {
        const i = ops.at(fresh)!.insn;
        if (i.code !== CALL && i.ref !== undefined && i.ref.kind === "label") break;
      }
      while (heap.length > 0 && (heap[0]! < cursor || !dirty.has(ops.at(heap[0]!)!))) pop();
      const p = Math.min(heap.length > 0 ? heap[0]! : ops.size, Math.max(fresh, cursor));
      if (p >= ops.size) break;
      if (heap.length > 0 && heap[0] === p) pop();
      dirty.delete(ops.at(p)!);
      if (p >= fresh) fresh = p + 1;
      cursor = p + 1;
      const r = check(p);
      if (r === 2) {
        moved = true;
        break;
      }
      if (r === 1) made = true;
    }
    if (moved || mergeOnce() || made) changed = true;
    else break;
  }
  ops.into(list);
  return changed;
}

/**
 * `r0 = K` followed by a bare `exit` (`after`, with no label or mark): the tail a jump to it may
 * take a copy of, in both ways of making the jump rewrites.
 */
function constantExit(hop: Instruction, after: Op | undefined): boolean {
  return (
    (hop.code === MOV64_K || hop.code === MOV32_K) &&
    hop.dst === 0 &&
    after !== undefined &&
    after.insn.code === EXIT &&
    after.pre.length === 0
  );
}

/** A `goto` with no label or mark in front: what `if c goto A; goto B; A:` inverts over. */
function bareGoto(op: Op | undefined): op is Op {
  return op !== undefined && op.insn.code === JA && op.pre.length === 0;
}

/**
 * Records in `holder` the op each label is in front of, and gives `jumpTo` each jump (not a call)
 * with its label: where both ways of making the jump rewrites start.
 */
function indexJumps(ops: readonly Op[], holder: Map<string, Op>, jumpTo: (to: string, op: Op) => void): void {
  for (let n = 0; n < ops.length; n++) {
    const op = ops[n]!;
    const pre = op.pre;
    for (let k = 0; k < pre.length; k++) {
      const p = pre[k]!;
      if (p.kind === "label") holder.set(p.name, op);
    }
    const to = targetOf(op.insn);
    if (to !== undefined) jumpTo(to, op);
  }
}

/**
 * The labels of `pre` (in front of an op that goes) name `next` from now on, or nothing when no op
 * follows; each is given to `moved`.
 */
function relabel(
  pre: readonly Item[],
  next: Op | undefined,
  holder: Map<string, Op>,
  moved?: (label: string) => void,
): void {
  for (let k = 0; k < pre.length; k++) {
    const q = pre[k]!;
    if (q.kind !== "label") continue;
    if (next !== undefined) holder.set(q.name, next);
    else holder.delete(q.name);
    moved?.(q.name);
  }
}

/** Functions up to this many ops get their jump rewrites from {@link rewriteJumpsShort}. */
const SHORT = 256;
let shortUpTo = SHORT;

/**
 * Runs `f` with the jump rewrites of every function made one way: `"short"` by
 * {@link rewriteJumpsShort} (as they are defined), `"long"` by {@link rewriteJumps} (the work
 * lists long functions need). For test/lang/optimize.test.ts, which holds the two to the same output.
 */
export function withJumpRewrites<T>(way: "short" | "long", f: () => T): T {
  const saved = shortUpTo;
  shortUpTo = way === "short" ? Number.POSITIVE_INFINITY : -1;
  try {
    return f();
  } finally {
    shortUpTo = saved;
  }
}

/**
 * The jump rewrites of a short function, made as they are defined (see {@link rewriteJumps}): scans
 * from the first op over a plain array, each with the labels and the jumps to each counted anew, a
 * scan starting again after any rewrite that moves ops, and a scan that reaches the end merging one
 * pair of identical exit blocks. On a function of a few dozen ops (most of them) this is far less
 * work than keeping rewriteJumps's work lists, gap buffer and label tables up to date; it is
 * quadratic in the length, hence the limit. Same output, op for op and label for label.
 */
function rewriteJumpsShort(ops: Op[], tail: Item[]): boolean {
  // the op each label is in front of, and the number of jumps to each label, kept up to date by
  // each rewrite (an op's index is found when needed: the array is short)
  const holder = new Map<string, Op>();
  const refs = new Map<string, number>();
  indexJumps(ops, holder, (to) => count(refs, to, 1));
  let changed = false;
  for (let scans = 0; scans < 10_000; scans++) {
    const r = scanJumps(ops, tail, holder, refs);
    if (r === 2 || mergeExits(ops, holder, refs) || r === 1) changed = true;
    else break;
  }
  return changed;
}

/** Whether op p is fallen into (the op before it neither jumps nor exits). */
function fallenInto(ops: readonly Op[], p: number): boolean {
  if (p === 0) return false;
  const code = ops[p - 1]!.insn.code;
  return code !== JA && code !== EXIT;
}

/** Counts `d` more jumps to `label`. */
function count(refs: Map<string, number>, label: string, d: number): void {
  refs.set(label, (refs.get(label) ?? 0) + d);
}

/**
 * One scan of {@link rewriteJumpsShort}: 0 when it made no rewrite, 1 when it made rewrites in
 * place (it went on to the end), 2 when it made one that moves ops (and stopped there).
 */
function scanJumps(ops: Op[], tail: Item[], holder: Map<string, Op>, refs: Map<string, number>): 0 | 1 | 2 {
  /** how many places lead to op p: jumps to its labels, and the fallthrough */
  const entries = (p: number) => {
    let n = fallenInto(ops, p) ? 1 : 0;
    const pre = ops[p]!.pre;
    for (let k = 0; k < pre.length; k++) {
      const q = pre[k]!;
      if (q.kind === "label") n += refs.get(q.name) ?? 0;
    }
    return n;
  };
  let made: 0 | 1 = 0;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    let insn = op.insn;
    const ref = insn.ref;
    if (ref === undefined || ref.kind !== "label" || insn.code === CALL) continue;
    let to = ref.name;
    let t = ops.indexOf(holder.get(to)!);
    let hop = ops[t]!.insn;
    // a jump to a jump goes straight there (eight hops a scan)
    for (let hops = 0; hops < 8 && hop.code === JA && t !== i && labelOf(hop) !== to; hops++) {
      const next = labelOf(hop)!;
      count(refs, to, -1);
      count(refs, next, 1);
      insn = retarget(insn, next);
      op.insn = insn;
      to = next;
      t = ops.indexOf(holder.get(to)!);
      hop = ops[t]!.insn;
      made = 1;
    }
    if (insn.code === JA) {
      if (t === i + 1) {
        removeOp(ops, tail, i, holder, refs);
        return 2;
      }
      // goto L; <code nobody falls into, ending in a jump or exit>; L:  ->  the code moves to the end
      if (t > i + 1 && ends(ops[t - 1]!.insn) && ends(ops[ops.length - 1]!.insn)) {
        const moved = ops.splice(i + 1, t - i - 1);
        for (let k = 0; k < moved.length; k++) ops.push(moved[k]!);
        return 2;
      }
      // a jump to `exit`, or to `r0 = K; exit` reached from here only: copy it
      if (hop.code === EXIT) {
        count(refs, to, -1);
        op.insn = hop;
        made = 1;
        continue;
      }
      if (constantExit(hop, ops[t + 1]) && entries(t) === 1) {
        count(refs, to, -1);
        op.insn = hop;
        ops.splice(i + 1, 0, { insn: ops[t + 1]!.insn, pre: [] });
        return 2;
      }
    } else if (COND[insn.code] === 1) {
      if (t === i + 1) {
        removeOp(ops, tail, i, holder, refs);
        return 2;
      }
      // if c goto A; goto B; A:  ->  if !c goto B; A:
      const next = ops[i + 1];
      const neg = NEGATE[insn.code & 0xf0];
      if (neg !== undefined && t === i + 2 && bareGoto(next)) {
        const b = labelOf(next.insn)!;
        count(refs, to, -1);
        count(refs, b, 1);
        op.insn = { ...retarget(insn, b), code: (insn.code & 0x0f) | neg };
        removeOp(ops, tail, i + 1, holder, refs);
        return 2;
      }
    }
  }
  return made;
}

/** Removes op p, its labels and marks moving to the next op (or to the tail). */
function removeOp(
  ops: Op[],
  tail: Item[],
  p: number,
  holder: Map<string, Op>,
  refs: Map<string, number>,
): void {
  const gone = ops[p]!;
  const next = ops[p + 1];
  const pre = gone.pre;
  relabel(pre, next, holder);
  const to = targetOf(gone.insn);
  if (to !== undefined) count(refs, to, -1);
  prependTo(next !== undefined ? next.pre : tail, pre);
  ops.splice(p, 1);
}

/**
 * The merge of exit blocks of {@link rewriteJumpsShort} (as rewriteJumps's `mergeOnce`, from the
 * first block): merges the first block ending in `exit` that repeats one before it; false when none
 * does.
 */
function mergeExits(ops: Op[], holder: Map<string, Op>, refs: Map<string, number>): boolean {
  const reached = (i: number) => {
    if (fallenInto(ops, i)) return true;
    const pre = ops[i]!.pre;
    for (let k = 0; k < pre.length; k++) {
      const q = pre[k]!;
      if (q.kind === "label" && (refs.get(q.name) ?? 0) > 0) return true;
    }
    return false;
  };
  let seen: Map<string, number> | undefined;
  return exitBlocks(
    ops.length,
    (i) => ops[i]!,
    0,
    reached,
    (from, i, key) => {
      seen ??= new Map<string, number>();
      const first = seen.get(key);
      if (first === undefined) {
        seen.set(key, from);
        return false;
      }
      const label = labelOn(ops[first]!);
      holder.set(label, ops[first]!);
      const fallsIn = fallenInto(ops, from);
      // a one-instruction copy is no bigger than the jump that would replace it
      if (fallsIn && i === from) return false;
      const pre = ops[from]!.pre;
      if (fallsIn) {
        const jumpOp: Op = { insn: jump(label), pre };
        for (let k = 0; k < pre.length; k++) {
          const q = pre[k]!;
          if (q.kind === "label") holder.set(q.name, jumpOp);
        }
        count(refs, label, 1);
        ops.splice(from, i + 1 - from, jumpOp);
      } else {
        // the jumps to the block go to the first one
        let named = false;
        for (let k = 0; k < pre.length; k++) {
          const q = pre[k]!;
          if (q.kind !== "label") continue;
          named = true;
          for (let j = 0; j < ops.length; j++) {
            const insn = ops[j]!.insn;
            const ref = insn.ref;
            if (ref !== undefined && ref.kind === "label" && ref.name === q.name && insn.code !== CALL) {
              ops[j]!.insn = retarget(insn, label);
              count(refs, q.name, -1);
              count(refs, label, 1);
            }
          }
        }
        if (!named) return false;
        for (let k = 0; k < pre.length; k++) {
          const q = pre[k]!;
          if (q.kind === "label") holder.delete(q.name);
        }
        ops.splice(from, i + 1 - from);
      }
      return true;
    },
  );
}

/**
 * The blocks of at most three ops ending in `exit` that something reaches (`reached` of their
 * first op), from op `begin` on, in order: each given to `visit` with its first and last op and
 * its key (its instructions'), until `visit` returns true (then true). The scan of the merge of
 * identical exit blocks, for both ways of making the jump rewrites; `at` gives op `i` of `size`.
 */
function exitBlocks(
  size: number,
  at: (i: number) => Op,
  begin: number,
  reached: (i: number) => boolean,
  visit: (from: number, last: number, key: string) => boolean,
): boolean {
  let start = begin;
  for (let i = begin; i < size; i++) {
    const op = at(i);
    if (i > start && op.pre.length > 0 && labelled(op)) start = i;
    const code = op.insn.code;
    // resets(op.insn), written out (this looks at every op of the function)
    if (((code & 7) === CLASS_JMP || (code & 7) === CLASS_JMP32) && code !== CALL && code !== EXIT) {
      start = i + 1;
      continue;
    }
    if (code !== EXIT) continue;
    const from = start;
    start = i + 1;
    if (i - from > 2 || !reached(from)) continue;
    let key = opKey(at(from).insn);
    for (let k = from + 1; k <= i; k++) key += opKey(at(k).insn);
    if (visit(from, i, key)) return true;
  }
  return false;
}

/**
 * The key of an instruction for the merge of exit blocks, kept per instruction: the merge looks at
 * the same exit blocks at each cleanup, and instructions are never changed in place.
 */
const opKeys = new WeakMap<Instruction, string>();
function opKey(o: Instruction): string {
  let key = opKeys.get(o);
  if (key === undefined) {
    key = `${o.code},${o.dst},${o.src},${o.off},${o.imm},${o.imm2 ?? ""},${o.ref?.name ?? ""};`;
    opKeys.set(o, key);
  }
  return key;
}

function jump(label: string): Instruction {
  return { code: JA, dst: 0, src: 0, off: 0, imm: 0, ref: { kind: "label", name: label } };
}

/** Marks the blocks reached from the first one; false when some block is not. */
function reach(list: readonly Block[], seen: Int32Array): boolean {
  seen.fill(0, 0, list.length);
  const stack = [0];
  seen[0] = 1;
  let count = 1;
  while (stack.length > 0) {
    const succs = list[stack.pop()!]!.succs;
    for (let k = 0; k < succs.length; k++) {
      const s = succs[k]!;
      if (!seen[s]) {
        seen[s] = 1;
        count++;
        stack.push(s);
      }
    }
  }
  return count === list.length;
}

/**
 * Drops the unreachable blocks, then makes the jump rewrites. It is {@link settled} when a call
 * made at once would find nothing: the jump rewrites went on until none was left, and every block
 * is reached (dropping blocks nothing reaches leaves every other block reached).
 */
function cleanup(ops: Op[], tail: Item[]): boolean {
  // the blocks nothing reaches, unless every block was reached when this pass last ran and only
  // passes that leave the flow as it is (dead code, coalescing) changed the ops since
  let dropped = false;
  if (!flowKept) {
    const { list } = analysed(ops);
    const seen = (scratch.seen = grown(scratch.seen, list.length));
    dropped = !reach(list, seen);
    if (dropped) {
      // the blocks go with their labels and marks (nothing jumps there from what is reached)
      let w = 0;
      for (let n = 0; n < list.length; n++) {
        const b = list[n]!;
        if (seen[n]) for (let k = b.start; k < b.end; k++) ops[w++] = ops[k]!;
      }
      ops.length = w;
    }
  }
  if (!(ops.length <= shortUpTo ? rewriteJumpsShort(ops, tail) : rewriteJumps(ops, tail))) {
    // every block is reached (the rest were dropped)
    flowKept = true;
    settled = dropped;
    return dropped;
  }
  // the jumps changed: whether a block is left unreached, from the analysis of the ops as they are
  // now, which the passes after this one share (the count of changes `run` gives them next)
  edits++;
  const a = analysed(ops);
  a.edits = edits + 1;
  settled = reach(a.list, (scratch.seen = grown(scratch.seen, a.list.length)));
  flowKept = settled;
  return true;
}

/**
 * Every block is reached from the first one: set by {@link cleanup} when it knows so, and cleared
 * by the passes that change the flow (values decides jumps and threads them). Dead code and
 * coalescing remove only instructions that do not jump, and rename registers, which leaves it so.
 */
let flowKept = false;

// ------------------------------------------------------------------ values

/** What a register may hold: an unsigned range, and which memory word it holds a copy of. */
interface Fact {
  lo: Value;
  hi: Value;
  /** `size:base:off` of the load it holds, while the base register is unchanged */
  mem: number | undefined;
  /** the base register of `mem` (-1 without one) */
  base: number;
}

type State = (Fact | undefined)[] | undefined; // undefined: not reached yet

const UNKNOWN = undefined;

const min = (a: Value, b: Value) => (a < b ? a : b);
const max = (a: Value, b: Value) => (a > b ? a : b);

function exact(v: Value): Fact {
  return { lo: v, hi: v, mem: undefined, base: -1 };
}

function range(lo: Value, hi: Value): Fact {
  return { lo, hi, mem: undefined, base: -1 };
}

/** The fact without its memory word. */
function forget(f: Fact): Fact {
  return { lo: f.lo, hi: f.hi, mem: undefined, base: f.base };
}

/** Any 32-bit value (facts are never changed in place, so one is shared). */
const ANY32 = range(0, U32_MAX);

/** The facts of `r = K` by K, 64-bit and 32-bit moves (shared, as {@link ANY32}). */
const moved64 = new Map<number, Fact>();
const moved32 = new Map<number, Fact>();

/** The fact of a move of `imm` (`wide`: 64-bit, sign-extended). */
function movedImm(imm: number, wide: boolean): Fact {
  const cache = wide ? moved64 : moved32;
  let f = cache.get(imm);
  if (f === undefined) {
    if (cache.size >= 4096) cache.clear();
    f = exact(imm >= 0 ? imm : wide ? (1n << 64n) + BigInt(imm) : imm >>> 0);
    cache.set(imm, f);
  }
  return f;
}

/** The memory word a load reads, as a number: its size, base register and offset. */
const memKey = (i: Instruction) => (i.code & 0x18) | (i.src << 5) | ((i.off + 0x8000) << 9);
function meet(a: State, b: State): State {
  // states are never changed in place either (the analysis steps a copy): one is shared
  if (a === undefined) return b;
  if (b === undefined) return a;
  // a's facts, but where b's differ
  const out = a.slice();
  for (let r = 0; r < 10; r++) {
    const x = a[r];
    const y = b[r];
    if (x === y || x === undefined) continue;
    if (y === undefined) out[r] = undefined;
    // facts are never changed in place: an equal one is shared rather than copied
    else if (x.lo !== y.lo || x.hi !== y.hi || x.mem !== y.mem || x.base !== y.base)
      out[r] = {
        lo: min(x.lo, y.lo),
        hi: max(x.hi, y.hi),
        mem: x.mem === y.mem ? x.mem : undefined,
        base: x.base,
      };
  }
  return out;
}

function sameState(a: State, b: State): boolean {
  if (a === undefined || b === undefined) return a === b;
  for (let r = 0; r < 10; r++) {
    const x = a[r];
    const y = b[r];
    if (x === y) continue;
    if (x === undefined || y === undefined) return false;
    if (x.lo !== y.lo || x.hi !== y.hi || x.mem !== y.mem) return false;
  }
  return true;
}

/** The largest value a load gives, by its size field (`code & 0x18`) shifted right by 3. */
const LDX_MAX: readonly Value[] = [U32_MAX, 0xffff, 0xff, U64_MAX];

/**
 * The registers some load of the function reads through (a bit each): only a fact of a load has a
 * memory word, so a write to any other register forgets none. Set by {@link values} for the ops it
 * analyses.
 */
let loadBases = 0;

/** The state after `i` (mutates `s`). */
function step(s: (Fact | undefined)[], i: Instruction): void {
  const c = i.code & 7;
  if (c === CLASS_ST || c === CLASS_STX) {
    // a store through r10 changes the stack only; any other pointer may point anywhere
    killMemory(s, i.dst === 10);
    if (c === CLASS_STX && (i.code & 0xe0) === MODE_ATOMIC) {
      const d = defs(i);
      for (let r = 0; r < 10; r++)
        if (d & (1 << r)) {
          s[r] = UNKNOWN;
          killBase(s, r);
        }
    }
    return;
  }
  if (c === CLASS_JMP || c === CLASS_JMP32) {
    if (i.code === CALL) {
      for (let r = 0; r < 10; r++) {
        const f = s[r];
        s[r] = r <= 5 ? UNKNOWN : f !== undefined && f.mem !== undefined ? forget(f) : f;
      }
    }
    return;
  }
  const dst = i.dst;
  let f: Fact | undefined = UNKNOWN;
  if (c === CLASS_LD) {
    if (i.src === 0 && i.ref === undefined) {
      const hi = (i.imm2 ?? 0) >>> 0;
      const lo = i.imm >>> 0;
      f = exact(hi < 0x200000 ? hi * 0x100000000 + lo : (BigInt(hi) << 32n) | BigInt(lo));
    }
  } else if (c === CLASS_LDX) {
    if ((i.code & 0xe0) === MODE_MEM) {
      f = {
        lo: 0,
        hi: LDX_MAX[(i.code & 0x18) >> 3]!,
        mem: i.src === dst ? undefined : memKey(i),
        base: i.src,
      };
    }
  } else {
    const op = i.code & 0xf0;
    const x = (i.code & 0x08) !== 0;
    const wide = c === CLASS_ALU64;
    const cur = s[dst];
    const src = x ? s[i.src] : undefined;
    if (op === 0xb0 && i.off === 0) {
      if (wide) f = x ? (i.src === 10 ? UNKNOWN : src) : movedImm(i.imm, true);
      else if (x) f = src !== undefined && src.hi <= U32_MAX ? src : ANY32;
      else f = movedImm(i.imm, false);
    } else if (op === 0x50 && !x && (i.imm >= 0 || !wide)) {
      const m = wide ? i.imm : i.imm >>> 0;
      f = range(0, cur !== undefined && cur.hi < m ? cur.hi : m);
    } else if (op === 0x70 && !x && cur !== undefined && (wide || cur.hi <= U32_MAX)) {
      const k = i.imm & (wide ? 63 : 31);
      f = range(shr(cur.lo, k), shr(cur.hi, k));
    } else if (op === 0xd0) {
      f = i.imm === 16 ? range(0, 0xffff) : i.imm === 32 ? ANY32 : UNKNOWN;
    } else if (!wide) f = ANY32;
  }
  s[dst] = f;
  if (loadBases & (1 << dst)) killBase(s, dst);
}

/** `v >> k`. */
function shr(v: Value, k: number): Value {
  return typeof v === "number" ? Math.floor(v / 2 ** k) : normal(v >> BigInt(k));
}

/** Forgets the memory words loaded through register `r` (which changed). */
function killBase(s: (Fact | undefined)[], r: number): void {
  for (let k = 0; k < 10; k++) {
    const f = s[k];
    if (f !== undefined && f.mem !== undefined && f.base === r) s[k] = forget(f);
  }
}

/** Forgets the memory words registers hold (only those on the stack after a store to it). */
function killMemory(s: (Fact | undefined)[], onlyStack: boolean): void {
  for (let k = 0; k < 10; k++) {
    const f = s[k];
    if (f !== undefined && f.mem !== undefined && (!onlyStack || f.base === 10)) s[k] = forget(f);
  }
}

/** Decides a conditional jump from the operands' ranges: true, false, or undefined (unknown). */
function decide(s: readonly (Fact | undefined)[], i: Instruction): boolean | undefined {
  const wide = cls(i) === CLASS_JMP;
  const a = narrow(i.dst === 10 ? undefined : s[i.dst], wide);
  const b = (i.code & 0x08) !== 0 ? narrow(i.src === 10 ? undefined : s[i.src], wide) : movedImm(i.imm, wide);
  if (a === undefined || b === undefined) return undefined;
  const op = i.code & 0xf0;
  switch (op) {
    case 0x10:
    case 0x50: {
      let eq: boolean | undefined;
      if (a.lo === a.hi && b.lo === b.hi && a.lo === b.lo) eq = true;
      else if (a.hi < b.lo || b.hi < a.lo) eq = false;
      if (eq === undefined) return undefined;
      return op === 0x10 ? eq : !eq;
    }
    case 0x60:
    case 0x70:
    case 0xc0:
    case 0xd0:
      if (!signedOk(a, wide) || !signedOk(b, wide)) return undefined;
      return cmp(op - 0x40, a, b);
    case 0x20:
    case 0x30:
    case 0xa0:
    case 0xb0:
      return cmp(op, a, b);
    default:
      return undefined;
  }
}

/** An operand as a 64-bit (`wide`) or 32-bit jump compares it. */
function narrow(f: Fact | undefined, wide: boolean): Fact | undefined {
  if (f === undefined) return wide ? undefined : ANY32;
  return wide || f.hi <= U32_MAX ? f : ANY32;
}

/** Whether the range compares the same signed as unsigned. */
function signedOk(f: Fact, wide: boolean): boolean {
  return f.hi < (wide ? 2 ** 63 : 2 ** 31);
}

function cmp(op: number, a: Fact, b: Fact): boolean | undefined {
  switch (op) {
    case 0x20: // >
      return a.lo > b.hi ? true : a.hi <= b.lo ? false : undefined;
    case 0x30: // >=
      return a.lo >= b.hi ? true : a.hi < b.lo ? false : undefined;
    case 0xa0: // <
      return a.hi < b.lo ? true : a.lo >= b.hi ? false : undefined;
    case 0xb0: // <=
      return a.hi <= b.lo ? true : a.lo > b.hi ? false : undefined;
    default:
      return undefined;
  }
}

/** A change the value analysis found: the op at `index` becomes `insn`, or goes (null). */
interface Edit {
  index: number;
  insn: Instruction | null;
}

/**
 * Block entry and exit states; undefined when the analysis did not settle. Without cycles the
 * states it steps through are the final ones, and it collects the blocks' changes (see
 * {@link walk}) in `found` as it goes, when given (`found` in the result says it did).
 */
function analyse(
  ops: readonly Op[],
  list: readonly Block[],
  loops: boolean,
  found?: Edit[],
): { ins: State[]; outs: State[]; found: boolean } | undefined {
  const ins: State[] = new Array<State>(list.length).fill(undefined);
  const outs: State[] = new Array<State>(list.length).fill(undefined);
  ins[0] = new Array(10).fill(UNKNOWN);
  if (loops) {
    // jumps back in the layout but no cycle (code the jump rewrites moved to the end): the states
    // the rounds below settle on, in one pass in an order where each block comes after those that
    // go to it
    const order = acyclicOrder(list);
    if (order !== undefined) {
      for (let j = 0; j < order.length; j++) {
        const n = order[j]!;
        const b = list[n]!;
        let s: State = n === 0 ? ins[0] : undefined;
        for (let k = 0; k < b.preds.length; k++) s = meet(s, outs[b.preds[k]!]);
        if (s === undefined) continue;
        ins[n] = s;
        if (found !== undefined) walk(ops, b, (outs[n] = s.slice()), found);
        else outs[n] = stepBlock(ops, b, s);
      }
      // the changes in the order of the ops, as a walk in layout order finds them
      if (found !== undefined) {
        let sorted = true;
        for (let e = 1; e < found.length && sorted; e++)
          if (found[e - 1]!.index > found[e]!.index) sorted = false;
        if (!sorted) found.sort((x, y) => x.index - y.index);
      }
      return { ins, outs, found: found !== undefined };
    }
  }
  for (let round = 0; round < 30; round++) {
    let changed = false;
    for (let n = 0; n < list.length; n++) {
      const b = list[n]!;
      let s: State = n === 0 ? ins[0] : undefined;
      for (let k = 0; k < b.preds.length; k++) s = meet(s, outs[b.preds[k]!]);
      if (s === undefined) continue;
      // a block given the state it was given in the round before (in all a step reads) steps to
      // the state it stepped to then
      const was = ins[n];
      ins[n] = s;
      if (loops && outs[n] !== undefined && sameState(s, was)) continue;
      let out: (Fact | undefined)[];
      if (found !== undefined && !loops) walk(ops, b, (out = s.slice()), found);
      else out = stepBlock(ops, b, s);
      // (without back edges, each block is stepped once: its exit state is new)
      if (!loops || !sameState(out, outs[n])) {
        outs[n] = out;
        changed = true;
      }
    }
    // without back edges, one pass in layout order has seen every predecessor first
    if (!changed || !loops) return { ins, outs, found: found !== undefined && !loops };
  }
  return undefined;
}

/**
 * The state after block `b` given `s`. Jumps (not calls) change nothing: a block of them alone
 * leaves the state it was given, shared (states are never changed in place), and the copy is made
 * at the first op that may change it.
 */
function stepBlock(ops: readonly Op[], b: Block, s: (Fact | undefined)[]): (Fact | undefined)[] {
  let out = s;
  for (let k = b.start; k < b.end; k++) {
    const i = ops[k]!.insn;
    if (out === s) {
      const c = i.code & 7;
      if ((c === CLASS_JMP || c === CLASS_JMP32) && i.code !== CALL) continue;
      out = s.slice();
    }
    step(out, i);
  }
  return out;
}

/**
 * The blocks in an order where each comes after every block that goes to it, when there is one (no
 * cycle) and the rounds of {@link analyse} would settle well within their limit on it: each round
 * goes through the blocks in layout order, so a path takes a round more for each jump back in the
 * layout on it, and with fewer than 20 such jumps in the function the rounds settle before the
 * 30th. Undefined otherwise.
 */
function acyclicOrder(list: readonly Block[]): number[] | undefined {
  const count = list.length;
  const waiting = (scratch.waiting = grown(scratch.waiting, count));
  let back = 0;
  const ready: number[] = [];
  for (let b = 0; b < count; b++) {
    const blk = list[b]!;
    waiting[b] = blk.preds.length;
    if (blk.preds.length === 0) ready.push(b);
    const succs = blk.succs;
    for (let k = 0; k < succs.length; k++) if (succs[k]! <= b && ++back >= 20) return undefined;
  }
  const order: number[] = [];
  while (ready.length > 0) {
    const b = ready.pop()!;
    order.push(b);
    const succs = list[b]!.succs;
    for (let k = 0; k < succs.length; k++) if (--waiting[succs[k]!]! === 0) ready.push(succs[k]!);
  }
  return order.length === count ? order : undefined;
}

/**
 * Steps `s` through block `b`, collecting in `edits` the conditional jumps its states decide and
 * the loads of a word a register still holds.
 */
function walk(ops: readonly Op[], b: Block, s: (Fact | undefined)[], edits: Edit[]): void {
  for (let k = b.start; k < b.end; k++) {
    const insn = ops[k]!.insn;
    const code = insn.code;
    const c = code & 7;
    if ((c === CLASS_JMP || c === CLASS_JMP32) && code !== CALL) {
      // a jump or `exit` steps to the state it was given
      if (COND[code] === 1) {
        const d = decide(s, insn);
        if (d === true)
          edits.push({ index: k, insn: { code: JA, dst: 0, src: 0, off: 0, imm: 0, ref: insn.ref } });
        else if (d === false) edits.push({ index: k, insn: null });
      }
      continue;
    }
    if (c === CLASS_LDX && (code & 0xe0) === MODE_MEM && insn.src !== insn.dst) {
      const key = memKey(insn);
      if (s[insn.dst]?.mem === key) edits.push({ index: k, insn: null });
      else {
        let holder = -1;
        for (let r = 0; r < s.length && holder < 0; r++) if (s[r]?.mem === key) holder = r;
        if (holder >= 0)
          edits.push({ index: k, insn: { code: MOV64_X, dst: insn.dst, src: holder, off: 0, imm: 0 } });
      }
    }
    step(s, insn);
  }
}

function values(ops: Op[], tail: Item[]): boolean {
  const { list, loops } = analysed(ops);
  let bases = 0;
  for (let k = 0; k < ops.length; k++) {
    const i = ops[k]!.insn;
    if ((i.code & 7) === CLASS_LDX) bases |= 1 << i.src;
  }
  loadBases = bases;
  // 1. jumps decided by the block's own state, and loads of a word a register still holds (found
  // by the analysis itself when it goes through the blocks once)
  const edits: Edit[] = [];
  const result = analyse(ops, list, loops, edits);
  if (result === undefined) return false;
  const { ins, outs } = result;
  let changed = false;
  if (!result.found)
    for (let n = 0; n < list.length; n++) {
      const s = ins[n]?.slice();
      if (s !== undefined) walk(ops, list[n]!, s, edits);
    }
  const gone: number[] = [];
  for (let e = 0; e < edits.length; e++) {
    const { index, insn } = edits[e]!;
    if (insn === null) gone.push(index);
    else ops[index] = { ...ops[index]!, insn };
    changed = true;
  }
  removeAll(ops, tail, gone);
  if (changed) return true;
  // 2. threading: a predecessor that decides a small block's test jumps straight to the outcome
  // (edits are collected, then made from the end so that positions stay right)
  const splices: { at: number; del: number; ops: Op[] }[] = [];
  const threaded = new Set<number>();
  for (let n = 1; n < list.length; n++) {
    const b = list[n]!;
    const last = ops[b.end - 1]!.insn;
    if (!isCond(last) || b.end - b.start > 3 || b.preds.length < 2) continue;
    let small = true;
    for (let k = b.start; k < b.end - 1; k++) if (!pure(ops[k]!.insn)) small = false;
    if (!small) continue;
    for (let q = 0; q < b.preds.length; q++) {
      const p = b.preds[q]!;
      const pb = list[p]!;
      const pl = ops[pb.end - 1]!.insn;
      const viaJump = pl.code === JA;
      const viaFall = !isJmpClass(pl) || pl.code === CALL;
      if (!viaJump && !viaFall) continue;
      if ((viaFall && p + 1 !== n) || threaded.has(p)) continue;
      const s = outs[p]?.slice();
      if (s === undefined) continue;
      for (let k = b.start; k < b.end - 1; k++) step(s, ops[k]!.insn);
      const d = decide(s, last);
      if (d === undefined) continue;
      const target = d ? labelOf(last)! : b.end < ops.length ? labelAt(ops, b.end) : undefined;
      if (target === undefined) continue;
      const copies: Op[] = [];
      for (let k = b.start; k < b.end - 1; k++) copies.push({ insn: ops[k]!.insn, pre: [] });
      copies.push({
        insn: { code: JA, dst: 0, src: 0, off: 0, imm: 0, ref: { kind: "label", name: target } },
        pre: [],
      });
      threaded.add(p);
      if (viaJump) {
        copies[0] = { ...copies[0]!, pre: ops[pb.end - 1]!.pre };
        splices.push({ at: pb.end - 1, del: 1, ops: copies });
      }
      // the fallthrough: the copies go in front of the block, whose labels stay with it
      else splices.push({ at: b.start, del: 0, ops: copies });
    }
  }
  splices.sort((x, y) => y.at - x.at);
  for (let k = 0; k < splices.length; k++) {
    const sp = splices[k]!;
    ops.splice(sp.at, sp.del, ...sp.ops);
  }
  return splices.length > 0;
}

// ------------------------------------------------------------------ liveness

/** Live registers after each op (bit masks). */
function liveness(
  list: readonly Block[],
  loops: boolean,
  U: readonly number[],
  D: readonly number[],
): number[] {
  const liveIn = zeros(list.length);
  const after = zeros(U.length);
  for (let changed = true; changed; ) {
    changed = false;
    for (let n = list.length - 1; n >= 0; n--) {
      const b = list[n]!;
      let live = 0;
      const succs = b.succs;
      for (let j = 0; j < succs.length; j++) live |= liveIn[succs[j]!]!;
      for (let k = b.end - 1; k >= b.start; k--) {
        after[k] = live;
        live = (live & ~D[k]!) | U[k]!;
      }
      if (live !== liveIn[n]) {
        liveIn[n] = live;
        changed = true;
      }
    }
    // without back edges, one pass backwards has seen every successor first
    if (!loops) break;
  }
  return after;
}

/**
 * Removes the definitions nobody reads, and then those that only they read, until none is left:
 * liveness is made again with the removed ops as no-ops (reading and writing nothing), which is
 * what it is without them, so the ops removed are those of calls made one after another until one
 * finds nothing (and the pass is {@link settled}).
 */
function deadCode(ops: Op[], tail: Item[]): boolean {
  // U and D become the ops' without the removed ones: any removal makes a change, and the analysis
  // is made again after one
  const { list, loops, after, U, D } = liveAfter(ops);
  const n = ops.length;
  const dead = (scratch.dead = grown(scratch.dead, n));
  dead.fill(0, 0, n);
  let live = after;
  let count = 0;
  for (;;) {
    let found = 0;
    for (let k = 0; k < n; k++) {
      if (dead[k]) continue;
      const i = ops[k]!.insn;
      if (!pure(i)) continue;
      const self = i.code === MOV64_X && i.dst === i.src && i.off === 0;
      if (self || (D[k]! & live[k]!) === 0) {
        dead[k] = 1;
        U[k] = 0;
        D[k] = 0;
        found++;
      }
    }
    if (found === 0) break;
    count += found;
    live = liveness(list, loops, U, D);
  }
  if (count === 0) return false;
  const gone: number[] = [];
  for (let k = 0; k < n; k++) if (dead[k]) gone.push(k);
  removeAll(ops, tail, gone);
  settled = true;
  return true;
}

// ------------------------------------------------------------------ coalescing

/**
 * Renames the web of `rS` in `rD = rS` (where rS dies) to rD, or the web of rD to rS, when the
 * other register is free over that web's live range. Webs (a register's definitions and the uses
 * they reach) are built by union-find over definition ids: an instruction's definition of a
 * register, or a block's entry value of it, joined with its predecessors' values where live.
 * Webs that meet a call's arguments or results, `exit`'s r0, an atomic or the function's
 * parameters are fixed.
 */
/** The destination register of a move. */
const d0 = (i: Instruction) => i.dst;

/**
 * The passes' tables, kept from one call to the next (cold code pays for every allocation):
 * each grows to the largest function seen and is filled anew by each call.
 */
const scratch: Record<string, Int32Array> = {
  of: new Int32Array(0),
  seen: new Int32Array(0),
  dead: new Int32Array(0),
  starts: new Int32Array(0),
  npreds: new Int32Array(0),
  parent: new Int32Array(0),
  before: new Int32Array(0),
  out: new Int32Array(0),
  fixed: new Int32Array(0),
  gone: new Int32Array(0),
  witness: new Int32Array(0),
  regs: new Int32Array(0),
  asleep: new Int32Array(0),
  filed: new Int32Array(0),
  waiting: new Int32Array(0),
};

/** Coalescing's definitions current at one point, a register's each (r0..r10). */
const current = new Int32Array(11);

/** 0, 1, 2...: where the union-find's table starts from. */
let identity = new Int32Array(0);

/** `a`, or a larger array when it holds fewer than `n` entries. */
function grown(a: Int32Array, n: number): Int32Array {
  return a.length >= n ? a : new Int32Array(Math.max(n, 2 * a.length, 256));
}

/** Where k goes in a list of numbers in order (the first place holding k or more). */
function place(list: readonly number[], k: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function coalesce(ops: Op[], tail: Item[]): boolean {
  // `after`, U and D are brought up to date by the renames below; any rename makes a change, and
  // the analysis is made again after one
  const { list, after, U, D } = liveAfter(ops);
  const n = ops.length;
  // the moves whose source dies there; none, and there is nothing to do (the webs are not made)
  const moves: number[] = [];
  /** the registers of the moves (a bit each): the only ones renamed, over the only webs looked at */
  let moveRegs = 0;
  for (let m = 0; m < n; m++) {
    const mv = ops[m]!.insn;
    if (mv.code === MOV64_X && mv.off === 0 && mv.src !== 10 && mv.dst !== mv.src) {
      moves.push(m);
      moveRegs |= (1 << mv.src) | (1 << mv.dst);
    }
  }
  let dies = false;
  for (let j = 0; j < moves.length && !dies; j++) {
    const m = moves[j]!;
    if (!(after[m]! & (1 << ops[m]!.insn.src))) dies = true;
  }
  if (!dies) return false;
  const R = 11;
  const ids = (n + list.length) * R;
  const parent = (scratch.parent = grown(scratch.parent, ids));
  if (identity.length < ids) {
    identity = new Int32Array(Math.max(ids, 2 * identity.length));
    for (let i = 0; i < identity.length; i++) identity[i] = i;
  }
  parent.set(identity.subarray(0, ids));
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  const phi = (b: number, r: number) => (n + b) * R + r;
  const defId = (k: number, r: number) => k * R + r;
  // definitions current before each op, and at each block's end
  // every entry of `before` and `out` is written below before it is read
  const before = (scratch.before = grown(scratch.before, n * R));
  const out = (scratch.out = grown(scratch.out, list.length * R));
  const cur = current;
  for (let b = 0; b < list.length; b++) {
    const blk = list[b]!;
    // phi(b, r) and defId(k, r), written out
    const entry = (n + b) * R;
    for (let r = 0; r < R; r++) cur[r] = entry + r;
    for (let k = blk.start; k < blk.end; k++) {
      before.set(cur, k * R);
      const m = D[k]!;
      if (m !== 0) for (let r = 0; r < 10; r++) if (m & (1 << r)) cur[r] = k * R + r;
    }
    out.set(cur, b * R);
  }
  for (let b = 0; b < list.length; b++) {
    const blk = list[b]!;
    // (U and D are the first op's uses and defs: no rename was made yet)
    const liveIn = (after[blk.start]! & ~D[blk.start]!) | U[blk.start]!;
    if (liveIn === 0 || blk.preds.length === 0) continue;
    for (let r = 0; r < 10; r++) {
      if (!(liveIn & (1 << r))) continue;
      for (let q = 0; q < blk.preds.length; q++) {
        const p = blk.preds[q]!;
        const x = find((n + b) * R + r);
        const y = find(out[p * R + r]!);
        if (x !== y) parent[x] = y;
      }
    }
  }
  const fixed = (scratch.fixed = grown(scratch.fixed, ids));
  fixed.fill(0, 0, ids);
  for (let r = 0; r < 10; r++) fixed[find(phi(0, r))] = 1;
  for (let k = 0; k < n; k++) {
    const i = ops[k]!.insn;
    const implicit =
      i.code === CALL || i.code === EXIT || (cls(i) === CLASS_STX && (i.code & 0xe0) === MODE_ATOMIC);
    if (!implicit) continue;
    // (U and D are its uses and defs: no rename was made yet)
    const u = U[k]!;
    const d = D[k]!;
    for (let r = 0; r < 10; r++) {
      if (u & (1 << r)) fixed[find(before[k * R + r]!)] = 1;
      if (d & (1 << r)) fixed[find(defId(k, r))] = 1;
    }
  }
  const webBefore = (k: number, r: number) => find(before[k * R + r]!);
  // the ops where each web is live or defined, in order: a rename looks at those alone (an op
  // outside the web neither conflicts nor is renamed), not at the whole function
  // (by web: an array, not a map, as webs are numbered from 0 to `ids`)
  // (those of the webs of the moves' registers, the only ones a rename looks at)
  const members: (number[] | undefined)[] = new Array<number[] | undefined>(ids);
  for (let k = 0; k < n; k++) {
    const df = D[k]! & moveRegs;
    const live = (after[k]! | U[k]!) & moveRegs;
    // join(webBefore(k, r), k) and join(find(defId(k, r)), k) for each r, written out
    for (let r = 0, m = live; m !== 0; r++, m >>= 1) {
      if ((m & 1) === 0) continue;
      let web = before[k * R + r]!;
      if (parent[web] !== web) web = find(web);
      const list = members[web];
      if (list === undefined) members[web] = [k];
      else if (list[list.length - 1] !== k) list.push(k);
    }
    for (let r = 0, m = df; m !== 0; r++, m >>= 1) {
      if ((m & 1) === 0) continue;
      let web = k * R + r;
      if (parent[web] !== web) web = find(web);
      const list = members[web];
      if (list === undefined) members[web] = [k];
      else if (list[list.length - 1] !== k) list.push(k);
    }
  }

  /** the renames found in the current round, made at its end */
  const pending: {
    renames: { k: number; dst: boolean; src: boolean }[];
    a: number;
    b: number;
    web: number;
    m: number;
  }[] = [];
  /**
   * What renaming register `s` to `d` over `web` does at op k (one of the web's ops): -1 when d is
   * not free there (or a field would belong to the web on one side only), else which fields to
   * rename (1: dst, 2: src; 4 when it is renamed at all).
   */
  const visit = (k: number, s: number, d: number, web: number): number => {
    const bitS = 1 << s;
    const bitD = 1 << d;
    const df = D[k]!;
    const u = U[k]!;
    const liveAfter = after[k]!;
    const liveBefore = (liveAfter & ~df) | u;
    // most instructions neither name nor carry either register
    if (((df | liveBefore | liveAfter) & (bitS | bitD)) === 0) return 0;
    // find(defId(k, s)) and webBefore(k, s), written out
    let isDef = false;
    if ((df & bitS) !== 0) {
      const id = k * R + s;
      isDef = (parent[id] === id ? id : find(id)) === web;
    }
    let inWeb = false;
    if ((liveBefore | liveAfter) & bitS) {
      const id = before[k * R + s]!;
      inWeb = (parent[id] === id ? id : find(id)) === web;
    }
    const reads = (u & bitS) !== 0 && inWeb;
    const wOut = (liveAfter & bitS) !== 0 && (df & bitS ? isDef : inWeb);
    const wIn = (liveBefore & bitS) !== 0 && inWeb;
    if (isDef && liveAfter & bitD) return -1;
    if (wOut && (df & bitD || liveAfter & bitD)) return -1;
    if (wIn && liveBefore & bitD) return -1;
    if (!isDef && !reads) return 0;
    // which fields name s: dst (read, written or both) and src (read)
    const i = ops[k]!.insn;
    const c = cls(i);
    const aluRead = (c === CLASS_ALU || c === CLASS_ALU64) && (i.code & 0xf0) !== 0xb0;
    const dstReads =
      i.dst === s && (aluRead || c === CLASS_ST || c === CLASS_STX || (isJmpClass(i) && isCond(i)));
    const dstWrites = i.dst === s && (df & bitS) !== 0;
    const srcReads =
      i.src === s &&
      (c === CLASS_LDX ||
        c === CLASS_STX ||
        ((c === CLASS_ALU || c === CLASS_ALU64 || isCond(i)) && (i.code & 0x08) !== 0));
    // a field read and written must belong to the web on both sides
    if (dstReads && dstWrites && reads !== isDef) return -1;
    if (dstReads && !reads && !isDef) return 0;
    return 4 | ((dstReads && reads) || (dstWrites && isDef) ? 1 : 0) | (srcReads && reads ? 2 : 0);
  };
  /**
   * The op where the last try of each move (2m: renaming its source, 2m+1: its destination) found
   * the other register not free, or -1. A move is tried again each round, mostly with nothing
   * changed around it: that op is looked at first, and when the register is still not free there
   * the rename is not made (the answer is the same whichever op of the web says no).
   */
  const witness = (scratch.witness = grown(scratch.witness, 2 * n));
  witness.fill(-1, 0, 2 * n);
  /** Whether op k is one of the web's (its ops are in order). */
  const member = (at: readonly number[], k: number): boolean => {
    const p = place(at, k);
    return p < at.length && at[p] === k;
  };
  /**
   * Renames register `s` to `d` over `web` (its defs and the uses they reach), if `d` is free there;
   * `w` is the move's entry in {@link witness}.
   */
  const rename = (s: number, web: number, d: number, m: number, w: number): boolean => {
    const at = members[web] ?? [];
    const seen = witness[w]!;
    if (seen >= 0 && seen !== m && visit(seen, s, d, web) < 0 && member(at, seen)) return false;
    const renames: { k: number; dst: boolean; src: boolean }[] = [];
    for (let j = 0; j < at.length; j++) {
      const k = at[j]!;
      if (k === m) continue;
      const v = visit(k, s, d, web);
      if (v < 0) {
        witness[w] = k;
        return false;
      }
      if (v !== 0) renames.push({ k, dst: (v & 1) !== 0, src: (v & 2) !== 0 });
    }
    pending.push({ renames, a: s, b: d, web, m });
    return true;
  };
  // Each round does what one call did on the ops as the rounds before left them: in order, every
  // move whose registers no earlier rename of the round touched (renames touching other registers
  // stay valid after one is made). Then the analysis is brought up to date where the round's
  // renames changed it (the webs renamed and the moves removed) instead of being made again, so
  // the output is the one of a call per round for the cost of one analysis.
  const gone = (scratch.gone = grown(scratch.gone, n));
  gone.fill(0, 0, n);
  const done: number[] = [];
  /** the moves' registers, src | dst << 4, by op (kept as renames change them) */
  const regs = (scratch.regs = grown(scratch.regs, n));
  for (let j = 0; j < moves.length; j++) {
    const mv = ops[moves[j]!]!.insn;
    regs[moves[j]!] = mv.src | (mv.dst << 4);
  }
  /**
   * The moves left out of the rounds until a rename changes something they look at (they are all
   * among the ops of the web renamed): those whose registers are the same, whose source lives on,
   * or whose both webs are fixed (a web never stops being fixed). Such a move is skipped in every
   * round while it sleeps, as it would be tried and found to have nothing to do.
   */
  const asleep = (scratch.asleep = grown(scratch.asleep, n));
  asleep.fill(0, 0, n);
  const woken: number[] = [];
  /**
   * The moves awake and not removed, by the registers they name (their mask), each group in
   * order: a round goes through them in order, leaving out at once the groups whose registers a
   * rename of the round touched.
   */
  const groups: { mask: number; ops: number[] }[] = [];
  const groupOf = new Map<number, { mask: number; ops: number[] }>();
  /** the mask of the group each move is in (0: in none) */
  const filed = (scratch.filed = grown(scratch.filed, n));
  filed.fill(0, 0, n);
  const maskOf = (m: number) => (1 << (regs[m]! & 15)) | (1 << (regs[m]! >> 4));
  const file = (m: number) => {
    const mask = maskOf(m);
    let g = groupOf.get(mask);
    if (g === undefined) {
      g = { mask, ops: [] };
      groupOf.set(mask, g);
      groups.push(g);
    }
    const list = g.ops;
    if (list.length === 0 || list[list.length - 1]! < m) list.push(m);
    else list.splice(place(list, m), 0, m);
    filed[m] = mask;
  };
  const unfile = (m: number) => {
    const list = groupOf.get(filed[m]!)!.ops;
    list.splice(place(list, m), 1);
    filed[m] = 0;
  };
  for (let j = 0; j < moves.length; j++) file(moves[j]!);
  /** the next move of each group in the round */
  const next: number[] = [];
  for (let more = true; more; ) {
    pending.length = 0;
    let touched = 0;
    next.length = groups.length;
    next.fill(0);
    for (;;) {
      // the first move in order among the groups the round did not touch
      let g = -1;
      let m = n;
      for (let q = 0; q < groups.length; q++) {
        const group = groups[q]!;
        if (group.mask & touched) continue;
        const list = group.ops;
        const at = next[q]!;
        if (at < list.length && list[at]! < m) {
          m = list[at]!;
          g = q;
        }
      }
      if (g < 0) break;
      next[g]!++;
      const sd = regs[m]!;
      const s = sd & 15;
      const d = sd >> 4;
      // a move skipped whatever was renamed before it sleeps until a rename changes it
      let sleeps = d === s || (after[m]! & (1 << s)) !== 0;
      let web = 0;
      let dWeb = 0;
      if (!sleeps) {
        web = webBefore(m, s);
        dWeb = find(defId(m, d));
        sleeps = fixed[web] !== 0 && fixed[dWeb] !== 0;
      }
      if (sleeps) {
        asleep[m] = 1;
        groups[g]!.ops.splice(--next[g]!, 1);
        filed[m] = 0;
        continue;
      }
      if (!(!fixed[web] && rename(s, web, d, m, 2 * m)) && (fixed[dWeb] || !rename(d, dWeb, s, m, 2 * m + 1)))
        continue;
      touched |= (1 << s) | (1 << d);
    }
    more = pending.length > 0;
    for (let pi = 0; pi < pending.length; pi++) {
      const p = pending[pi]!;
      const { a, b, m } = p;
      for (let ri = 0; ri < p.renames.length; ri++) {
        const r = p.renames[ri]!;
        const i = ops[r.k]!.insn;
        const insn = { ...i, dst: r.dst ? b : i.dst, src: r.src ? b : i.src };
        ops[r.k] = { ...ops[r.k]!, insn };
        regs[r.k] = insn.src | (insn.dst << 4);
        // a move awake whose registers changed goes to its new group (with the moves woken)
        if (filed[r.k] && filed[r.k] !== maskOf(r.k)) {
          unfile(r.k);
          woken.push(r.k);
        }
      }
      gone[m] = 1;
      done.push(m);
      if (filed[m]) unfile(m);
      // the move's destination dead after it: its removal changes liveness beyond the web
      if (!(after[m]! & (1 << d0(ops[m]!.insn)))) more = false;
      const x = p.web;
      const y = a === ops[m]!.insn.src ? find(defId(m, b)) : webBefore(m, b);
      const bitA = 1 << a;
      const bitB = 1 << b;
      const at = members[x] ?? [];
      for (let j = 0; j < at.length; j++) {
        const k = at[j]!;
        if (asleep[k]) {
          asleep[k] = 0;
          woken.push(k);
        }
        const df = D[k]!;
        if (df & bitA && find(defId(k, a)) === x) parent[defId(k, b)] = x;
        const outWeb = df & bitA ? find(defId(k, a)) : webBefore(k, a);
        if (after[k]! & bitA && outWeb === x) after[k] = (after[k]! & ~bitA) | bitB;
        if (webBefore(k, a) === x) before[k * R + b] = before[k * R + a]!;
      }
      for (let ri = 0; ri < p.renames.length; ri++) {
        const k = p.renames[ri]!;
        U[k.k] = uses(ops[k.k]!.insn);
        D[k.k] = defs(ops[k.k]!.insn);
      }
      U[m] = 0;
      D[m] = 0;
      parent[x] = find(y);
      const ry = find(y);
      fixed[ry] = fixed[ry]! | fixed[x]!;
      // the two webs' ops, in order and once each (both lists are in order: merged, not sorted)
      const other = members[y] ?? [];
      const list: number[] = [];
      for (let i = 0, j = 0; i < at.length || j < other.length; ) {
        const k = j >= other.length || (i < at.length && at[i]! <= other[j]!) ? at[i++]! : other[j++]!;
        if (list[list.length - 1] !== k) list.push(k);
      }
      members[x] = undefined;
      members[ry] = list;
    }
    // the moves a rename changed are tried again, in their place
    for (let w = 0; w < woken.length; w++) {
      const k = woken[w]!;
      if (!filed[k] && !gone[k]) file(k);
    }
    woken.length = 0;
  }
  // the last round found no move to remove: a call made now would find none either
  if (pending.length === 0) settled = true;
  done.sort((x, y) => x - y);
  removeAll(ops, tail, done);
  return done.length > 0;
}

// ------------------------------------------------------------------ entry

/**
 * Optimizes one function's items (see the module comment); returns them unchanged when the
 * function uses an instruction the passes do not model.
 */
export function optimize(items: readonly Item[]): Item[] {
  const parts = toOps(items);
  if (parts === undefined || parts.ops.length === 0) return [...items];
  const { ops, tail } = parts;
  flowKept = false;
  // the count of changes at which each pass last found nothing to do (and changed nothing)
  const idle = [-1, -1, -1, -1];
  const run = (n: number, pass: (ops: Op[], tail: Item[]) => boolean): boolean => {
    if (idle[n] === edits) return false;
    const before = edits;
    settled = false;
    if (pass(ops, tail)) {
      edits++;
      if (settled) idle[n] = edits;
      return true;
    }
    if (edits === before) idle[n] = edits;
    return false;
  };
  try {
    for (let round = 0; round < 50; round++) {
      let changed = run(0, cleanup);
      while (run(1, values)) {
        flowKept = false;
        changed = true;
        run(0, cleanup);
      }
      while (run(2, deadCode)) changed = true;
      while (run(3, coalesce)) changed = true;
      if (!changed) break;
    }
  } finally {
    analysis = undefined;
  }
  return toItems(ops, tail);
}
