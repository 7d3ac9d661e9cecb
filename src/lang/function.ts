/**
 * One function's code generation: statements to instructions, in a single pass over Babel's
 * tree. Locals live in r6..r9 and then on the stack; expression temporaries in r1..r5, saved to
 * the stack around calls. Conditions compile to jumps. Code after a jump nobody reaches is not
 * emitted (the verifier refuses unreachable instructions).
 */
import type * as B from "@babel/types";
import type { Btf } from "../btf/decode.js";
import type { AccessSize } from "../isa/builder/size.js";
import { findHelper } from "../isa/helpers.js";
import {
  add,
  add32,
  and,
  and32,
  arsh,
  arsh32,
  atomic,
  be16,
  be32,
  call,
  callKfunc,
  callLocal,
  div,
  div32,
  exit,
  type Instruction,
  ja,
  jeq,
  jeq32,
  jge,
  jge32,
  jgt,
  jgt32,
  jle,
  jle32,
  jlt,
  jlt32,
  jne,
  jne32,
  jsge,
  jsge32,
  jsgt,
  jsgt32,
  jsle,
  jsle32,
  jslt,
  jslt32,
  ldFunc,
  ldImm64,
  ldMapFd,
  ldMapValue,
  ldx,
  lsh,
  lsh32,
  mod,
  mod32,
  mov,
  mov32,
  movsx,
  mul,
  mul32,
  neg,
  or,
  or32,
  R10,
  type Register,
  register,
  rsh,
  rsh32,
  sdiv,
  sdiv32,
  smod,
  smod32,
  st,
  stx,
  sub,
  sub32,
  xor,
  xor32,
} from "../isa/index.js";
import {
  bitfieldAccess,
  btfInt,
  type FoundMember,
  findMember,
  pointee,
  resolveType,
  structName,
} from "./btfctx.js";
import { type ContextSpec, KERNEL_CONSTANTS } from "./kernel.js";
import { acquirersOf, KFUNC_RULES, kfuncReturnStruct } from "./kfuncs.js";
import {
  arrayLayout,
  BOOL,
  commonType,
  conversionIsFree,
  I8,
  I16,
  I32,
  I64,
  INT_TYPES,
  type IntType,
  intLayout,
  type Layout,
  layoutName,
  type PointerType,
  type StackType,
  structLayout,
  type Type,
  typeName,
  U8,
  U16,
  U32,
  U64,
  wrapTo,
} from "./types.js";

/** A map the program may use, as the module declares it. */
export interface MapDecl {
  readonly name: string;
  readonly type: string;
  readonly key: Layout;
  readonly value: Layout;
  readonly maxEntries: number;
  readonly flags: readonly string[];
  /** what ld_imm64 refers to: `{ name }`, bound to a live map at load */
  readonly ref: { readonly name: string };
  /** the value codec is the record written by output(), not the map's value (perf event arrays) */
  readonly record?: boolean;
}

/** A top-level function a program may call. */
export interface FunctionDecl {
  readonly name: string;
  readonly node: B.FunctionDeclaration;
  readonly params: readonly { name: string; type: IntType }[];
  readonly returns: IntType;
}

/** What a function compiler needs from the module around it. */
export interface ModuleScope {
  readonly maps: ReadonlyMap<string, MapDecl>;
  readonly functions: ReadonlyMap<string, FunctionDecl>;
  readonly constants: ReadonlyMap<string, bigint>;
  /** the module's codecs by name (`const Event = struct({...})`) */
  readonly codecs: ReadonlyMap<string, Layout>;
  /** read-only configuration maps (`const cfg = config({...})`) by name */
  readonly configs: ReadonlyMap<string, MapDecl>;
  /** top-level `const NAME = "..."` strings (for strncmp) */
  readonly stringConstants: ReadonlyMap<string, string>;
  /**
   * Places a NUL-terminated string constant in the module's read-only string map: the map and
   * the string's offset in its one value.
   */
  string(value: string): { readonly map: { readonly name: string }; readonly offset: number };
  /** throws a CompileError at `node` */
  fail(node: B.Node | null | undefined, reason: string): never;
  /** records a call from the function being compiled (for recursion and stack checks) */
  called(name: string, node: B.Node): void;
  /**
   * Makes an arrow function passed to a helper (bpf_loop, bpf_for_each_map_elem) a callback
   * subprogram with these parameters; returns its name.
   */
  callback(fn: B.ArrowFunctionExpression | B.FunctionExpression, params: readonly CallbackParam[]): string;
  /** a kfunc's prototype from the kernel's BTF, or undefined when the kernel has none by that name */
  kfunc(name: string): KfuncPrototype | undefined;
  /** the kernel's BTF (kernel pointers' structs) */
  kernelBtf(): Btf;
}

/** A parameter of a callback subprogram: its name, type and the register it arrives in. */
export interface CallbackParam {
  readonly name: string;
  readonly type: Type;
  readonly node: B.Node;
  readonly reg: number;
}

/** What the compiler needs of a kfunc's prototype. */
export interface KfuncPrototype {
  readonly args: number;
  /** undefined: void; a layout: a pointer to it that may be null */
  readonly returns: IntType | { readonly pointer: Layout } | undefined;
}

/** An emitted item: an instruction, a label, or a source line mark. */
export type Item =
  | { readonly kind: "insn"; readonly insn: Instruction }
  | { readonly kind: "label"; readonly name: string }
  | { readonly kind: "line"; readonly node: B.Node };

interface Local {
  readonly name: string;
  type: Type;
  readonly reg: number | undefined;
  readonly off: number | undefined;
  readonly mutable: boolean;
}

type Val =
  | { readonly k: "imm"; readonly v: bigint; readonly t: IntType | undefined }
  | { readonly k: "reg"; readonly r: number; readonly t: Type; readonly temp: boolean }
  | { readonly k: "stk"; readonly off: number; readonly t: Type }
  | { readonly k: "addr"; readonly off: number }
  | { readonly k: "null" };

type Place =
  | { readonly k: "local"; readonly local: Local }
  | {
      readonly k: "mem";
      readonly base: Val;
      readonly off: number;
      readonly type: IntType;
      readonly writable: boolean;
      /** a variable index was out of range: the access is skipped by a jump to this label */
      readonly guard?: string;
    };

/**
 * A string strncmp copies to the stack before comparing: its address, the length of the array
 * holding it (undefined behind a `char *`), and whether it is in the calling process's memory.
 */
interface ForeignString {
  readonly addr: Val;
  readonly length: number | undefined;
  readonly user: boolean;
}

/** A reference a helper acquired: where, by which helper; released where, if it is. */
interface RefState {
  /** what was acquired, by what: `the socket helpers.sk_lookup_tcp acquired` */
  readonly what: string;
  /** how it is released: `helpers.sk_release(sk)` */
  readonly release: string;
  /** the helper or kfunc that acquired it (`bpf_sk_lookup_tcp`, `bpf_task_from_pid`), if one did */
  readonly by?: string;
  readonly node: B.Node;
  readonly released?: B.Node;
}

/** Helpers whose result is an acquired reference, and the helper that releases it. */
const ACQUIRES: Record<string, string> = {
  bpf_sk_lookup_tcp: "bpf_sk_release",
  bpf_sk_lookup_udp: "bpf_sk_release",
  bpf_skc_lookup_tcp: "bpf_sk_release",
};

function lineOf(node: B.Node): number {
  return node.loc?.start.line ?? 0;
}

/** Memory a program refers to by name: a stack object, or a field of one or of a map value. */
interface Region {
  /** the address: a register, or a stack address */
  readonly addr: Val;
  readonly layout: Layout;
  readonly writable: boolean;
  /** a variable index was out of range: the code using the region is skipped by a jump here */
  readonly guard?: string;
}

/** Typed arrays that declare a fixed array on the stack: `new Uint8Array(16)`. */
const TYPED_ARRAYS: Record<string, IntType> = {
  Uint8Array: U8,
  Int8Array: I8,
  Uint16Array: U16,
  Int16Array: I16,
  Uint32Array: U32,
  Int32Array: I32,
  BigUint64Array: U64,
  BigInt64Array: I64,
};

const TEMPS = [1, 2, 3, 4, 5];
const LOCAL_REGS = [6, 7, 8, 9];
/** The kernel's limit on a function's stack (and on a call chain's). */
export const STACK_LIMIT = 512;
/** all ones: a packet read past the end */
const MISSING = -1n;

const SIZE: Record<number, AccessSize> = { 8: "b", 16: "h", 32: "w", 64: "dw" };

function isIntType(t: Type | undefined): t is IntType {
  return t?.kind === "int";
}

function fitsS32(v: bigint): boolean {
  return v >= -0x80000000n && v <= 0x7fffffffn;
}

