/**
 * The compiler: a program's instructions become one JavaScript function (`new Function`), which
 * V8 then optimises like any hot code. Each register is a pair of int32 locals (`rNl`, `rNh`: low
 * and high words), so 64-bit arithmetic needs no BigInt; jump targets are cases of one `switch`
 * in a loop; memory goes through the checked loads and stores of `memory.ts`; helpers, calls and
 * the instruction budget through the runtime object `R`.
 *
 * Semantics are RFC 9669's; where Linux differs the kernel's are taken, and noted here:
 * - division by zero gives 0, modulo by zero leaves the dividend (RFC and kernel agree);
 *   signed INT_MIN / -1 gives INT_MIN and INT_MIN % -1 gives 0 (the kernel's JITs do the same);
 * - shift amounts are masked (63 for 64-bit, 31 for 32-bit), also for immediates the kernel's
 *   verifier refuses (out-of-range shifts run here as RFC 9669 defines them);
 * - `callx` calls a function pointer (ld_imm64 src=4) as LLVM means it; a plain number in the
 *   register is a helper id (uBPF's convention, which the conformance suite uses);
 * - `may_goto` has the kernel's budget per frame (BPF_MAX_LOOPS = 8M): it jumps when spent;
 * - legacy packet loads (`ld_abs`, `ld_ind`) read big-endian and end the program with 0 when out
 *   of bounds, as the kernel does.
 */
import { type Instruction, LD_IMM64 } from "../isa/insn.js";
import { AluOp, AtomicOp, Class, JmpOp, Mode, PseudoCall, PseudoLoad } from "../isa/opcode.js";
import { InterpInvalidProgramError } from "./errors.js";
import { FRAME_ID, HI_BASE, LO_BASE, STACK_SIZE } from "./memory.js";

/** High word of a register holding a map (ld_imm64 src=1); the low word is the map's descriptor. */
export const MAP_HI = -131072; // 0xfffe0000
/** High word of a register holding a function pointer (ld_imm64 src=4); the low word is its slot. */
export const FUNC_HI = -196608; // 0xfffd0000
/** High word of a kernel-variable address (ld_imm64 src=3): not readable here. */
export const KSYM_HI = -262144; // 0xfffc0000

/** may_goto's budget per frame (the kernel's BPF_MAX_LOOPS) */
export const MAY_GOTO_BUDGET = 8 * 1024 * 1024;

