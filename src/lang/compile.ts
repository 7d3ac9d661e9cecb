/**
 * The compiler's entry: a module's source to its programs. Passes: parse (Babel), collect the
 * module's declarations (programs, maps, functions, constants), compile each program and the
 * functions it calls, check recursion and stack depth, lay out with the ISA builder, and attach
 * line info pointing at the TypeScript source.
 */
import type * as B from "@babel/types";
import type { Btf } from "../btf/decode.js";
import { vmlinuxBtf } from "../btf/vmlinux.js";
import type { BuiltProgram } from "../isa/builder/program.js";
import { ProgramBuilder } from "../isa/builder/program.js";
import { LD_IMM64 } from "../isa/insn.js";
import { rawTracepointContext } from "./btfctx.js";
import { CompileError } from "./errors.js";
import {
  type CallbackParam,
  FunctionCompiler,
  type FunctionDecl,
  type Item,
  type KfuncPrototype,
  type MapDecl,
  type ModuleScope,
  STACK_LIMIT,
} from "./function.js";
import { CONTEXTS } from "./kernel.js";
import { optimize } from "./optimize.js";
import { parseModule } from "./parse.js";
import { relaxFarJumps } from "./relax.js";
import {
  ptRegsContext,
  readTracefsFormat,
  type TracepointFormatReader,
  tracepointContext,
} from "./tracefs.js";
import {
  arrayLayout,
  I8,
  I16,
  I32,
  I64,
  INT_TYPES,
  type IntType,
  intLayout,
  type Layout,
  type StructLayout,
  structLayout,
  U8,
  U16,
  U32,
  U64,
} from "./types.js";

/** Options of {@link compile}. */
export interface CompileOptions {
  /** the file name shown in errors and line info (default "program.ts") */
  file?: string;
  /** compile only this program (by its exported name) */
  program?: string;
  /** reads a tracepoint's format file (default: the running kernel's tracefs) */
  tracepointFormat?: TracepointFormatReader;
  /** the architecture whose pt_regs kprobe and uprobe programs read (default: this one) */
  arch?: string;
  /** the kernel BTF kfuncs are looked up in (default: the running kernel's vmlinux) */
  btf?: () => Btf;
  /** run the optimizer over each function (default true; see docs/language.md, "Code size") */
  optimize?: boolean;
}

/** A source line of an instruction, as `Program.load` reads `lineInfo`. */
export interface CompiledLine {
  /** instruction slot */
  readonly slot: number;
  readonly file: string;
  /** 1-based */
  readonly line: number;
  /** 1-based */
  readonly column: number;
  readonly text: string;
}

/** A field of a configuration map's value (`config({...})`), for {@link configValue}. */
export interface ConfigField {
  readonly name: string;
  readonly offset: number;
  /** 1, 2, 4 or 8 */
  readonly size: number;
  readonly signed: boolean;
}

/**
 * A map the compiled programs use; create it with `BpfMap.create(spec)` and pass it by name.
 * A read-only map (the string constants, a `config({...})`) says what to store under key 0
 * before loading (`contents`, or {@link configValue} for a config) and that it must then be
 * frozen (`freeze`).
 */
export interface CompiledMap {
  readonly name: string;
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: readonly string[];
  /** the value to store under key 0 before loading (the string constants' map) */
  readonly contents?: Uint8Array;
  /** freeze the map (BPF_MAP_FREEZE) after storing its value, before loading the programs */
  readonly freeze?: boolean;
  /** a configuration map: its fields, to encode the value with {@link configValue} */
  readonly config?: readonly ConfigField[];
}

/** The name of the map that holds a module's string constants (`strncmp(s, "needle")`). */
export const STRINGS_MAP = "rodata_str";

export { configValue } from "./config.js";

