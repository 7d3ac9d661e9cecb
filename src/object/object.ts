/**
 * `BpfObject`: a clang-compiled object made live. `open` parses it into specs (pure);
 * `load` creates its maps (global data filled, .rodata frozen), loads its programs with their
 * BTF, func_info and line_info, and maps .data/.bss into this process so that variables are
 * read and written without a system call. Everything it made closes with it.
 */
import { readFileSync } from "node:fs";
import { encodeCoreRelocations } from "../btf/core/ext.js";
import { explainPoisonedRejection } from "../btf/core/poison.js";
import {
  type CoreCandidateCache,
  type CorePatchLog,
  type CoreRelocationResult,
  coreRelocationResults,
  patchCoreRelocations,
} from "../btf/core/relocate.js";
import { Btf } from "../btf/decode.js";
import { encodeFuncInfo, encodeLineInfo } from "../btf/ext.js";
import { vmlinuxBtf } from "../btf/kernel.js";
import { type LoadedBtf, loadBtf } from "../btf/load.js";
import type { AnyCodec } from "../codec/codec.js";
import type { Link } from "../link/link.js";
import { BpfMap } from "../map/map.js";
import type { MapSpec } from "../map/spec.js";
import type { MapTypeName } from "../map/types.js";
import { Program } from "../program/program.js";
import { ProgramRejectedError } from "../program/rejected.js";
import { mapKernelBtfFile } from "../sys/btf.js";
import { BpfError, InputError } from "../sys/error.js";
import { type MappedValues, mapArrayValues, unmapArrayValues } from "../sys/mmap.js";
import { attachBySection, type ObjectAttachOptions } from "./attach.js";
import { CorePoisonRejectedError, ObjectFormatError, UnknownObjectNameError } from "./errors.js";
import { fillKconfig, type KsymResolution, parseKconfig, patchKsyms } from "./externs.js";
import { kernelVersionCode, resolveKsyms, systemKconfig } from "./host.js";
import { createMemoryMap, loadMemoryProgram, memoryKsyms, memoryValueView } from "./memory.js";
import { UnsupportedSectionError } from "./sections.js";
import {
  type ObjectMap,
  type ObjectProgram,
  type ObjectSpec,
  type ObjectVariable,
  parseObject,
} from "./spec.js";

/** Options of {@link BpfObject.open}. */
export interface ObjectOptions {
  /** values for read-only globals (`volatile const` in .rodata), set before load; checked against their BTF size */
  constants?: Readonly<Record<string, number | bigint | boolean | Uint8Array>>;
  /** where maps with LIBBPF_PIN_BY_NAME are pinned (default /sys/fs/bpf) */
  pinRoot?: string;
  /** the name errors give the object when bytes are given */
  file?: string;
  /**
   * Kconfig values for `.kconfig` externs, winning over the running kernel's config: Kconfig text
   * (`CONFIG_X=y` lines, as libbpf's `kconfig` option) or name → value (true/false for y/n,
   * numbers, or the raw text after `=`: `"m"`, `'"a string"'`).
   */
  kconfig?: string | Readonly<Record<string, string | number | bigint | boolean>>;
  /** key and value codecs of maps, by map name (their sizes must be the map's); default: bytes */
  codecs?: Readonly<Record<string, { readonly key?: AnyCodec; readonly value?: AnyCodec }>>;
  /**
   * the BTF CO-RE relocations are made against (default: the running kernel's vmlinux BTF): a
   * decoded {@link Btf} (a module's split BTF with its base), or the path of a raw BTF file
   * (a btfhub file, /sys/kernel/btf/vmlinux)
   */
  btf?: Btf | string;
}

/** Options of {@link BpfObject.load}. */
export interface ObjectLoadOptions {
  /** load only these programs (default: every program whose section has no `?`) */
  programs?: readonly string[];
  /** verifier log level for every program (see ProgramSpec.logLevel) */
  logLevel?: number;
  /**
   * who applies the CO-RE relocations: rawbpf, before load (the default, as libbpf does), or the
   * kernel (BPF_PROG_LOAD's core_relos, relocating against its own BTF; `btf` is then ignored)
   */
  core?: "rawbpf" | "kernel";
  /**
   * where the maps and programs live: the kernel (default) or `"memory"`, the interpreter and
   * in-memory maps (docs/interpreter.md): no bpf() call, so it works without privileges; CO-RE
   * is applied by rawbpf against `btf` or vmlinux BTF, maps pinned by name are not pinned
   */
  backend?: "kernel" | "memory";
}