/** The compiled entry: `run(slot, depth, r1 .. r5 as low/high words)`, r0's low word returned, high in T[0]. */
export type CompiledFn = (
  slot: number,
  depth: number,
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

/** The instructions by slot: `bySlot[s]` is the instruction starting at slot s (undefined for a ld_imm64's second slot). */
export function slotTable(insns: readonly Instruction[]): (Instruction | undefined)[] {
  const out: (Instruction | undefined)[] = [];
  for (const i of insns) {
    out.push(i);
    if (i.code === LD_IMM64) out.push(undefined);
  }
  return out;
}

const L = (r: number) => `r${r}l`;
const H = (r: number) => `r${r}h`;

function hiOfImm(imm: number): number {
  return imm < 0 ? -1 : 0;
}

/** Generates the JavaScript source of a program; throws InterpInvalidProgramError for what cannot run. */
export function generate(bySlot: readonly (Instruction | undefined)[], trace: boolean): string {
  const n = bySlot.length;
  if (n === 0) throw new InterpInvalidProgramError(-1, undefined, "the program has no instructions");
  const bad = (s: number, why: string): never => {
    throw new InterpInvalidProgramError(s, bySlot[s], why);
  };
  // leaders: the entry, jump and call targets, and the instruction after any jump or exit
  const leader = new Uint8Array(n + 1);
  leader[0] = 1;
  const target = (s: number, t: number): number => {
    if (t < 0 || t >= n) bad(s, `jump to slot ${t}, outside the program (0..${n - 1})`);
    if (bySlot[t] === undefined) bad(s, `jump to slot ${t}, the second half of a ld_imm64`);
    leader[t] = 1;
    return t;
  };
  for (let s = 0; s < n; s++) {
    const i = bySlot[s];
    if (i === undefined) continue;
    const cls = i.code & 7;
    if (cls === Class.JMP || cls === Class.JMP32) {
      const op = i.code & 0xf0;
      if (op === JmpOp.CALL) {
        if (i.src === PseudoCall.CALL && i.code === 0x85) target(s, s + i.imm + 1);
        continue;
      }
      if (op === JmpOp.EXIT) {
        leader[s + 1] = 1;
        continue;
      }
      const off = cls === Class.JMP32 && op === JmpOp.JA ? i.imm : i.off;
      target(s, s + off + 1);
      leader[s + 1] = 1;
    }
    if (i.code === LD_IMM64 && i.src === PseudoLoad.FUNC) target(s, s + i.imm + 1);
  }
  const out: string[] = [];
  out.push(
    "if (depth > 8) throw R.tooDeep(slot);",
    "R.clearFrame(depth);",
    "let r0l = 0, r0h = 0, r1l = a1l, r1h = a1h, r2l = a2l, r2h = a2h, r3l = a3l, r3h = a3h, r4l = a4l, r4h = a4h, r5l = a5l, r5h = a5h;",
    "let r6l = 0, r6h = 0, r7l = 0, r7h = 0, r8l = 0, r8h = 0, r9l = 0, r9h = 0;",
    `const r10h = ${HI_BASE + FRAME_ID} + depth, r10l = ${(LO_BASE + STACK_SIZE) | 0};`,
    `let mg = ${MAY_GOTO_BUDGET}, pc = slot, t = 0, n = B[0];`,
    "const lim = B[1];",
    "L: for (;;) switch (pc) {",
  );
  const traceLine = (s: number) =>
    trace
      ? `R.trace(${s}, r0l, r0h, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h, r6l, r6h, r7l, r7h, r8l, r8h, r9l, r9h, r10l, r10h);`
      : "";
  for (let s = 0; s < n; s++) {
    const i = bySlot[s];
    if (i === undefined) continue;
    if (leader[s]) {
      let len = 0;
      let last = s;
      for (let k = s; k < n && (k === s || !leader[k]); k++)
        if (bySlot[k] !== undefined) {
          len++;
          last = k;
        }
      // the budget check leaves through the default case (pc = ~slot), where the error is thrown:
      // V8 optimises a loop with no call in it (even a cold one) much better, ~1.7x on an ALU loop
      // a block that ends by jumping back to its own start (a counted loop's body) becomes a JavaScript
      // do-while: V8 optimises it as a loop, where the switch would dispatch every round
      const end = bySlot[last]!;
      const cond = last > s ? loopCondition(end, last, s) : undefined;
      if (cond !== undefined) {
        out.push(`case ${s}: do { if ((n += ${len}) > lim) { pc = ${~s}; continue L; }`);
        for (let k = s; k < last; k++) {
          const x = bySlot[k];
          if (x !== undefined) out.push(traceLine(k), instruction(x, k, bad, n));
        }
        out.push(traceLine(last), `} while (${cond});`);
        s = last;
        continue;
      }
      out.push(`case ${s}: if ((n += ${len}) > lim) { pc = ${~s}; continue L; }`);
    }
    out.push(traceLine(s), instruction(i, s, bad, n));
  }
  out.push(`default: if (pc < 0) throw R.overBudget(~pc); throw R.fellOff(pc, ${n}); }`);
  return out.join("\n");
}

function checkRegs(
  i: Instruction,
  s: number,
  bad: (s: number, why: string) => never,
  writesDst: boolean,
): void {
  if (i.dst > 10) bad(s, `register r${i.dst} does not exist (r0..r10)`);
  if (i.src > 10) bad(s, `register r${i.src} does not exist (r0..r10)`);
  if (writesDst && i.dst === 10) bad(s, "r10 is the read-only frame pointer");
}

function instruction(i: Instruction, s: number, bad: (s: number, why: string) => never, n: number): string {
  const code = i.code;
  const cls = code & 7;
  const d = i.dst;
  const dl = L(d);
  const dh = H(d);
  switch (cls) {
    case Class.ALU64:
    case Class.ALU:
      checkRegs(i, s, bad, true);
      return alu(i, s, bad, cls === Class.ALU64);
    case Class.JMP:
    case Class.JMP32:
      return jump(i, s, bad, cls === Class.JMP, n);
    case Class.LD: {
      if (code === LD_IMM64) {
        checkRegs(i, s, bad, true);
        const imm2 = i.imm2 ?? 0;
        switch (i.src) {
          case PseudoLoad.IMM:
            return `${dl} = ${i.imm | 0}; ${dh} = ${imm2 | 0};`;
          case PseudoLoad.MAP_FD:
            return `R.mapCheck(${i.imm}, ${s}); ${dl} = ${i.imm | 0}; ${dh} = ${MAP_HI};`;
          case PseudoLoad.MAP_VALUE:
            return `${dl} = R.mapValue(${i.imm}, ${imm2}, ${s}); ${dh} = T[0];`;
          case PseudoLoad.FUNC:
            return `${dl} = ${s + i.imm + 1}; ${dh} = ${FUNC_HI};`;
          case PseudoLoad.BTF_ID:
            return `${dl} = ${i.imm | 0}; ${dh} = ${KSYM_HI};`;
          default:
            return bad(
              s,
              `ld_imm64 with src ${i.src} (map by fd_array index) needs the load's fd_array, which the interpreter does not take`,
            );
        }
      }
      const mode = code & 0xe0;
      if ((mode === Mode.ABS || mode === Mode.IND) && (code & 0x18) !== 0x18) {
        checkRegs(i, s, bad, false);
        const size = [4, 2, 1][(code & 0x18) >> 3]!;
        const off = mode === Mode.IND ? `(${L(i.src)} + ${i.imm | 0}) | 0` : `${i.imm | 0}`;
        return `r0l = R.ldAbs(${size}, ${off}, ${s}); if (T[1] === 0) { B[0] = n; T[0] = 0; return 0; } r0h = 0; r1l = r1h = r2l = r2h = r3l = r3h = r4l = r4h = r5l = r5h = 0;`;
      }
      return bad(s, `unknown opcode 0x${code.toString(16).padStart(2, "0")} (class LD)`);
    }
    case Class.LDX: {
      checkRegs(i, s, bad, true);
      const mode = code & 0xe0;
      const size = code & 0x18;
      const a = `${H(i.src)}, ${L(i.src)}, ${i.off}, ${s}`;
      if (mode === Mode.MEM) {
        if (size === 0x10) return `${dl} = ldb(${a}); ${dh} = 0;`;
        if (size === 0x08) return `${dl} = ldh(${a}); ${dh} = 0;`;
        if (size === 0x00) return `${dl} = ldw(${a}); ${dh} = T[0];`;
        return `${dl} = ldd(${a}); ${dh} = T[0];`;
      }
      if (mode === Mode.MEMSX) {
        if (size === 0x10) return `${dl} = (ldb(${a}) << 24) >> 24; ${dh} = ${dl} >> 31;`;
        if (size === 0x08) return `${dl} = (ldh(${a}) << 16) >> 16; ${dh} = ${dl} >> 31;`;
        if (size === 0x00) return `${dl} = ldw(${a}); ${dh} = ${dl} >> 31;`;
      }
      return bad(s, `unknown opcode 0x${code.toString(16).padStart(2, "0")} (class LDX)`);
    }
    case Class.ST:
    case Class.STX: {
      checkRegs(i, s, bad, false);
      const mode = code & 0xe0;
      const size = code & 0x18;
      const base = `${dh}, ${dl}, ${i.off}`;
      if (mode === Mode.MEM) {
        const xl = cls === Class.ST ? `${i.imm | 0}` : L(i.src);
        const xh = cls === Class.ST ? `${hiOfImm(i.imm)}` : H(i.src);
        if (size === 0x10) return `stb(${base}, ${xl}, ${s});`;
        if (size === 0x08) return `sth(${base}, ${xl}, ${s});`;
        if (size === 0x00) return `stw(${base}, ${xl}, ${s});`;
        return `std(${base}, ${xl}, ${xh}, ${s});`;
      }
      if (mode === Mode.ATOMIC && cls === Class.STX) return atomic(i, s, bad);
      return bad(
        s,
        `unknown opcode 0x${code.toString(16).padStart(2, "0")} (class ${cls === Class.ST ? "ST" : "STX"})`,
      );
    }
  }
  return bad(s, `unknown opcode 0x${code.toString(16)}`);
}

function atomic(i: Instruction, s: number, bad: (s: number, why: string) => never): string {
  const size = i.code & 0x18;
  const op = i.imm;
  const dl = L(i.dst);
  const dh = H(i.dst);
  const sl = L(i.src);
  const sh = H(i.src);
  if (op === AtomicOp.LOAD_ACQ) {
    checkRegs({ ...i, dst: i.src, src: i.dst }, s, bad, true);
    const a = `${sh}, ${sl}, ${i.off}, ${s}`;
    const f = ["ldw", "ldh", "ldb", "ldd"][size >> 3];
    return `${dl} = ${f}(${a}); ${dh} = ${size === 0x18 || size === 0 ? "T[0]" : "0"};`.replace(
      `${dl} = `,
      `${dl} = `,
    );
  }
  if (op === AtomicOp.STORE_REL) {
    const f = ["stw", "sth", "stb", "std"][size >> 3];
    return size === 0x18
      ? `std(${dh}, ${dl}, ${i.off}, ${sl}, ${sh}, ${s});`
      : `${f}(${dh}, ${dl}, ${i.off}, ${sl}, ${s});`;
  }
  const known = [0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, AtomicOp.XCHG, AtomicOp.CMPXCHG];
  if (!known.includes(op)) bad(s, `unknown atomic operation 0x${op.toString(16)}`);
  if (size !== 0x00 && size !== 0x18) bad(s, "atomic operations are 32 or 64 bits wide");
  if (
    op === 0x01 ||
    op === 0x41 ||
    op === 0x51 ||
    op === 0xa1 ||
    op === AtomicOp.XCHG ||
    op === AtomicOp.CMPXCHG
  )
    if (i.src === 10) bad(s, "a fetching atomic cannot write r10");
  const fetch = (op & AtomicOp.FETCH) !== 0;
  if (size === 0x00) {
    const call = `R.atomic32(${op}, ${dh}, ${dl}, ${i.off}, ${sl}, r0l, ${s})`;
    if (op === AtomicOp.CMPXCHG) return `r0l = ${call}; r0h = 0;`;
    if (fetch) return `${sl} = ${call}; ${sh} = 0;`;
    return `${call};`;
  }
  const call = `R.atomic64(${op}, ${dh}, ${dl}, ${i.off}, ${sl}, ${sh}, r0l, r0h, ${s})`;
  if (op === AtomicOp.CMPXCHG) return `r0l = ${call}; r0h = T[0];`;
  if (fetch) return `${sl} = ${call}; ${sh} = T[0];`;
  return `${call};`;
}

/** ` + x`, or nothing for an immediate high word of 0 */
const plus = (x: string) => (x === "0" ? "" : ` + ${x}`);
/** ` - x`, or nothing for an immediate high word of 0 */
const minus = (x: string) => (x === "0" ? "" : ` - ${x}`);

function alu(i: Instruction, s: number, bad: (s: number, why: string) => never, wide: boolean): string {
  const op = i.code & 0xf0;
  const x = (i.code & 0x08) !== 0;
  const dl = L(i.dst);
  const dh = H(i.dst);
  const sl = x ? L(i.src) : `${i.imm | 0}`;
  const sh = x ? H(i.src) : `${hiOfImm(i.imm)}`;
  const off = i.off;
  const offOk = (ok: boolean) => {
    if (!ok) bad(s, `offset ${off} is not valid for this ALU instruction`);
  };
  if (op !== AluOp.DIV && op !== AluOp.MOD && op !== AluOp.MOV) offOk(off === 0);
  if (wide) {
    switch (op) {
      // int32 arithmetic only (no doubles): the carry is the unsigned sum below an addend, the
      // borrow an unsigned minuend below the subtrahend
      case AluOp.ADD:
        return `t = (${dl} + ${sl}) | 0; ${dh} = (${dh}${plus(sh)} + ((t >>> 0) < (${dl} >>> 0) ? 1 : 0)) | 0; ${dl} = t;`;
      case AluOp.SUB:
        return `t = (${dl} - ${sl}) | 0; ${dh} = (${dh}${minus(sh)} - ((${dl} >>> 0) < (${sl} >>> 0) ? 1 : 0)) | 0; ${dl} = t;`;
      case AluOp.MUL:
        return `t = Math.imul(${dl}, ${sl}); ${dh} = (mulhu(${dl}, ${sl})${sh === "0" ? "" : ` + Math.imul(${dl}, ${sh})`} + Math.imul(${dh}, ${sl})) | 0; ${dl} = t;`;
      case AluOp.DIV:
        offOk(off === 0 || off === 1);
        return `${dl} = R.${off ? "sdiv64" : "udiv64"}(${dl}, ${dh}, ${sl}, ${sh}); ${dh} = T[0];`;
      case AluOp.MOD:
        offOk(off === 0 || off === 1);
        return `${dl} = R.${off ? "smod64" : "umod64"}(${dl}, ${dh}, ${sl}, ${sh}); ${dh} = T[0];`;
      // an immediate's high word is 0 or -1: the operations it leaves alone are not written
      case AluOp.OR:
        return `${dl} |= ${sl};${sh === "0" ? "" : sh === "-1" ? ` ${dh} = -1;` : ` ${dh} |= ${sh};`}`;
      case AluOp.AND:
        return `${dl} &= ${sl};${sh === "-1" ? "" : sh === "0" ? ` ${dh} = 0;` : ` ${dh} &= ${sh};`}`;
      case AluOp.XOR:
        return `${dl} ^= ${sl};${sh === "0" ? "" : sh === "-1" ? ` ${dh} = ~${dh};` : ` ${dh} ^= ${sh};`}`;
      case AluOp.LSH:
      case AluOp.RSH:
      case AluOp.ARSH: {
        const name = op === AluOp.LSH ? "lsh64" : op === AluOp.RSH ? "rsh64" : "arsh64";
        if (x) return `${dl} = R.${name}(${dl}, ${dh}, ${sl}); ${dh} = T[0];`;
        const k = i.imm & 63;
        if (k === 0) return "";
        if (op === AluOp.LSH)
          return k < 32
            ? `${dh} = (${dh} << ${k}) | (${dl} >>> ${32 - k}); ${dl} = ${dl} << ${k};`
            : `${dh} = ${dl} << ${k - 32}; ${dl} = 0;`;
        if (op === AluOp.RSH)
          return k < 32
            ? `${dl} = (${dl} >>> ${k}) | (${dh} << ${32 - k}); ${dh} = ${dh} >>> ${k} | 0;`
            : `${dl} = ${dh} >>> ${k - 32} | 0; ${dh} = 0;`;
        return k < 32
          ? `${dl} = (${dl} >>> ${k}) | (${dh} << ${32 - k}); ${dh} = ${dh} >> ${k};`
          : `${dl} = ${dh} >> ${k - 32}; ${dh} = ${dh} >> 31;`;
      }
      case AluOp.NEG:
        if (x || i.imm !== 0) bad(s, "neg takes no source");
        return `${dl} = (~${dl} + 1) | 0; ${dh} = (~${dh} + (${dl} === 0 ? 1 : 0)) | 0;`;
      case AluOp.MOV:
        if (!x) {
          offOk(off === 0);
          return `${dl} = ${sl}; ${dh} = ${sh};`;
        }
        if (off === 0 || off === 1) return `${dl} = ${sl}; ${dh} = ${sh};`;
        if (off === 8) return `${dl} = (${sl} << 24) >> 24; ${dh} = ${dl} >> 31;`;
        if (off === 16) return `${dl} = (${sl} << 16) >> 16; ${dh} = ${dl} >> 31;`;
        if (off === 32) return `${dl} = ${sl}; ${dh} = ${dl} >> 31;`;
        return bad(s, `movsx with offset ${off} (8, 16 or 32)`);
      case AluOp.ARSH + 0x10: // END (0xd0): bswap
        if (x) bad(s, "bswap (ALU64 END) takes the TO_LE source bit only");
        return bswap(i.imm, dl, dh, s, bad, true);
    }
    return bad(s, `unknown opcode 0x${i.code.toString(16)} (class ALU64)`);
  }
  switch (op) {
    case AluOp.ADD:
      return `${dl} = (${dl} + ${sl}) | 0; ${dh} = 0;`;
    case AluOp.SUB:
      return `${dl} = (${dl} - ${sl}) | 0; ${dh} = 0;`;
    case AluOp.MUL:
      return `${dl} = Math.imul(${dl}, ${sl}); ${dh} = 0;`;
    case AluOp.DIV:
      offOk(off === 0 || off === 1);
      if (off === 0) return `t = ${sl} >>> 0; ${dl} = t === 0 ? 0 : ((${dl} >>> 0) / t) | 0; ${dh} = 0;`;
      return `t = ${sl}; ${dl} = t === 0 ? 0 : t === -1 ? -${dl} | 0 : Math.trunc(${dl} / t) | 0; ${dh} = 0;`;
    case AluOp.MOD:
      offOk(off === 0 || off === 1);
      if (off === 0) return `t = ${sl} >>> 0; if (t !== 0) ${dl} = ((${dl} >>> 0) % t) | 0; ${dh} = 0;`;
      return `t = ${sl}; if (t === -1) ${dl} = 0; else if (t !== 0) ${dl} = (${dl} % t) | 0; ${dh} = 0;`;
    case AluOp.OR:
      return `${dl} |= ${sl}; ${dh} = 0;`;
    case AluOp.AND:
      return `${dl} &= ${sl}; ${dh} = 0;`;
    case AluOp.XOR:
      return `${dl} ^= ${sl}; ${dh} = 0;`;
    case AluOp.LSH:
      return `${dl} = ${dl} << (${sl} & 31); ${dh} = 0;`;
    case AluOp.RSH:
      return `${dl} = (${dl} >>> (${sl} & 31)) | 0; ${dh} = 0;`;
    case AluOp.ARSH:
      return `${dl} = ${dl} >> (${sl} & 31); ${dh} = 0;`;
    case AluOp.NEG:
      if (x || i.imm !== 0) bad(s, "neg takes no source");
      return `${dl} = -${dl} | 0; ${dh} = 0;`;
    case AluOp.MOV:
      if (!x) offOk(off === 0);
      if (off === 0) return `${dl} = ${sl}; ${dh} = 0;`;
      if (off === 8) return `${dl} = (${sl} << 24) >> 24; ${dh} = 0;`;
      if (off === 16) return `${dl} = (${sl} << 16) >> 16; ${dh} = 0;`;
      return bad(s, `32-bit movsx with offset ${off} (8 or 16)`);
    case 0xd0:
      if (x) return bswap(i.imm, dl, dh, s, bad, true);
      if (i.imm === 16) return `${dl} &= 0xffff; ${dh} = 0;`;
      if (i.imm === 32) return `${dh} = 0;`;
      if (i.imm === 64) return "";
      return bad(s, `byte swap width ${i.imm} (16, 32 or 64)`);
  }
  return bad(s, `unknown opcode 0x${i.code.toString(16)} (class ALU)`);
}

function bswap(
  width: number,
  dl: string,
  dh: string,
  s: number,
  bad: (s: number, why: string) => never,
  _: boolean,
): string {
  const sw32 = (v: string) =>
    `(((${v} & 0xff) << 24) | ((${v} & 0xff00) << 8) | ((${v} >>> 8) & 0xff00) | (${v} >>> 24))`;
  if (width === 16) return `${dl} = ((${dl} & 0xff) << 8) | ((${dl} >>> 8) & 0xff); ${dh} = 0;`;
  if (width === 32) return `${dl} = ${sw32(dl)}; ${dh} = 0;`;
  if (width === 64) return `t = ${sw32(dl)}; ${dl} = ${sw32(dh)}; ${dh} = t;`;
  return bad(s, `byte swap width ${width} (16, 32 or 64)`);
}

function jump(
  i: Instruction,
  s: number,
  bad: (s: number, why: string) => never,
  wide: boolean,
  _n: number,
): string {
  const op = i.code & 0xf0;
  const x = (i.code & 0x08) !== 0;
  if (op === JmpOp.EXIT) {
    if (!wide || x) bad(s, "exit is JMP class with source K");
    return "B[0] = n; T[0] = r0h; return r0l;";
  }
  if (op === JmpOp.CALL) {
    if (!wide) bad(s, "call is JMP class only");
    if (x) {
      // callx: the register is in dst (LLVM)
      if (i.dst > 10) bad(s, `register r${i.dst} does not exist`);
      return `B[0] = n; R.depth = depth; r0l = R.callx(${L(i.dst)}, ${H(i.dst)}, ${s}, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h); r0h = T[0]; n = B[0];`;
    }
    if (i.src === PseudoCall.CALL) {
      return `B[0] = n; r0l = run(${s + i.imm + 1}, depth + 1, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h); r0h = T[0]; n = B[0];`;
    }
    if (i.src === PseudoCall.HELPER) {
      const tail = i.imm === 12 ? " if (R.tail) { R.tail = false; return r0l; }" : "";
      // the budget count goes through B around anything that may run instructions
      return `B[0] = n; R.depth = depth; r0l = R.helper(${i.imm | 0}, ${s}, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h); r0h = T[0]; n = B[0];${tail}`;
    }
    if (i.src === PseudoCall.KFUNC_CALL)
      return `B[0] = n; R.depth = depth; r0l = R.kfunc(${i.imm | 0}, ${s}, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h); r0h = T[0]; n = B[0];`;
    return bad(s, `call with src ${i.src} (0 helper, 1 bpf-to-bpf, 2 kfunc)`);
  }
  if (op === JmpOp.JA) {
    if (x) bad(s, "ja takes no source register");
    const off = wide ? i.off : i.imm;
    return `pc = ${s + off + 1}; continue L;`;
  }
  if (op === JmpOp.JCOND) {
    if (!wide || i.src !== 0) bad(s, "unknown conditional pseudo jump (may_goto is JMP, src 0)");
    return `if (mg === 0) { pc = ${s + i.off + 1}; continue L; } mg--;`;
  }
  checkRegs(i, s, bad, false);
  const cond = condition(i, wide);
  if (cond === undefined)
    return bad(s, `unknown opcode 0x${i.code.toString(16)} (class ${wide ? "JMP" : "JMP32"})`);
  return `if (${cond}) { pc = ${s + i.off + 1}; continue L; }`;
}

/**
 * The condition of a conditional jump that goes back to `start` from `s`, the end of the block
 * that begins there; undefined for anything else (an unconditional jump, a call, an exit).
 */
function loopCondition(i: Instruction, s: number, start: number): string | undefined {
  const cls = i.code & 7;
  if (cls !== Class.JMP && cls !== Class.JMP32) return undefined;
  const op = i.code & 0xf0;
  if (op === JmpOp.JA || op === JmpOp.CALL || op === JmpOp.EXIT || op === JmpOp.JCOND) return undefined;
  if (s + i.off + 1 !== start || i.dst > 10 || i.src > 10) return undefined;
  return condition(i, cls === Class.JMP);
}

/** The JavaScript condition of a conditional jump, or undefined for an unknown operation. */
function condition(i: Instruction, wide: boolean): string | undefined {
  const op = i.code & 0xf0;
  const x = (i.code & 0x08) !== 0;
  const dl = L(i.dst);
  const dh = H(i.dst);
  const sl = x ? L(i.src) : `${i.imm | 0}`;
  const sh = x ? H(i.src) : `${hiOfImm(i.imm)}`;
  let cond: string;
  const u = (a: string) => `(${a} >>> 0)`;
  if (wide) {
    switch (op) {
      case JmpOp.JEQ:
        cond = `${dl} === ${sl} && ${dh} === ${sh}`;
        break;
      case JmpOp.JNE:
        cond = `${dl} !== ${sl} || ${dh} !== ${sh}`;
        break;
      case JmpOp.JSET:
        cond = `(${dl} & ${sl}) !== 0 || (${dh} & ${sh}) !== 0`;
        break;
      case JmpOp.JGT:
      case JmpOp.JGE:
      case JmpOp.JLT:
      case JmpOp.JLE: {
        const c = op === JmpOp.JGT || op === JmpOp.JGE ? ">" : "<";
        const e = op === JmpOp.JGE || op === JmpOp.JLE ? "=" : "";
        cond = `${u(dh)} ${c} ${u(sh)} || (${dh} === ${sh} && ${u(dl)} ${c}${e} ${u(sl)})`;
        break;
      }
      case JmpOp.JSGT:
      case JmpOp.JSGE:
      case JmpOp.JSLT:
      case JmpOp.JSLE: {
        const c = op === JmpOp.JSGT || op === JmpOp.JSGE ? ">" : "<";
        const e = op === JmpOp.JSGE || op === JmpOp.JSLE ? "=" : "";
        cond = `${dh} ${c} ${sh} || (${dh} === ${sh} && ${u(dl)} ${c}${e} ${u(sl)})`;
        break;
      }
      default:
        return undefined;
    }
  } else {
    switch (op) {
      case JmpOp.JEQ:
        cond = `${dl} === ${sl}`;
        break;
      case JmpOp.JNE:
        cond = `${dl} !== ${sl}`;
        break;
      case JmpOp.JSET:
        cond = `(${dl} & ${sl}) !== 0`;
        break;
      case JmpOp.JGT:
        cond = `${u(dl)} > ${u(sl)}`;
        break;
      case JmpOp.JGE:
        cond = `${u(dl)} >= ${u(sl)}`;
        break;
      case JmpOp.JLT:
        cond = `${u(dl)} < ${u(sl)}`;
        break;
      case JmpOp.JLE:
        cond = `${u(dl)} <= ${u(sl)}`;
        break;
      case JmpOp.JSGT:
        cond = `${dl} > ${sl}`;
        break;
      case JmpOp.JSGE:
        cond = `${dl} >= ${sl}`;
        break;
      case JmpOp.JSLT:
        cond = `${dl} < ${sl}`;
        break;
      case JmpOp.JSLE:
        cond = `${dl} <= ${sl}`;
        break;
      default:
        return undefined;
    }
  }
  return cond;
}
