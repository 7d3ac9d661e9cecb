/**
 * Which bytes of its context a program reads: the loads through the context pointer (r1 at the
 * start of the program) and its copies, at offsets known without running it. Pure: works on
 * instruction bytes (what rawbpf encodes, or what the kernel reports as the translated program).
 *
 * The scan follows the main program's control flow (not into bpf-to-bpf calls) and tracks, for
 * each register and each 8-byte stack slot addressed through r10, whether it holds the context
 * pointer plus a known constant: `r6 = r1`, `r6 += 16`, `*(u64 *)(r10 - 8) = r1` and its reload
 * all keep it; anything else forgets it. Where two paths disagree the register is forgotten, so
 * every read reported is one the program makes on some path with that offset; reads through a
 * pointer the scan lost track of are not reported.
 */
import { Class } from "./insn.js";
import { AluOp, FRAME_POINTER, JmpOp, Mode, SIZE_BYTES, Source } from "./opcode.js";

/** One load from the context at a known offset. */
export interface CtxRead {
  /** the instruction's slot (8-byte unit) in the program */
  insn: number;
  /** the offset in the context the load starts at */
  offset: number;
  /** the load's width in bytes */
  size: number;
}

/** Abstract state: per register the context offset it holds, or undefined; stack slots likewise. */
interface State {
  regs: (number | undefined)[];
  stack: Map<number, number>;
}

function copy(s: State): State {
  return { regs: [...s.regs], stack: new Map(s.stack) };
}

/** Merges `from` into `into`; returns whether `into` lost anything. */
function merge(into: State, from: State): boolean {
  let changed = false;
  for (let r = 0; r < into.regs.length; r++) {
    if (into.regs[r] !== undefined && into.regs[r] !== from.regs[r]) {
      into.regs[r] = undefined;
      changed = true;
    }
  }
  for (const [slot, v] of into.stack) {
    if (from.stack.get(slot) !== v) {
      into.stack.delete(slot);
      changed = true;
    }
  }
  return changed;
}

/** Forgets the stack slots that `[off, off + size)` overlaps. */
function clobber(s: State, off: number, size: number): void {
  for (const slot of [...s.stack.keys()]) if (slot < off + size && off < slot + 8) s.stack.delete(slot);
}

/**
 * The loads from the context at known offsets in the program `bytes` (8-byte instruction slots,
 * little endian), in slot order. Bytes that end inside an instruction are ignored from there.
 */
export function ctxReads(bytes: Uint8Array): CtxRead[] {
  const n = Math.floor(bytes.length / 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, n * 8);
  const states: (State | undefined)[] = new Array(n);
  const reads = new Map<number, CtxRead>();
  const start: State = { regs: new Array(11).fill(undefined), stack: new Map() };
  start.regs[1] = 0;
  const work: number[] = [];
  const flow = (to: number, s: State) => {
    if (to < 0 || to >= n) return;
    const there = states[to];
    if (there === undefined) {
      states[to] = copy(s);
      work.push(to);
    } else if (merge(there, s)) work.push(to);
  };
  if (n > 0) flow(0, start);
  // each revisit forgets something, so this ends; the bound is a guard against a mistake here
  let budget = n * 64 + 1024;
  while (work.length > 0 && budget-- > 0) {
    const i = work.pop()!;
    const s = copy(states[i]!);
    const code = view.getUint8(i * 8);
    const regs = view.getUint8(i * 8 + 1);
    const dst = regs & 0x0f;
    const src = regs >> 4;
    const off = view.getInt16(i * 8 + 2, true);
    const imm = view.getInt32(i * 8 + 4, true);
    const cls = code & 0x07;
    const mode = code & 0xe0;
    const size = SIZE_BYTES[(code >> 3) & 3]!;
    const set = (r: number, v: number | undefined) => {
      if (r < s.regs.length) s.regs[r] = v;
    };
    switch (cls) {
      case Class.LD:
        if (mode === Mode.IMM) {
          set(dst, undefined);
          flow(i + 2, s);
        } else {
          // legacy packet loads: r0 is the result, r1-r5 are clobbered
          for (let r = 0; r <= 5; r++) set(r, undefined);
          flow(i + 1, s);
        }
        break;
      case Class.LDX: {
        const base = s.regs[src];
        if ((mode === Mode.MEM || mode === Mode.MEMSX) && base !== undefined && src !== FRAME_POINTER) {
          const at = base + off;
          const seen = reads.get(i);
          if (seen === undefined || at + size > seen.offset + seen.size)
            reads.set(i, { insn: i, offset: at, size });
        }
        const filled =
          src === FRAME_POINTER && mode === Mode.MEM && size === 8 ? s.stack.get(off) : undefined;
        set(dst, filled);
        flow(i + 1, s);
        break;
      }
      case Class.ST:
        if (dst === FRAME_POINTER) clobber(s, off, size);
        flow(i + 1, s);
        break;
      case Class.STX:
        if (mode === Mode.ATOMIC) {
          // fetching atomics write the old value to src (cmpxchg to r0)
          set(src, undefined);
          set(0, undefined);
        }
        if (dst === FRAME_POINTER) {
          clobber(s, off, size);
          const v = s.regs[src];
          if (mode === Mode.MEM && size === 8 && v !== undefined) s.stack.set(off, v);
        }
        flow(i + 1, s);
        break;
      case Class.ALU64: {
        const op = code & 0xf0;
        const bySrc = (code & 0x08) === Source.X;
        const v = s.regs[dst];
        if (op === AluOp.MOV && bySrc && off === 0) set(dst, s.regs[src]);
        else if (op === AluOp.ADD && !bySrc && v !== undefined) set(dst, v + imm);
        else if (op === AluOp.SUB && !bySrc && v !== undefined) set(dst, v - imm);
        else set(dst, undefined);
        flow(i + 1, s);
        break;
      }
      case Class.ALU:
        set(dst, undefined);
        flow(i + 1, s);
        break;
      default: {
        // JMP and JMP32
        const op = code & 0xf0;
        if (cls === Class.JMP && op === JmpOp.EXIT) break;
        if (cls === Class.JMP && op === JmpOp.CALL) {
          for (let r = 0; r <= 5; r++) set(r, undefined);
          flow(i + 1, s);
          break;
        }
        if (op === JmpOp.JA) {
          flow(i + 1 + (cls === Class.JMP ? off : imm), s);
          break;
        }
        flow(i + 1, s);
        flow(i + 1 + off, s);
      }
    }
  }
  return [...reads.values()].sort((a, b) => a.insn - b.insn);
}

/** The read that reaches furthest into the context (its end, offset + size, is largest), or undefined. */
export function furthestCtxRead(bytes: Uint8Array): CtxRead | undefined {
  let best: CtxRead | undefined;
  for (const r of ctxReads(bytes))
    if (best === undefined || r.offset + r.size > best.offset + best.size) best = r;
  return best;
}