/** A global variable of a loaded object, read and written through shared memory (no system call). */
export class ObjectVariableHandle {
  readonly name: string;
  readonly size: number;
  readonly #view: DataView;
  readonly #signed: boolean;
  readonly #int: boolean;
  constructor(v: ObjectVariable, memory: DataView, int: { signed: boolean } | undefined) {
    this.name = v.name;
    this.size = v.size;
    this.#view = new DataView(memory.buffer, memory.byteOffset + v.offset, v.size);
    this.#signed = int?.signed ?? false;
    this.#int = int !== undefined && [1, 2, 4, 8].includes(v.size);
  }
  /** The value: a number (8-bit to 32-bit integers), a bigint (64-bit), or the bytes (a copy) otherwise. */
  get(): number | bigint | Uint8Array {
    const d = this.#view;
    if (!this.#int) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
    switch (this.size) {
      case 1:
        return this.#signed ? d.getInt8(0) : d.getUint8(0);
      case 2:
        return this.#signed ? d.getInt16(0, true) : d.getUint16(0, true);
      case 4:
        return this.#signed ? d.getInt32(0, true) : d.getUint32(0, true);
      default:
        return this.#signed ? d.getBigInt64(0, true) : d.getBigUint64(0, true);
    }
  }
  /** Writes the value (through the shared mapping; programs see it at once). */
  set(value: number | bigint | Uint8Array): void {
    const d = this.#view;
    // fast paths (no allocation): an integer of the variable's width, in range
    if (this.#int) {
      if (this.size === 8 && typeof value === "bigint") {
        if (this.#signed ? value >= MIN_I64 && value <= MAX_I64 : value >= 0n && value <= MAX_U64) {
          if (this.#signed) d.setBigInt64(0, value, true);
          else d.setBigUint64(0, value, true);
          return;
        }
      } else if (this.size === 4 && typeof value === "number" && Number.isInteger(value)) {
        if (this.#signed ? value >= -0x80000000 && value <= 0x7fffffff : value >= 0 && value <= 0xffffffff) {
          d.setUint32(0, value >>> 0, true);
          return;
        }
      }
    }
    writeValue(d, value, this.#signed, this.#int, this.name);
  }
  /** A view of the variable's bytes in the shared mapping. */
  get bytes(): Uint8Array {
    return new Uint8Array(this.#view.buffer, this.#view.byteOffset, this.#view.byteLength);
  }
}

const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;
const MAX_U64 = (1n << 64n) - 1n;

function writeValue(d: DataView, value: unknown, signed: boolean, int: boolean, name: string): void {
  if (value instanceof Uint8Array) {
    if (value.length !== d.byteLength)
      throw new InputError(`variable '${name}' is ${d.byteLength} bytes, got ${value.length}`);
    new Uint8Array(d.buffer, d.byteOffset, d.byteLength).set(value);
    return;
  }
  if (!int) throw new InputError(`variable '${name}' is not an integer: give its ${d.byteLength} bytes`);
  if (typeof value === "number" && !Number.isInteger(value))
    throw new InputError(`variable '${name}' is an integer, got ${value}`);
  const v =
    typeof value === "boolean"
      ? BigInt(value)
      : typeof value === "number" || typeof value === "bigint"
        ? BigInt(value)
        : undefined;
  if (v === undefined)
    throw new InputError(`variable '${name}' takes a number, bigint or bytes, got ${typeof value}`);
  const bits = BigInt(d.byteLength * 8);
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (v < min || v > max)
    throw new InputError(
      `${v} does not fit variable '${name}' (${signed ? "signed" : "unsigned"} ${bits}-bit: ${min} to ${max})`,
    );
  const u = BigInt.asUintN(Number(bits), v);
  for (let i = 0; i < d.byteLength; i++) d.setUint8(i, Number((u >> BigInt(8 * i)) & 0xffn));
}

/** How long one phase of opening or loading an object took (see {@link BpfObject.timings}). */
export interface ObjectPhaseTiming {
  /** "open", "object BTF", "externs", "maps", "target BTF", "CO-RE relocation", "programs", "initial values" */
  readonly phase: string;
  /** wall-clock milliseconds */
  readonly ms: number;
  /** what the phase did, when there is something to count ("24 programs", "2208 relocations") */
  readonly detail?: string;
}

/** A map of an object, keys and values as bytes (per-CPU and map-in-map values as their codecs give them). */
export type AnyMap = BpfMap<AnyCodec, AnyCodec>;

const BPF_F_SLEEPABLE = 1 << 4;
const BPF_F_XDP_HAS_FRAGS = 1 << 5;

/** A program's relocated code, and what CO-RE did to it (results made when first asked for). */
interface Relocated {
  readonly insns: Uint8Array;
  readonly log: CorePatchLog;
  results: CoreRelocationResult[] | undefined;
}

function resultsOf(r: Relocated): CoreRelocationResult[] {
  r.results ??= coreRelocationResults(r.log);
  return r.results;
}

/** A clang-compiled BPF object: its specs, and once loaded its maps, programs and variables. */
export class BpfObject implements Disposable {
  /** the parsed object (plain data) */
  readonly spec: ObjectSpec;
  readonly #options: ObjectOptions;
  readonly #maps = new Map<string, AnyMap>();
  readonly #programs = new Map<string, Program>();
  readonly #mapped = new Map<string, { m: MappedValues | undefined; view: DataView }>();
  #memory = false;
  #btf: LoadedBtf | undefined;
  #ksyms: Map<string, KsymResolution> = new Map();
  readonly #links = new Map<string, Link>();
  readonly #unattached = new Map<string, string>();
  #closed = false;
  readonly #core = new Map<string, Relocated>();
  #coreCache: CoreCandidateCache | undefined;
  #target: Btf | undefined;
  readonly #timings: ObjectPhaseTiming[] = [];

  private constructor(spec: ObjectSpec, options: ObjectOptions, openMs: number) {
    this.spec = spec;
    this.#options = options;
    this.#timings.push({
      phase: "open",
      ms: openMs,
      detail: `${spec.programs.length} programs, ${spec.maps.length} maps`,
    });
    for (const name of Object.keys(options.constants ?? {})) this.#constant(name);
  }

  /** Reads an object (a path or its bytes) into specs; nothing reaches the kernel until {@link load}. */
  static open(source: string | Uint8Array, options: ObjectOptions = {}): BpfObject {
    const bytes = typeof source === "string" ? readFileSync(source) : source;
    const file = options.file ?? (typeof source === "string" ? source : "the object");
    const t = performance.now();
    const spec = parseObject(bytes, { file });
    return new BpfObject(spec, options, performance.now() - t);
  }

  #constant(name: string): ObjectVariable {
    const v = this.spec.variables.find((x) => x.name === name);
    const settable = (x: ObjectVariable) => {
      const map = this.spec.maps.find((y) => y.name === x.map);
      return map?.readOnly === true && map.section !== ".kconfig";
    };
    if (!v || !settable(v))
      throw new UnknownObjectNameError(
        "read-only variable (a `const volatile` global; .kconfig externs are set with the kconfig option)",
        name,
        this.spec.variables.filter(settable).map((x) => x.name),
      );
    return v;
  }

  #intOf(typeId: number): { signed: boolean } | undefined {
    const btf = this.spec.btfModel;
    if (!btf) return undefined;
    const t = btf.type(btf.resolve(typeId));
    if (t.kind === "int") return { signed: t.signed };
    if (t.kind === "enum" || t.kind === "enum64") return { signed: t.signed };
    return undefined;
  }

