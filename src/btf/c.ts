/**
 * The C printer: BTF as a C header that compiles, like `bpftool btf dump file X format c`
 * (vmlinux.h). Types come out in an order C accepts: a struct embedded by value is defined before
 * its container, one reached only through a pointer gets a forward declaration, typedefs follow
 * what they name. Duplicate names get a `___N` suffix, gaps in structs become padding bitfields,
 * packed structs get `__attribute__((packed))`, and records get `preserve_access_index` (CO-RE).
 *
 * The output is built in chunks and every type is visited a bounded number of times, so vmlinux
 * prints in well under a second.
 */
import type { Btf } from "./decode.js";
import { POINTER_SIZE } from "./decode.js";
import { BtfError } from "./errors.js";
import { Kind } from "./kinds.js";
import { Output } from "./output.js";

// module-local copies: plain constants, cheaper than property reads in hot loops
const K_ARRAY = Kind.ARRAY;
const K_CONST = Kind.CONST;
const K_DATASEC = Kind.DATASEC;
const K_DECL_TAG = Kind.DECL_TAG;
const K_ENUM = Kind.ENUM;
const K_ENUM64 = Kind.ENUM64;
const K_FLOAT = Kind.FLOAT;
const K_FUNC = Kind.FUNC;
const K_FUNC_PROTO = Kind.FUNC_PROTO;
const K_FWD = Kind.FWD;
const K_INT = Kind.INT;
const K_PTR = Kind.PTR;
const K_RESTRICT = Kind.RESTRICT;
const K_STRUCT = Kind.STRUCT;
const K_TYPEDEF = Kind.TYPEDEF;
const K_TYPE_TAG = Kind.TYPE_TAG;
const K_UNION = Kind.UNION;
const K_UNKN = Kind.UNKN;
const K_VAR = Kind.VAR;
const K_VOLATILE = Kind.VOLATILE;

const ORDERING = 1;
const ORDERED = 2;
const EMITTING = 1;
const EMITTED = 2;
const MAX_NESTING = 1000;

const TABS = "\t".repeat(64);
const indent = (level: number) => TABS.slice(0, Math.min(level, 64));

const PADS: readonly [string, number][] = [
  ["long", POINTER_SIZE * 8],
  ["int", 32],
  ["short", 16],
  ["char", 8],
];

/** Options of {@link formatC}. */
export interface CFormatOptions {
  /** include guard name (default `__VMLINUX_H__`) */
  readonly guard?: string;
  /** emit the `preserve_access_index` pragma (default true) */
  readonly preserveAccessIndex?: boolean;
}

class CPrinter {
  private readonly order: Uint8Array;
  private readonly emit: Uint8Array;
  private readonly fwdEmitted: Uint8Array;
  private readonly referenced: Uint8Array;
  private readonly resolved: Uint8Array;
  private readonly names: (string | undefined)[];
  private readonly typeNames = new Map<string, number>();
  private readonly identNames = new Map<string, number>();
  private readonly queue: number[] = [];
  private readonly stack: number[] = [];
  private readonly sink: Output;
  private depth = 0;
  private readonly aligns: Uint8Array;

  constructor(private readonly btf: Btf) {
    const n = btf.endId;
    this.order = new Uint8Array(n);
    this.emit = new Uint8Array(n);
    this.fwdEmitted = new Uint8Array(n);
    this.referenced = new Uint8Array(n);
    this.resolved = new Uint8Array(n);
    this.names = new Array(n).fill(undefined);
    let bytes = 0;
    for (let b: Btf | undefined = btf; b; b = b.base) bytes += b.bytes.length;
    const limit = 64 * bytes + (1 << 20);
    this.sink = new Output(
      Math.min(limit, bytes),
      limit,
      () =>
        new BtfError(
          `the C header would exceed ${limit} bytes, far more than this BTF's size warrants: ` +
            "anonymous types nested many times over, or huge padding gaps (malformed BTF?)",
        ),
    );
    this.aligns = new Uint8Array(n);
    this.markReferenced();
  }

  private put(s: string): void {
    this.sink.put(s);
  }

  text(): string {
    return this.sink.text();
  }

  private kind(id: number): number {
    return this.btf.kindOf(id);
  }

  private ref(id: number, from: number): number {
    return this.btf.checkId(id, from);
  }