/** 64-bit conditional jumps by operator: [unsigned, signed]. */
const JUMPS64: Record<string, readonly [typeof jeq, typeof jeq]> = {
  "==": [jeq, jeq],
  "!=": [jne, jne],
  "<": [jlt, jslt],
  "<=": [jle, jsle],
  ">": [jgt, jsgt],
  ">=": [jge, jsge],
};
const JUMPS32: Record<string, readonly [typeof jeq, typeof jeq]> = {
  "==": [jeq32, jeq32],
  "!=": [jne32, jne32],
  "<": [jlt32, jslt32],
  "<=": [jle32, jsle32],
  ">": [jgt32, jsgt32],
  ">=": [jge32, jsge32],
};
const NEGATE: Record<string, string> = { "==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">" };
const MIRROR: Record<string, string> = { "==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<=" };
const COMPARISONS: Record<string, string> = {
  "===": "==",
  "==": "==",
  "!==": "!=",
  "!=": "!=",
  "<": "<",
  "<=": "<=",
  ">": ">",
  ">=": ">=",
};

/** The probe-read functions of the prelude and their helpers. */
const PROBE_READS: Record<string, string> = {
  probeReadUserStr: "bpf_probe_read_user_str",
  probeReadKernelStr: "bpf_probe_read_kernel_str",
  probeReadUser: "bpf_probe_read_user",
  probeReadKernel: "bpf_probe_read_kernel",
};

const PACKET_READS: Record<string, { type: IntType; swap: boolean }> = {
  u8: { type: U8, swap: false },
  u16: { type: U16, swap: false },
  u32: { type: U32, swap: false },
  be16: { type: U16, swap: true },
  be32: { type: U32, swap: true },
};

/** Compiles one function (a program's body or a subprogram) to items. */
export class FunctionCompiler {
  readonly items: Item[] = [];
  /** the deepest stack use, in bytes */
  maxStack = 0;
  private stackTop = 0;
  private readonly scopes: Map<string, Local>[] = [new Map()];
  private readonly freeTemps = new Set<number>(TEMPS);
  private readonly freeLocalRegs: number[] = [...LOCAL_REGS];
  private readonly loops: {
    brk: string;
    cont: string | undefined;
    /** the references held where the loop (or switch) starts, and where `continue` goes */
    refs: ReadonlyMap<number, RefState>;
    contRefs: ReadonlyMap<number, RefState> | undefined;
  }[] = [];
  private narrowed = new Set<Local>();
  /** references acquired on the path being compiled (sockets from bpf_sk_lookup_tcp), by id */
  private refs = new Map<number, RefState>();
  private refCount = 0;
  /** the call a statement or declaration is made of (acquire and release calls must be one) */
  private topCall: B.Node | undefined;
  private reachable = true;
  /** the array a kernel chain ended at (its address was the value): element bits and length */
  private kernelArray: { bits: number; length: number } | undefined;
  private readonly usedLabels = new Set<string>();
  private labelCount = 0;
  private returnType: IntType = I64;

  constructor(
    private readonly m: ModuleScope,
    private readonly ctx: ContextSpec | undefined,
  ) {}

  // ---------------------------------------------------------------- emission

  private emit(insn: Instruction): void {
    if (this.reachable) this.items.push({ kind: "insn", insn });
  }

  private jump(insn: Instruction, label: string, unconditional = false): void {
    if (!this.reachable) return;
    this.items.push({ kind: "insn", insn });
    this.usedLabels.add(label);
    if (unconditional) this.reachable = false;
  }

  private newLabel(hint: string): string {
    return `${hint}_${this.labelCount++}`;
  }

  private place(label: string): void {
    if (this.usedLabels.has(label)) this.reachable = true;
    if (this.reachable) this.items.push({ kind: "label", name: label });
  }

  private mark(node: B.Node): void {
    if (this.reachable) this.items.push({ kind: "line", node });
  }

  // ---------------------------------------------------------------- registers and stack

  private temp(node: B.Node): number {
    for (const r of TEMPS) {
      if (this.freeTemps.has(r)) {
        this.freeTemps.delete(r);
        return r;
      }
    }
    return this.m.fail(
      node,
      "expression too deep: it needs more than 5 registers at once; split it with a few `const` locals",
    );
  }

  private release(v: Val): void {
    if (v.k === "reg" && v.temp) this.freeTemps.add(v.r);
  }

  private alloc(size: number, node: B.Node): number {
    this.stackTop += Math.ceil(size / 8) * 8;
    if (this.stackTop > this.maxStack) this.maxStack = this.stackTop;
    if (this.stackTop > STACK_LIMIT)
      this.m.fail(
        node,
        `the stack would grow to ${this.stackTop} bytes here; BPF allows ${STACK_LIMIT} per function`,
      );
    return -this.stackTop;
  }

  /** Compiles a function: parameters are bound, then the body; a reachable end returns 0. */
  compileFunction(
    params: readonly { name: string; type: Type; node: B.Node; reg?: number }[],
    body: B.BlockStatement | B.Expression,
    returns: IntType,
    node: B.Node,
  ): void {
    this.returnType = returns;
    params.forEach((p, i) => {
      const local = this.declare(p.name, p.type, false, p.node);
      this.storeLocal(local, { k: "reg", r: p.reg ?? i + 1, t: p.type, temp: false });
    });
    if (body.type === "BlockStatement") this.statements(body.body);
    else {
      this.mark(body);
      this.returnValue(body, body);
    }
    if (this.reachable) {
      if (params.length > 0 || body.type === "BlockStatement") {
        this.checkReleased(node, "before the function ends");
        this.mark(node);
        this.emit(mov(register(0), 0));
        this.emit(exit());
        this.reachable = false;
      }
    }
  }

  // ---------------------------------------------------------------- locals

  private lookupLocal(name: string): Local | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const l = this.scopes[i]!.get(name);
      if (l !== undefined) return l;
    }
    return undefined;
  }

  private declare(name: string, type: Type, mutable: boolean, node: B.Node): Local {
    const scope = this.scopes[this.scopes.length - 1]!;
    if (scope.has(name)) this.m.fail(node, `'${name}' is already declared in this block`);
    const reg = this.freeLocalRegs.shift();
    const local: Local = {
      name,
      type,
      reg,
      off: reg === undefined ? this.alloc(8, node) : undefined,
      mutable,
    };
    scope.set(name, local);
    return local;
  }

  private withScope(f: () => void): void {
    const savedTop = this.stackTop;
    const scope = new Map<string, Local>();
    this.scopes.push(scope);
    try {
      f();
    } finally {
      this.scopes.pop();
      for (const l of scope.values()) if (l.reg !== undefined) this.freeLocalRegs.unshift(l.reg);
      this.freeLocalRegs.sort((a, b) => a - b);
      this.stackTop = savedTop;
    }
  }

  private storeLocal(local: Local, v: Val): void {
    if (local.reg !== undefined) this.moveTo(local.reg, v);
    else {
      const { r, temp } = this.inReg(v, undefined);
      this.emit(stx("dw", R10, local.off!, register(r)));
      if (temp) this.freeTemps.add(r);
    }
    this.release(v);
  }

  // ---------------------------------------------------------------- values

  /** Puts `v` in register `dst` (not releasing it). */
  private moveTo(dst: number, v: Val): void {
    const d = register(dst);
    switch (v.k) {
      case "imm":
        this.loadImm(dst, v.v);
        return;
      case "reg":
        if (v.r !== dst) this.emit(mov(d, register(v.r)));
        return;
      case "stk":
        this.emit(ldx("dw", d, R10, v.off));
        return;
      case "addr":
        this.emit(mov(d, R10));
        this.emit(add(d, v.off));
        return;
      case "null":
        this.emit(mov(d, 0));
        return;
    }
  }

  private loadImm(dst: number, v: bigint): void {
    const d = register(dst);
    if (fitsS32(v)) this.emit(mov(d, Number(v)));
    else if (v >= 0n && v <= 0xffffffffn) this.emit(mov32(d, Number(BigInt.asIntN(32, v))));
    else this.emit(ldImm64(d, BigInt.asIntN(64, v)));
  }

  /** A register holding `v` (a local's own register is returned as is: read-only). */
  private inReg(v: Val, node: B.Node | undefined): { r: number; temp: boolean } {
    if (v.k === "reg") return { r: v.r, temp: v.temp };
    const r = this.temp(node ?? ({} as B.Node));
    this.moveTo(r, v);
    return { r, temp: true };
  }

  /** A temp register holding `v`, which the caller may change. */
  private owned(v: Val, node: B.Node): number {
    if (v.k === "reg" && v.temp) return v.r;
    const r = this.temp(node);
    this.moveTo(r, v);
    return r;
  }

  private valType(v: Val): Type | undefined {
    return v.k === "imm" ? v.t : v.k === "reg" || v.k === "stk" ? v.t : undefined;
  }

  /** Normalizes register `r` (a value computed in 64 bits) to `t`. */
  private normalize(r: number, t: IntType): void {
    const reg = register(r);
    if (t.bits === 64) return;
    if (t.bits === 32) this.emit(t.signed ? movsx(reg, reg, 32) : mov32(reg, reg));
    else if (t.signed) this.emit(movsx(reg, reg, t.bits as 8 | 16));
    else this.emit(and(reg, t.bits === 8 ? 0xff : 0xffff));
  }

  /** `v` as an integer of type `t` (wrapping). */
  private convert(v: Val, t: IntType, node: B.Node): Val {
    if (v.k === "imm") return { k: "imm", v: wrapTo(v.v, t), t };
    const from = this.intOf(v, node);
    if (conversionIsFree(from, t)) {
      if (v.k === "reg") return { ...v, t };
      if (v.k === "stk") return { ...v, t };
      return v;
    }
    const r = this.owned(v, node);
    this.normalize(r, t);
    return { k: "reg", r, t, temp: true };
  }

  /** The integer type of `v`, or a compile error saying why it is not one. */
  private intOf(v: Val, node: B.Node): IntType {
    if (v.k === "imm") return v.t ?? I64;
    const t = this.valType(v);
    if (isIntType(t)) return t;
    if (t?.kind === "maybe")
      this.m.fail(
        node,
        `this ${t.type.name} may be null (the packet may be too short): check it first, e.g. \`if (x === null) return XDP_PASS;\``,
      );
    if (t?.kind === "ptr" && t.nullable)
      this.m.fail(
        node,
        `this map value may be null (the key may be absent): check it first, e.g. \`if (v === null) return 0;\``,
      );
    if (t?.kind === "kptr" && t.nullable) this.mayBeNull(node, t);
    return this.m.fail(node, `expected an integer here, got ${t === undefined ? v.k : typeName(t)}`);
  }

  // ---------------------------------------------------------------- statements

  statements(list: readonly B.Statement[]): void {
    for (const s of list) this.statement(s);
  }

  private statement(s: B.Statement): void {
    switch (s.type) {
      case "BlockStatement":
        this.withScope(() => this.statements(s.body));
        return;
      case "EmptyStatement":
        return;
      case "VariableDeclaration":
        this.variables(s);
        return;
      case "ExpressionStatement":
        this.mark(s);
        this.topCall = s.expression;
        this.effect(s.expression);
        this.topCall = undefined;
        return;
      case "ReturnStatement":
        this.mark(s);
        if (s.argument === null || s.argument === undefined)
          this.m.fail(s, "a BPF function returns a number: write `return 0;` (or the verdict you mean)");
        this.returnValue(s.argument, s);
        return;
      case "IfStatement":
        this.mark(s);
        this.ifStatement(s);
        return;
      case "ForStatement":
        this.mark(s);
        this.forStatement(s);
        return;
      case "BreakStatement":
      case "ContinueStatement": {
        this.mark(s);
        if (s.label) this.m.fail(s, "labelled break/continue is not supported");
        const loop = this.loops[this.loops.length - 1];
        if (loop === undefined)
          this.m.fail(s, `'${s.type === "BreakStatement" ? "break" : "continue"}' outside a loop`);
        const to = s.type === "BreakStatement" ? loop.brk : loop.cont;
        if (to === undefined) this.m.fail(s, "'continue' inside a switch is not supported");
        const refs = s.type === "BreakStatement" ? loop.refs : loop.contRefs;
        if (refs !== undefined && this.reachable) this.sameRefs(refs, s, "leaves the loop");
        this.jump(ja(to), to, true);
        return;
      }
      case "SwitchStatement":
        this.mark(s);
        this.switchStatement(s);
        return;
      case "WhileStatement":
      case "DoWhileStatement": {
        this.m.fail(
          s,
          "unbounded loop: BPF programs must end, so loops are `for (let i = A; i < B; i++)` with constant bounds",
        );
        return;
      }
      case "ForInStatement":
      case "ForOfStatement": {
        this.m.fail(s, "for-in/for-of loops are not supported: write `for (let i = 0; i < N; i++)`");
        return;
      }
      case "FunctionDeclaration": {
        this.m.fail(
          s,
          "functions inside a program are closures, which BPF does not have: declare the function at the top level of the module",
        );
        return;
      }
      case "ThrowStatement":
      case "TryStatement": {
        this.m.fail(s, "exceptions do not exist in BPF: return an error value instead");
        return;
      }
      default: {
        this.m.fail(s, `'${s.type}' is not part of the compiled subset`);
        return;
      }
    }
  }

  /** The layout of a stack object a declaration makes, if it makes one. */
  private objectLayout(d: B.VariableDeclarator): Layout | undefined {
    const id = d.id as B.Identifier;
    const a = id.typeAnnotation;
    let annotated: Layout | undefined;
    if (
      a?.type === "TSTypeAnnotation" &&
      a.typeAnnotation.type === "TSTypeReference" &&
      a.typeAnnotation.typeName.type === "Identifier"
    ) {
      const name = a.typeAnnotation.typeName.name;
      annotated = this.m.codecs.get(name);
      const typed = TYPED_ARRAYS[name];
      if (annotated === undefined && typed !== undefined && d.init?.type !== "NewExpression")
        this.m.fail(a, `a ${name} local is made with \`new ${name}(length)\``);
    }
    let init = d.init;
    while (init?.type === "TSAsExpression" || init?.type === "TSSatisfiesExpression") init = init.expression;
    if (init === null || init === undefined) return annotated;
    if (init.type === "NewExpression" && init.callee.type === "Identifier") {
      const element = TYPED_ARRAYS[init.callee.name];
      if (element === undefined)
        return this.m.fail(
          init,
          `'new ${init.callee.name}' is not supported: fixed arrays are new Uint8Array(n), Int32Array(n)... (all the typed arrays)`,
        );
      const n = init.arguments.length === 1 ? this.constantValue(init.arguments[0]!) : undefined;
      if (n === undefined || n <= 0n || n > BigInt(STACK_LIMIT))
        return this.m.fail(
          init,
          `new ${init.callee.name}(n) takes one constant length from 1 to ${STACK_LIMIT} (the stack is ${STACK_LIMIT} bytes)`,
        );
      return arrayLayout(intLayout(element), Number(n));
    }
    if (init.type === "CallExpression" && init.callee.type === "Identifier" && init.callee.name === "zero") {
      const arg = init.arguments[0];
      const layout = arg?.type === "Identifier" ? this.m.codecs.get(arg.name) : undefined;
      if (init.arguments.length !== 1 || layout === undefined)
        return this.m.fail(
          init,
          "zero(Codec) takes the name of a codec declared at the top level (`const Event = struct({...})`)",
        );
      return layout;
    }
    if (init.type === "ObjectExpression") {
      if (annotated !== undefined) return annotated;
      const fields: [string, Layout][] = [];
      for (const p of init.properties) {
        if (p.type !== "ObjectProperty" || (p.key.type !== "Identifier" && p.key.type !== "StringLiteral"))
          return this.m.fail(p, "an object literal's fields are `name: value`");
        const value = p.value as B.Expression;
        const t = this.literalFieldType(value);
        fields.push([p.key.type === "Identifier" ? p.key.name : p.key.value, intLayout(t)]);
      }
      return structLayout(fields);
    }
    return annotated === undefined
      ? undefined
      : this.m.fail(init, `initialize a ${layoutName(annotated)} with an object literal or zero(...)`);
  }

  /** The type of a field of an unannotated object literal: the value's own type (a bare literal is i64). */
  private literalFieldType(e: B.Expression): IntType {
    if (e.type === "TSAsExpression") return this.typeOf(e.typeAnnotation);
    if (e.type === "Identifier") {
      const l = this.lookupLocal(e.name);
      if (l !== undefined && isIntType(l.type)) return l.type;
    }
    if (e.type === "MemberExpression" || e.type === "CallExpression") {
      // typed by compiling it in a dry run would emit code twice: ask for an annotation instead
      return this.m.fail(
        e,
        "the type of this field is not obvious: write it `(...) as u32`, or declare the struct with a codec (const T = struct({...}); const x: T = {...})",
      );
    }
    return I64;
  }

  /** Declares a stack object: zeroed, then the literal's fields written. */
  private declareObject(
    name: string,
    layout: Layout,
    init: B.Expression | null | undefined,
    node: B.Node,
  ): void {
    const scope = this.scopes[this.scopes.length - 1]!;
    if (scope.has(name)) this.m.fail(node, `'${name}' is already declared in this block`);
    const off = this.alloc(layout.size, node);
    const type: StackType = { kind: "stack", to: layout, off, what: layoutName(layout) };
    const local: Local = { name, type, reg: undefined, off, mutable: false };
    for (let i = 0; i < layout.size; i += 8) this.emit(st("dw", R10, off + i, 0));
    let lit = init;
    while (lit?.type === "TSAsExpression" || lit?.type === "TSSatisfiesExpression") lit = lit.expression;
    if (lit?.type === "ObjectExpression") this.writeLiteral(off, layout, lit, "struct");
    scope.set(name, local);
  }

  /** Writes an object literal's fields into zeroed stack memory at `off`. */
  private writeLiteral(off: number, layout: Layout, e: B.ObjectExpression, what: string): void {
    if (layout.kind !== "struct")
      return void this.m.fail(e, `a ${layoutName(layout)} is not written as an object literal`);
    for (const p of e.properties) {
      if (p.type !== "ObjectProperty")
        return void this.m.fail(p, "only plain fields `name: value` are allowed here");
      const key =
        p.key.type === "Identifier" ? p.key.name : p.key.type === "StringLiteral" ? p.key.value : undefined;
      const field = key === undefined ? undefined : layout.fields.get(key);
      if (field === undefined)
        return void this.m.fail(
          p.key,
          `the ${what} has no field '${key}' (fields: ${[...layout.fields.keys()].join(", ")})`,
        );
      const value = p.value as B.Expression;
      if (field.layout.kind === "struct" && value.type === "ObjectExpression") {
        this.writeLiteral(off + field.offset, field.layout, value, `field '${key}'`);
        continue;
      }
      if (field.layout.kind !== "int")
        return void this.m.fail(
          p,
          `field '${key}' is a ${layoutName(field.layout)}: fill it after the declaration (arrays are not written as literals)`,
        );
      const v = this.convert(this.expr(value, field.layout.type), field.layout.type, value);
      const size = SIZE[field.layout.type.bits]!;
      if (v.k === "imm" && fitsS32(v.v)) {
        if (v.v !== 0n) this.emit(st(size, R10, off + field.offset, Number(v.v)));
      } else {
        const { r, temp } = this.inReg(v, value);
        this.emit(stx(size, R10, off + field.offset, register(r)));
        if (temp) this.freeTemps.add(r);
      }
    }
  }

  private variables(s: B.VariableDeclaration): void {
    if (s.kind === "var") this.m.fail(s, "use `let` or `const` (var is not supported)");
    for (const d of s.declarations) {
      this.mark(d);
      if (d.id.type !== "Identifier") this.m.fail(d.id, "destructuring is not supported: declare one name");
      const object = this.objectLayout(d);
      if (object !== undefined) {
        this.declareObject(d.id.name, object, d.init, d);
        continue;
      }
      const annotated = this.annotation(d.id);
      if (d.init === null || d.init === undefined) {
        if (annotated === undefined) this.m.fail(d, `'${d.id.name}' needs a type or an initial value`);
        const local = this.declare(d.id.name, annotated, true, d);
        this.storeLocal(local, { k: "imm", v: 0n, t: annotated });
        continue;
      }
      this.topCall = d.init;
      let v = this.expr(d.init, annotated);
      this.topCall = undefined;
      let type: Type;
      if (annotated !== undefined) {
        v = this.convert(v, annotated, d.init);
        type = annotated;
      } else if (v.k === "imm") type = v.t ?? I64;
      else if (v.k === "null") {
        this.m.fail(d.init, "a local cannot start as a bare null");
        return;
      } else if (v.k === "addr") {
        this.m.fail(d.init, "this value cannot be stored in a local");
        return;
      } else type = v.t;
      if (v.k === "imm") v = { ...v, t: type as IntType };
      if ((type.kind === "kptr" || type.kind === "ptr") && type.acquired && s.kind !== "const")
        this.m.fail(
          d,
          `'${d.id.name}' holds a reference that must be released: declare it with const, so that the reference it holds cannot be lost`,
        );
      const local = this.declare(d.id.name, type, s.kind === "let", d);
      this.narrowed.delete(local);
      this.storeLocal(local, v);
    }
  }

  private annotation(id: B.Identifier): IntType | undefined {
    const a = id.typeAnnotation;
    if (a === null || a === undefined || a.type !== "TSTypeAnnotation") return undefined;
    return this.typeOf(a.typeAnnotation);
  }

  /** An integer type written in the source. */
  typeOf(t: B.TSType): IntType {
    if (t.type === "TSNumberKeyword") return I64;
    if (t.type === "TSBooleanKeyword") return BOOL;
    if (t.type === "TSTypeReference" && t.typeName.type === "Identifier") {
      const found = INT_TYPES.get(t.typeName.name);
      if (found !== undefined) return found;
    }
    if (t.type === "TSBigIntKeyword")
      return this.m.fail(t, "write integers as numbers with a width type (u64, i64), not bigint");
    return this.m.fail(
      t,
      "expected an integer type: u8, u16, u32, u64, i8, i16, i32, i64, number or boolean",
    );
  }

  private returnValue(e: B.Expression, node: B.Node): void {
    const v = this.convert(this.expr(e, this.returnType), this.returnType, e);
    this.checkReleased(node, "before this return");
    this.moveTo(0, v);
    this.release(v);
    void node;
    this.emit(exit());
    this.reachable = false;
  }

  private ifStatement(s: B.IfStatement): void {
    const constant = this.constantCondition(s.test);
    if (constant !== undefined) {
      const branch = constant ? s.consequent : s.alternate;
      if (branch) this.withScope(() => this.statement(branch));
      return;
    }
    const { whenTrue, whenFalse } = this.facts(s.test);
    const nulls = this.nullFacts(s.test);
    const elseL = this.newLabel("else");
    const endL = this.newLabel("endif");
    const before = new Set(this.narrowed);
    const refsBefore = this.refs;
    this.cond(s.test, elseL, false);
    this.narrowed = new Set([...before, ...whenTrue]);
    this.refs = this.withoutNull(refsBefore, nulls.whenTrue);
    this.withScope(() => this.statement(s.consequent));
    const thenEnd = this.reachable;
    const thenNarrowed = this.narrowed;
    const thenRefs = this.refs;
    if (s.alternate) this.jump(ja(endL), endL, true);
    this.place(elseL);
    this.narrowed = new Set([...before, ...whenFalse]);
    this.refs = this.withoutNull(refsBefore, nulls.whenFalse);
    if (s.alternate) {
      const alt = s.alternate;
      this.withScope(() => this.statement(alt));
    }
    const elseEnd = this.reachable;
    const elseNarrowed = this.narrowed;
    const elseRefs = this.refs;
    this.place(endL);
    if (thenEnd && !elseEnd) this.narrowed = thenNarrowed;
    else if (!thenEnd && elseEnd) this.narrowed = elseNarrowed;
    else this.narrowed = new Set([...thenNarrowed].filter((l) => elseNarrowed.has(l)));
    if (thenEnd && !elseEnd) this.refs = thenRefs;
    else if (thenEnd && elseEnd) this.refs = this.mergeRefs(thenRefs, elseRefs, s);
  }

  private forStatement(s: B.ForStatement): void {
    const bad = (why: string): never =>
      this.m.fail(
        s,
        `unbounded loop: ${why}. BPF programs must end: write \`for (let i = A; i < B; i++)\` with constant A and B and no other change to i`,
      );
    const init = s.init;
    if (init?.type !== "VariableDeclaration" || init.declarations.length !== 1 || init.kind !== "let") {
      bad("the loop must declare one counter with `let`");
      return;
    }
    const decl = init.declarations[0]!;
    if (decl.id.type !== "Identifier" || !decl.init) {
      bad("the counter needs a start value");
      return;
    }
    const name = decl.id.name;
    const start = this.constantValue(decl.init);
    if (start === undefined) bad("the start value is not a constant");
    const test = s.test;
    if (test?.type !== "BinaryExpression" || !["<", "<=", ">", ">=", "!=", "!=="].includes(test.operator)) {
      bad("the condition must compare the counter with a constant");
      return;
    }
    if (test.left.type !== "Identifier" || test.left.name !== name)
      bad(`the condition must start with the counter '${name}'`);
    if (this.constantValue(test.right as B.Expression) === undefined) bad("the bound is not a constant");
    const u = s.update;
    const updatesCounter =
      (u?.type === "UpdateExpression" && u.argument.type === "Identifier" && u.argument.name === name) ||
      (u?.type === "AssignmentExpression" &&
        (u.operator === "+=" || u.operator === "-=") &&
        u.left.type === "Identifier" &&
        u.left.name === name &&
        this.constantValue(u.right) !== undefined);
    if (!updatesCounter) bad(`the update must be ${name}++, ${name}--, ${name} += C or ${name} -= C`);
    if (assigns(s.body, name)) bad(`the body changes the counter '${name}'`);
    this.withScope(() => {
      this.statement(s.init as B.VariableDeclaration);
      const head = this.newLabel("loop");
      const cont = this.newLabel("next");
      const brk = this.newLabel("done");
      for (const l of this.narrowed) if (assigns(s.body, l.name)) this.narrowed.delete(l);
      const before = new Set(this.narrowed);
      const refsBefore = this.refs;
      this.place(head);
      this.usedLabels.add(head);
      this.cond(test, brk, false);
      this.loops.push({ brk, cont, refs: refsBefore, contRefs: refsBefore });
      this.withScope(() => this.statement(s.body));
      this.loops.pop();
      if (this.reachable) this.sameRefs(refsBefore, s.body, "ends an iteration");
      this.refs = refsBefore;
      this.place(cont);
      this.mark(u!);
      this.effect(u!);
      this.jump(ja(head), head, true);
      this.place(brk);
      this.narrowed = before;
    });
  }

  private switchStatement(s: B.SwitchStatement): void {
    const disc = this.expr(s.discriminant, undefined);
    const t = this.intOf(disc, s.discriminant);
    const { r, temp } = this.inReg(disc, s.discriminant);
    const brk = this.newLabel("switch_end");
    const labels = s.cases.map(() => this.newLabel("case"));
    let defaultLabel: string | undefined;
    s.cases.forEach((c, i) => {
      if (c.test === null || c.test === undefined) {
        defaultLabel = labels[i];
        return;
      }
      const value = this.constantValue(c.test);
      if (value === undefined) this.m.fail(c.test, "a case must be a constant");
      this.compareJump(
        "==",
        { k: "reg", r, t, temp: false },
        { k: "imm", v: wrapTo(value, t), t },
        labels[i]!,
        c.test,
      );
    });
    if (temp) this.freeTemps.add(r);
    const fallback = defaultLabel ?? brk;
    this.jump(ja(fallback), fallback, true);
    const enclosing = this.loops[this.loops.length - 1];
    const refsBefore = this.refs;
    this.loops.push({ brk, cont: enclosing?.cont, refs: refsBefore, contRefs: enclosing?.contRefs });
    this.withScope(() => {
      s.cases.forEach((c, i) => {
        if (this.reachable) this.sameRefs(refsBefore, c, "falls into the next case");
        this.refs = refsBefore;
        this.place(labels[i]!);
        this.statements(c.consequent);
      });
    });
    this.loops.pop();
    if (this.reachable) this.sameRefs(refsBefore, s, "leaves the switch");
    this.refs = refsBefore;
    this.place(brk);
  }

  // ---------------------------------------------------------------- conditions

  /** A compile-time truth value of a condition, when it has one. */
  private constantCondition(e: B.Expression): boolean | undefined {
    const v = this.constantValue(e);
    return v === undefined ? undefined : v !== 0n;
  }

  /** The value of a constant expression (literals, module constants, kernel constants, arithmetic). */
  constantValue(e: B.Expression | B.Node): bigint | undefined {
    switch (e.type) {
      case "NumericLiteral":
        return Number.isInteger(e.value) ? BigInt(e.value) : undefined;
      case "BooleanLiteral":
        return e.value ? 1n : 0n;
      case "Identifier": {
        if (this.lookupLocal(e.name)) return undefined;
        const c = this.m.constants.get(e.name);
        if (c !== undefined) return c;
        const k = KERNEL_CONSTANTS[e.name];
        return k === undefined ? undefined : BigInt(k);
      }
      case "UnaryExpression": {
        const v = this.constantValue(e.argument);
        if (v === undefined) return undefined;
        if (e.operator === "-") return -v;
        if (e.operator === "~") return ~v;
        if (e.operator === "!") return v === 0n ? 1n : 0n;
        return e.operator === "+" ? v : undefined;
      }
      case "ParenthesizedExpression":
        return this.constantValue(e.expression);
      case "BinaryExpression": {
        if (!["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"].includes(e.operator)) return undefined;
        const a = this.constantValue(e.left);
        const b = a === undefined ? undefined : this.constantValue(e.right);
        return b === undefined ? undefined : constantArith(e.operator, a!, b, I64, e, this.m);
      }
      case "MemberExpression": {
        // NAME.length of a top-level string constant
        if (
          e.object.type === "Identifier" &&
          !e.computed &&
          e.property.type === "Identifier" &&
          e.property.name === "length" &&
          !this.lookupLocal(e.object.name)
        ) {
          const str = this.m.stringConstants.get(e.object.name);
          if (str !== undefined) return BigInt(Buffer.byteLength(str, "utf8"));
        }
        // the length of a stack array local
        if (
          e.object.type === "Identifier" &&
          !e.computed &&
          e.property.type === "Identifier" &&
          e.property.name === "length"
        ) {
          const l = this.lookupLocal(e.object.name);
          if (l?.type.kind === "stack" && l.type.to.kind === "array") return BigInt(l.type.to.length);
        }
        return undefined;
      }
      case "TSAsExpression": {
        const v = this.constantValue(e.expression);
        const a = e.typeAnnotation;
        const t =
          a.type === "TSTypeReference" && a.typeName.type === "Identifier"
            ? INT_TYPES.get(a.typeName.name)
            : a.type === "TSNumberKeyword"
              ? I64
              : undefined;
        return v === undefined || t === undefined ? undefined : wrapTo(v, t);
      }
      default:
        return undefined;
    }
  }

  /** Locals known non-null when `e` is true, and when it is false. */
  private facts(e: B.Expression): { whenTrue: Local[]; whenFalse: Local[] } {
    const none = { whenTrue: [], whenFalse: [] };
    if (e.type === "ParenthesizedExpression") return this.facts(e.expression);
    if (e.type === "UnaryExpression" && e.operator === "!") {
      const f = this.facts(e.argument);
      return { whenTrue: f.whenFalse, whenFalse: f.whenTrue };
    }
    if (e.type === "LogicalExpression") {
      const a = this.facts(e.left);
      const b = this.facts(e.right);
      if (e.operator === "&&") return { whenTrue: [...a.whenTrue, ...b.whenTrue], whenFalse: [] };
      if (e.operator === "||") return { whenTrue: [], whenFalse: [...a.whenFalse, ...b.whenFalse] };
      return none;
    }
    if (e.type === "Identifier") {
      const l = this.lookupLocal(e.name);
      return l && (l.type.kind === "ptr" || l.type.kind === "maybe" || l.type.kind === "kptr")
        ? { whenTrue: [l], whenFalse: [] }
        : none;
    }
    if (e.type === "BinaryExpression" && ["===", "==", "!==", "!="].includes(e.operator)) {
      const [x, y] = e.right.type === "NullLiteral" ? [e.left, e.right] : [e.right, e.left];
      if (y.type !== "NullLiteral" || x.type !== "Identifier") return none;
      const l = this.lookupLocal(x.name);
      if (!l) return none;
      return e.operator.startsWith("=") ? { whenTrue: [], whenFalse: [l] } : { whenTrue: [l], whenFalse: [] };
    }
    return none;
  }

  /** Locals known null when `e` is true, and when it is false. */
  private nullFacts(e: B.Expression): { whenTrue: Local[]; whenFalse: Local[] } {
    const none = { whenTrue: [], whenFalse: [] };
    if (e.type === "ParenthesizedExpression") return this.nullFacts(e.expression);
    if (e.type === "UnaryExpression" && e.operator === "!") {
      const f = this.nullFacts(e.argument);
      return { whenTrue: f.whenFalse, whenFalse: f.whenTrue };
    }
    if (e.type === "LogicalExpression") {
      const a = this.nullFacts(e.left);
      const b = this.nullFacts(e.right);
      if (e.operator === "&&") return { whenTrue: [...a.whenTrue, ...b.whenTrue], whenFalse: [] };
      if (e.operator === "||") return { whenTrue: [], whenFalse: [...a.whenFalse, ...b.whenFalse] };
      return none;
    }
    if (e.type === "Identifier") {
      const l = this.lookupLocal(e.name);
      return l?.type.kind === "kptr" || l?.type.kind === "ptr" ? { whenTrue: [], whenFalse: [l] } : none;
    }
    if (e.type === "BinaryExpression" && ["===", "==", "!==", "!="].includes(e.operator)) {
      const [x, y] = e.right.type === "NullLiteral" ? [e.left, e.right] : [e.right, e.left];
      if (y.type !== "NullLiteral" || x.type !== "Identifier") return none;
      const l = this.lookupLocal(x.name);
      if (!l) return none;
      return e.operator.startsWith("=") ? { whenTrue: [l], whenFalse: [] } : { whenTrue: [], whenFalse: [l] };
    }
    return none;
  }

  // ---------------------------------------------------------------- references

  /** The references held, less those of acquired locals known null on this path (nothing to release). */
  private withoutNull(refs: ReadonlyMap<number, RefState>, nulls: readonly Local[]): Map<number, RefState> {
    const out = new Map(refs);
    for (const l of nulls)
      if ((l.type.kind === "kptr" || l.type.kind === "ptr") && l.type.acquired) out.delete(l.type.ref!);
    return out;
  }

  /** What a reference is, for messages: `the socket helpers.sk_lookup_tcp acquired at line 5`. */
  private refText(ref: RefState): string {
    return `${ref.what} at line ${lineOf(ref.node)}`;
  }

  /** Starts following a reference acquired at `node` (a new id, held on this path). */
  private acquire(node: B.Node, what: string, release: string, by?: string): number {
    const ref = ++this.refCount;
    // copied, not changed: the maps of the paths around (an if's start, a loop's) stay as they were
    this.refs = new Map(this.refs).set(ref, { what, release, node, ...(by === undefined ? {} : { by }) });
    return ref;
  }

  /** Marks a reference released at `node` on this path. */
  private released(ref: number, node: B.Node): void {
    const r = this.refs.get(ref);
    if (r !== undefined) this.refs = new Map(this.refs).set(ref, { ...r, released: node });
  }

  /** The references held after an if whose two branches reach its end: both must hold the same. */
  private mergeRefs(
    a: ReadonlyMap<number, RefState>,
    b: ReadonlyMap<number, RefState>,
    node: B.Node,
  ): Map<number, RefState> {
    const out = new Map<number, RefState>();
    for (const id of new Set([...a.keys(), ...b.keys()])) {
      const x = a.get(id);
      const y = b.get(id);
      const heldX = x !== undefined && x.released === undefined;
      const heldY = y !== undefined && y.released === undefined;
      if (heldX !== heldY)
        this.m.fail(
          node,
          `${this.refText((x ?? y)!)} is released on one path through this if and not on the other: release it on every path (the verifier follows each one)`,
        );
      const kept = heldX ? x : x?.released !== undefined ? x : y;
      if (kept !== undefined) out.set(id, kept);
    }
    return out;
  }

  /** A loop's iteration, a break or a case must hold the references held where the loop started. */
  private sameRefs(start: ReadonlyMap<number, RefState>, node: B.Node, what: string): void {
    const held = (m: ReadonlyMap<number, RefState>) =>
      [...m].filter(([, r]) => r.released === undefined).map(([id]) => id);
    const before = new Set(held(start));
    const now = held(this.refs);
    for (const id of now)
      if (!before.has(id))
        this.m.fail(
          node,
          `${this.refText(this.refs.get(id)!)} is still held when this ${what}: release it (${this.refs.get(id)!.release}) before, as the verifier wants every reference released on every path`,
        );
    for (const id of before)
      if (!now.includes(id))
        this.m.fail(
          node,
          `${this.refText(start.get(id)!)} is released inside a loop or switch that it was acquired before: release it after the loop, where every path goes`,
        );
  }

  /** Every reference acquired on this path must be released before the function ends. */
  private checkReleased(node: B.Node, when: string): void {
    if (!this.reachable) return;
    for (const r of this.refs.values())
      if (r.released === undefined)
        this.m.fail(
          node,
          `${this.refText(r)} is not released on this path: call ${r.release} ${when} (the verifier refuses a program that may leak a reference: "Unreleased reference")`,
        );
  }

  /** A compile error: a helper's pointer result is used before its null check. */
  private mayBeNull(node: B.Node, t: { what: string; ref?: number }): never {
    const name = node.type === "Identifier" ? node.name : "p";
    const by = t.ref === undefined ? undefined : this.refs.get(t.ref)?.by;
    const why =
      by !== undefined && KFUNC_RULES.has(by)
        ? `kfuncs.${by} may find nothing`
        : "the helper found nothing, or the socket is not of that kind";
    return this.m.fail(
      node,
      `this ${t.what} may be null (${why}): check it first, e.g. \`if (${name} === null) return 0;\``,
    );
  }

  /** Emits a jump to `target` taken when `e`'s truth is `when`; falls through otherwise. */
  private cond(e: B.Expression, target: string, when: boolean): void {
    const constant = this.constantCondition(e);
    if (constant !== undefined) {
      if (constant === when) this.jump(ja(target), target, true);
      return;
    }
    switch (e.type) {
      case "ParenthesizedExpression": {
        this.cond(e.expression, target, when);
        return;
      }
      case "UnaryExpression":
        if (e.operator === "!") {
          this.cond(e.argument, target, !when);
          return;
        }
        break;
      case "LogicalExpression": {
        if (e.operator === "??") break;
        const saved = this.narrowed;
        const f = this.facts(e.left);
        const narrowRight = e.operator === "&&" ? f.whenTrue : f.whenFalse;
        if ((e.operator === "&&") === when) {
          const skip = this.newLabel("skip");
          this.cond(e.left, skip, !when);
          this.narrowed = new Set([...saved, ...narrowRight]);
          this.cond(e.right, target, when);
          this.narrowed = saved;
          this.place(skip);
        } else {
          this.cond(e.left, target, when);
          this.narrowed = new Set([...saved, ...narrowRight]);
          this.cond(e.right, target, when);
          this.narrowed = saved;
        }
        return;
      }
      case "BinaryExpression": {
        const op = COMPARISONS[e.operator];
        if (op === undefined) break;
        if (e.left.type === "PrivateName") break;
        const isNull = (x: B.Node) =>
          x.type === "NullLiteral" || (x.type === "Identifier" && x.name === "undefined");
        if (isNull(e.right) || isNull(e.left)) {
          const other = (isNull(e.right) ? e.left : e.right) as B.Expression;
          if (op !== "==" && op !== "!=") this.m.fail(e, "null can only be compared with === or !==");
          const v = this.expr(other, undefined);
          const t = this.valType(v);
          const sentinel =
            t?.kind === "maybe" ? MISSING : t?.kind === "ptr" || t?.kind === "kptr" ? 0n : undefined;
          if (sentinel === undefined) this.m.fail(other, `this ${t ? typeName(t) : "value"} is never null`);
          const { r, temp } = this.inReg(v, other);
          const jumpOp = (op === "==") === when ? jeq : jne;
          this.jump(jumpOp(register(r), Number(sentinel), target), target);
          if (temp) this.freeTemps.add(r);
          return;
        }
        const a = this.expr(e.left, undefined);
        const b = this.expr(e.right, a.k === "imm" ? undefined : this.intOf(a, e.left));
        this.compareJump(when ? op : NEGATE[op]!, a, b, target, e);
        return;
      }
    }
    const v = this.expr(e, undefined);
    const t = this.valType(v);
    if (t?.kind === "maybe")
      this.m.fail(
        e,
        "a packet read is a number or null: compare it (`x === null`, `x === 0`), do not test its truth",
      );
    const { r, temp } = this.inReg(v, e);
    this.jump((when ? jne : jeq)(register(r), 0, target), target);
    if (temp) this.freeTemps.add(r);
  }

  /** Jumps to `target` when `a op b`, with the operands brought to their common type. */
  private compareJump(op: string, a: Val, b: Val, target: string, node: B.Node): void {
    if (a.k === "imm" && b.k !== "imm") {
      this.compareJump(MIRROR[op]!, b, a, target, node);
      return;
    }
    const ta = a.k === "imm" ? a.t : this.intOf(a, node);
    const tb = b.k === "imm" ? b.t : this.intOf(b, node);
    const t = ta && tb ? commonType(ta, tb) : (ta ?? tb ?? I64);
    const ca = this.convert(a, t, node);
    const cb = this.convert(b, t, node);
    const { r, temp } = this.inReg(ca, node);
    const small = t.bits <= 32;
    const table = small ? JUMPS32 : JUMPS64;
    const jump = table[op]![t.signed ? 1 : 0]!;
    if (cb.k === "imm" && (small || fitsS32(cb.v))) {
      this.jump(jump(register(r), Number(BigInt.asIntN(32, cb.v)), target), target);
    } else {
      const rb = this.inReg(cb, node);
      this.jump(jump(register(r), register(rb.r), target), target);
      if (rb.temp) this.freeTemps.add(rb.r);
    }
    if (temp) this.freeTemps.add(r);
    this.release(cb);
  }

  // ---------------------------------------------------------------- expressions for effect

  private effect(e: B.Expression): void {
    if (e.type === "AssignmentExpression") {
      this.assign(e);
      return;
    }
    if (e.type === "UpdateExpression") {
      const place = this.place_(e.argument);
      const t = this.placeType(place, e.argument);
      this.store(
        place,
        this.arith(e.operator === "++" ? "+" : "-", this.load(place, e, true), { k: "imm", v: 1n, t }, e),
        e,
      );
      if (place.k === "mem" && place.guard !== undefined) this.place(place.guard);
      return;
    }
    const v = this.expr(e, undefined);
    this.release(v);
  }

  private assign(e: B.AssignmentExpression): void {
    if (e.left.type !== "Identifier" && e.left.type !== "MemberExpression")
      this.m.fail(e.left, "assign to a local or a field");
    const place = this.place_(e.left as B.Expression);
    if (place.k === "local" && place.local.type.kind === "stack")
      this.m.fail(
        e.left,
        `'${place.local.name}' is a ${typeName(place.local.type)}: assign its fields or elements`,
      );
    if (place.k === "local" && !place.local.mutable)
      this.m.fail(e.left, `'${place.local.name}' is a const: declare it with let to change it`);
    if (e.operator === "=") {
      if (place.k === "local") {
        const v = this.expr(e.right, isIntType(place.local.type) ? place.local.type : undefined);
        const t = place.local.type;
        this.narrowed.delete(place.local);
        const vt = this.valType(v);
        if (isIntType(t)) this.storeLocal(place.local, this.convert(v, t, e.right));
        else if (v.k === "null" || (vt?.kind === t.kind && typeName(vt) === typeName(t))) {
          this.storeLocal(place.local, v);
        } else this.m.fail(e.right, `cannot assign ${vt ? typeName(vt) : v.k} to ${typeName(t)}`);
        return;
      }
      this.store(place, this.expr(e.right, place.type), e.right);
      if (place.guard !== undefined) this.place(place.guard);
      return;
    }
    const op = e.operator.slice(0, -1);
    const t = this.placeType(place, e.left);
    const current = this.load(place, e.left, true);
    const right = this.expr(e.right, t);
    this.store(place, this.arith(op, current, right, e), e);
    if (place.k === "mem" && place.guard !== undefined) this.place(place.guard);
  }

  private placeType(place: Place, node: B.Node): IntType {
    if (place.k === "mem") return place.type;
    const t = place.local.type;
    if (isIntType(t)) return t;
    return this.m.fail(node, `'${place.local.name}' is ${typeName(t)}, not an integer`);
  }

  /** Resolves an assignable expression. */
  private place_(e: B.Expression | B.LVal): Place {
    if (e.type === "Identifier") {
      const local = this.lookupLocal(e.name);
      if (local === undefined) return this.m.fail(e, this.unknownName(e.name));
      return { k: "local", local };
    }
    if (e.type === "MemberExpression") return this.member(e);
    return this.m.fail(e, "assign to a local or a field");
  }

  /** Reads a place; `again`: the place is stored to afterwards, so its base register is kept. */
  private load(place: Place, node: B.Node, again = false): Val {
    if (place.k === "local") return this.readLocal(place.local, node);
    const base = this.inReg(place.base, node);
    const r = base.temp && !again ? base.r : this.temp(node);
    this.emit(ldx(SIZE[place.type.bits]!, register(r), register(base.r), place.off));
    let v: Val = { k: "reg", r, t: place.type, temp: true };
    if (place.type.signed && place.type.bits < 64) {
      this.emit(movsx(register(r), register(r), place.type.bits as 8 | 16 | 32));
      v = { k: "reg", r, t: place.type, temp: true };
    }
    return v;
  }

  private store(place: Place, v: Val, node: B.Node): void {
    if (place.k === "local") {
      const t = place.local.type;
      this.storeLocal(place.local, isIntType(t) ? this.convert(v, t, node) : v);
      return;
    }
    if (!place.writable) this.m.fail(node, "this field is read-only");
    const c = this.convert(v, place.type, node);
    const base = this.inReg(place.base, node);
    const size = SIZE[place.type.bits]!;
    if (c.k === "imm" && fitsS32(c.v)) this.emit(st(size, register(base.r), place.off, Number(c.v)));
    else {
      const { r, temp } = this.inReg(c, node);
      this.emit(stx(size, register(base.r), place.off, register(r)));
      if (temp) this.freeTemps.add(r);
    }
    if (base.temp) this.freeTemps.add(base.r);
    this.release(c);
  }

  private readLocal(local: Local, node: B.Node): Val {
    let t = local.type;
    if (this.narrowed.has(local)) {
      if (t.kind === "ptr" || t.kind === "kptr") t = { ...t, nullable: false };
      else if (t.kind === "maybe") t = t.type;
    }
    if ((t.kind === "kptr" || t.kind === "ptr") && t.ref !== undefined) {
      const ref = this.refs.get(t.ref);
      if (ref?.released !== undefined)
        this.m.fail(
          node,
          `'${local.name}' ${t.acquired ? "was released" : `comes from ${this.refText(ref)}, released`} at line ${lineOf(ref.released)}: it may not be used after (the kernel has it back)`,
        );
    }
    if (t.kind === "stack") return { k: "addr", off: t.off };
    if (local.reg !== undefined) return { k: "reg", r: local.reg, t, temp: false };
    return { k: "stk", off: local.off!, t };
  }

  /** The program's context parameter, when this function has one. */
  private contextLocal(): Local | undefined {
    for (const l of this.scopes[0]!.values()) if (l.type.kind === "ctx") return l;
    return undefined;
  }

  private unknownName(name: string): string {
    if (this.m.maps.has(name)) return `'${name}' is a map: call its methods (lookup, update, delete, output)`;
    return `unknown name '${name}': a program may use its locals, module constants, maps and functions, and rawbpf's constants`;
  }

  // ---------------------------------------------------------------- expressions

  /** Compiles an expression; `hint` types bare literals. */
  expr(e: B.Expression | B.Node, hint: IntType | undefined): Val {
    switch (e.type) {
      case "NumericLiteral":
        if (!Number.isInteger(e.value))
          this.m.fail(e, `${e.value} is not an integer: BPF has no floating point`);
        if (!Number.isSafeInteger(e.value))
          this.m.fail(
            e,
            `${e.extra?.raw ?? e.value} is beyond 2^53 and not exact as a number: write it in hex with 'as u64', or use a shift`,
          );
        return { k: "imm", v: BigInt(e.value), t: undefined };
      case "BigIntLiteral":
        return this.m.fail(e, "write integers as numbers with a width type (u64, i64), not bigint");
      case "BooleanLiteral":
        return { k: "imm", v: e.value ? 1n : 0n, t: BOOL };
      case "NullLiteral":
        return { k: "null" };
      case "StringLiteral":
      case "TemplateLiteral":
        return this.m.fail(e, "strings are only allowed as constants passed to strncmp");
      case "ParenthesizedExpression":
        return this.expr(e.expression, hint);
      case "TSNonNullExpression":
        return this.m.fail(e, "`!` does not prove a value is there: check it with `if (x === null) ...`");
      case "TSAsExpression":
      case "TSTypeAssertion": {
        const t = this.typeOf(e.typeAnnotation);
        return this.convert(this.expr(e.expression, t), t, e);
      }
      case "Identifier": {
        const local = this.lookupLocal(e.name);
        if (local !== undefined) return this.readLocal(local, e);
        const c = this.constantValue(e);
        if (c !== undefined) return { k: "imm", v: c, t: undefined };
        if (e.name === "undefined") return { k: "null" };
        return this.m.fail(e, this.unknownName(e.name));
      }
      case "UnaryExpression":
        return this.unary(e, hint);
      case "BinaryExpression": {
        if (e.operator in COMPARISONS) return this.boolValue(e);
        if (e.left.type === "PrivateName") return this.m.fail(e, "private names are not supported");
        if (e.operator === "**") return this.m.fail(e, "`**` is not supported: BPF has no power instruction");
        if (e.operator === "in" || e.operator === "instanceof")
          return this.m.fail(e, `'${e.operator}' is not supported`);
        const a = this.expr(e.left, hint);
        const b = this.expr(e.right, a.k === "imm" ? hint : this.intOf(a, e.left));
        return this.arith(e.operator, a, b, e);
      }
      case "LogicalExpression":
        if (e.operator === "??") return this.m.fail(e, "`??` is not supported: check for null with an if");
        return this.boolValue(e);
      case "ConditionalExpression":
        return this.conditional(e, hint);
      case "MemberExpression": {
        const constant = this.constantValue(e);
        if (constant !== undefined) return { k: "imm", v: constant, t: undefined };
        if (!e.computed && e.property.type === "Identifier" && e.property.name === "length") {
          const root = rootOf(e);
          const l = root.type === "Identifier" ? this.lookupLocal(root.name) : undefined;
          if (l?.type.kind !== "ctx") {
            const p = this.path(e, false);
            if (p.length !== undefined) {
              this.release(p.base);
              return { k: "imm", v: BigInt(p.length), t: U32 };
            }
          }
        }
        const kernel = this.kernelChain(e);
        if (kernel !== undefined) return kernel;
        const place = this.member(e);
        if (place.k === "local") return this.readLocal(place.local, e);
        const v = this.load(place, e);
        if (place.guard === undefined) return v;
        // a read outside the array is 0
        const r = (v as { r: number }).r;
        const done = this.newLabel("inside");
        this.jump(ja(done), done, true);
        this.place(place.guard);
        this.emit(mov(register(r), 0));
        this.place(done);
        return v;
      }
      case "CallExpression":
        return this.callExpr(e);
      case "AssignmentExpression":
      case "UpdateExpression":
        return this.m.fail(e, "assignments are statements here: write them on a line of their own");
      case "ArrowFunctionExpression":
      case "FunctionExpression": {
        const captured = this.capturedLocal(e);
        return this.m.fail(
          e,
          captured
            ? `closure over the local '${captured}': BPF functions cannot capture locals; declare the function at the top level and pass '${captured}' as an argument`
            : "function expressions are not supported inside a program: declare the function at the top level",
        );
      }
      case "ObjectExpression":
        return this.m.fail(
          e,
          "an object literal is only allowed as a map key or value, or a ring buffer record",
        );
      case "ArrayExpression":
        return this.m.fail(e, "array literals are not supported");
      default:
        return this.m.fail(e, `'${e.type}' is not part of the compiled subset`);
    }
  }

  private capturedLocal(fn: B.Node): string | undefined {
    let found: string | undefined;
    walk(fn, (n) => {
      if (found === undefined && n.type === "Identifier" && this.lookupLocal(n.name)) found = n.name;
    });
    return found;
  }

  private unary(e: B.UnaryExpression, hint: IntType | undefined): Val {
    switch (e.operator) {
      case "!":
        return this.boolValue(e);
      case "+":
        return this.expr(e.argument, hint);
      case "-": {
        const v = this.expr(e.argument, hint);
        if (v.k === "imm") return { k: "imm", v: v.t ? wrapTo(-v.v, v.t) : -v.v, t: v.t };
        const t = this.intOf(v, e.argument);
        const r = this.owned(v, e);
        this.emit(neg(register(r)));
        this.normalize(r, t);
        return { k: "reg", r, t, temp: true };
      }
      case "~": {
        const v = this.expr(e.argument, hint);
        if (v.k === "imm") return { k: "imm", v: v.t ? wrapTo(~v.v, v.t) : ~v.v, t: v.t };
        const t = this.intOf(v, e.argument);
        const r = this.owned(v, e);
        this.emit(xor(register(r), t.signed || t.bits === 64 ? -1 : t.bits === 32 ? -1 : (1 << t.bits) - 1));
        if (!t.signed && t.bits === 32) this.emit(mov32(register(r), register(r)));
        return { k: "reg", r, t, temp: true };
      }
      default:
        return this.m.fail(e, `'${e.operator}' is not supported`);
    }
  }

  /** A condition as a value: 1 or 0. */
  private boolValue(e: B.Expression): Val {
    const r = this.temp(e);
    const done = this.newLabel("bool");
    this.emit(mov(register(r), 1));
    this.cond(e, done, true);
    this.emit(mov(register(r), 0));
    this.place(done);
    return { k: "reg", r, t: BOOL, temp: true };
  }

  /** `c ? a : b`: both arms into one register; the type is the arms' common type. */
  private conditional(e: B.ConditionalExpression, hint: IntType | undefined): Val {
    // a constant test still types both arms; the dead one emits nothing (it is unreachable)
    const r = this.temp(e);
    const elseL = this.newLabel("else");
    const endL = this.newLabel("endc");
    const f = this.facts(e.test);
    const saved = this.narrowed;
    this.cond(e.test, elseL, false);
    this.narrowed = new Set([...saved, ...f.whenTrue]);
    const arm = (x: B.Expression): Val => {
      const v = this.expr(x, hint);
      if (v.k !== "imm") this.intOf(v, x);
      this.moveTo(r, v);
      this.release(v);
      return v;
    };
    const a = arm(e.consequent);
    this.jump(ja(endL), endL, true);
    this.place(elseL);
    this.narrowed = new Set([...saved, ...f.whenFalse]);
    const b = arm(e.alternate);
    this.place(endL);
    this.narrowed = saved;
    const ta = a.k === "imm" ? a.t : this.intOf(a, e.consequent);
    const tb = b.k === "imm" ? b.t : this.intOf(b, e.alternate);
    const t = ta && tb ? commonType(ta, tb) : (ta ?? tb ?? I64);
    const free = (v: Val, vt: IntType | undefined) =>
      v.k === "imm" ? wrapTo(v.v, t) === v.v : vt !== undefined && conversionIsFree(vt, t);
    if (!free(a, ta) || !free(b, tb)) this.normalize(r, t);
    return { k: "reg", r, t, temp: true };
  }

  /** Integer arithmetic with the documented semantics (common type, wrap-around). */
  private arith(op: string, a: Val, b: Val, node: B.Node): Val {
    const ta = a.k === "imm" ? a.t : this.intOf(a, node);
    const tb = b.k === "imm" ? b.t : this.intOf(b, node);
    const shift = op === "<<" || op === ">>" || op === ">>>";
    const t = shift ? (ta ?? I64) : ta && tb ? commonType(ta, tb) : (ta ?? tb ?? I64);
    if (a.k === "imm" && b.k === "imm")
      return { k: "imm", v: constantArith(op, a.v, b.v, t, node, this.m), t: ta || tb ? t : undefined };
    const ca = this.convert(a, t, node);
    let cb = shift ? b : this.convert(b, t, node);
    const small = t.bits === 32;
    const r = this.owned(ca, node);
    const dst = register(r);
    if (shift) {
      if (cb.k === "imm") cb = { k: "imm", v: BigInt.asUintN(6, cb.v) & BigInt(t.bits - 1), t: U8 };
      else {
        this.intOf(cb, node);
        const c = this.owned(cb, node);
        this.emit(and(register(c), t.bits - 1));
        cb = { k: "reg", r: c, t: U8, temp: true };
      }
      if (op === ">>>" && t.signed && t.bits < 64) {
        // a logical shift of the value's own bits
        this.normalize(r, { ...t, signed: false, name: "" } as IntType);
      }
    }
    if ((op === "/" || op === "%") && cb.k === "imm" && cb.v === 0n) {
      // the verifier refuses a division by the constant 0; BPF defines x / 0 = 0 and x % 0 = x
      if (op === "/") this.emit(mov(dst, 0));
      return { k: "reg", r, t, temp: true };
    }
    const imm = cb.k === "imm" && (small || fitsS32(cb.v)) ? Number(BigInt.asIntN(32, cb.v)) : undefined;
    let src: Register | number;
    let srcTemp: number | undefined;
    if (imm !== undefined) src = imm;
    else {
      const rb = this.inReg(cb, node);
      src = register(rb.r);
      if (rb.temp) srcTemp = rb.r;
    }
    let needsNormal = true;
    const pick = (op64: typeof add, op32: typeof add) => (small ? op32 : op64);
    switch (op) {
      case "+":
        this.emit(pick(add, add32)(dst, src));
        break;
      case "-":
        this.emit(pick(sub, sub32)(dst, src));
        break;
      case "*":
        this.emit(pick(mul, mul32)(dst, src));
        break;
      case "/":
        this.emit(t.signed ? pick(sdiv, sdiv32)(dst, src) : pick(div, div32)(dst, src));
        needsNormal = t.signed;
        break;
      case "%":
        this.emit(t.signed ? pick(smod, smod32)(dst, src) : pick(mod, mod32)(dst, src));
        needsNormal = t.signed && small;
        break;
      case "&":
        this.emit(pick(and, and32)(dst, src));
        needsNormal = false;
        break;
      case "|":
        this.emit(pick(or, or32)(dst, src));
        needsNormal = false;
        break;
      case "^":
        this.emit(pick(xor, xor32)(dst, src));
        needsNormal = false;
        break;
      case "<<":
        this.emit(pick(lsh, lsh32)(dst, src));
        break;
      case ">>":
        this.emit(t.signed ? pick(arsh, arsh32)(dst, src) : pick(rsh, rsh32)(dst, src));
        needsNormal = small && t.signed;
        break;
      case ">>>":
        this.emit(pick(rsh, rsh32)(dst, src));
        needsNormal = t.signed;
        break;
      default:
        this.m.fail(node, `operator '${op}' is not supported on integers`);
    }
    if (srcTemp !== undefined) this.freeTemps.add(srcTemp);
    if (small ? t.signed : t.bits < 64 && needsNormal) this.normalize(r, t);
    return { k: "reg", r, t, temp: true };
  }

  // ---------------------------------------------------------------- member access

  private member(e: B.MemberExpression): Place {
    const root = rootOf(e);
    const rootLocal = root.type === "Identifier" ? this.lookupLocal(root.name) : undefined;
    if (rootLocal?.type.kind === "ctx") {
      // ctx.name, or ctx.name[constant] for an array field
      const named = e.computed ? e.object : e;
      if (
        named.type !== "MemberExpression" ||
        named.object !== root ||
        named.computed ||
        named.property.type !== "Identifier"
      )
        return this.m.fail(e, "read a context field as ctx.name (or ctx.name[i] for an array field)");
      const name = named.property.name;
      const base = this.readLocal(rootLocal, root);
      const field = this.ctx?.fields.get(name);
      if (field === undefined)
        return this.m.fail(
          named.property,
          `${this.ctx?.struct ?? "the context"} has no field '${name}' (fields: ${[...(this.ctx?.fields.keys() ?? [])].join(", ")})`,
        );
      if (field.refused !== undefined) return this.m.fail(named.property, `ctx.${name}: ${field.refused}`);
      let off = field.offset;
      if (e.computed) {
        const i = this.constantValue(e.property);
        if (field.length === undefined) return this.m.fail(e, `ctx.${name} is not an array`);
        if (i === undefined || i < 0n || i >= BigInt(field.length))
          return this.m.fail(e.property, `ctx.${name} takes a constant index from 0 to ${field.length - 1}`);
        off += Number(i) * (field.type.bits / 8);
      } else if (field.length !== undefined)
        return this.m.fail(e, `ctx.${name} is an array of ${field.length}: read an element, ctx.${name}[i]`);
      const writable = this.ctx?.writable?.has(name) ?? false;
      return { k: "mem", base, off, type: field.type, writable };
    }
    const p = this.path(e, true);
    if (p.length !== undefined) return this.m.fail(e, "an array's length cannot be assigned");
    if (p.layout.kind !== "int")
      return this.m.fail(
        e,
        `this is a ${layoutName(p.layout)}: read and write its integer fields one by one`,
      );
    return {
      k: "mem",
      base: p.base,
      off: p.off,
      type: p.layout.type,
      writable: p.writable,
      ...(p.guard === undefined ? {} : { guard: p.guard }),
    };
  }

  /**
   * A chain of fields through kernel pointers (`task.real_parent.tgid`, `ctx.p.comm`): each
   * step's offset from BTF; integers and pointers are loaded (directly on tp_btf, with
   * bpf_probe_read_kernel on raw_tp), an array at the end is its address (for probeReadKernelStr).
   * Undefined when `e` does not start at a kernel pointer.
   */
  private kernelChain(e: B.MemberExpression): Val | undefined {
    const steps: B.MemberExpression[] = [];
    let cur: B.Expression = e;
    while (cur.type === "MemberExpression") {
      steps.unshift(cur);
      cur = cur.object;
    }
    let base: Val;
    let struct: number;
    let direct: boolean;
    let rest = steps;
    if (cur.type === "CallExpression") {
      // helpers.get_current_task_btf().real_parent.tgid
      const v = this.expr(cur, undefined);
      const t = this.valType(v);
      if (t?.kind !== "kptr")
        return this.m.fail(cur, "read the fields of a call's result through a local (const v = ...; v.x)");
      if (t.nullable)
        return this.m.fail(
          cur,
          `${t.what.replace(/ \*$/, "")} pointer may be null: keep it in a local and check it (const p = ...; if (p === null) return 0;)`,
        );
      return this.kernelSteps(v, t.id, t.direct, steps);
    }
    if (cur.type !== "Identifier") return undefined;
    const local = this.lookupLocal(cur.name);
    if (local === undefined) return undefined;
    if (local.type.kind === "kptr") {
      base = this.readLocal(local, cur);
      const bt = this.valType(base);
      if (bt?.kind === "kptr" && bt.nullable) this.mayBeNull(cur, bt);
      struct = local.type.id;
      direct = local.type.direct;
    } else if (local.type.kind === "ctx") {
      const first = steps[0]!;
      if (first.computed || first.property.type !== "Identifier") return undefined;
      const field = this.ctx?.fields.get(first.property.name);
      if (field?.kernel === undefined) return undefined;
      direct = this.ctx?.direct === true;
      const c = this.readLocal(local, cur);
      const cr = this.inReg(c, cur);
      const r = this.temp(first);
      this.emit(ldx("dw", register(r), register(cr.r), field.offset));
      if (cr.temp) this.freeTemps.add(cr.r);
      base = { k: "reg", r, t: U64, temp: true };
      struct = field.kernel;
      if (steps.length === 1) return { ...base, t: this.kptr(struct, direct) };
      rest = steps.slice(1);
    } else return undefined;
    return this.kernelSteps(base, struct, direct, rest);
  }

  /** Follows member steps from a kernel pointer (see kernelChain). */
  private kernelSteps(
    start: Val,
    structId: number,
    direct: boolean,
    rest: readonly B.MemberExpression[],
  ): Val {
    let base = start;
    let struct = structId;
    const btf = this.m.kernelBtf();
    let off = 0;
    for (const [i, step] of rest.entries()) {
      const last = i === rest.length - 1;
      if (step.computed || step.property.type !== "Identifier")
        return this.m.fail(step, "kernel structs are read by field name");
      const name = step.property.name;
      const m = findMember(btf, struct, name);
      if (m === undefined)
        return this.m.fail(step.property, `${structName(btf, struct)} has no member '${name}'`);
      if (m.bitfield) {
        if (!last) return this.m.fail(rest[i + 1]!, `'${name}' is an integer: it has no fields`);
        return this.loadBitfield(base, off, m, direct, step);
      }
      off += m.offset;
      const tid = resolveType(btf, m.type);
      const t = btf.type(tid);
      const int = btfInt(btf, tid);
      if (int !== undefined) {
        if (!last) return this.m.fail(rest[i + 1]!, `'${name}' is an integer: it has no fields`);
        return this.loadKernel(base, off, int, direct, step);
      }
      if (t.kind === "ptr") {
        const to = pointee(btf, tid);
        const v = this.loadKernel(base, off, U64, direct, step);
        if (to === undefined) {
          if (!last) return this.m.fail(rest[i + 1]!, `'${name}' points to no struct the compiler can read`);
          return v;
        }
        base = v;
        struct = to;
        off = 0;
        if (last)
          return { ...(v as { k: "reg"; r: number; temp: boolean }), k: "reg", t: this.kptr(struct, direct) };
        continue;
      }
      if (t.kind === "struct" || t.kind === "union") {
        if (last) return this.m.fail(step, `'${name}' is a ${structName(btf, tid)}: read its members`);
        struct = tid;
        continue;
      }
      if (t.kind === "array") {
        if (!last)
          return this.m.fail(
            rest[i + 1]!,
            `'${name}' is an array: pass it whole (probeReadKernelStr(buf, ${name}))`,
          );
        // its address, as a number: what bpf_probe_read_kernel(_str) takes
        const element = btfInt(btf, t.type);
        this.kernelArray = { bits: element?.bits ?? 0, length: t.length };
        const r = this.owned(base, step);
        if (off !== 0) this.emit(add(register(r), off));
        return { k: "reg", r, t: U64, temp: true };
      }
      return this.m.fail(step.property, `'${name}' is a ${t.kind}, which the compiler does not read`);
    }
    return base;
  }

  /**
   * A bitfield of a kernel struct at byte `off` from `base`: the word holding it loaded (directly
   * or with bpf_probe_read_kernel), shifted left then right as BPF_CORE_READ_BITFIELD does, so a
   * signed field comes out sign-extended. Its type is the member's integer type.
   */
  private loadBitfield(
    base: Val,
    off: number,
    m: FoundMember,
    direct: boolean,
    node: B.MemberExpression,
  ): Val {
    const btf = this.m.kernelBtf();
    const t = btfInt(btf, m.type);
    const size = btf.type(resolveType(btf, m.type));
    const access =
      t === undefined || !("size" in size) ? undefined : bitfieldAccess(m.bitOffset, m.bitSize, size.size);
    if (t === undefined || access === undefined)
      return this.m.fail(
        node.property,
        `the bitfield '${(node.property as B.Identifier).name}' is not an integer the compiler reads`,
      );
    const word = INT_TYPES.get(`u${access.loadSize * 8}`)!;
    const v = this.loadKernel(base, off + access.byteOffset, word, direct, node) as { k: "reg"; r: number };
    const r = register(v.r);
    if (access.lshift > 0) this.emit(lsh(r, access.lshift));
    if (access.rshift > 0) this.emit(t.signed ? arsh(r, access.rshift) : rsh(r, access.rshift));
    return { k: "reg", r: v.r, t, temp: true };
  }

  private kptr(id: number, direct: boolean): Type {
    const btf = this.m.kernelBtf();
    return { kind: "kptr", id, direct, what: `${structName(btf, id)} *` };
  }

  /** Reads an integer at `base + off` of kernel memory: directly, or with bpf_probe_read_kernel. */
  private loadKernel(base: Val, off: number, t: IntType, direct: boolean, node: B.Node): Val {
    const size = SIZE[t.bits]!;
    if (direct) {
      const b = this.inReg(base, node);
      const r = b.temp ? b.r : this.temp(node);
      this.emit(ldx(size, register(r), register(b.r), off));
      if (t.signed && t.bits < 64) this.emit(movsx(register(r), register(r), t.bits as 8 | 16 | 32));
      return { k: "reg", r, t, temp: true };
    }
    const savedTop = this.stackTop;
    const slot = this.alloc(8, node);
    const src = this.owned(base, node);
    if (off !== 0) this.emit(add(register(src), off));
    this.emit(st("dw", R10, slot, 0));
    const ret = this.callWith(
      [
        { k: "addr", off: slot },
        { k: "imm", v: BigInt(t.bits / 8), t: U32 },
        { k: "reg", r: src, t: U64, temp: true },
      ],
      call("bpf_probe_read_kernel"),
      I64,
      node,
    );
    const r = (ret as { r: number }).r;
    this.emit(ldx(size, register(r), R10, slot));
    if (t.signed && t.bits < 64) this.emit(movsx(register(r), register(r), t.bits as 8 | 16 | 32));
    this.stackTop = savedTop;
    return { k: "reg", r, t, temp: true };
  }

  /** Memory named by `e` (a stack object, a map value, a config, or a field of one), as an address. */
  private regionOf(e: B.Expression, guarded: boolean): Region | undefined {
    const root = rootOf(e);
    if (root.type !== "Identifier") return undefined;
    const local = this.lookupLocal(root.name);
    if (
      local === undefined
        ? !this.m.configs.has(root.name)
        : local.type.kind !== "stack" && local.type.kind !== "ptr"
    )
      return undefined;
    const p = this.path(e, guarded);
    if (p.length !== undefined) return undefined;
    let addr: Val;
    if (p.base.k === "reg" && p.base.r === 10) addr = { k: "addr", off: p.off };
    else if (p.off === 0) addr = p.base;
    else {
      const r = this.owned(p.base, e);
      this.emit(add(register(r), p.off));
      addr = { k: "reg", r, t: U64, temp: true };
    }
    return {
      addr,
      layout: p.layout,
      writable: p.writable,
      ...(p.guard === undefined ? {} : { guard: p.guard }),
    };
  }

  /**
   * Walks fields and indexes from a stack object, a map value or a config to the memory they
   * name: a base register (r10 for the stack) and a constant offset. A variable index is checked
   * against the array's length (the access is skipped when it is out of range: `guard`).
   */
  private path(
    e: B.Expression,
    guarded: boolean,
  ): {
    base: Val;
    off: number;
    layout: Layout;
    writable: boolean;
    guard?: string;
    length?: number;
  } {
    const steps: B.MemberExpression[] = [];
    let cur: B.Expression = e;
    while (cur.type === "MemberExpression") {
      steps.unshift(cur);
      cur = cur.object;
    }
    if (cur.type !== "Identifier")
      return this.m.fail(cur, "a field access must start at a local, ctx or a config");
    const local = this.lookupLocal(cur.name);
    let base: Val;
    let off = 0;
    let layout: Layout;
    let writable = true;
    if (local === undefined) {
      const config = this.m.configs.get(cur.name);
      if (config === undefined) return this.m.fail(cur, this.unknownName(cur.name));
      const r = this.temp(cur);
      this.emit(ldMapValue(register(r), config.ref, 0));
      base = { k: "reg", r, t: U64, temp: true };
      layout = config.value;
      writable = false;
    } else {
      const t = local.type;
      if (t.kind === "stack") {
        base = { k: "reg", r: 10, t: U64, temp: false };
        off = t.off;
        layout = t.to;
      } else if (t.kind === "ptr") {
        const v = this.readLocal(local, cur);
        const vt = this.valType(v);
        if (vt?.kind === "ptr" && vt.nullable)
          this.m.fail(
            cur,
            `'${cur.name}' may be null (${t.what.startsWith("record") ? "the ring buffer may be full" : t.what.startsWith("the per-CPU") ? "per_cpu_ptr gives null for a CPU that does not exist" : "lookup finds no entry for an absent key"}): check it first, e.g. \`if (${cur.name} === null) return 0;\``,
          );
        base = v.k === "reg" ? { ...v, t: U64 } : { k: "reg", r: this.owned(v, cur), t: U64, temp: true };
        layout = t.to;
        writable = t.readonly !== true;
      } else return this.m.fail(e, `'${cur.name}' is ${typeName(t)}: it has no fields`);
    }
    let guard: string | undefined;
    for (const step of steps) {
      let key: string | number | B.Expression;
      if (step.computed) {
        const i = this.constantValue(step.property);
        key = i === undefined ? (step.property as B.Expression) : Number(i);
      } else if (step.property.type === "Identifier") key = step.property.name;
      else return this.m.fail(step.property, "unsupported property");
      if (layout.kind === "int") {
        if (key !== "value") this.m.fail(step, `this value is a ${layout.type.name}: read it as .value`);
        continue;
      }
      if (layout.kind === "struct") {
        const f = typeof key === "string" ? layout.fields.get(key) : undefined;
        if (f === undefined)
          return this.m.fail(
            step,
            `the ${layoutName(layout)} has no field '${typeof key === "object" ? "[...]" : key}' (fields: ${[...layout.fields.keys()].join(", ")})`,
          );
        off += f.offset;
        layout = f.layout;
        continue;
      }
      // an array
      if (key === "length") {
        if (step !== steps[steps.length - 1]) this.m.fail(step, "length is a number");
        return { base, off, layout, writable: false, length: layout.length };
      }
      if (typeof key === "string")
        return this.m.fail(step, `an array has no field '${key}' (it has length and [index])`);
      if (typeof key === "number") {
        if (key < 0 || key >= layout.length)
          return this.m.fail(step, `index ${key} is outside the array's ${layout.length} elements`);
        off += key * layout.element.size;
        layout = layout.element;
        continue;
      }
      if (!guarded) return this.m.fail(step.property, "a constant index is needed here");
      // a variable index: checked against the length, scaled, added to the base
      const iv = this.expr(key, undefined);
      this.intOf(iv, key);
      const ri = this.owned(iv, key);
      guard ??= this.newLabel("outside");
      this.jump(jge(register(ri), layout.length, guard), guard);
      const size = layout.element.size;
      if (size > 1) {
        if ((size & (size - 1)) === 0) this.emit(lsh(register(ri), Math.log2(size)));
        else this.emit(mul(register(ri), size));
      }
      if (base.k === "reg" && base.temp) {
        this.emit(add(register(base.r), register(ri)));
        this.freeTemps.add(ri);
      } else {
        const rb = this.temp(step);
        this.moveTo(rb, base);
        this.emit(add(register(rb), register(ri)));
        this.freeTemps.add(ri);
        base = { k: "reg", r: rb, t: U64, temp: true };
      }
      layout = layout.element;
    }
    return { base, off, layout, writable, ...(guard === undefined ? {} : { guard }) };
  }

  // ---------------------------------------------------------------- calls

  private callExpr(e: B.CallExpression): Val {
    const callee = e.callee;
    for (const a of e.arguments)
      if (a.type === "SpreadElement") this.m.fail(a, "spread arguments are not supported");
    const args = e.arguments as B.Expression[];
    if (callee.type === "Identifier") {
      const local = this.lookupLocal(callee.name);
      if (local) return this.m.fail(callee, `'${callee.name}' is a local, not a function`);
      if (callee.name === "atomicAdd") return this.atomicAdd(e, args);
      if (callee.name === "strncmp") return this.strncmp(e, args);
      if (callee.name === "bpfLoop") return this.bpfLoop(e, args);
      const read = PROBE_READS[callee.name];
      if (read !== undefined) return this.probeRead(e, read, args);
      if (callee.name === "zero")
        return this.m.fail(e, "zero(Codec) declares a stack local: `const x = zero(Event);`");
      const fn = this.m.functions.get(callee.name);
      if (fn === undefined)
        return this.m.fail(
          callee,
          `unknown function '${callee.name}': declare it at the top level of the module`,
        );
      if (args.length !== fn.params.length)
        this.m.fail(e, `${fn.name} takes ${fn.params.length} arguments, got ${args.length}`);
      this.m.called(fn.name, e);
      const vals = args.map((a, i) => this.convert(this.expr(a, fn.params[i]!.type), fn.params[i]!.type, a));
      return this.callWith(vals, callLocal(fn.name), fn.returns, e);
    }
    if (callee.type === "MemberExpression" && !callee.computed && callee.property.type === "Identifier") {
      const method = callee.property.name;
      const obj = callee.object;
      if (obj.type === "Identifier") {
        if (obj.name === "helpers" && !this.lookupLocal("helpers")) return this.helperCall(e, method, args);
        if (obj.name === "kfuncs" && !this.lookupLocal("kfuncs")) return this.kfuncCall(e, method, args);
        const map = this.m.maps.get(obj.name);
        if (map && !this.lookupLocal(obj.name)) return this.mapCall(e, map, method, args);
        const local = this.lookupLocal(obj.name);
        if (local?.type.kind === "ctx") return this.packetRead(e, local, method, args);
      }
    }
    return this.m.fail(
      callee,
      "unsupported call: call a top-level function, helpers.NAME(...), a map's method or ctx.u8/u16/u32/be16/be32",
    );
  }

  /**
   * Calls with arguments in r1..r5: temps that stay live are saved to the stack around the call,
   * the result comes back in a fresh temp.
   */
  private callWith(args: readonly Val[], insn: Instruction, returns: IntType | undefined, node: B.Node): Val {
    if (args.length > 5) this.m.fail(node, "BPF calls take at most 5 arguments");
    const argTemps = new Set(args.filter((a) => a.k === "reg" && a.temp).map((a) => (a as { r: number }).r));
    const live = TEMPS.filter((r) => !this.freeTemps.has(r) && !argTemps.has(r));
    const savedTop = this.stackTop;
    const saves = live.map((r) => {
      const off = this.alloc(8, node);
      this.emit(stx("dw", R10, off, register(r)));
      return { r, off };
    });
    // parallel move of temps into argument registers, r0 as the scratch for cycles
    const moves = new Map<number, number>(); // dst -> src
    args.forEach((a, i) => {
      if (a.k === "reg" && a.temp && a.r !== i + 1) moves.set(i + 1, a.r);
    });
    while (moves.size > 0) {
      const sources = new Set(moves.values());
      const ready = [...moves.keys()].find((d) => !sources.has(d));
      if (ready !== undefined) {
        this.emit(mov(register(ready), register(moves.get(ready)!)));
        moves.delete(ready);
      } else {
        const [d, s] = moves.entries().next().value as [number, number];
        this.emit(mov(register(0), register(s)));
        for (const [k, v] of moves) if (v === s) moves.set(k, 0);
        void d;
      }
    }
    args.forEach((a, i) => {
      if (!(a.k === "reg" && a.temp)) this.moveTo(i + 1, a);
    });
    this.emit(insn);
    for (const r of argTemps) this.freeTemps.add(r);
    for (const s of saves) this.emit(ldx("dw", register(s.r), R10, s.off));
    this.stackTop = savedTop;
    // a void helper leaves r0 unreadable
    if (returns === undefined) return { k: "imm", v: 0n, t: I64 };
    const r = this.temp(node);
    this.emit(mov(register(r), register(0)));
    return { k: "reg", r, t: returns, temp: true };
  }

  /**
   * `strncmp(s, "constant", n?)`: bpf_strncmp of the first n bytes of `s` (default: the
   * constant's length, so 0 means "s starts with it") against the constant, which is placed in
   * the module's read-only string map. `s` is a byte array (a stack array, an array field) or
   * `arr.subarray(i)`; a window that would run past the array's end compares unequal (1).
   */
  private strncmp(e: B.CallExpression, args: B.Expression[]): Val {
    if (args.length < 2 || args.length > 3)
      return this.m.fail(e, 'strncmp(s, "constant", n?) takes 2 or 3 arguments');
    const lit = args[1]!;
    const value =
      lit.type === "StringLiteral"
        ? lit.value
        : lit.type === "Identifier" && !this.lookupLocal(lit.name)
          ? this.m.stringConstants.get(lit.name)
          : undefined;
    if (value === undefined)
      return this.m.fail(
        lit,
        'strncmp compares with a constant string: a literal or a top-level `const NAME = "..."` (bpf_strncmp reads it from a read-only map)',
      );
    if (value.includes("\0")) this.m.fail(lit, "the constant string must not contain a NUL byte");
    const length = Buffer.byteLength(value, "utf8");
    let n = length;
    if (args[2] !== undefined) {
      const c = this.constantValue(args[2]);
      if (c === undefined || c < 1n || c > 0x7fffffffn)
        return this.m.fail(args[2], "strncmp's n is a constant number of bytes, at least 1");
      n = Number(c);
    }
    if (n === 0)
      return this.m.fail(lit, "strncmp against an empty string: compare n bytes with n at least 1");
    let target = args[0]!;
    let at: B.Expression | undefined;
    if (
      target.type === "CallExpression" &&
      target.callee.type === "MemberExpression" &&
      !target.callee.computed &&
      target.callee.property.type === "Identifier" &&
      target.callee.property.name === "subarray"
    ) {
      if (target.arguments.length !== 1)
        return this.m.fail(target, "s.subarray(start) takes one argument here (the window's start)");
      at = target.arguments[0] as B.Expression;
      target = target.callee.object as B.Expression;
    }
    const region = this.regionOf(target, true);
    if (region === undefined) {
      const kernel = this.kernelString(target);
      if (kernel !== undefined) {
        if (at !== undefined)
          this.m.fail(
            at,
            `a window (subarray) of ${kernel.user ? "user" : "kernel"} memory is not supported: compare from its start`,
          );
        return this.kernelStrncmp(e, kernel, value, n);
      }
    }
    if (region === undefined || region.layout.kind !== "array" || region.layout.element.size !== 1)
      return this.m.fail(
        target,
        "strncmp's first argument is a byte array: a `new Uint8Array(n)` local, an array field (bytes(n), cstring(n)), arr.subarray(i), a kernel char array (task.comm), or a tracepoint record's `char *` field (ctx.filename)",
      );
    const size = region.layout.length;
    let guard = region.guard;
    let addr = region.addr;
    const constAt = at === undefined ? 0n : this.constantValue(at);
    if (constAt !== undefined) {
      if (constAt < 0n || constAt + BigInt(n) > BigInt(size))
        return this.m.fail(
          at ?? e,
          `comparing ${n} bytes at ${constAt} runs past the end of the ${size}-byte array`,
        );
      if (constAt > 0n) {
        if (addr.k === "addr") addr = { k: "addr", off: addr.off + Number(constAt) };
        else {
          const r = this.owned(addr, e);
          this.emit(add(register(r), Number(constAt)));
          addr = { k: "reg", r, t: U64, temp: true };
        }
      }
    } else {
      if (n > size) return this.m.fail(e, `comparing ${n} bytes of a ${size}-byte array runs past its end`);
      const iv = this.expr(at!, undefined);
      this.intOf(iv, at!);
      const ri = this.owned(iv, at!);
      guard ??= this.newLabel("outside");
      this.jump(jgt(register(ri), size - n, guard), guard);
      const rb = addr.k === "reg" && addr.temp ? addr.r : this.temp(e);
      if (!(addr.k === "reg" && addr.temp)) this.moveTo(rb, addr);
      this.emit(add(register(rb), register(ri)));
      this.freeTemps.add(ri);
      addr = { k: "reg", r: rb, t: U64, temp: true };
    }
    const str = this.m.string(value);
    const rs = this.temp(lit);
    this.emit(ldMapValue(register(rs), str.map, str.offset));
    const result = this.callWith(
      [addr, { k: "imm", v: BigInt(n), t: U32 }, { k: "reg", r: rs, t: U64, temp: true }],
      call("bpf_strncmp"),
      I32,
      e,
    );
    if (guard === undefined) return result;
    const r = (result as { r: number }).r;
    const done = this.newLabel("compared");
    this.jump(ja(done), done, true);
    this.place(guard);
    this.emit(mov(register(r), 1));
    this.place(done);
    return result;
  }

  /**
   * A char array in kernel memory, as strncmp's first argument: a tracepoint record's char array
   * field (`ctx.newcomm`) or a kernel struct's (`task.comm`): its address and length. Undefined
   * when `e` is neither.
   */
  private kernelString(e: B.Expression): ForeignString | undefined {
    if (e.type !== "MemberExpression") return undefined;
    if (e.object.type === "Identifier" && !e.computed && e.property.type === "Identifier") {
      const local = this.lookupLocal(e.object.name);
      const field = local?.type.kind === "ctx" ? this.ctx?.fields.get(e.property.name) : undefined;
      if (local !== undefined && field?.string !== undefined) {
        // a `char *` of the record: the pointer is read, the string copied from where it points
        const v = this.convert(this.expr(e, U64), U64, e);
        return { addr: v, length: undefined, user: field.string === "user" };
      }
      if (local !== undefined && field?.length !== undefined) {
        if (field.type.bits !== 8) this.m.fail(e, `ctx.${e.property.name} is not a char array`);
        const r = this.owned(this.readLocal(local, e.object), e);
        this.emit(add(register(r), field.offset));
        return { addr: { k: "reg", r, t: U64, temp: true }, length: field.length, user: false };
      }
    }
    this.kernelArray = undefined;
    const v = this.kernelChain(e);
    if (v === undefined) return undefined;
    const array = this.kernelArray as { bits: number; length: number } | undefined;
    if (array === undefined || array.bits !== 8)
      return this.m.fail(e, "strncmp compares a char array: this kernel member is not one");
    return { addr: v, length: array.length, user: false };
  }

  /**
   * strncmp on kernel or user memory: bpf_strncmp reads only memory the program owns, so the
   * string is first copied to the stack with bpf_probe_read_kernel_str (bpf_probe_read_user_str
   * for a string in the calling process: n bytes and a NUL; a failed read leaves it empty), then
   * compared.
   */
  private kernelStrncmp(e: B.CallExpression, src: ForeignString, value: string, n: number): Val {
    if (src.length !== undefined && n > src.length)
      this.m.fail(e, `comparing ${n} bytes of a ${src.length}-byte kernel array runs past its end`);
    const savedTop = this.stackTop;
    const buf = this.alloc(n + 1, e);
    this.callWith(
      [{ k: "addr", off: buf }, { k: "imm", v: BigInt(n + 1), t: U32 }, src.addr],
      call(src.user ? "bpf_probe_read_user_str" : "bpf_probe_read_kernel_str"),
      undefined,
      e,
    );
    const str = this.m.string(value);
    const rs = this.temp(e);
    this.emit(ldMapValue(register(rs), str.map, str.offset));
    const result = this.callWith(
      [
        { k: "addr", off: buf },
        { k: "imm", v: BigInt(n), t: U32 },
        { k: "reg", r: rs, t: U64, temp: true },
      ],
      call("bpf_strncmp"),
      I32,
      e,
    );
    this.stackTop = savedTop;
    return result;
  }

  /** probeReadUserStr(dst, src) and friends: bpf_probe_read_*(dst, sizeof dst, src). */
  private probeRead(e: B.CallExpression, helper: string, args: B.Expression[]): Val {
    if (args.length !== 2)
      return this.m.fail(e, `${(e.callee as B.Identifier).name}(dst, src) takes 2 arguments`);
    const dst = args[0]!;
    const region = this.regionOf(dst, false);
    if (region === undefined || region.layout.kind === "int")
      return this.m.fail(
        dst,
        "the destination is an array or a struct: a stack local (new Uint8Array(n)), or a field of a record or map value",
      );
    if (!region.writable) this.m.fail(dst, "the destination is read-only");
    const src = this.convert(this.expr(args[1]!, U64), U64, args[1]!);
    return this.callWith(
      [region.addr, { k: "imm", v: BigInt(region.layout.size), t: U32 }, src],
      call(helper),
      I64,
      e,
    );
  }

  /** The type a callback's state parameter has: a pointer to the stack object passed, if one is. */
  private stateType(e: B.Expression | undefined): Type {
    if (e?.type === "Identifier") {
      const l = this.lookupLocal(e.name);
      if (l?.type.kind === "stack")
        return { kind: "ptr", to: l.type.to, nullable: false, what: `the state ${l.type.what}` };
    }
    return U64;
  }

  /**
   * An arrow function passed as a callback: compiled as its own subprogram (it may not capture
   * locals), passed by address (ld_imm64 src=4). `types` are the callback's parameter types, one
   * a register from r1.
   */
  private callbackArg(
    fn: B.ArrowFunctionExpression | B.FunctionExpression,
    types: readonly Type[],
    first = 0,
  ): Val {
    const own = new Set(fn.params.map((p) => (p.type === "Identifier" ? p.name : "")));
    for (const id of references(fn.body)) {
      if (!own.has(id.name) && this.lookupLocal(id.name))
        this.m.fail(
          id,
          `closure over the local '${id.name}': a callback cannot capture locals; pass a struct as the callback's state (its last parameter) and read '${id.name}' from it`,
        );
    }
    if (fn.params.length > types.length - first)
      this.m.fail(fn, `this callback takes at most ${types.length - first} parameters`);
    const params: CallbackParam[] = fn.params.map((p, j) => {
      if (p.type !== "Identifier") return this.m.fail(p, "a callback's parameters are plain names");
      return { name: p.name, type: types[first + j]!, node: p, reg: first + j + 1 };
    });
    const name = this.m.callback(fn, params);
    const r = this.temp(fn);
    this.emit(ldFunc(register(r), name));
    return { k: "reg", r, t: U64, temp: true };
  }

  /** bpfLoop(n, (i, state) => ..., state?): bpf_loop with a callback subprogram. */
  private bpfLoop(e: B.CallExpression, args: B.Expression[]): Val {
    if (args.length < 2 || args.length > 3)
      return this.m.fail(e, "bpfLoop(count, (i, state) => ..., state?) takes 2 or 3 arguments");
    const n = this.convert(this.expr(args[0]!, U32), U32, args[0]!);
    const fn = args[1]!;
    if (fn.type !== "ArrowFunctionExpression" && fn.type !== "FunctionExpression")
      return this.m.fail(
        fn,
        "bpfLoop's second argument is an arrow function: (i, state) => 0 to go on, 1 to stop",
      );
    const cb = this.callbackArg(fn, [U64, this.stateType(args[2])]);
    const state = args[2] === undefined ? ({ k: "imm", v: 0n, t: U64 } as Val) : this.expr(args[2], U64);
    return this.callWith([n, cb, state, { k: "imm", v: 0n, t: U64 }], call("bpf_loop"), I64, e);
  }

  /**
   * kfuncs.NAME(args): a kernel function called by name (BTF id resolved at load). A kfunc of the
   * reference table (src/lang/kfuncs.ts) is followed as an acquiring helper is: its result a
   * kernel pointer typed from BTF, held until a kfunc that releases it takes it back.
   */
  private kfuncCall(e: B.CallExpression, name: string, args: B.Expression[]): Val {
    const proto = this.m.kfunc(name);
    if (proto === undefined) return this.m.fail(e.callee, `no kfunc named ${name} in the kernel's BTF`);
    if (args.length !== proto.args)
      this.m.fail(e, `${name} takes ${proto.args} arguments, got ${args.length}`);
    const rule = KFUNC_RULES.get(name);
    const vals = args.map((a) => this.expr(a, U64));
    for (const [i, v] of vals.entries()) {
      const t = this.valType(v);
      // a kernel pointer that may be null (an acquired task, say) is checked before any kfunc takes it
      if ((t?.kind === "ptr" || t?.kind === "kptr") && t.nullable) this.intOf(v, args[i]!);
    }
    if (rule === undefined) {
      const r = proto.returns;
      if (r === undefined) return this.callWith(vals, callKfunc(name), undefined, e);
      if ("pointer" in r) {
        const v = this.callWith(vals, callKfunc(name), U64, e);
        const t: PointerType = {
          kind: "ptr",
          to: r.pointer,
          nullable: true,
          what: `the result of ${name}`,
          readonly: true,
        };
        return { ...(v as { k: "reg"; r: number; temp: boolean }), k: "reg", t };
      }
      return this.callWith(vals, callKfunc(name), r, e);
    }
    let releasing: number | undefined;
    if (rule.releases) {
      const t = vals[0] === undefined ? undefined : this.valType(vals[0]);
      const by = t?.kind === "kptr" && t.ref !== undefined ? this.refs.get(t.ref)?.by : undefined;
      const from = acquirersOf(name);
      if (t?.kind !== "kptr" || t.ref === undefined || !t.acquired || by === undefined || !from.includes(by))
        return this.m.fail(
          args[0] ?? e,
          `${name} releases what ${from.map((k) => `kfuncs.${k}`).join(", ")} acquired: pass the local holding it (checked non-null)${by === undefined ? "" : `, not what ${by in ACQUIRES ? `helpers.${by.slice(4)}` : `kfuncs.${by}`} acquired`}`,
        );
      if (e !== this.topCall)
        this.m.fail(
          e,
          rule.acquires === undefined
            ? `release a reference in a statement of its own: \`kfuncs.${name}(x);\``
            : `${name} releases its argument and acquires a reference: keep its result in a const of its own`,
        );
      releasing = t.ref;
    }
    const acq = rule.acquires;
    if (acq === undefined) {
      const v = this.callWith(vals, callKfunc(name), proto.returns === undefined ? undefined : I64, e);
      if (releasing !== undefined) this.released(releasing, e);
      return v;
    }
    const struct = kfuncReturnStruct(this.m.kernelBtf(), name);
    if (struct === undefined)
      return this.m.fail(e, `${name} does not return a pointer to a struct in this kernel's BTF`);
    if (e !== this.topCall)
      this.m.fail(
        e,
        `${name} acquires a reference: keep it in a const of its own (const x = kfuncs.${name}(...)),${acq.nullable ? " check it for null" : ""} and release it with kfuncs.${acq.releasedBy[0]}(x) on every path`,
      );
    const v = this.callWith(vals, callKfunc(name), U64, e);
    if (releasing !== undefined) this.released(releasing, e);
    const ref = this.acquire(
      e,
      `the ${acq.noun} kfuncs.${name} acquired`,
      `kfuncs.${acq.releasedBy[0]}(...)`,
      name,
    );
    const t: Type = {
      kind: "kptr",
      id: struct.id,
      direct: true,
      what: `struct ${struct.name} *`,
      nullable: acq.nullable,
      ref,
      acquired: true,
    };
    return { ...(v as { k: "reg"; r: number; temp: boolean }), k: "reg", t };
  }

  private helperCall(e: B.CallExpression, name: string, args: B.Expression[]): Val {
    const helper = findHelper(`bpf_${name}`) ?? findHelper(name);
    if (helper === undefined)
      return this.m.fail(e.callee, `no helper named bpf_${name} in this kernel's helper table`);
    if (!helper.variadic && args.length !== helper.args.length)
      this.m.fail(
        e,
        `${helper.name} takes ${helper.args.length} arguments (${helper.args.map((a) => `${a.type} ${a.name}`).join(", ")}), got ${args.length}`,
      );
    const percpu = helper.name === "bpf_this_cpu_ptr" || helper.name === "bpf_per_cpu_ptr";
    let variable: { id: number; type: number; name: string } | undefined;
    const vals = args.map((a, i) => {
      if (percpu && i === 0) {
        variable = this.percpuVariable(a);
        const r = this.temp(a);
        // ld_imm64 src=BPF_PSEUDO_BTF_ID: the variable's address, by its vmlinux BTF id
        this.emit({ code: 0x18, dst: r, src: 3, off: 0, imm: variable.id, imm2: 0 });
        return { k: "reg", r, t: U64, temp: true } as Val;
      }
      if (a.type === "ArrowFunctionExpression" || a.type === "FunctionExpression") {
        if (helper.name === "bpf_loop" && i === 1) return this.callbackArg(a, [U64, this.stateType(args[2])]);
        return this.m.fail(
          a,
          `${helper.name} takes no callback here: arrow functions are callbacks of bpf_loop (helpers.loop, bpfLoop) and of a map's forEach`,
        );
      }
      if (a.type === "Identifier" && a.name === "ctx") {
        const l = this.lookupLocal("ctx");
        if (l) return this.readLocal(l, a);
      }
      if (a.type === "MemberExpression") {
        // a struct or an array (a field of a record, say) is passed as its address
        const region = this.regionOf(a, false);
        if (region !== undefined) {
          if (region.layout.kind !== "int") return region.addr;
          const base =
            region.addr.k === "addr" ? ({ k: "reg", r: 10, t: U64, temp: false } as Val) : region.addr;
          const off = region.addr.k === "addr" ? region.addr.off : 0;
          return this.load({ k: "mem", base, off, type: region.layout.type, writable: false }, a);
        }
      }
      const v = this.expr(a, U64);
      const t = this.valType(v);
      if ((t?.kind === "ptr" || t?.kind === "kptr") && t.nullable) this.intOf(v, a);
      return v;
    });
    const release = Object.values(ACQUIRES).includes(helper.name);
    if (release) {
      const t = this.valType(vals[0]!);
      const by = t?.kind === "kptr" && t.ref !== undefined ? this.refs.get(t.ref)?.by : undefined;
      if (t?.kind !== "kptr" || t.ref === undefined || !t.acquired || by === undefined || !(by in ACQUIRES))
        return this.m.fail(
          args[0],
          `${helper.name} releases what ${Object.keys(ACQUIRES)
            .filter((k) => ACQUIRES[k] === helper.name)
            .map((k) => `helpers.${k.slice(4)}`)
            .join(", ")} acquired: pass the local holding it (checked non-null)`,
        );
      if (e !== this.topCall)
        this.m.fail(e, `release a reference in a statement of its own: \`helpers.${name}(sk);\``);
      const v = this.callWith(vals, call(helper.name), I64, e);
      this.released(t.ref, e);
      return v;
    }
    if (helper.name === "bpf_get_current_task") {
      // the current task as a kernel pointer: read directly (BTF-typed) or through probe reads
      const btf = this.m.kernelBtf();
      const task = btf.findId("task_struct", "struct");
      if (task === undefined) return this.m.fail(e, "the kernel's BTF has no struct task_struct");
      const v = this.callWith(vals, call(helper.name), U64, e);
      return {
        ...(v as { k: "reg"; r: number; temp: boolean }),
        k: "reg",
        t: this.kptr(task, helper.name.endsWith("_btf")),
      };
    }
    if (variable !== undefined) return this.percpuResult(e, helper.name, variable, vals);
    const struct = /^\s*struct\s+(\w+)\s*\*\s*$/.exec(helper.returns)?.[1];
    if (struct !== undefined) return this.kernelPointerResult(e, helper.name, struct, vals);
    if (helper.returns.includes("*"))
      this.m.fail(
        e,
        `${helper.name} returns ${helper.returns.trim()}, which the compiler does not type: map values come from m.lookup(key), ring buffer records from events.reserve()`,
      );
    const ret = /\b(int|__s32)\b/.test(helper.returns)
      ? I32
      : /u64|__u64/.test(helper.returns)
        ? U64
        : /u32/.test(helper.returns)
          ? U32
          : I64;
    return this.callWith(vals, call(helper.name), /^\s*void\s*$/.test(helper.returns) ? undefined : ret, e);
  }

  /**
   * `ksyms.NAME`, the first argument of this_cpu_ptr/per_cpu_ptr: a per-CPU variable of the
   * kernel (in vmlinux BTF's `.data..percpu` section), by its BTF id.
   */
  private percpuVariable(a: B.Expression): { id: number; type: number; name: string } {
    if (
      a.type !== "MemberExpression" ||
      a.computed ||
      a.object.type !== "Identifier" ||
      a.object.name !== "ksyms" ||
      this.lookupLocal("ksyms") ||
      a.property.type !== "Identifier"
    )
      return this.m.fail(
        a,
        "the first argument is a per-CPU kernel variable by name: ksyms.NAME (ksyms.runqueues)",
      );
    const name = a.property.name;
    const btf = this.m.kernelBtf();
    const id = btf.findId(name, "var");
    if (id === undefined) return this.m.fail(a.property, `the kernel's BTF has no variable '${name}'`);
    const sec = btf.findId(".data..percpu", "datasec");
    const secType = sec === undefined ? undefined : btf.type(sec);
    if (secType?.kind !== "datasec" || !secType.vars.some((v) => v.type === id))
      return this.m.fail(
        a.property,
        `'${name}' is not a per-CPU variable (it is not in the kernel's .data..percpu section)`,
      );
    const v = btf.type(id);
    return { id, type: v.kind === "var" ? v.type : 0, name };
  }

  /**
   * this_cpu_ptr / per_cpu_ptr of a per-CPU variable: a struct is a kernel pointer read through
   * BTF; an integer a read-only reference (`p.value`). per_cpu_ptr's may be null (no such CPU).
   */
  private percpuResult(
    e: B.CallExpression,
    helper: string,
    variable: { type: number; name: string },
    vals: readonly Val[],
  ): Val {
    const btf = this.m.kernelBtf();
    const tid = resolveType(btf, variable.type);
    const kind = btf.type(tid).kind;
    const nullable = helper === "bpf_per_cpu_ptr";
    const int = btfInt(btf, tid);
    if (kind !== "struct" && kind !== "union" && int === undefined)
      return this.m.fail(
        e.arguments[0]!,
        `'${variable.name}' is a ${kind}: the compiler reads per-CPU variables that are structs, unions or integers`,
      );
    const v = this.callWith(vals, call(helper), U64, e) as { k: "reg"; r: number; temp: boolean };
    if (int === undefined) {
      const t: Type = { ...(this.kptr(tid, true) as Type & { kind: "kptr" }), nullable };
      return { ...v, k: "reg", t };
    }
    const t: PointerType = {
      kind: "ptr",
      to: intLayout(int),
      nullable,
      readonly: true,
      what: `the per-CPU ${variable.name}`,
    };
    return { ...v, k: "reg", t };
  }

  /**
   * A helper returning `struct NAME *`: a kernel pointer typed by the kernel's BTF, read directly,
   * null until checked (except bpf_get_current_task_btf's). An acquired socket (bpf_sk_lookup_tcp)
   * is a new reference the program must release on every path; a pointer made from one
   * (bpf_skc_to_tcp_sock(sk)) is valid until that reference is released.
   */
  private kernelPointerResult(
    e: B.CallExpression,
    helper: string,
    struct: string,
    vals: readonly Val[],
  ): Val {
    const btf = this.m.kernelBtf();
    const id = btf.findId(struct, "struct");
    if (id === undefined)
      return this.m.fail(
        e,
        `${helper} returns a struct ${struct} *, which the kernel's BTF does not describe`,
      );
    const acquired = ACQUIRES[helper] !== undefined;
    if (acquired && e !== this.topCall)
      this.m.fail(
        e,
        `${helper} acquires a reference: keep it in a const of its own (const sk = helpers.${helper.slice(4)}(...)), check it for null and release it with helpers.${ACQUIRES[helper]!.slice(4)}(sk) on every path`,
      );
    let ref: number | undefined;
    for (const v of vals) {
      const t = this.valType(v);
      if (t?.kind === "kptr" && t.ref !== undefined) ref = t.ref;
    }
    const v = this.callWith(vals, call(helper), U64, e);
    if (acquired)
      ref = this.acquire(
        e,
        `the socket helpers.${helper.slice(4)} acquired`,
        `helpers.${ACQUIRES[helper]!.slice(4)}(...)`,
        helper,
      );
    const t: Type = {
      kind: "kptr",
      id,
      direct: true,
      what: `struct ${struct} *`,
      nullable: helper !== "bpf_get_current_task_btf",
      ...(ref === undefined ? {} : { ref }),
      ...(acquired ? { acquired } : {}),
    };
    return { ...(v as { k: "reg"; r: number; temp: boolean }), k: "reg", t };
  }

  /** A key or value argument: written to the stack, passed as its address. */
  private toStack(e: B.Expression, layout: Layout, what: string): Val {
    if (layout.kind !== "int") {
      const whole = this.wholeObject(e, layout, what);
      if (whole !== undefined) return whole;
    }
    const off = this.alloc(layout.size, e);
    if (layout.kind === "int") {
      const v = this.convert(this.expr(e, layout.type), layout.type, e);
      const size = SIZE[layout.type.bits]!;
      if (v.k === "imm" && fitsS32(v.v)) this.emit(st(size, R10, off, Number(v.v)));
      else {
        const { r, temp } = this.inReg(v, e);
        this.emit(stx(size, R10, off, register(r)));
        if (temp) this.freeTemps.add(r);
      }
      return { k: "addr", off };
    }
    if (layout.kind !== "struct" || e.type !== "ObjectExpression")
      return this.m.fail(
        e,
        `write the ${what} as an object literal with the fields ${layout.kind === "struct" ? [...layout.fields.keys()].join(", ") : ""}, or pass a local of its type`,
      );
    for (let i = 0; i < layout.size; ) {
      const rest = layout.size - i;
      const n = rest >= 8 ? 8 : rest >= 4 ? 4 : rest >= 2 ? 2 : 1;
      this.emit(st(SIZE[n * 8]!, R10, off + i, 0));
      i += n;
    }
    this.writeLiteral(off, layout, e, what);
    return { k: "addr", off };
  }

  /** A stack object or a map value passed whole as a key, value or record: its address, if it is one. */
  private wholeObject(e: B.Expression, layout: Layout, what: string): Val | undefined {
    if (e.type !== "Identifier" && e.type !== "MemberExpression") return undefined;
    if (e.type === "Identifier") {
      const l = this.lookupLocal(e.name);
      if (l === undefined || (l.type.kind !== "stack" && l.type.kind !== "ptr")) return undefined;
    }
    const region = this.regionOf(e, false);
    if (region === undefined) return undefined;
    if (region.guard !== undefined) this.m.fail(e, `pass the ${what} with constant indexes`);
    if (region.layout.size !== layout.size)
      this.m.fail(
        e,
        `this is ${region.layout.size} bytes (${layoutName(region.layout)}); the ${what} is ${layout.size} (${layoutName(layout)})`,
      );
    return region.addr;
  }

  private mapCall(e: B.CallExpression, map: MapDecl, method: string, args: B.Expression[]): Val {
    const mapVal = (): Val => {
      const r = this.temp(e);
      this.emit(ldMapFd(register(r), map.ref));
      return { k: "reg", r, t: U64, temp: true };
    };
    const arity = (n: number, m = n) => {
      if (args.length < n || args.length > m)
        this.m.fail(
          e,
          `${map.name}.${method} takes ${n === m ? n : `${n} or ${m}`} arguments, got ${args.length}`,
        );
    };
    const savedTop = this.stackTop;
    const isRing = map.type === "ringbuf";
    if ((isRing || map.type === "perf_event_array") && ["lookup", "update", "delete"].includes(method))
      this.m.fail(
        e,
        `${map.name} is a ${map.type}: use output()${isRing ? ", or reserve() and submit()" : ""}`,
      );
    try {
      switch (method) {
        case "lookup": {
          arity(1);
          const key = this.toStack(args[0]!, map.key, "key");
          const m = mapVal();
          const v = this.callWith([m, key], call("bpf_map_lookup_elem"), U64, e);
          const t: PointerType = { kind: "ptr", to: map.value, nullable: true, what: `entry of ${map.name}` };
          return { ...(v as { k: "reg"; r: number; temp: boolean }), k: "reg", t };
        }
        case "update": {
          arity(2, 3);
          const key = this.toStack(args[0]!, map.key, "key");
          const value = this.toStack(args[1]!, map.value, "value");
          const flags = args[2]
            ? this.convert(this.expr(args[2], U64), U64, args[2])
            : ({ k: "imm", v: 0n, t: U64 } as Val);
          const m = mapVal();
          return this.callWith([m, key, value, flags], call("bpf_map_update_elem"), I64, e);
        }
        case "delete": {
          arity(1);
          const key = this.toStack(args[0]!, map.key, "key");
          const m = mapVal();
          return this.callWith([m, key], call("bpf_map_delete_elem"), I64, e);
        }
        case "forEach": {
          arity(1, 2);
          const fn = args[0]!;
          if (fn.type !== "ArrowFunctionExpression" && fn.type !== "FunctionExpression")
            return this.m.fail(
              fn,
              `${map.name}.forEach takes an arrow function (key, value, state) => 0 to go on, 1 to stop`,
            );
          const key: Type = { kind: "ptr", to: map.key, nullable: false, what: `key of ${map.name}` };
          const value: Type = { kind: "ptr", to: map.value, nullable: false, what: `entry of ${map.name}` };
          const cb = this.callbackArg(fn, [U64, key, value, this.stateType(args[1])], 1);
          const state =
            args[1] === undefined ? ({ k: "imm", v: 0n, t: U64 } as Val) : this.expr(args[1], U64);
          const m = mapVal();
          return this.callWith(
            [m, cb, state, { k: "imm", v: 0n, t: U64 }],
            call("bpf_for_each_map_elem"),
            I64,
            e,
          );
        }
        case "reserve": {
          if (!isRing) this.m.fail(e, `${map.name} is a ${map.type} map; reserve() is for ring buffers`);
          arity(0);
          const m = mapVal();
          const v = this.callWith(
            [m, { k: "imm", v: BigInt(map.value.size), t: U64 }, { k: "imm", v: 0n, t: U64 }],
            call("bpf_ringbuf_reserve"),
            U64,
            e,
          );
          if (e !== this.topCall)
            this.m.fail(
              e,
              `${map.name}.reserve() gives a record to submit or discard on every path: keep it in a const of its own (const r = ${map.name}.reserve())`,
            );
          const ref = this.acquire(
            e,
            `the record ${map.name}.reserve() reserved`,
            `${map.name}.submit(r) or ${map.name}.discard(r)`,
          );
          const t: PointerType = {
            kind: "ptr",
            to: map.value,
            nullable: true,
            what: `record of ${map.name}`,
            ref,
            acquired: true,
          };
          return { ...(v as { k: "reg"; r: number; temp: boolean }), k: "reg", t };
        }
        case "submit":
        case "discard": {
          if (!isRing) this.m.fail(e, `${map.name} is a ${map.type} map; ${method}() is for ring buffers`);
          arity(1, 2);
          const rec = this.expr(args[0]!, undefined);
          const rt = this.valType(rec);
          if (rt?.kind !== "ptr" || !rt.what.startsWith("record of"))
            this.m.fail(args[0]!, `${method}() takes a record from ${map.name}.reserve()`);
          if (rt?.kind === "ptr" && rt.nullable)
            this.m.fail(
              args[0]!,
              "this record may be null (the ring buffer may be full): check it first, e.g. `if (r === null) return 0;`",
            );
          if (e !== this.topCall)
            this.m.fail(e, `${method} a record in a statement of its own: \`${map.name}.${method}(r);\``);
          const flags = args[1]
            ? this.convert(this.expr(args[1], U64), U64, args[1])
            : ({ k: "imm", v: 0n, t: U64 } as Val);
          const done = this.callWith([rec, flags], call(`bpf_ringbuf_${method}`), undefined, e);
          if (rt?.kind === "ptr" && rt.ref !== undefined) this.released(rt.ref, e);
          return done;
        }
        case "output": {
          if (map.type === "perf_event_array") {
            arity(1, 2);
            const ctxLocal = this.contextLocal();
            if (ctxLocal === undefined)
              return this.m.fail(
                e,
                "perf event output needs the program's context: call it in the program's own body",
              );
            const value = this.toStack(args[0]!, map.value, "record");
            const flags = args[1]
              ? this.convert(this.expr(args[1], U64), U64, args[1])
              : ({ k: "imm", v: 0xffffffffn, t: U64 } as Val);
            const c = this.readLocal(ctxLocal, e);
            const m = mapVal();
            return this.callWith(
              [c, m, flags, value, { k: "imm", v: BigInt(map.value.size), t: U64 }],
              call("bpf_perf_event_output"),
              I64,
              e,
            );
          }
          if (!isRing)
            this.m.fail(
              e,
              `${map.name} is a ${map.type} map; output() is for ring buffers and perf event arrays`,
            );
          arity(1, 2);
          const value = this.toStack(args[0]!, map.value, "record");
          const flags = args[1]
            ? this.convert(this.expr(args[1], U64), U64, args[1])
            : ({ k: "imm", v: 0n, t: U64 } as Val);
          const m = mapVal();
          return this.callWith(
            [m, value, { k: "imm", v: BigInt(map.value.size), t: U64 }, flags],
            call("bpf_ringbuf_output"),
            I64,
            e,
          );
        }
        default:
          return this.m.fail(
            e.callee,
            `maps have lookup, update, delete; ring buffers output, reserve, submit and discard; perf event arrays output; not '${method}'`,
          );
      }
    } finally {
      this.stackTop = savedTop;
    }
  }

  private atomicAdd(e: B.CallExpression, args: B.Expression[]): Val {
    if (args.length !== 2) this.m.fail(e, "atomicAdd(entry.field, value) takes 2 arguments");
    const target = args[0]!;
    if (target.type !== "MemberExpression")
      return this.m.fail(target, "atomicAdd's first argument is a field of a map entry");
    const place = this.member(target);
    if (place.k !== "mem" || !place.writable)
      return this.m.fail(target, "atomicAdd needs a writable field of a map entry");
    if (place.type.bits < 32) this.m.fail(target, "atomic add works on 32- and 64-bit fields only");
    const v = this.convert(this.expr(args[1]!, place.type), place.type, args[1]!);
    const rv = this.inReg(v, args[1]!);
    const base = this.inReg(place.base, target);
    this.emit(atomic.add(place.type.bits === 64 ? "dw" : "w", register(base.r), place.off, register(rv.r)));
    if (rv.temp) this.freeTemps.add(rv.r);
    if (base.temp) this.freeTemps.add(base.r);
    if (place.guard !== undefined) this.place(place.guard);
    return { k: "imm", v: 0n, t: I64 };
  }

  /** ctx.u8/u16/u32/be16/be32(offset): the value, or null (all ones) past the packet's end. */
  private packetRead(e: B.CallExpression, ctxLocal: Local, method: string, args: B.Expression[]): Val {
    const spec = PACKET_READS[method];
    if (spec === undefined || this.ctx === undefined)
      return this.m.fail(
        e.callee,
        `the context has no method '${method}' (packet reads: u8, u16, u32, be16, be32)`,
      );
    if (args.length !== 1) this.m.fail(e, `ctx.${method}(offset) takes 1 argument`);
    const bytes = spec.type.bits / 8;
    const size = SIZE[spec.type.bits]!;
    const offArg = args[0]!;
    const constOff = this.constantValue(offArg);
    const access = this.ctx.packet;
    const missing = this.newLabel("short");
    const done = this.newLabel("read");
    const result: IntType = spec.type;
    if (access.kind === "none") return this.m.fail(e, "this program type has no packet");
    if (constOff !== undefined && (constOff < 0n || constOff > 0xffffn))
      this.m.fail(offArg, "a packet offset is 0..65535");
    if (access.kind === "direct") {
      const ctxv = this.readLocal(ctxLocal, e);
      const c = this.inReg(ctxv, e);
      const p = this.temp(e);
      const end = this.temp(e);
      this.emit(ldx("w", register(p), register(c.r), access.data));
      this.emit(ldx("w", register(end), register(c.r), access.end));
      if (c.temp) this.freeTemps.add(c.r);
      let off = 0;
      if (constOff !== undefined) off = Number(constOff);
      else {
        const ov = this.convert(this.expr(offArg, U32), U64, offArg);
        const o = this.inReg(ov, offArg);
        this.jump(jgt(register(o.r), 0xffff, missing), missing);
        this.emit(add(register(p), register(o.r)));
        if (o.temp) this.freeTemps.add(o.r);
      }
      const probe = this.temp(e);
      this.emit(mov(register(probe), register(p)));
      this.emit(add(register(probe), off + bytes));
      this.jump(jgt(register(probe), register(end), missing), missing);
      this.freeTemps.add(probe);
      this.freeTemps.add(end);
      this.emit(ldx(size, register(p), register(p), off));
      if (spec.swap) this.emit((spec.type.bits === 16 ? be16 : be32)(register(p)));
      this.jump(ja(done), done, true);
      this.place(missing);
      this.emit(mov(register(p), -1));
      this.place(done);
      return { k: "reg", r: p, t: { kind: "maybe", type: result }, temp: true };
    }
    // bpf_skb_load_bytes(ctx, offset, buf, len) into a stack slot
    const savedTop = this.stackTop;
    const slot = this.alloc(8, e);
    const ctxv = this.readLocal(ctxLocal, e);
    const offv = this.convert(this.expr(offArg, U32), U32, offArg);
    const ret = this.callWith(
      [ctxv, offv, { k: "addr", off: slot }, { k: "imm", v: BigInt(bytes), t: U32 }],
      call("bpf_skb_load_bytes"),
      I64,
      e,
    );
    const r = (ret as { r: number }).r;
    this.jump(jne(register(r), 0, missing), missing);
    this.emit(ldx(size, register(r), R10, slot));
    if (spec.swap) this.emit((spec.type.bits === 16 ? be16 : be32)(register(r)));
    this.jump(ja(done), done, true);
    this.place(missing);
    this.emit(mov(register(r), -1));
    this.place(done);
    this.stackTop = savedTop;
    return { k: "reg", r, t: { kind: "maybe", type: result }, temp: true };
  }
}