  /** Creates the maps and loads the programs (all, or those named), in dependency order. */
  load(options: ObjectLoadOptions = {}): this {
    if (this.#closed) throw new InputError("the object is closed");
    const spec = this.spec;
    const wanted =
      options.programs === undefined
        ? spec.programs.filter((p) => p.def.autoload)
        : options.programs.map((n) => this.#programSpec(n));
    for (const p of wanted)
      if (p.def.notYet) throw new UnsupportedSectionError(p.name, p.section, p.def.notYet);
    if (options.backend !== undefined && options.backend !== "kernel" && options.backend !== "memory")
      throw new InputError(`backend must be "kernel" or "memory", got ${JSON.stringify(options.backend)}`);
    this.#memory = options.backend === "memory";
    if (this.#memory && options.core === "kernel")
      throw new InputError('core: "kernel" needs the kernel: on the memory back end rawbpf applies CO-RE');
    try {
      const time = this.#timer();
      if (spec.btf && !this.#memory) {
        this.#btf = loadBtf(spec.btf);
        time("object BTF", `${spec.btf.length} bytes`);
      }
      if (spec.externs.length > 0) {
        this.#ksyms = this.#memory ? memoryKsyms(spec.externs) : resolveKsyms(spec.externs, spec.btfModel);
        time("externs", `${spec.externs.length}`);
      }
      for (const m of spec.maps) this.#createMap(m);
      time("maps", `${spec.maps.length}`);
      const byKernel = options.core === "kernel";
      if (!byKernel) this.#relocated(wanted);
      time.skip();
      for (const p of wanted) this.#programs.set(p.name, this.#loadProgram(p, options.logLevel, byKernel));
      time("programs", `${wanted.length} loaded${byKernel ? ", CO-RE relocated by the kernel" : ""}`);
      for (const m of spec.maps) {
        m.initialValues.forEach((target, i) => {
          if (target === undefined) return;
          const fd = this.#maps.get(target)?.fd ?? this.#programs.get(target)?.fd;
          if (fd === undefined) return; // a program not loaded
          const key = new Uint8Array(4);
          new DataView(key.buffer).setUint32(0, i, true);
          const value = new Uint8Array(4);
          new DataView(value.buffer).setUint32(0, fd, true);
          this.#maps.get(m.name)?.set(key, value);
        });
      }
      if (spec.maps.some((m) => m.initialValues.length > 0)) time("initial values");
    } catch (e) {
      this.close();
      throw e;
    }
    return this;
  }

  /**
   * Applies the CO-RE relocations of every program (its own code and its subprograms') against
   * the target BTF (`options.btf`, else the running kernel's), as libbpf does before load; done
   * once a program, and by {@link load} (for the programs it loads, as libbpf relocates only the
   * programs it will load) when not done before. Instructions that find no target are poisoned.
   * @returns what each relocation did, by program name (programs without relocations are absent)
   */
  relocate(): ReadonlyMap<string, readonly CoreRelocationResult[]> {
    const core = this.#relocated(this.spec.programs);
    const out = new Map<string, readonly CoreRelocationResult[]>();
    for (const p of this.spec.programs) {
      const c = core.get(p.name);
      if (c) out.set(p.name, resultsOf(c));
    }
    return out;
  }

  /** Relocates those of `programs` not relocated yet (one candidate cache for the whole object). */
  #relocated(programs: readonly ObjectProgram[]): Map<string, Relocated> {
    const local = this.spec.btfModel;
    const todo = programs.filter((p) => p.coreRelocations.length > 0 && !this.#core.has(p.name));
    if (todo.length > 0 && local) {
      const time = this.#timer();
      if (!this.#target) {
        this.#target = this.#targetBtf();
        time("target BTF", `${this.#target.typeCount} types`);
      }
      const target = this.#target;
      const cache = (this.#coreCache ??= new Map());
      let n = 0;
      for (const p of todo) {
        const insns = new Uint8Array(p.insns);
        const log = patchCoreRelocations(insns, p.coreRelocations, local, target, {
          cache,
          section: p.section,
        });
        n += p.coreRelocations.length;
        this.#core.set(p.name, { insns, log, results: undefined });
      }
      time("CO-RE relocation", `${n} relocations in ${todo.length} programs`);
    }
    return this.#core;
  }

  /** A stopwatch: each call records the time since the last one (or since it was made) as a phase. */
  #timer(): ((phase: string, detail?: string) => void) & { skip(): void } {
    let last = performance.now();
    const time = (phase: string, detail?: string) => {
      const now = performance.now();
      this.#timings.push({ phase, ms: now - last, ...(detail === undefined ? {} : { detail }) });
      last = now;
    };
    return Object.assign(time, {
      skip() {
        last = performance.now();
      },
    });
  }

  /**
   * How long each phase of opening and loading took, in the order they ran: "open" (reading the
   * ELF into specs), then, as {@link load} and {@link relocate} run them, "object BTF", "externs",
   * "maps", "target BTF" (reading the kernel's BTF), "CO-RE relocation", "programs" (the
   * BPF_PROG_LOADs: the kernel's verifier), "initial values". `rawbpf load --timings` prints them.
   */
  get timings(): readonly ObjectPhaseTiming[] {
    return this.#timings;
  }

  #targetBtf(): Btf {
    const given = this.#options.btf;
    if (given === undefined) return vmlinuxBtf();
    if (given instanceof Btf) return given;
    // the kernel's own files are mapped where the kernel allows it (as libbpf 1.6 does), not read
    return Btf.parse(
      (given.startsWith("/sys/kernel/btf/") && mapKernelBtfFile(given)) || readFileSync(given),
    );
  }

  #programSpec(name: string): ObjectProgram {
    const p = this.spec.programs.find((x) => x.name === name);
    if (!p)
      throw new UnknownObjectNameError(
        "program",
        name,
        this.spec.programs.map((x) => x.name),
      );
    return p;
  }

  #codecsOf(m: ObjectMap): { key?: AnyCodec; value?: AnyCodec } {
    const c = m.inner === undefined && m.kind !== "data" ? this.#options.codecs?.[m.name] : undefined;
    return { ...(c?.key ? { key: c.key } : {}), ...(c?.value ? { value: c.value } : {}) };
  }

