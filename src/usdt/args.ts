/**
 * USDT argument specs (x86-64), pure: the note's argument string (`-4@%edi 8@-8(%rbp) 4@$5`)
 * parsed into one {@link UsdtArgSpec} per argument, and encoded into the 208-byte spec record the
 * BPF side reads (the layout of libbpf's `struct __bpf_usdt_spec`, so a clang object that uses
 * libbpf's `usdt.bpf.h` reads the records rawbpf writes).
 */
import { UsdtArgError } from "./errors.js";

/** Where an argument is: a constant, a register, or memory at a register plus an offset. */
export type UsdtArgKind = "const" | "reg" | "deref";

/** One parsed argument. */
export interface UsdtArgSpec {
  readonly kind: UsdtArgKind;
  /** size in bytes (1, 2, 4 or 8) */
  readonly size: number;
  readonly signed: boolean;
  /** the constant (const), or the offset from the register (deref); 0 for reg */
  readonly value: bigint;
  /** the register's name as written (`edi`), undefined for const */
  readonly register?: string;
  /** offsetof(struct pt_regs, the 64-bit register) on x86-64; -1 for const */
  readonly regOffset: number;
  /** the spec as written */
  readonly text: string;
  /**
   * For a %rip-relative operand (`-4@counter(%rip)`, `8@8+glob(%rip)`: a global variable, as gcc
   * writes it at -O2): the symbol, the bytes added to it, and — once the binary's symbol table
   * resolved it (`listUsdtProbes` does) — its link-time address. The argument is then read
   * as a `deref` of pt_regs->ip (the probe's address when a uprobe handler runs) plus `value`,
   * which is `address + addend - the probe's address`: the same for every load base.
   */
  readonly symbol?: { readonly name: string; readonly addend: bigint; readonly address?: bigint };
}

/**
 * offsetof(struct pt_regs, r) on x86-64 (arch/x86/include/asm/ptrace.h), for every name a
 * register goes by (64, 32, 16 and low 8 bits). test/usdt checks them against the kernel's BTF.
 */
export const X86_64_PT_REGS: Readonly<Record<string, number>> = (() => {
  const out: Record<string, number> = {};
  const put = (offset: number, ...names: string[]) => {
    for (const n of names) out[n] = offset;
  };
  put(0, "r15", "r15d", "r15w", "r15b");
  put(8, "r14", "r14d", "r14w", "r14b");
  put(16, "r13", "r13d", "r13w", "r13b");
  put(24, "r12", "r12d", "r12w", "r12b");
  put(32, "rbp", "ebp", "bp", "bpl");
  put(40, "rbx", "ebx", "bx", "bl");
  put(48, "r11", "r11d", "r11w", "r11b");
  put(56, "r10", "r10d", "r10w", "r10b");
  put(64, "r9", "r9d", "r9w", "r9b");
  put(72, "r8", "r8d", "r8w", "r8b");
  put(80, "rax", "eax", "ax", "al");
  put(88, "rcx", "ecx", "cx", "cl");
  put(96, "rdx", "edx", "dx", "dl");
  put(104, "rsi", "esi", "si", "sil");
  put(112, "rdi", "edi", "di", "dil");
  put(128, "rip", "eip");
  put(152, "rsp", "esp", "sp", "spl");
  return out;
})();

/** The pt_regs member each offset above is (for the BTF check). */
export const X86_64_PT_REGS_MEMBERS: Readonly<Record<number, string>> = {
  0: "r15",
  8: "r14",
  16: "r13",
  24: "r12",
  32: "bp",
  40: "bx",
  48: "r11",
  56: "r10",
  64: "r9",
  72: "r8",
  80: "ax",
  88: "cx",
  96: "dx",
  104: "si",
  112: "di",
  128: "ip",
  152: "sp",
};

/** The most arguments a probe has (sys/sdt.h's limit, and libbpf's BPF_USDT_MAX_ARG_CNT). */
export const USDT_MAX_ARGS = 12;
/** sizeof(struct __bpf_usdt_arg_spec) */
export const USDT_ARG_SPEC_SIZE = 16;
/** offsetof(struct __bpf_usdt_spec, usdt_cookie) */
export const USDT_SPEC_COOKIE = USDT_MAX_ARGS * USDT_ARG_SPEC_SIZE;
/** offsetof(struct __bpf_usdt_spec, arg_cnt) */
export const USDT_SPEC_ARG_COUNT = USDT_SPEC_COOKIE + 8;
/** sizeof(struct __bpf_usdt_spec) (aligned to its u64) */
export const USDT_SPEC_SIZE = 208;

/** enum __bpf_usdt_arg_type */
const ARG_TYPE: Record<UsdtArgKind, number> = { const: 0, reg: 1, deref: 2 };

const ONE = /^(-?)(1|2|4|8)@(.+)$/;
/** `counter(%rip)`, `8+glob(%rip)`, `glob+8(%rip)`: a global variable, relative to the instruction pointer. */
const RIP_SYMBOL =
  /^(?:(-?(?:0x[0-9a-fA-F]+|\d+))\+)?([A-Za-z_.$][A-Za-z0-9_.$@]*)(?:([+-])(0x[0-9a-fA-F]+|\d+))?\(%rip\)$/;

function num(text: string): bigint {
  const neg = text.startsWith("-");
  const v = BigInt(neg ? text.slice(1) : text);
  return neg ? -v : v;
}