/** One compiled program: what `Program.load({ instructions })` takes, plus its type and lines. */
export interface CompiledProgram extends BuiltProgram {
  /** the exported name */
  readonly name: string;
  /** the program type, as bpftool spells it (`tracepoint`, `kprobe` for kprobes and uprobes) */
  readonly type: string;
  /**
   * where the program attaches, from its declaration: `program("tracepoint/syscalls/sys_enter_openat", ...)`
   * gives `syscalls/sys_enter_openat`; `program("uprobe/libc.so.6:malloc", ...)` gives `libc.so.6:malloc`
   */
  readonly attachTo?: string;
  /** tp_btf programs: the attach type the load names (`trace_raw_tp`) */
  readonly expectedAttachType?: string;
  /** tp_btf programs: the BTF id (in the kernel's vmlinux) of the tracepoint's `btf_trace_NAME` */
  readonly attachBtfId?: number;
  /** a source line per statement */
  readonly lineInfo: readonly CompiledLine[];
  /** names of the maps it refers to (pass them as `maps` to `Program.load`) */
  readonly maps: readonly string[];
  /** stack bytes of the main function */
  readonly stackSize: number;
}

/** Everything a module compiles to. */
export interface CompiledModule {
  readonly file: string;
  readonly programs: readonly CompiledProgram[];
  readonly maps: readonly CompiledMap[];
}

const CODEC_INTS: Record<string, IntType> = {
  u8: U8,
  u16: U16,
  u32: U32,
  u64: U64,
  u64n: U64,
  i8: I8,
  i16: I16,
  i32: I32,
  i64: I64,
  bool: U8,
};

interface ProgramDecl {
  readonly name: string;
  readonly type: string;
  readonly fn: B.ArrowFunctionExpression | B.FunctionExpression;
  readonly node: B.Node;
}

