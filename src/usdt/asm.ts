/**
 * The BPF side of USDT arguments: `usdtArg(i, dst)` is kernel-syntax assembly that reads argument
 * `i` of the probe the program runs for, by the spec record whose index is the program's BPF
 * cookie (libbpf's `bpf_usdt_arg`, written out as instructions), and `usdtAsm(specs)` is the `asm`
 * template that expands it with the spec map referred to.
 *
 * Why a spec map and not code generated per site: one program serves every site of a probe (a
 * probe compiled into several functions has sites whose arguments live in different registers),
 * loads once, and the record layout is libbpf's, so clang objects built with `usdt.bpf.h` read
 * the records rawbpf writes too.
 */
import type { AsmProgram } from "../isa/asm/program.js";
import { type AsmValue, asm, type NamedMap } from "../isa/template.js";
import { InputError } from "../sys/error.js";
import { USDT_ARG_SPEC_SIZE, USDT_MAX_ARGS, USDT_SPEC_ARG_COUNT, USDT_SPEC_COOKIE } from "./args.js";

/** Options of {@link usdtArg}. */
export interface UsdtArgOptions {
  /** the register that holds the program's context (struct pt_regs *), not r0-r5 (default "r6") */
  ctx?: string;
  /**
   * the start of 32 bytes of stack the fragment uses, as an offset from r10, a multiple of 8
   * from -512 to -32 (default -32: bytes r10-32 to r10-1)
   */
  stack?: number;
}

/** What {@link usdtArg} and {@link usdtCookie} give: expanded by {@link usdtAsm}. */
export interface UsdtFragment {
  readonly usdt: "arg" | "cookie" | "count";
  /** the argument's index (for "arg") */
  readonly index: number;
  readonly dst: string;
  readonly ctx: string;
  readonly stack: number;
}

const CALLEE_SAVED = /^r[6-9]$/;

function fragment(
  kind: UsdtFragment["usdt"],
  index: number,
  dst: string,
  options: UsdtArgOptions,
): UsdtFragment {
  const ctx = options.ctx ?? "r6";
  const stack = options.stack ?? -32;
  if (!CALLEE_SAVED.test(ctx))
    throw new InputError(
      `usdt: the context register must be one of r6-r9 (the fragment calls helpers, which clobber r0-r5), got ${JSON.stringify(ctx)}: copy it first (r6 = r1)`,
    );
  if (!CALLEE_SAVED.test(dst) || dst === ctx)
    throw new InputError(
      `usdt: the destination register must be one of r6-r9 and not the context register (${ctx}), got ${JSON.stringify(dst)}`,
    );
  if (!Number.isInteger(stack) || stack % 8 !== 0 || stack < -512 || stack > -32)
    throw new InputError(
      `usdt: the stack area starts at a multiple of 8 from -512 to -32, got ${String(stack)}`,
    );
  return { usdt: kind, index, dst, ctx, stack };
}

/**
 * Argument `index` (from 0) of the USDT probe the program runs at, sign- or zero-extended to 64
 * bits as its spec says, into register `dst` (r6-r9); 0 when the site has fewer arguments or the
 * memory cannot be read. Expanded inside {@link usdtAsm}. It calls helpers (r0-r5 are clobbered)
 * and uses 32 bytes of stack (`stack`); the context pointer must be in `ctx` (r6 by default).
 */
export function usdtArg(index: number, dst: string, options: UsdtArgOptions = {}): UsdtFragment {
  if (!Number.isInteger(index) || index < 0 || index >= USDT_MAX_ARGS)
    throw new InputError(
      `usdtArg: a USDT argument index is from 0 to ${USDT_MAX_ARGS - 1}, got ${String(index)}`,
    );
  return fragment("arg", index, dst, options);
}

/** The `cookie` given to attachUsdt for the probe the program runs at, into `dst` (0 when none). */
export function usdtCookie(dst: string, options: UsdtArgOptions = {}): UsdtFragment {
  return fragment("cookie", 0, dst, options);
}

/** The number of arguments of the probe site the program runs at, into `dst` (0 when unknown). */
export function usdtArgCount(dst: string, options: UsdtArgOptions = {}): UsdtFragment {
  return fragment("count", 0, dst, options);
}

let labels = 0;