/**
 * The arguments of a probe's argument string. `where` names the probe in errors.
 * A %rip-relative operand (`counter(%rip)`) comes back with its `symbol` unresolved: the probe's
 * address and the binary's symbol table give its value (`listUsdtProbes` resolves it).
 * @throws UsdtArgError for a spec rawbpf cannot read (a SIB operand, a register of another
 *   architecture, a size other than 1, 2, 4, 8)
 */
export function parseUsdtArgs(text: string, where: string): UsdtArgSpec[] {
  const parts = text.trim() === "" ? [] : text.trim().split(/\s+/);
  if (parts.length > USDT_MAX_ARGS)
    throw new UsdtArgError(where, text, `it has ${parts.length} arguments, more than ${USDT_MAX_ARGS}`);
  return parts.map((p) => parseOne(p, where));
}

function register(name: string, spec: string, where: string): number {
  const off = X86_64_PT_REGS[name];
  if (off === undefined)
    throw new UsdtArgError(where, spec, `'%${name}' is not an x86-64 register rawbpf knows`);
  return off;
}

function parseOne(spec: string, where: string): UsdtArgSpec {
  const m = ONE.exec(spec);
  if (!m)
    throw new UsdtArgError(
      where,
      spec,
      "an argument is SIZE@OPERAND with SIZE 1, 2, 4 or 8, maybe negative (signed)",
    );
  const signed = m[1] === "-";
  const size = Number(m[2]);
  const op = m[3] as string;
  let r: RegExpExecArray | null = /^\$(-?(?:0x[0-9a-fA-F]+|\d+))$/.exec(op);
  if (r) {
    const raw = r[1] as string;
    const neg = raw.startsWith("-");
    const v = BigInt(neg ? raw.slice(1) : raw);
    return { kind: "const", size, signed, value: neg ? -v : v, regOffset: -1, text: spec };
  }
  r = /^%([a-z0-9]+)$/.exec(op);
  if (r) {
    const name = r[1] as string;
    return {
      kind: "reg",
      size,
      signed,
      value: 0n,
      register: name,
      regOffset: register(name, spec, where),
      text: spec,
    };
  }
  r = RIP_SYMBOL.exec(op);
  if (r) {
    const addend = (r[1] ? num(r[1]) : 0n) + (r[3] ? (r[3] === "-" ? -num(r[4]!) : num(r[4]!)) : 0n);
    return {
      kind: "deref",
      size,
      signed,
      value: 0n,
      register: "rip",
      regOffset: register("rip", spec, where),
      text: spec,
      symbol: { name: r[2] as string, addend },
    };
  }
  r = /^(-?(?:0x[0-9a-fA-F]+|\d+))?\(%([a-z0-9]+)\)$/.exec(op);
  if (r) {
    const name = r[2] as string;
    if (name === "rip")
      throw new UsdtArgError(
        where,
        spec,
        "a %rip-relative operand with a bare number has no meaning in a note (%rip is the address of an instruction that is not there): only symbol(%rip) is read",
      );
    const raw = r[1] ?? "0";
    const neg = raw.startsWith("-");
    const v = BigInt(neg ? raw.slice(1) : raw);
    return {
      kind: "deref",
      size,
      signed,
      value: neg ? -v : v,
      register: name,
      regOffset: register(name, spec, where),
      text: spec,
    };
  }
  if (op.includes("(%rip)"))
    throw new UsdtArgError(
      where,
      spec,
      "a %rip-relative operand is read as SYMBOL(%rip), OFFSET+SYMBOL(%rip) or SYMBOL+OFFSET(%rip)",
    );
  if (op.includes(","))
    throw new UsdtArgError(where, spec, "a scaled-index operand (base, index, scale) is not supported yet");
  throw new UsdtArgError(
    where,
    spec,
    `'${op}' is no operand rawbpf reads ($constant, %register, offset(%register))`,
  );
}

/**
 * The spec record of a probe site with `args` and the user's `cookie`, in the layout of libbpf's
 * `struct __bpf_usdt_spec`: 12 × { u64 val_off; u32 arg_type; s16 reg_off; u8 arg_signed;
 * s8 arg_bitshift }, u64 usdt_cookie, s16 arg_cnt.
 */
export function encodeUsdtSpec(args: readonly UsdtArgSpec[], cookie: bigint): Uint8Array {
  const out = new Uint8Array(USDT_SPEC_SIZE);
  const v = new DataView(out.buffer);
  args.forEach((a, i) => {
    if (a.symbol !== undefined && a.symbol.address === undefined)
      throw new UsdtArgError(
        `argument ${i}`,
        a.text,
        `the symbol '${a.symbol.name}' was not resolved against the binary's symbol table (take the probe from listUsdtProbes)`,
      );
    const at = i * USDT_ARG_SPEC_SIZE;
    v.setBigUint64(at, BigInt.asUintN(64, a.value), true);
    v.setUint32(at + 8, ARG_TYPE[a.kind], true);
    v.setInt16(at + 12, a.kind === "const" ? 0 : a.regOffset, true);
    v.setUint8(at + 14, a.signed ? 1 : 0);
    v.setInt8(at + 15, 64 - a.size * 8);
  });
  v.setBigUint64(USDT_SPEC_COOKIE, BigInt.asUintN(64, cookie), true);
  v.setInt16(USDT_SPEC_ARG_COUNT, args.length, true);
  return out;
}