/** Compiles the programs of a TypeScript module (see docs/language.md). */
export function compile(source: string, options: CompileOptions = {}): CompiledModule {
  const file = options.file ?? "program.ts";
  const ast = parseModule(source, file);
  const fail = (node: B.Node | null | undefined, reason: string): never => {
    throw new CompileError(reason, file, source, node?.loc?.start);
  };
  const lines = source.split("\n");

  // ---- collect the module's declarations
  const programs: ProgramDecl[] = [];
  const maps = new Map<string, MapDecl>();
  const functions = new Map<string, FunctionDecl>();
  const constants = new Map<string, bigint>();
  const codecs = new Map<string, Layout>();
  const configs = new Map<string, MapDecl>();
  const stringConstants = new Map<string, string>();
  // string constants: NUL-terminated, one after the other in the one value of a read-only map
  const strings = new Map<string, number>();
  const stringBytes: number[] = [];
  const stringsRef = Object.freeze({ name: STRINGS_MAP });

  const layoutOf = (e: B.Node): Layout => {
    if (e.type === "Identifier") {
      const int = CODEC_INTS[e.name];
      if (int) return intLayout(int);
      const named = codecs.get(e.name);
      if (named) return named;
      return fail(
        e,
        `'${e.name}' is not a codec the compiler knows (u8..u64, i8..i64, struct, array, bytes, cstring)`,
      );
    }
    if (e.type === "CallExpression" && e.callee.type === "Identifier") {
      const args = e.arguments;
      const num = (a: B.Node | undefined): number => {
        const v =
          a?.type === "Identifier"
            ? constants.get(a.name)
            : a?.type === "NumericLiteral"
              ? BigInt(a.value)
              : undefined;
        if (v === undefined) return fail(a ?? e, "expected a constant number");
        return Number(v);
      };
      switch (e.callee.name) {
        case "struct": {
          const obj = args[0];
          if (obj?.type !== "ObjectExpression")
            return fail(e, "struct({ name: codec, ... }) takes an object literal");
          const fields: [string, Layout][] = [];
          for (const p of obj.properties) {
            if (p.type !== "ObjectProperty" || p.key.type !== "Identifier")
              return fail(p, "a struct field is `name: codec`");
            fields.push([p.key.name, layoutOf(p.value)]);
          }
          return structLayout(fields);
        }
        case "array":
          return arrayLayout(layoutOf(args[0] ?? e), num(args[1]));
        case "bytes":
        case "cstring":
          return arrayLayout(intLayout(U8), num(args[0]));
      }
    }
    return fail(
      e,
      "expected a codec: u8..u64, i8..i64, struct({...}), array(codec, n), bytes(n) or cstring(n)",
    );
  };

  const mapDecl = (name: string, call: B.CallExpression): MapDecl => {
    const [typeArg, specArg] = call.arguments;
    if (typeArg?.type !== "StringLiteral")
      return fail(call, 'map(type, spec) takes the map type as a string: map("hash", {...})');
    if (specArg?.type !== "ObjectExpression")
      return fail(call, "map(type, spec) takes the spec as an object literal");
    let key: Layout | undefined;
    let value: Layout | undefined;
    let maxEntries: number | undefined;
    const flags: string[] = [];
    for (const p of specArg.properties) {
      if (p.type !== "ObjectProperty" || p.key.type !== "Identifier")
        return fail(p, "write the spec's fields as `name: value`");
      const v = p.value as B.Expression;
      switch (p.key.name) {
        case "key":
          key = layoutOf(v);
          break;
        case "value":
          value = layoutOf(v);
          break;
        case "maxEntries": {
          const n =
            v.type === "NumericLiteral"
              ? BigInt(v.value)
              : v.type === "Identifier"
                ? constants.get(v.name)
                : undefined;
          if (n === undefined) return fail(v, "maxEntries must be a constant number");
          maxEntries = Number(n);
          break;
        }
        case "flags":
          if (v.type !== "ArrayExpression")
            return fail(v, 'flags are an array of names: ["BPF_F_NO_PREALLOC"]');
          for (const el of v.elements) {
            if (el?.type !== "StringLiteral") return fail(el ?? v, "a flag is a string");
            flags.push(el.value);
          }
          break;
        default:
          return fail(p.key, `unknown map spec field '${p.key.name}' (key, value, maxEntries, flags)`);
      }
    }
    const type = typeArg.value;
    if (maxEntries === undefined) return fail(specArg, "the map needs maxEntries");
    const none = arrayLayout(intLayout(U8), 0);
    if (type === "perf_event_array") {
      if (value === undefined)
        return fail(
          specArg,
          "a perf event array here needs `value: <record codec>` (the record output() writes)",
        );
      // the kernel's map holds 4-byte descriptors; the codec is the record's
      return {
        name,
        type,
        key: intLayout(U32),
        value,
        maxEntries,
        flags,
        ref: Object.freeze({ name }),
        record: true,
      };
    }
    if (type === "ringbuf") {
      if (value === undefined)
        return fail(
          specArg,
          "a ring buffer map here needs `value: <record codec>` (the record output() writes)",
        );
      return { name, type, key: none, value, maxEntries, flags, ref: Object.freeze({ name }), record: true };
    }
    if (key === undefined || value === undefined) return fail(specArg, "the map needs key and value codecs");
    return { name, type, key, value, maxEntries, flags, ref: Object.freeze({ name }) };
  };

  const signature = (fn: B.FunctionDeclaration): FunctionDecl => {
    const name = fn.id!.name;
    const params = fn.params.map((p) => {
      if (p.type !== "Identifier") return fail(p, "parameters are plain names with an integer type");
      const a = p.typeAnnotation;
      if (a?.type !== "TSTypeAnnotation")
        return fail(p, `parameter '${p.name}' needs an integer type (u32, i64...)`);
      return { name: p.name, type: intTypeOf(a.typeAnnotation) };
    });
    if (params.length > 5) fail(fn, `${name} has ${params.length} parameters; BPF functions take at most 5`);
    const r = fn.returnType;
    const returns = r?.type === "TSTypeAnnotation" ? intTypeOf(r.typeAnnotation) : I64;
    return { name, node: fn, params, returns };
  };

  const intTypeOf = (t: B.TSType): IntType => {
    if (t.type === "TSNumberKeyword") return I64;
    if (t.type === "TSTypeReference" && t.typeName.type === "Identifier") {
      const found = INT_TYPES.get(t.typeName.name);
      if (found) return found;
    }
    return fail(t, "expected an integer type: u8, u16, u32, u64, i8, i16, i32, i64 or number");
  };

  for (const top of ast.program.body) {
    const stmt = top.type === "ExportNamedDeclaration" && top.declaration ? top.declaration : top;
    if (stmt.type === "FunctionDeclaration" && stmt.id) {
      functions.set(stmt.id.name, { name: stmt.id.name, node: stmt, params: [], returns: I64 });
      continue;
    }
    if (stmt.type !== "VariableDeclaration") continue;
    for (const d of stmt.declarations) {
      if (d.id.type !== "Identifier" || !d.init) continue;
      const name = d.id.name;
      let init = d.init;
      while (init.type === "TSAsExpression" || init.type === "TSSatisfiesExpression") init = init.expression;
      if (init.type === "StringLiteral" && stmt.kind === "const") {
        stringConstants.set(name, init.value);
        continue;
      }
      if (init.type === "NumericLiteral" && stmt.kind === "const") {
        if (Number.isInteger(init.value)) constants.set(name, BigInt(init.value));
        continue;
      }
      if (
        init.type === "UnaryExpression" &&
        init.operator === "-" &&
        init.argument.type === "NumericLiteral" &&
        stmt.kind === "const"
      ) {
        if (Number.isInteger(init.argument.value)) constants.set(name, -BigInt(init.argument.value));
        continue;
      }
      if (init.type !== "CallExpression" || init.callee.type !== "Identifier") continue;
      const callee = init.callee.name;
      if (callee === "program") {
        const [typeArg, fn] = init.arguments;
        if (typeArg?.type !== "StringLiteral")
          fail(init, 'program(type, fn) takes the program type as a string: program("xdp", (ctx) => ...)');
        if (fn?.type !== "ArrowFunctionExpression" && fn?.type !== "FunctionExpression")
          fail(init, "program(type, fn) takes the program as an arrow function of the context");
        programs.push({
          name,
          type: (typeArg as B.StringLiteral).value,
          fn: fn as B.ArrowFunctionExpression,
          node: d,
        });
      } else if (callee === "map") {
        maps.set(name, mapDecl(name, init));
      } else if (callee === "config") {
        const arg = init.arguments[0];
        if (init.arguments.length !== 1 || arg?.type !== "ObjectExpression")
          fail(init, "config({ name: codec, ... }) takes an object literal of integer codecs");
        const value = layoutOf({ ...init, callee: { ...init.callee, name: "struct" } } as B.CallExpression);
        if (value.kind !== "struct") fail(init, "config({...}) is a struct");
        for (const [fname, f] of (value as StructLayout).fields)
          if (f.layout.kind !== "int")
            fail(arg, `config field '${fname}' must be an integer (u8..u64, i8..i64)`);
        if (name.length > 15)
          fail(
            d.id,
            `a config's name is its map's name: at most 15 characters, '${name}' has ${name.length}`,
          );
        configs.set(name, {
          name,
          type: "array",
          key: intLayout(U32),
          value,
          maxEntries: 1,
          flags: ["BPF_F_RDONLY_PROG"],
          ref: Object.freeze({ name }),
        });
      } else if (callee === "struct" || callee === "array" || callee === "bytes" || callee === "cstring") {
        codecs.set(name, layoutOf(init));
      }
    }
  }
  for (const [name, f] of functions) {
    try {
      functions.set(name, signature(f.node));
    } catch (e) {
      // a function the programs never call may be ordinary JavaScript: it is reported when called
      functions.set(name, { ...f, params: [{ name: "?", type: I64 }], returns: I64, bad: e } as FunctionDecl);
    }
  }

  const chosen =
    options.program === undefined ? programs : programs.filter((p) => p.name === options.program);
  if (options.program !== undefined && chosen.length === 0) {
    throw new CompileError(
      `no program named '${options.program}' (programs: ${programs.map((p) => p.name).join(", ") || "none"})`,
      file,
      source,
      undefined,
    );
  }

  const compiled = chosen.map((p) => compileProgram(p));
  const usedMaps = new Set(compiled.flatMap((p) => p.maps));
  const specs: CompiledMap[] = [...maps.values()]
    .filter((m) => usedMaps.has(m.name))
    .map((m) => ({
      name: m.name,
      type: m.type,
      keySize: m.key.size,
      valueSize: m.record === true ? (m.type === "ringbuf" ? 0 : 4) : m.value.size,
      maxEntries: m.maxEntries,
      flags: m.flags,
    }));
  for (const c of configs.values()) {
    if (!usedMaps.has(c.name)) continue;
    const fields = [...(c.value as StructLayout).fields].map(([fname, f]) => {
      const t = (f.layout as { type: IntType }).type;
      return { name: fname, offset: f.offset, size: t.bits / 8, signed: t.signed };
    });
    specs.push({
      name: c.name,
      type: c.type,
      keySize: 4,
      valueSize: c.value.size,
      maxEntries: 1,
      flags: c.flags,
      freeze: true,
      config: fields,
    });
  }
  if (usedMaps.has(STRINGS_MAP))
    specs.push({
      name: STRINGS_MAP,
      type: "array",
      keySize: 4,
      valueSize: stringBytes.length,
      maxEntries: 1,
      flags: ["BPF_F_RDONLY_PROG"],
      contents: Uint8Array.from(stringBytes),
      freeze: true,
    });
  return { file, programs: compiled, maps: specs };

  function kernelBtf(): Btf {
    return options.btf?.() ?? vmlinuxBtf();
  }

  function compileProgram(p: ProgramDecl): CompiledProgram {
    const slash = p.type.indexOf("/");
    const kind = slash < 0 ? p.type : p.type.slice(0, slash);
    const attachTo = slash < 0 ? undefined : p.type.slice(slash + 1);
    let ctx = CONTEXTS.get(kind);
    let progType = kind;
    let tracing: { expectedAttachType: string; attachBtfId: number } | undefined;
    if (kind === "tracepoint") {
      const parts = attachTo?.split("/") ?? [];
      if (parts.length !== 2 || parts.some((x) => !/^[A-Za-z0-9_]+$/.test(x)))
        fail(
          p.node,
          'a tracepoint program names its tracepoint: program("tracepoint/syscalls/sys_enter_openat", (ctx) => ...)',
        );
      try {
        ctx = tracepointContext(parts[0]!, parts[1]!, options.tracepointFormat ?? readTracefsFormat);
      } catch (e) {
        fail(p.node, (e as Error).message);
      }
    } else if (kind === "raw_tp" || kind === "raw_tracepoint" || kind === "tp_btf") {
      if (attachTo === undefined || !/^[A-Za-z0-9_]+$/.test(attachTo))
        fail(
          p.node,
          `a ${kind} program names its tracepoint: program("${kind}/sched_process_exec", (ctx) => ...)`,
        );
      try {
        const r = rawTracepointContext(kernelBtf(), attachTo!, kind === "tp_btf");
        ctx = r.spec;
        if (kind === "tp_btf") {
          progType = "tracing";
          tracing = { expectedAttachType: "trace_raw_tp", attachBtfId: r.btfId };
        } else progType = "raw_tracepoint";
      } catch (e) {
        fail(p.node, (e as Error).message);
      }
    } else if (kind === "kprobe" || kind === "uprobe" || kind === "kretprobe" || kind === "uretprobe") {
      progType = "kprobe";
      try {
        ctx = ptRegsContext(options.arch);
      } catch (e) {
        fail(p.node, (e as Error).message);
      }
    } else if (attachTo !== undefined)
      fail(p.node, `'${kind}' programs take no attach point in their type ('${p.type}')`);
    if (ctx === undefined)
      fail(
        p.fn,
        `the compiler has no context type for '${p.type}' programs yet (it knows ${[...CONTEXTS.keys(), "tracepoint/CATEGORY/NAME", "kprobe", "uprobe", "kretprobe", "uretprobe"].join(", ")})`,
      );
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(p.name)) fail(p.node, `'${p.name}' is not a C identifier`);
    const calls = new Map<string, { callee: string; node: B.Node }[]>();
    const callbacks = new Map<
      string,
      { fn: B.ArrowFunctionExpression | B.FunctionExpression; params: readonly CallbackParam[] }
    >();
    const order: string[] = [p.name];
    const bodies = new Map<string, { items: Item[]; stack: number }>();
    let current = p.name;
    const scope: ModuleScope = {
      maps,
      functions,
      constants,
      codecs,
      configs,
      stringConstants,
      string(value) {
        let offset = strings.get(value);
        if (offset === undefined) {
          offset = stringBytes.length;
          for (const b of Buffer.from(value, "utf8")) stringBytes.push(b);
          stringBytes.push(0);
          strings.set(value, offset);
        }
        return { map: stringsRef, offset };
      },
      fail,
      called(name, node) {
        const list = calls.get(current) ?? [];
        list.push({ callee: name, node });
        calls.set(current, list);
        if (!order.includes(name)) order.push(name);
      },
      callback(fn, params) {
        const name = `${p.name}_cb${callbacks.size}`;
        if (functions.has(name)) fail(fn, `the callback's name ${name} is taken by a function`);
        callbacks.set(name, { fn, params });
        this.called(name, fn);
        return name;
      },
      kfunc(name) {
        return kfuncPrototype(kernelBtf(), name);
      },
      kernelBtf,
    };
    // main
    if (p.fn.params.length > 1) fail(p.fn.params[1], "a program takes one argument: its context");
    const main = new FunctionCompiler(scope, ctx);
    const ctxParam = p.fn.params[0];
    const params =
      ctxParam === undefined
        ? []
        : ctxParam.type === "Identifier"
          ? [{ name: ctxParam.name, type: { kind: "ctx" as const, name: ctx!.typeName }, node: ctxParam }]
          : fail(ctxParam, "the context parameter is a plain name");
    main.compileFunction(params, p.fn.body, I64, p.fn.body);
    bodies.set(p.name, { items: main.items, stack: main.maxStack });
    for (let i = 1; i < order.length; i++) {
      const name = order[i]!;
      const cb = callbacks.get(name);
      if (cb !== undefined) {
        current = name;
        const fc = new FunctionCompiler(scope, undefined);
        fc.compileFunction(cb.params, cb.fn.body, I64, cb.fn);
        bodies.set(name, { items: fc.items, stack: fc.maxStack });
        continue;
      }
      const decl = functions.get(name)!;
      const bad = (decl as { bad?: unknown }).bad;
      if (bad !== undefined) throw bad;
      if (functions.has(p.name) && name === p.name) fail(decl.node, "a function has the program's name");
      current = name;
      const fc = new FunctionCompiler(scope, undefined);
      fc.compileFunction(
        decl.params.map((q, j) => ({ name: q.name, type: q.type, node: decl.node.params[j]! })),
        decl.node.body,
        decl.returns,
        decl.node,
      );
      bodies.set(name, { items: fc.items, stack: fc.maxStack });
    }
    checkCalls(p.name, calls, bodies);

    // ---- lay out
    const b = new ProgramBuilder(p.name);
    const marks: { section: number; index: number; node: B.Node }[] = [];
    const usedMapNames = new Set<string>();
    const feed = (section: number, items: readonly Item[], builder: ProgramBuilder) => {
      let index = 0;
      for (const item of relaxFarJumps(options.optimize === false ? items : optimize(items))) {
        if (item.kind === "insn") {
          builder.emit(item.insn);
          if (item.insn.ref?.kind === "map") usedMapNames.add(item.insn.ref.name);
          index++;
        } else if (item.kind === "label") builder.label(item.name);
        else marks.push({ section, index, node: item.node });
      }
    };
    feed(0, bodies.get(p.name)!.items, b);
    order.slice(1).forEach((name, i) => {
      b.function(name, (fb) => feed(i + 1, bodies.get(name)!.items, fb));
    });
    const built = b.build();

    // ---- line info: the last mark before each instruction wins; slots count ld_imm64 twice
    const slotOf: number[] = [];
    let slot = 0;
    for (const insn of built.insns) {
      slotOf.push(slot);
      slot += insn.code === LD_IMM64 ? 2 : 1;
    }
    const bySlot = new Map<number, CompiledLine>();
    for (const mark of marks) {
      const fn = built.functions[mark.section]!;
      const index = fn.start + mark.index;
      const end =
        mark.section + 1 < built.functions.length
          ? built.functions[mark.section + 1]!.start
          : built.insns.length;
      if (index >= end) continue;
      const at = mark.node.loc?.start;
      if (!at) continue;
      const s = slotOf[index]!;
      bySlot.set(s, {
        slot: s,
        file,
        line: at.line,
        column: at.column + 1,
        text: (lines[at.line - 1] ?? "").trim(),
      });
    }
    const lineInfo = [...bySlot.values()].sort((x, y) => x.slot - y.slot);
    return {
      ...built,
      name: p.name,
      type: progType,
      ...(attachTo === undefined ? {} : { attachTo }),
      ...tracing,
      lineInfo,
      maps: [...usedMapNames],
      stackSize: bodies.get(p.name)!.stack,
    };
  }

  /** Refuses recursion and call chains whose stacks add up past the kernel's limit. */
  function checkCalls(
    root: string,
    calls: ReadonlyMap<string, readonly { callee: string; node: B.Node }[]>,
    bodies: ReadonlyMap<string, { stack: number }>,
  ): void {
    const path: string[] = [];
    const depth = (name: string): number => {
      const own = Math.ceil(Math.max(bodies.get(name)?.stack ?? 0, 1) / 32) * 32;
      let deepest = 0;
      path.push(name);
      for (const c of calls.get(name) ?? []) {
        if (path.includes(c.callee))
          fail(
            c.node,
            `recursion: ${[...path.slice(path.indexOf(c.callee)), c.callee].join(" → ")}; BPF functions cannot call themselves`,
          );
        deepest = Math.max(deepest, depth(c.callee));
      }
      path.pop();
      return own + deepest;
    };
    const total = depth(root);
    if (total > STACK_LIMIT) {
      const decl = programs.find((x) => x.name === root);
      fail(
        decl?.node,
        `the call chain from ${root} uses ${total} bytes of stack; the kernel allows ${STACK_LIMIT}`,
      );
    }
  }
}