/** The text of one fragment; `M` stands where the spec map goes. */
function expand(f: UsdtFragment): string[] {
  const L = `__usdt${labels++}`;
  const S = f.stack;
  const key = `(r10 ${S})`;
  const slot = (n: number) => `(r10 ${S + n})`;
  const head = [
    `r1 = ${f.ctx}`,
    "call bpf_get_attach_cookie",
    `*(u32 *)${key} = r0`,
    "r1 = 0",
    `*(u64 *)${slot(8)} = r1`,
    "r2 = r10",
    `r2 += ${S}`,
    "r1 = \u0000",
    "call bpf_map_lookup_elem",
    `if r0 == 0 goto ${L}_end`,
  ];
  if (f.usdt === "cookie")
    return [
      ...head,
      `r1 = *(u64 *)(r0 + ${USDT_SPEC_COOKIE})`,
      `*(u64 *)${slot(8)} = r1`,
      `${L}_end:`,
      `${f.dst} = *(u64 *)${slot(8)}`,
    ];
  if (f.usdt === "count")
    return [
      ...head,
      `r1 = *(u16 *)(r0 + ${USDT_SPEC_ARG_COUNT})`,
      `*(u64 *)${slot(8)} = r1`,
      `${L}_end:`,
      `${f.dst} = *(u64 *)${slot(8)}`,
    ];
  const a = f.index * USDT_ARG_SPEC_SIZE;
  return [
    ...head,
    `r1 = *(u16 *)(r0 + ${USDT_SPEC_ARG_COUNT})`,
    `if r1 <= ${f.index} goto ${L}_end`,
    `r1 = *(u64 *)(r0 + ${a})`, // val_off: the constant, or the offset from the register
    `*(u64 *)${slot(8)} = r1`,
    `*(u64 *)${slot(24)} = r1`,
    `r1 = *(u64 *)(r0 + ${a + 8})`, // arg_type | reg_off << 32 | signed << 48 | bitshift << 56
    `*(u64 *)${slot(16)} = r1`,
    "w2 = w1",
    `if r2 == 0 goto ${L}_cast`,
    "r4 = r1",
    "r4 >>= 32",
    "r4 &= 0xffff",
    `r3 = ${f.ctx}`,
    "r3 += r4",
    "r1 = r10",
    `r1 += ${S + 8}`,
    "r2 = 8",
    "call bpf_probe_read_kernel",
    `if r0 != 0 goto ${L}_fail`,
    `r1 = *(u64 *)${slot(16)}`,
    "w1 = w1",
    `if r1 != 2 goto ${L}_cast`,
    `r3 = *(u64 *)${slot(8)}`,
    `r1 = *(u64 *)${slot(24)}`,
    "r3 += r1",
    "r1 = r10",
    `r1 += ${S + 8}`,
    "r2 = 8",
    "call bpf_probe_read_user",
    `if r0 != 0 goto ${L}_fail`,
    `${L}_cast:`,
    `r1 = *(u64 *)${slot(16)}`,
    "r2 = r1",
    "r2 >>= 56",
    `r3 = *(u64 *)${slot(8)}`,
    "r3 <<= r2",
    "r1 >>= 48",
    "r1 &= 0xff",
    `if r1 == 0 goto ${L}_unsigned`,
    "r3 s>>= r2",
    `goto ${L}_store`,
    `${L}_unsigned:`,
    "r3 >>= r2",
    `${L}_store:`,
    `*(u64 *)${slot(8)} = r3`,
    `goto ${L}_end`,
    `${L}_fail:`,
    "r1 = 0",
    `*(u64 *)${slot(8)} = r1`,
    `${L}_end:`,
    `${f.dst} = *(u64 *)${slot(8)}`,
  ];
}

function isFragment(v: unknown): v is UsdtFragment {
  return typeof v === "object" && v !== null && typeof (v as UsdtFragment).usdt === "string" && "stack" in v;
}

/**
 * The {@link asm} template with USDT fragments: `${usdtArg(...)}`, `${usdtCookie(...)}` and
 * `${usdtArgCount(...)}` expand to the instructions that read the spec map `specs` (from
 * {@link usdtSpecMap}, or any array map of 208-byte records) for the running site.
 *
 * @example
 * ```ts
 * const specs = usdtSpecMap();
 * const instructions = usdtAsm(specs)`
 *   r6 = r1
 *   ${usdtArg(0, "r7")}      // r7 = the first argument
 *   r0 = 0
 *   exit
 * `;
 * ```
 */
export function usdtAsm(
  specs: NamedMap,
): (strings: TemplateStringsArray, ...values: (AsmValue | UsdtFragment)[]) => AsmProgram {
  return (strings, ...values) => {
    const outStrings: string[] = [strings[0] as string];
    const outValues: AsmValue[] = [];
    const text = (s: string) => {
      outStrings[outStrings.length - 1] += s;
    };
    values.forEach((v, k) => {
      if (isFragment(v)) {
        const lines = expand(v).join("\n").split("\u0000");
        text(lines[0] as string);
        for (let i = 1; i < lines.length; i++) {
          outValues.push(specs);
          outStrings.push(lines[i] as string);
        }
      } else {
        outValues.push(v);
        outStrings.push("");
      }
      text(strings[k + 1] as string);
    });
    const tsa = Object.assign([...outStrings], { raw: [...outStrings] }) as unknown as TemplateStringsArray;
    return asm(tsa, ...outValues);
  };
}