  #mapSpecOf(m: ObjectMap, withBtf: boolean): MapSpec<MapTypeName> {
    const btfFd = this.#btf?.fd.value;
    const codecs = this.#codecsOf(m);
    return {
      ...codecs,
      type: m.type as MapTypeName,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      flags: m.flags,
      name: m.name.slice(0, 15),
      ...(m.numaNode === undefined ? {} : { numaNode: m.numaNode }),
      ...(m.inner ? { innerMap: this.#mapSpecOf(m.inner, false) } : {}),
      ...(withBtf && btfFd !== undefined && (m.keyTypeId || m.valueTypeId)
        ? { btfFd, btfKeyTypeId: m.keyTypeId, btfValueTypeId: m.valueTypeId }
        : {}),
    } as MapSpec<MapTypeName>;
  }

  #createMap(m: ObjectMap): void {
    const pinPath =
      m.pinning === 1 && !this.#memory ? `${this.#options.pinRoot ?? "/sys/fs/bpf"}/${m.name}` : undefined;
    if (pinPath) {
      try {
        this.#maps.set(m.name, BpfMap.open(pinPath, this.#codecsOf(m)));
        return;
      } catch (e) {
        if (!(e instanceof BpfError && e.errnoName === "ENOENT")) throw e;
      }
    }
    let map: AnyMap;
    if (this.#memory) map = createMemoryMap(this.#mapSpecOf(m, false));
    else
      try {
        map = BpfMap.create(this.#mapSpecOf(m, true));
      } catch (e) {
        // as libbpf: a kernel that refuses the BTF types of a map gets the map without them
        if (!(e instanceof BpfError) || !(m.keyTypeId || m.valueTypeId) || m.kind === "data") throw e;
        map = BpfMap.create(this.#mapSpecOf(m, false));
      }
    this.#maps.set(m.name, map);
    if (m.data) {
      const data = m.section === ".kconfig" ? this.#kconfigData() : new Uint8Array(m.data);
      if (m.readOnly) {
        for (const [name, value] of Object.entries(this.#options.constants ?? {})) {
          const v = this.#constant(name);
          if (v.map !== m.name) continue;
          const int = this.#intOf(v.typeId);
          writeValue(
            new DataView(data.buffer, v.offset, v.size),
            value,
            int?.signed ?? false,
            int !== undefined,
            name,
          );
        }
      }
      map.set(new Uint8Array(4), data);
      if (m.readOnly) map.freeze();
      if (this.#memory) {
        this.#mapped.set(m.name, { m: undefined, view: memoryValueView(map, m.valueSize) });
        return;
      }
      const mapped = mapArrayValues(map.fd, m.valueSize, !m.readOnly, `of global data ${m.section}`);
      this.#mapped.set(m.name, { m: mapped, view: new DataView(mapped.memory, 0, m.valueSize) });
    }
    if (pinPath) map.pin(pinPath);
  }

  #kconfigData(): Uint8Array {
    const given = this.#options.kconfig;
    const extra =
      given === undefined
        ? undefined
        : typeof given === "string"
          ? parseKconfig(given)
          : new Map(
              Object.entries(given).map(([k, x]) => [
                k,
                typeof x === "boolean" ? (x ? "y" : "n") : String(x),
              ]),
            );
    return fillKconfig(this.spec.externs, {
      ...(extra ? { extra } : {}),
      system: systemKconfig,
      kernelVersion: kernelVersionCode,
    });
  }

  #loadProgram(p: ObjectProgram, logLevel: number | undefined, coreByKernel: boolean): Program {
    const core = coreByKernel ? undefined : this.#core.get(p.name);
    const insns = new Uint8Array(core?.insns ?? p.insns);
    const v = new DataView(insns.buffer);
    patchKsyms(insns, p.externReferences, this.spec.externs, this.#ksyms);
    for (const r of p.references) {
      const map = this.#maps.get(r.map);
      if (!map)
        throw new ObjectFormatError(
          this.spec.file,
          `program ${p.name} refers to map ${r.map}, which was not created`,
        );
      v.setInt32(r.insn * 8 + 4, map.fd, true);
      if (r.offset !== undefined) v.setInt32(r.insn * 8 + 12, r.offset, true);
    }
    if (this.#memory) return loadMemoryProgram(p, insns);
    const def = p.def;
    let attachBtfId: number | undefined;
    if (def.btfTarget && def.target) {
      const vm = vmlinuxBtf();
      const name =
        def.programType === "lsm"
          ? `bpf_lsm_${def.target}`
          : def.attachType === "trace_raw_tp"
            ? `btf_trace_${def.target}`
            : def.attachType === "trace_iter"
              ? `bpf_iter_${def.target}`
              : def.target;
      attachBtfId = vm.findId(name, def.attachType === "trace_raw_tp" ? "typedef" : "func");
      if (attachBtfId === undefined)
        throw new InputError(
          `program ${p.name} attaches to '${def.target}' (section ${p.section}), which the kernel's BTF does not have (no ${name})`,
        );
    }
    const btfFd = this.#btf?.fd;
    const flags = (def.sleepable ? BPF_F_SLEEPABLE : 0) | (def.xdpFrags ? BPF_F_XDP_HAS_FRAGS : 0);
    const model = this.spec.btfModel;
    const kernelCore = coreByKernel && p.coreRelocations.length > 0 && model !== undefined;
    if (kernelCore && !(btfFd && p.funcInfo.length > 0))
      throw new InputError(
        `program ${p.name}: the kernel applies CO-RE relocations only with the program's BTF and func_info, which this object does not give it (compile with -g)`,
      );
    try {
      return Program.load({
        type: def.programType,
        instructions: insns,
        license: this.spec.license || "GPL",
        name: p.name.slice(0, 15),
        ...(def.attachType === undefined ? {} : { expectedAttachType: def.attachType }),
        ...(attachBtfId === undefined ? {} : { attachBtfId }),
        ...(flags ? { flags } : {}),
        ...(logLevel === undefined ? {} : { logLevel }),
        ...(btfFd && p.funcInfo.length > 0
          ? {
              btf: btfFd,
              funcInfo: encodeFuncInfo(p.funcInfo),
              ...(p.lineInfo.length > 0 ? { lineInfo: encodeLineInfo(p.lineInfo) } : {}),
            }
          : { btf: false as const }),
        ...(kernelCore ? { coreRelocations: encodeCoreRelocations(p.coreRelocations, model) } : {}),
      });
    } catch (e) {
      const explained =
        e instanceof ProgramRejectedError && core
          ? explainPoisonedRejection(e.log.text, resultsOf(core))
          : undefined;
      if (explained)
        throw new CorePoisonRejectedError(e as ProgramRejectedError, `program '${p.name}'`, explained);
      throw e;
    }
  }

  /** The loaded program called `name` (its C function's name). */
  program(name: string): Program {
    const p = this.#programs.get(name);
    if (!p) throw new UnknownObjectNameError("loaded program", name, [...this.#programs.keys()]);
    return p;
  }

  /** The map called `name` (global data maps: `OBJ.data`, `OBJ.bss`, `OBJ.rodata`, as libbpf names them). */
  map(name: string): AnyMap {
    const m = this.#maps.get(name);
    if (!m) throw new UnknownObjectNameError("map", name, [...this.#maps.keys()]);
    return m;
  }

  /** The global variable called `name`, read and written through the shared mapping of its data map. */
  variable(name: string): ObjectVariableHandle {
    const v = this.spec.variables.find((x) => x.name === name);
    const mapped = v && this.#mapped.get(v.map);
    if (!v || !mapped)
      throw new UnknownObjectNameError(
        "variable (of a loaded object)",
        name,
        this.spec.variables.map((x) => x.name),
      );
    return new ObjectVariableHandle(v, mapped.view, this.#intOf(v.typeId));
  }

  /**
   * Attaches every loaded program whose section says where (tracepoint/CAT/NAME, raw_tp/NAME,
   * tp_btf/, fentry/, fexit/, fmod_ret/, lsm/, uprobe/BINARY:FUNCTION[+OFFSET], uretprobe/...,
   * uprobe.multi/BINARY:FUNCTION), and cgroup, xdp, tc, sk_lookup and flow_dissector programs to
   * the targets `options` give (a cgroup, an interface, a network namespace).
   * Programs it cannot place are left out, each with its reason in {@link unattached}; a program
   * named in `options.programs` that cannot be placed is an error. The links close with the object.
   * @returns the links made by this call, by program name
   */
  attach(options: ObjectAttachOptions = {}): ReadonlyMap<string, Link> {
    if (this.#closed) throw new InputError("the object is closed");
    if (this.#memory)
      throw new InputError(
        'the object was loaded on the memory back end: its programs run with testRun, attaching needs the kernel (load it without backend: "memory")',
      );
    const named = options.programs !== undefined;
    const names = options.programs ?? [...this.#programs.keys()];
    const made = new Map<string, Link>();
    for (const name of names) {
      if (this.#links.has(name)) continue;
      const program = this.program(name);
      const spec = this.#programSpec(name);
      const r = attachBySection(program, spec.section, spec.def, options, (n) => this.#maps.get(n) as never);
      if (typeof r === "string") {
        if (named)
          throw new InputError(`program '${name}' (section ${spec.section}) cannot be attached: ${r}`);
        this.#unattached.set(name, r);
        continue;
      }
      this.#unattached.delete(name);
      this.#links.set(name, r);
      made.set(name, r);
    }
    return made;
  }

  /** The programs {@link attach} left out, with why (no target in the section, or none given). */
  get unattached(): ReadonlyMap<string, string> {
    return this.#unattached;
  }

  /** The link of an attached program. */
  link(name: string): Link {
    const l = this.#links.get(name);
    if (!l) throw new UnknownObjectNameError("attached program", name, [...this.#links.keys()]);
    return l;
  }

  /** Closes every link, program, map and the BTF; a second call does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.#links.values()) l.close();
    for (const p of this.#programs.values()) p.close();
    for (const { m } of this.#mapped.values()) if (m) unmapArrayValues(m);
    for (const m of this.#maps.values()) m.close();
    this.#btf?.fd.close();
  }

  /** `using obj = ...`: closes everything at the end of the block, as {@link BpfObject.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
