/**
 * `rawbpf gen types`: a TypeScript module for one object (as bpf2go and libbpf's skeletons do),
 * pure text from the object's specs: the object embedded (base64) or referenced by path, key and
 * value codecs of its maps and codecs of its global variables generated from BTF (ints, floats,
 * bools, enums, pointers as u64, char arrays as strings, arrays, structs laid out as C lays them;
 * anything else as bytes), a class with typed `maps`, `programs`, `variables` and `load()` taking
 * typed `constants`.
 */
import type { Btf } from "../btf/decode.js";
import type { ObjectMap, ObjectSpec } from "./spec.js";

/** Options of {@link generateTypes}. */
export interface GenerateOptions {
  /** the class's name (default: the object's name in PascalCase) */
  className?: string;
  /** where the generated module imports rawbpf from (default "rawbpf") */
  importFrom?: string;
  /** reference the object by this path (read at load) instead of embedding its bytes */
  objectPath?: string;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function pascal(name: string): string {
  const s = name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => (w[0] as string).toUpperCase() + w.slice(1))
    .join("");
  return /^[A-Za-z_]/.test(s) ? s : `Bpf${s}`;
}

/** A codec expression for a BTF type, and the codec names it uses. */
export function codecOf(btf: Btf, id: number, used: Set<string>, depth = 0): string {
  const bytes = (n: number) => {
    used.add("bytes");
    return `bytes(${n})`;
  };
  if (id === 0 || depth > 16) return bytes(0);
  const rid = btf.resolve(id);
  const t = btf.type(rid);
  const use = (name: string) => {
    used.add(name);
    return name;
  };
  switch (t.kind) {
    case "int": {
      if (t.bool && t.size === 1) return use("bool");
      if (t.bitOffset !== 0 || t.bits !== t.size * 8) return bytes(t.size);
      const sized: Record<number, string> = { 1: "8", 2: "16", 4: "32", 8: "64" };
      return sized[t.size] ? use(`${t.signed ? "i" : "u"}${sized[t.size]}`) : bytes(t.size);
    }
    case "enum":
    case "enum64": {
      const sized: Record<number, string> = { 1: "8", 2: "16", 4: "32", 8: "64" };
      return sized[t.size] ? use(`${t.signed ? "i" : "u"}${sized[t.size]}`) : bytes(t.size);
    }
    case "float":
      return t.size === 4 ? use("f32") : t.size === 8 ? use("f64") : bytes(t.size);
    case "ptr":
      return use("u64");
    case "array": {
      const elem = btf.type(btf.resolve(t.type));
      if (elem.kind === "int" && elem.size === 1 && (elem.char || elem.name === "char"))
        return `${use("cstring")}(${t.length})`;
      return `${use("array")}(${codecOf(btf, t.type, used, depth + 1)}, ${t.length})`;
    }
    case "struct": {
      // the struct codec lays fields out as C does without attributes: use it only when that is the BTF layout
      let at = 0;
      let align = 1;
      const fields: string[] = [];
      for (const m of t.members) {
        if (!IDENT.test(m.name) || m.bitfieldSize !== 0 || m.bitOffset % 8 !== 0) return bytes(t.size);
        const a = btf.alignOf(m.type);
        at = Math.ceil(at / a) * a;
        if (at !== m.bitOffset / 8) return bytes(t.size);
        at += btf.sizeOf(m.type);
        align = Math.max(align, a);
        fields.push(`${m.name}: ${codecOf(btf, m.type, used, depth + 1)}`);
      }
      if (Math.ceil(at / align) * align !== t.size || fields.length === 0) return bytes(t.size);
      return `${use("struct")}({ ${fields.join(", ")} })`;
    }
    default:
      try {
        return bytes(btf.sizeOf(rid));
      } catch {
        return bytes(0);
      }
  }
}