  private markReferenced(): void {
    const b = this.btf;
    const r = this.referenced;
    for (let id = 1; id < b.endId; id++) {
      const k = b.kindOf(id);
      const n = b.vlenOf(id);
      switch (k) {
        case K_VOLATILE:
        case K_CONST:
        case K_RESTRICT:
        case K_PTR:
        case K_TYPEDEF:
        case K_FUNC:
        case K_VAR:
        case K_DECL_TAG:
        case K_TYPE_TAG:
          r[this.ref(b.sizeOrTypeOf(id), id)] = 1;
          break;
        case K_ARRAY:
          r[this.ref(b.extraWord(id, 0), id)] = 1;
          r[this.ref(b.extraWord(id, 1), id)] = 1;
          break;
        case K_STRUCT:
        case K_UNION:
          for (let i = 0; i < n; i++) r[this.ref(b.extraWord(id, 3 * i + 1), id)] = 1;
          break;
        case K_FUNC_PROTO:
          for (let i = 0; i < n; i++) r[this.ref(b.extraWord(id, 2 * i + 1), id)] = 1;
          break;
        case K_DATASEC:
          for (let i = 0; i < n; i++) r[this.ref(b.extraWord(id, 3 * i), id)] = 1;
          break;
      }
    }
  }

  /** Dumps one type (and whatever it needs first). */
  dumpType(id: number): void {
    this.queue.length = 0;
    this.orderType(id, false);
    for (const q of this.queue) this.emitType(q, 0);
  }

  private enter(id: number): void {
    if (++this.depth > MAX_NESTING) {
      throw new BtfError(`types nest deeper than ${MAX_NESTING} levels: a loop?`, { typeId: id });
    }
  }

  /** Returns 1 when the type is "strong" (needs a full definition), 0 when a forward declaration does. */
  private orderType(id: number, throughPtr: boolean): number {
    if (this.order[id] === ORDERED) return 1;
    const b = this.btf;
    const k = this.kind(id);
    const named = b.nameOffsetOf(id) !== 0;
    if (this.order[id] === ORDERING) {
      if ((k === K_STRUCT || k === K_UNION) && throughPtr && named) return 0;
      throw new BtfError("types contain each other by value: no C declaration order exists", { typeId: id });
    }
    this.enter(id);
    try {
      switch (k) {
        case K_UNKN: // void
          return 0;
        case K_INT:
        case K_FLOAT:
          this.order[id] = ORDERED;
          return 0;
        case K_PTR: {
          const r = this.orderType(this.ref(b.sizeOrTypeOf(id), id), true);
          this.order[id] = ORDERED;
          return r;
        }
        case K_ARRAY:
          return this.orderType(this.ref(b.extraWord(id, 0), id), false);
        case K_STRUCT:
        case K_UNION: {
          if (throughPtr && named) return 0;
          this.order[id] = ORDERING;
          const n = b.vlenOf(id);
          for (let i = 0; i < n; i++) this.orderType(this.ref(b.extraWord(id, 3 * i + 1), id), false);
          if (named) this.queue.push(id);
          this.order[id] = ORDERED;
          return 1;
        }
        case K_ENUM:
        case K_ENUM64:
        case K_FWD:
          if (named || !this.referenced[id]) this.queue.push(id);
          this.order[id] = ORDERED;
          return 1;
        case K_TYPEDEF: {
          const strong = this.orderType(this.ref(b.sizeOrTypeOf(id), id), throughPtr);
          if (throughPtr && !strong) return 0;
          this.queue.push(id);
          this.order[id] = ORDERED;
          return 1;
        }
        case K_VOLATILE:
        case K_CONST:
        case K_RESTRICT:
        case K_TYPE_TAG:
          return this.orderType(this.ref(b.sizeOrTypeOf(id), id), throughPtr);
        case K_FUNC_PROTO: {
          let strong = this.orderType(this.ref(b.sizeOrTypeOf(id), id), throughPtr) > 0;
          const n = b.vlenOf(id);
          for (let i = 0; i < n; i++) {
            if (this.orderType(this.ref(b.extraWord(id, 2 * i + 1), id), throughPtr) > 0) strong = true;
          }
          return strong ? 1 : 0;
        }
        default:
          this.order[id] = ORDERED;
          return 0;
      }
    } finally {
      this.depth--;
    }
  }