/** Constant arithmetic with the same semantics as the generated code. */
function constantArith(op: string, a: bigint, b: bigint, t: IntType, node: B.Node, m: ModuleScope): bigint {
  const x = wrapTo(a, t);
  const y = wrapTo(b, t);
  const bits = BigInt(t.bits);
  switch (op) {
    case "+":
      return wrapTo(x + y, t);
    case "-":
      return wrapTo(x - y, t);
    case "*":
      return wrapTo(x * y, t);
    case "/":
      return y === 0n ? 0n : wrapTo(x / y, t);
    case "%":
      return y === 0n ? x : wrapTo(x % y, t);
    case "&":
      return wrapTo(x & y, t);
    case "|":
      return wrapTo(x | y, t);
    case "^":
      return wrapTo(x ^ y, t);
    case "<<":
      return wrapTo(x << (BigInt.asUintN(64, b) & (bits - 1n)), t);
    case ">>":
      return wrapTo(x >> (BigInt.asUintN(64, b) & (bits - 1n)), t);
    case ">>>":
      return wrapTo(BigInt.asUintN(t.bits, x) >> (BigInt.asUintN(64, b) & (bits - 1n)), t);
    default:
      return m.fail(node, `operator '${op}' is not supported on integers`);
  }
}

/** The identifiers under `node` that name something (not property names or object keys). */
function references(node: B.Node): B.Identifier[] {
  const out: B.Identifier[] = [];
  const visit = (n: B.Node): void => {
    if (n.type === "Identifier") {
      out.push(n);
      return;
    }
    if (n.type === "MemberExpression" && !n.computed) {
      visit(n.object);
      return;
    }
    if (n.type === "ObjectProperty" && !n.computed) {
      visit(n.value);
      return;
    }
    for (const key of Object.keys(n)) {
      if (
        key === "loc" ||
        key === "start" ||
        key === "end" ||
        key.endsWith("Comments") ||
        key === "typeAnnotation"
      )
        continue;
      const child = (n as unknown as Record<string, unknown>)[key];
      if (Array.isArray(child)) {
        for (const c of child)
          if (c && typeof c === "object" && typeof (c as B.Node).type === "string") visit(c as B.Node);
      } else if (child && typeof child === "object" && typeof (child as B.Node).type === "string")
        visit(child as B.Node);
    }
  };
  visit(node);
  return out;
}

/** The object at the start of a chain of member expressions. */
function rootOf(e: B.Expression): B.Expression {
  let cur = e;
  while (cur.type === "MemberExpression") cur = cur.object;
  return cur;
}

/** Visits every node under `node`. */
export function walk(node: B.Node, visit: (n: B.Node) => void): void {
  visit(node);
  for (const key of Object.keys(node)) {
    if (key === "loc" || key === "start" || key === "end" || key.endsWith("Comments")) continue;
    const child = (node as unknown as Record<string, unknown>)[key];
    if (Array.isArray(child)) {
      for (const c of child)
        if (c && typeof c === "object" && typeof (c as B.Node).type === "string") walk(c as B.Node, visit);
    } else if (child && typeof child === "object" && typeof (child as B.Node).type === "string") {
      walk(child as B.Node, visit);
    }
  }
}

/** Whether `node` assigns to the name `name` anywhere. */
function assigns(node: B.Node, name: string): boolean {
  let found = false;
  walk(node, (n) => {
    if (n.type === "AssignmentExpression" && n.left.type === "Identifier" && n.left.name === name)
      found = true;
    if (n.type === "UpdateExpression" && n.argument.type === "Identifier" && n.argument.name === name)
      found = true;
  });
  return found;
}