function mapCodecs(m: ObjectMap, btf: Btf | undefined, used: Set<string>): { key?: string; value?: string } {
  if (m.keySize === 0 || m.inner || m.type === "prog_array" || m.type.endsWith("of_maps")) return {};
  if (m.type === "perf_event_array" || m.type === "ringbuf" || m.type === "user_ringbuf") return {};
  const one = (typeId: number, size: number) => {
    if (btf && typeId) {
      const c = codecOf(btf, typeId, used);
      if (btf.sizeOf(typeId) === size) return c;
    }
    used.add("bytes");
    return `bytes(${size})`;
  };
  return { key: one(m.keyTypeId, m.keySize), value: one(m.valueTypeId, m.valueSize) };
}

/** The TypeScript module for an object (see the file's description). */
export function generateTypes(spec: ObjectSpec, bytes: Uint8Array, options: GenerateOptions = {}): string {
  const cls = options.className ?? pascal(spec.name);
  const used = new Set<string>();
  const btf = spec.btfModel;
  const maps = spec.maps.filter((m) => m.kind !== "data" && IDENT.test(m.name));
  const mapLines = maps.map((m) => {
    const c = mapCodecs(m, btf, used);
    return `  ${m.name}: { ${c.key ? `key: ${c.key}, value: ${c.value}` : ""} },`;
  });
  const dataMap = new Map(spec.maps.filter((m) => m.kind === "data").map((m) => [m.name, m]));
  const vars = spec.variables.filter((v) => IDENT.test(v.name));
  const varLines = vars.map((v) => {
    if (!btf) used.add("bytes");
    const c = btf ? codecOf(btf, v.typeId, used) : `bytes(${v.size})`;
    return `  ${v.name}: ${c},`;
  });
  const writable = (name: string) => {
    const v = vars.find((x) => x.name === name);
    return v !== undefined && dataMap.get(v.map)?.readOnly === false;
  };
  const constants = vars.filter((v) => {
    const m = dataMap.get(v.map);
    return m?.readOnly === true && m.section !== ".kconfig";
  });
  const programs = spec.programs.filter((p) => IDENT.test(p.name));
  const codecNames = [...used].sort();
  const from = JSON.stringify(options.importFrom ?? "rawbpf");
  const out: string[] = [];
  out.push(
    `// Generated by \`rawbpf gen types\` from ${spec.name}.o: do not edit, generate it again.`,
    "/* eslint-disable */",
    options.objectPath ? 'import { readFileSync } from "node:fs";' : "",
    `import {\n  type AnyCodec,\n  BpfObject,\n  type BpfMap,\n  encodeValue,\n  type In,\n  type ObjectLoadOptions,\n  type ObjectOptions,\n  type Out,\n  type Program,\n${codecNames.map((n) => `  ${n},\n`).join("")}} from ${from};`,
    "",
    options.objectPath
      ? `/** The object's bytes, read from where it was when the types were generated. */\nexport function objectBytes(): Uint8Array {\n  return readFileSync(${JSON.stringify(options.objectPath)});\n}`
      : `const OBJECT = ${JSON.stringify(Buffer.from(bytes).toString("base64"))};\n\n/** The object's bytes (embedded). */\nexport function objectBytes(): Uint8Array {\n  return Buffer.from(OBJECT, "base64");\n}`,
    "",
    `/** Key and value codecs of ${spec.name}'s maps, from its BTF. */`,
    "export const mapCodecs = {",
    ...mapLines,
    "} as const;",
    "",
    `/** Codecs of ${spec.name}'s global variables, from its BTF. */`,
    "export const variableCodecs = {",
    ...varLines,
    "} as const;",
    "",
    "type Codecs = typeof mapCodecs;",
    "type MapOf<K extends keyof Codecs> = Codecs[K] extends {",
    "  readonly key: infer KC extends AnyCodec;",
    "  readonly value: infer VC extends AnyCodec;",
    "}",
    "  ? BpfMap<KC, VC>",
    "  : BpfMap;",
    "",
    `/** ${spec.name}'s maps, typed. */`,
    `export type ${cls}Maps = { readonly [K in keyof Codecs]: MapOf<K> };`,
    "",
    `/** ${spec.name}'s programs (those loaded). */`,
    `export interface ${cls}Programs {`,
    ...programs.map((p) => `  /** section ${p.section} */\n  readonly ${p.name}: Program;`),
    "}",
    "",
    `/** ${spec.name}'s global variables, read (and those in .data/.bss written) through shared memory. */`,
    `export interface ${cls}Variables {`,
    ...vars.map(
      (v) =>
        `  ${writable(v.name) ? "" : "readonly "}${v.name}: Out<typeof variableCodecs.${v.name}>;` +
        (writable(v.name) ? "" : ""),
    ),
    "}",
    "",
    `/** Read-only globals (\`const volatile\`) of ${spec.name}, set before load. */`,
    `export interface ${cls}Constants {`,
    ...constants.map((v) => `  ${v.name}?: In<typeof variableCodecs.${v.name}>;`),
    "}",
    "",
    `/** Options of {@link ${cls}.load}. */`,
    `export interface ${cls}LoadOptions extends Omit<ObjectOptions, "constants" | "codecs">, ObjectLoadOptions {`,
    `  constants?: ${cls}Constants;`,
    "}",
    "",
    `/** ${spec.name}.o, loaded: typed maps, programs and variables. */`,
    `export class ${cls} implements Disposable {`,
    "  /** the object underneath */",
    "  readonly object: BpfObject;",
    `  readonly maps: ${cls}Maps;`,
    `  readonly programs: ${cls}Programs;`,
    `  readonly variables: ${cls}Variables;`,
    "",
    "  private constructor(object: BpfObject) {",
    "    this.object = object;",
    "    const maps: Record<string, unknown> = {};",
    "    for (const name of Object.keys(mapCodecs)) Object.defineProperty(maps, name, { get: () => object.map(name), enumerable: true });",
    `    this.maps = maps as unknown as ${cls}Maps;`,
    "    const programs: Record<string, unknown> = {};",
    `    for (const name of ${JSON.stringify(programs.map((p) => p.name))}) Object.defineProperty(programs, name, { get: () => object.program(name), enumerable: true });`,
    `    this.programs = programs as unknown as ${cls}Programs;`,
    "    const variables: Record<string, unknown> = {};",
    `    const writable = new Set(${JSON.stringify(vars.filter((v) => writable(v.name)).map((v) => v.name))});`,
    "    for (const [name, codec] of Object.entries(variableCodecs)) {",
    "      const at = () => { const b = object.variable(name).bytes; return Buffer.from(b.buffer, b.byteOffset, b.byteLength); };",
    "      Object.defineProperty(variables, name, {",
    "        enumerable: true,",
    "        get: () => (codec as { read(b: Buffer, o: number): unknown }).read(at(), 0),",
    "        ...(writable.has(name) ? { set: (v: unknown) => (codec as { write(b: Buffer, o: number, v: unknown): void }).write(at(), 0, v) } : {}),",
    "      });",
    "    }",
    `    this.variables = variables as unknown as ${cls}Variables;`,
    "  }",
    "",
    `  /** Opens and loads ${spec.name}.o with typed constants (and any other object and load option). */`,
    `  static async load(options: ${cls}LoadOptions = {}): Promise<${cls}> {`,
    "    const { constants, programs, logLevel, core, ...open } = options;",
    "    const encoded: Record<string, Uint8Array> = {};",
    "    for (const [name, value] of Object.entries(constants ?? {}))",
    "      if (value !== undefined) encoded[name] = encodeValue((variableCodecs as Record<string, AnyCodec>)[name] as AnyCodec, value);",
    `    const object = BpfObject.open(objectBytes(), { file: ${JSON.stringify(`${spec.name}.o`)}, ...open, constants: encoded, codecs: mapCodecs as ObjectOptions["codecs"] });`,
    "    object.load({ ...(programs ? { programs } : {}), ...(logLevel === undefined ? {} : { logLevel }), ...(core ? { core } : {}) });",
    `    return new ${cls}(object);`,
    "  }",
    "",
    "  /** Closes everything the object made. */",
    "  close(): void {",
    "    this.object.close();",
    "  }",
    "",
    "  [Symbol.dispose](): void {",
    "    this.close();",
    "  }",
    "}",
    "",
  );
  return out.filter((l, i) => l !== "" || out[i - 1] !== "").join("\n");
}