  private emitType(id: number, container: number): void {
    if (this.emit[id] === EMITTED) return;
    const b = this.btf;
    const k = this.kind(id);
    const topLevel = container === 0;
    if (this.emit[id] === EMITTING) {
      if (this.fwdEmitted[id]) return;
      if (k === K_STRUCT || k === K_UNION) {
        if (id === container) return;
        if (b.nameOffsetOf(id) === 0) return; // anonymous loop: nothing sensible to print
        this.structFwd(id);
        this.put(";\n\n");
        this.fwdEmitted[id] = 1;
      } else if (k === K_TYPEDEF) {
        if (!this.blocked(id)) {
          this.typedefDef(id, 0);
          this.put(";\n\n");
        }
        this.fwdEmitted[id] = 1;
      }
      return;
    }
    this.enter(id);
    try {
      switch (k) {
        case K_INT:
          this.emit[id] = EMITTED;
          break;
        case K_ENUM:
        case K_ENUM64:
          if (topLevel) {
            this.enumDef(id, 0);
            this.put(";\n\n");
          }
          this.emit[id] = EMITTED;
          break;
        case K_PTR:
        case K_VOLATILE:
        case K_CONST:
        case K_RESTRICT:
        case K_TYPE_TAG:
          this.emitType(b.sizeOrTypeOf(id), container);
          break;
        case K_ARRAY:
          this.emitType(b.extraWord(id, 0), container);
          break;
        case K_FWD:
          this.fwdDef(id);
          this.put(";\n\n");
          this.emit[id] = EMITTED;
          break;
        case K_TYPEDEF:
          this.emit[id] = EMITTING;
          this.emitType(b.sizeOrTypeOf(id), id);
          if (!this.fwdEmitted[id] && !this.blocked(id)) {
            this.typedefDef(id, 0);
            this.put(";\n\n");
          }
          this.emit[id] = EMITTED;
          break;
        case K_STRUCT:
        case K_UNION: {
          this.emit[id] = EMITTING;
          const named = b.nameOffsetOf(id) !== 0;
          if (topLevel || !named) {
            const n = b.vlenOf(id);
            const inner = named ? id : container;
            for (let i = 0; i < n; i++) this.emitType(b.extraWord(id, 3 * i + 1), inner);
          } else if (!this.fwdEmitted[id] && id !== container) {
            this.structFwd(id);
            this.put(";\n\n");
            this.fwdEmitted[id] = 1;
          }
          if (topLevel) {
            this.structDef(id, 0);
            this.put(";\n\n");
            this.emit[id] = EMITTED;
          } else {
            this.emit[id] = 0;
          }
          break;
        }
        case K_FUNC_PROTO: {
          this.emitType(b.sizeOrTypeOf(id), container);
          const n = b.vlenOf(id);
          for (let i = 0; i < n; i++) this.emitType(b.extraWord(id, 2 * i + 1), container);
          break;
        }
      }
    } finally {
      this.depth--;
    }
  }

  private blocked(id: number): boolean {
    return this.btf.nameOf(id) === "__builtin_va_list";
  }

  private resolveName(id: number, map: Map<string, number>): string {
    if (this.resolved[id]) return this.names[id]!;
    const b = this.btf;
    this.resolved[id] = 1;
    if (b.nameOffsetOf(id) === 0) return (this.names[id] = "");
    const name = b.nameOf(id);
    const k = this.kind(id);
    if (k === K_FWD || (k === K_ENUM && b.vlenOf(id) === 0)) return (this.names[id] = name);
    const dups = (map.get(name) ?? 0) + 1;
    map.set(name, dups);
    return (this.names[id] = dups > 1 ? `${name}___${dups}` : name);
  }

  private typeName(id: number): string {
    return this.resolveName(id, this.typeNames);
  }

  private identName(id: number): string {
    return this.resolveName(id, this.identNames);
  }

  private structFwd(id: number): void {
    const name = this.typeName(id);
    this.put(`${this.kind(id) === K_STRUCT ? "struct" : "union"}${name ? " " : ""}${name}`);
  }

  private fwdDef(id: number): void {
    this.put(`${this.btf.kindFlagOf(id) ? "union" : "struct"} ${this.typeName(id)}`);
  }

  private enumFwd(id: number): void {
    this.put(`enum ${this.typeName(id)}`);
  }