/** A kfunc's prototype from BTF: its argument count, and what it returns. */
function kfuncPrototype(btf: Btf, name: string): KfuncPrototype | undefined {
  const id = btf.findId(name, "func");
  if (id === undefined) return undefined;
  const fn = btf.type(id);
  if (fn.kind !== "func") return undefined;
  const proto = btf.type(fn.type);
  if (proto.kind !== "func_proto") return undefined;
  const skip = (t: number): number => {
    let cur = t;
    for (;;) {
      const x = btf.type(cur);
      if (
        x.kind === "typedef" ||
        x.kind === "const" ||
        x.kind === "volatile" ||
        x.kind === "restrict" ||
        x.kind === "type_tag"
      )
        cur = x.type;
      else return cur;
    }
  };
  const intOf = (t: number): IntType | undefined => {
    const x = btf.type(skip(t));
    if (x.kind === "int") {
      const bits = x.size * 8;
      if (bits !== 8 && bits !== 16 && bits !== 32 && bits !== 64) return undefined;
      return INT_TYPES.get(`${x.signed ? "i" : "u"}${bits}`);
    }
    if (x.kind === "enum") return U32;
    return undefined;
  };
  let returns: KfuncPrototype["returns"];
  if (proto.returnType === 0) returns = undefined;
  else {
    const r = btf.type(skip(proto.returnType));
    if (r.kind === "ptr") {
      const to = intOf(r.type);
      returns = to === undefined ? U64 : { pointer: intLayout(to) };
    } else returns = intOf(proto.returnType) ?? I64;
  }
  return { args: proto.params.length, returns };
}