  private enumDef(id: number, level: number): void {
    const b = this.btf;
    const name = this.typeName(id);
    const n = b.vlenOf(id);
    this.put(`enum${name ? " " : ""}${name}`);
    if (n === 0) return;
    this.put(" {");
    const signed = b.kindFlagOf(id);
    const pad = indent(level + 1);
    const is64 = this.kind(id) === K_ENUM64;
    let high = false;
    for (let i = 0; i < n; i++) {
      const stride = is64 ? 3 : 2;
      const vname = b.string(b.extraWord(id, stride * i));
      const dups = (this.identNames.get(vname) ?? 0) + 1;
      this.identNames.set(vname, dups);
      const shown = dups > 1 ? `${vname}___${dups}` : vname;
      let value: string;
      if (is64) {
        const lo = b.extraWord(id, 3 * i + 1);
        const hi = b.extraWord(id, 3 * i + 2);
        if (hi !== 0) high = true;
        const u = (BigInt(hi) << 32n) | BigInt(lo);
        value = signed ? `${BigInt.asIntN(64, u)}LL` : `${u}ULL`;
      } else {
        const raw = b.extraWord(id, 2 * i + 1);
        value = String(signed ? raw | 0 : raw);
      }
      this.put("\n");
      this.put(pad);
      this.put(shown);
      this.put(" = ");
      this.put(value);
      this.put(",");
    }
    this.put(`\n${indent(level)}}`);
    const size = b.sizeOrTypeOf(id);
    if (size === 1) this.put(" __attribute__((mode(byte)))");
    else if (size === 8 && (!is64 || !high)) this.put(" __attribute__((mode(word)))");
  }

  private typedefDef(id: number, level: number): void {
    const b = this.btf;
    const name = this.identName(id);
    const target = b.sizeOrTypeOf(id);
    if (target === 0 && name === "__gnuc_va_list") {
      this.put("typedef __builtin_va_list __gnuc_va_list");
      return;
    }
    this.put("typedef ");
    this.typeDecl(target, name, level);
  }

  private alignOf(id: number): number {
    const cached = this.aligns[id]!;
    if (cached !== 0) return cached === 255 ? 0 : cached;
    const a = this.computeAlign(id);
    this.aligns[id] = a === 0 ? 255 : a;
    return a;
  }

  /** Alignment as libbpf's btf__align_of computes it (0 when the type has none), memoised. */
  private computeAlign(id: number): number {
    const b = this.btf;
    this.enter(id);
    try {
      const r = b.resolve(id);
      const k = this.kind(r);
      switch (k) {
        case K_INT:
        case K_ENUM:
        case K_ENUM64:
        case K_FLOAT:
          return Math.max(1, Math.min(b.sizeOrTypeOf(r), POINTER_SIZE));
        case K_PTR:
          return POINTER_SIZE;
        case K_ARRAY:
          return this.alignOf(this.ref(b.extraWord(r, 0), r));
        case K_STRUCT:
        case K_UNION: {
          const n = b.vlenOf(r);
          const flag = b.kindFlagOf(r);
          let max = 1;
          for (let i = 0; i < n; i++) {
            const a = this.alignOf(this.ref(b.extraWord(r, 3 * i + 1), r));
            if (a === 0) return 0;
            const o = b.extraWord(r, 3 * i + 2);
            if ((flag ? o >>> 24 : 0) === 0 && (flag ? o & 0xffffff : o) % (8 * a) !== 0) return 1;
            if (a > max) max = a;
          }
          return b.sizeOrTypeOf(r) % max !== 0 ? 1 : max;
        }
        default:
          return 0;
      }
    } finally {
      this.depth--;
    }
  }

  private sizeOf(id: number): number {
    try {
      return this.btf.sizeOf(id);
    } catch (e) {
      if (e instanceof BtfError && /has no size/.test(e.message)) return 0;
      throw e;
    }
  }

  private packed(id: number): boolean {
    const b = this.btf;
    const n = b.vlenOf(id);
    const flag = b.kindFlagOf(id);
    let max = 1;
    for (let i = 0; i < n; i++) {
      const a = this.alignOf(b.extraWord(id, 3 * i + 1));
      const o = b.extraWord(id, 3 * i + 2);
      const bits = flag ? o >>> 24 : 0;
      const off = flag ? o & 0xffffff : o;
      if (a && bits === 0 && off % (8 * a) !== 0) return true;
      if (a > max) max = a;
    }
    return b.sizeOrTypeOf(id) % max !== 0;
  }

  private padding(cur: number, next: number, nextAlign: number, inBitfield: boolean, level: number): void {
    if (cur >= next) return;
    let padName = "char";
    let padBits = 8;
    let rounded = 0;
    for (const [name, bits] of PADS) {
      padName = name;
      padBits = bits;
      rounded = Math.ceil(cur / bits) * bits;
      if (rounded <= next) break;
    }
    const pad = indent(level);
    if (rounded > cur && rounded <= next) {
      if (
        inBitfield ||
        (rounded === next && Math.ceil(cur / (nextAlign * 8)) * nextAlign * 8 !== rounded) ||
        (rounded !== next && next - rounded <= rounded - cur)
      ) {
        this.put(`\n${pad}${padName}: ${inBitfield ? rounded - cur : 0};`);
      }
      cur = rounded;
    }
    while (cur !== next) {
      const bits = Math.min(next - cur, padBits);
      if (bits === padBits) {
        this.put(`\n${pad}${padName}: ${padBits};`);
        cur += bits;
        continue;
      }
      for (let i = PADS.length - 1; i >= 0; i--) {
        const [name, size] = PADS[i]!;
        if (size < bits) continue;
        this.put(`\n${pad}${name}: ${bits};`);
        cur += bits;
        break;
      }
    }
  }

  private structDef(id: number, level: number): void {
    const b = this.btf;
    const isStruct = this.kind(id) === K_STRUCT;
    const n = b.vlenOf(id);
    const flag = b.kindFlagOf(id);
    const align = this.alignOf(id);
    const packed = isStruct ? this.packed(id) : false;
    const name = this.typeName(id);
    this.put(`${isStruct ? "struct" : "union"}${name ? " " : ""}${name} {`);
    let off = 0;
    let prevBitfield = false;
    const pad = indent(level + 1);
    for (let i = 0; i < n; i++) {
      const mname = b.string(b.extraWord(id, 3 * i));
      const mtype = b.extraWord(id, 3 * i + 1);
      const o = b.extraWord(id, 3 * i + 2);
      const bits = flag ? o >>> 24 : 0;
      const moff = flag ? o & 0xffffff : o;
      const malign = packed ? 1 : this.alignOf(mtype);
      this.padding(off, moff, malign, prevBitfield && bits !== 0, level + 1);
      this.put("\n");
      this.put(pad);
      this.typeDecl(mtype, mname, level + 1);
      if (bits) {
        this.put(": ");
        this.put(String(bits));
        off = moff + bits;
        prevBitfield = true;
      } else {
        off = moff + Math.max(0, this.sizeOf(mtype)) * 8;
        prevBitfield = false;
      }
      this.put(";");
    }
    const size = b.sizeOrTypeOf(id);
    if (isStruct) this.padding(off, size * 8, align, false, level + 1);
    if (n || size) this.put(`\n${indent(level)}}`);
    else this.put("}");
    if (packed) this.put(" __attribute__((packed))");
  }

  /** Prints a declaration of `name` with type `id` (the C declarator, inside out). */
  private typeDecl(id: number, name: string, level: number): void {
    const b = this.btf;
    const stack = this.stack;
    const start = stack.length;
    for (let steps = 0; ; steps++) {
      if (steps > MAX_NESTING) throw new BtfError("declarator chain loops back on itself", { typeId: id });
      stack.push(id);
      if (id === 0) break;
      const k = this.kind(id);
      if (
        k === K_PTR ||
        k === K_VOLATILE ||
        k === K_CONST ||
        k === K_RESTRICT ||
        k === K_FUNC_PROTO ||
        k === K_TYPE_TAG
      ) {
        id = this.ref(b.sizeOrTypeOf(id), id);
      } else if (k === K_ARRAY) {
        id = this.ref(b.extraWord(id, 0), id);
      } else {
        if (
          k !== K_INT &&
          k !== K_ENUM &&
          k !== K_ENUM64 &&
          k !== K_FWD &&
          k !== K_STRUCT &&
          k !== K_UNION &&
          k !== K_TYPEDEF &&
          k !== K_FLOAT
        ) {
          throw new BtfError(`a ${b.kindName(id)} cannot appear in a C declaration`, { typeId: id });
        }
        break;
      }
    }
    this.enter(id);
    try {
      this.typeChain(start, name, level);
    } finally {
      this.depth--;
      stack.length = start;
    }
  }

  private emitMods(start: number): void {
    const stack = this.stack;
    while (stack.length > start) {
      const k = this.kind(stack[stack.length - 1]!);
      if (k === K_VOLATILE) this.put("volatile ");
      else if (k === K_CONST) this.put("const ");
      else if (k === K_RESTRICT) this.put("restrict ");
      else return;
      stack.pop();
    }
  }

  private dropMods(start: number): void {
    const stack = this.stack;
    while (stack.length > start) {
      const k = this.kind(stack[stack.length - 1]!);
      if (k !== K_VOLATILE && k !== K_CONST && k !== K_RESTRICT && k !== K_TYPE_TAG) return;
      stack.pop();
    }
  }

  private putName(name: string, lastWasPtr: boolean): void {
    if (name && !lastWasPtr) this.put(" ");
    this.put(name);
  }

  private typeChain(start: number, name: string, level: number): void {
    const b = this.btf;
    const stack = this.stack;
    let lastWasPtr = true;
    while (stack.length > start) {
      const id = stack.pop()!;
      if (id === 0) {
        this.emitMods(start);
        this.put("void");
        lastWasPtr = false;
        continue;
      }
      const k = this.kind(id);
      switch (k) {
        case K_INT:
        case K_FLOAT:
          this.emitMods(start);
          this.put(b.nameOf(id));
          break;
        case K_STRUCT:
        case K_UNION:
          this.emitMods(start);
          if (b.nameOffsetOf(id) === 0) this.structDef(id, level);
          else this.structFwd(id);
          break;
        case K_ENUM:
        case K_ENUM64:
          this.emitMods(start);
          if (b.nameOffsetOf(id) === 0) this.enumDef(id, level);
          else this.enumFwd(id);
          break;
        case K_FWD:
          this.emitMods(start);
          this.fwdDef(id);
          break;
        case K_TYPEDEF:
          this.emitMods(start);
          this.put(this.identName(id));
          break;
        case K_PTR:
          this.put(lastWasPtr ? "*" : " *");
          break;
        case K_VOLATILE:
          this.put(" volatile");
          break;
        case K_CONST:
          this.put(" const");
          break;
        case K_RESTRICT:
          this.put(" restrict");
          break;
        case K_TYPE_TAG: {
          this.emitMods(start);
          const tag = b.nameOf(id);
          this.put(
            b.kindFlagOf(id) ? ` __attribute__((${tag}))` : ` __attribute__((btf_type_tag("${tag}")))`,
          );
          break;
        }
        case K_ARRAY: {
          const length = b.extraWord(id, 2);
          this.dropMods(start);
          if (stack.length === start) {
            this.putName(name, lastWasPtr);
            this.put(`[${length}]`);
            return;
          }
          const multi = this.kind(stack[stack.length - 1]!) === K_ARRAY;
          if (name && !lastWasPtr) this.put(" ");
          if (!multi) this.put("(");
          this.typeChain(start, name, level);
          if (!multi) this.put(")");
          this.put(`[${length}]`);
          return;
        }
        case K_FUNC_PROTO: {
          const n = b.vlenOf(id);
          this.dropMods(start);
          if (stack.length > start) {
            this.put(" (");
            this.typeChain(start, name, level);
            this.put(")");
          } else {
            this.putName(name, lastWasPtr);
          }
          this.put("(");
          if (n === 0 || (n === 1 && b.extraWord(id, 1) === 0)) {
            this.put("void)");
            return;
          }
          for (let i = 0; i < n; i++) {
            if (i > 0) this.put(", ");
            const ptype = b.extraWord(id, 2 * i + 1);
            if (i === n - 1 && ptype === 0) {
              this.put("...");
              break;
            }
            this.typeDecl(ptype, b.string(b.extraWord(id, 2 * i)), level);
          }
          this.put(")");
          return;
        }
      }
      lastWasPtr = k === K_PTR;
    }
    this.putName(name, lastWasPtr);
  }
}

/**
 * The blob (with its base, for split BTF) as a C header, in the shape bpftool prints vmlinux.h.
 * @throws BtfError when the types cannot be written as C (types that contain each other by value)
 */
export function formatC(btf: Btf, options: CFormatOptions = {}): string {
  const guard = options.guard ?? "__VMLINUX_H__";
  const pai = options.preserveAccessIndex ?? true;
  const p = new CPrinter(btf);
  let head = `#ifndef ${guard}\n#define ${guard}\n\n`;
  if (pai) {
    head +=
      "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n" +
      "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n" +
      "#endif\n\n";
  }
  for (let id = 1; id < btf.endId; id++) p.dumpType(id);
  let tail = "";
  if (pai) tail += "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n";
  tail += `#endif /* ${guard} */\n`;
  return head + p.text() + tail;
}
