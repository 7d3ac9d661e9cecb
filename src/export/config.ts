/**
 * The exporter's config: YAML (positions kept, so every error names its line) or a JavaScript or
 * TypeScript module whose default export is the same object. Checked strictly: unknown keys and
 * wrong types are errors, never ignored.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { DECODERS, type DecoderName } from "./decoders.js";
import { ConfigError } from "./errors.js";

/** One decoder of a label: a name, and for `enum` the names of the values. */
export interface DecoderSpec {
  name: DecoderName;
  /**
   * `enum`: value → name (values not listed keep their number); without it, the names come from
   * the map's BTF (the enum the key has at the label's bytes)
   */
  values?: Record<string, string>;
}

/** One field of the map's key, in order: a label, or padding to skip. */
export interface LabelSpec {
  /** the label name; "" for padding */
  name: string;
  /** bytes of the key it takes */
  size: number;
  decoders: DecoderSpec[];
  path: string;
}

/** How a per-CPU value becomes series: summed over CPUs, or one series per CPU (label `cpu`). */
export type PerCpuMode = "sum" | "cpu";

/** A metric read from a map. */
export interface MetricSpec {
  kind: "counter" | "gauge" | "histogram";
  /** the metric name as configured (a counter's `_total` is added when missing) */
  name: string;
  help: string;
  /** `PROGRAM.MAP`, or `MAP` when only one program (or the `maps` section) has a map of that name */
  map: string;
  labels: LabelSpec[];
  perCpu: PerCpuMode;
  /** at most this many label sets; the rest are summed into one series labelled `_overflow` */
  maxSeries: number | undefined;
  /** histograms: `exp2` (bucket i holds values up to 2^i) or `linear` (up to i) */
  bucketType?: "exp2" | "linear";
  bucketMin?: number;
  bucketMax?: number;
  /** histograms: each bucket's upper bound is multiplied by this (units: 1e-6 turns µs into seconds) */
  bucketMultiplier?: number;
  /**
   * histograms: where `_sum` comes from: `estimate` (each bucket's count times its upper bound),
   * or `bucket` (the program adds every value to bucket index `bucketMax + 1`, ebpf_exporter's
   * optional sum key; times `bucketMultiplier`)
   */
  sum?: "estimate" | "bucket";
  path: string;
}

/** Where a program attaches. */
export type AttachSpec =
  | { kind: "tracepoint"; category: string; name: string }
  | { kind: "raw_tracepoint"; name: string }
  | { kind: "xdp"; interface: string; mode?: "generic" | "driver" | "offload" }
  | { kind: "tcx"; interface: string; direction: "ingress" | "egress" }
  | { kind: "cgroup"; path: string; attachType: string }
  | { kind: "uprobe"; binary: string; symbol: string; retprobe: boolean; pid?: number }
  | { kind: "none" }
  | { kind: "auto" };

/** A program to load and attach. */
export interface ProgramConfig {
  name: string;
  /** absolute path of the program file */
  file: string;
  /** program type (needed for `.bin`; `.s` may declare `.type`) */
  type?: string;
  /** which program of a clang object (`.o`) when it holds several */
  program?: string;
  /**
   * where it attaches; `auto` (no `attach` key): a clang object's program where its section says
   * (`tracepoint/CAT/NAME`, `raw_tp/NAME`, `uprobe/BINARY:FUNC`, ...), other programs nowhere
   */
  attach: AttachSpec;
  /** a bpffs folder: the program's maps are reused from it when pinned there, and pinned there when not */
  pin?: string;
  path: string;
}

/** A map opened by path or id, not made by a program of this config. */
export interface MapConfig {
  name: string;
  pinned?: string;
  id?: number;
  path: string;
}

/** A checked config. */
export interface ExportConfig {
  file: string;
  programs: ProgramConfig[];
  maps: MapConfig[];
  metrics: MetricSpec[];
  /** the built-in program and map metrics (default true) */
  builtin: boolean;
  /** `FILE:LINE:COLUMN` (or `FILE`) of a key path */
  where(path: string): string;
  /** a ConfigError at a key path */
  error(path: string, message: string, cause?: unknown): ConfigError;
}

type Positions = Map<string, string>;

/** Edit distance (for "did you mean"). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function positionsOf(file: string, text: string): { value: unknown; positions: Positions } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return `${file}:${p.line}:${p.col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ConfigError(at(e.pos[0]), "", `not valid YAML: ${e.message.split("\n")[0]}`);
  }
  const positions: Positions = new Map();
  const walk = (node: unknown, path: string, keyOffset: number | undefined) => {
    const n = node as Node | null;
    const off = keyOffset ?? n?.range?.[0];
    if (off !== undefined) positions.set(path, at(off));
    if (isMap(n)) {
      for (const item of n.items) {
        if (!isPair(item)) continue;
        const k = isScalar(item.key) ? String(item.key.value) : String(item.key);
        const ko = isScalar(item.key) ? item.key.range?.[0] : undefined;
        walk(item.value, path ? `${path}.${k}` : k, ko);
      }
    } else if (isSeq(n)) {
      n.items.forEach((item, i) => {
        walk(item, `${path}[${i}]`, undefined);
      });
    }
  };
  walk(doc.contents, "", undefined);
  return { value: doc.toJS({ maxAliasCount: 100 }), positions };
}

/** Reads and checks a config file: YAML (`.yaml`, `.yml`) or a module (`.js`, `.mjs`, `.ts`). */
export async function readConfig(file: string): Promise<ExportConfig> {
  const abs = resolve(file);
  if (/\.(m?js|cjs|ts|mts)$/.test(abs)) {
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(abs).href)) as { default?: unknown };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const hint =
        code === "ERR_UNKNOWN_FILE_EXTENSION"
          ? ": this Node cannot import TypeScript by itself; compile the config to .js, or run under tsx"
          : "";
      throw new ConfigError(file, "", `cannot import the config module${hint} (${(e as Error).message})`, {
        cause: e,
      });
    }
    const value = typeof mod.default === "function" ? await (mod.default as () => unknown)() : mod.default;
    return checkConfig(file, value, new Map());
  }
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (e) {
    throw new ConfigError(file, "", `cannot read the config: ${(e as Error).message}`, { cause: e });
  }
  return parseConfig(text, file);
}

/** Checks YAML text as a config; `file` names it in errors and anchors relative paths. */
export function parseConfig(text: string, file: string): ExportConfig {
  const { value, positions } = positionsOf(file, text);
  return checkConfig(file, value, positions);
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Checks a plain config object (a module's default export, or parsed YAML). */
export function checkConfig(file: string, raw: unknown, positions: Positions): ExportConfig {
  const where = (path: string): string => {
    for (let p = path; ; ) {
      const at = positions.get(p);
      if (at !== undefined) return at;
      if (p === "") return file;
      const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
      p = cut < 0 ? "" : p.slice(0, cut);
    }
  };
  const error = (path: string, message: string, cause?: unknown) =>
    new ConfigError(where(path), path, message, cause === undefined ? undefined : { cause });
  const describe = (v: unknown) =>
    v === null
      ? "null"
      : Array.isArray(v)
        ? "a list"
        : typeof v === "object"
          ? "a mapping"
          : JSON.stringify(v);

  const obj = (v: unknown, path: string, keys: readonly string[], required: readonly string[] = []) => {
    if (v === null || typeof v !== "object" || Array.isArray(v))
      throw error(path, `expected a mapping with keys ${keys.join(", ")}, got ${describe(v)}`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!keys.includes(k)) {
        const near = keys.find((c) => distance(c.toLowerCase(), k.toLowerCase().replace(/_/g, "")) <= 2);
        throw error(
          path ? `${path}.${k}` : k,
          `unknown key '${k}'${near ? ` (did you mean '${near}'?)` : ""}; known here: ${keys.join(", ")}`,
        );
      }
    }
    for (const k of required) if (o[k] === undefined) throw error(path, `'${k}' is required here`);
    return o;
  };
  const list = (v: unknown, path: string): unknown[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw error(path, `expected a list, got ${describe(v)}`);
    return v;
  };
  const str = (v: unknown, path: string, re?: RegExp, what = "a string"): string => {
    if (typeof v !== "string" || v === "" || (re && !re.test(v)))
      throw error(path, `expected ${what}, got ${describe(v)}`);
    return v;
  };
  const int = (v: unknown, path: string, min: number, max: number): number => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
      throw error(path, `expected an integer from ${min} to ${max}, got ${describe(v)}`);
    return v;
  };
  const oneOf = <T extends string>(v: unknown, path: string, options: readonly T[]): T => {
    if (typeof v !== "string" || !options.includes(v as T))
      throw error(path, `expected one of ${options.join(", ")}, got ${describe(v)}`);
    return v as T;
  };
  const rel = (p: string) => resolve(dirname(resolve(file)), p);

  const top = obj(raw ?? {}, "", ["programs", "maps", "metrics", "builtin"]);
  const names = new Set<string>();

  const programs = list(top.programs, "programs").map((p, i): ProgramConfig => {
    const path = `programs[${i}]`;
    const o = obj(p, path, ["name", "file", "type", "program", "attach", "pin"], ["name", "file"]);
    const name = str(o.name, `${path}.name`, /^[A-Za-z0-9_.-]{1,64}$/, "a name of letters, digits, _ . -");
    if (names.has(name)) throw error(`${path}.name`, `a program or map named '${name}' is already declared`);
    names.add(name);
    const cfg: ProgramConfig = {
      name,
      file: rel(str(o.file, `${path}.file`)),
      attach: attachOf(o.attach, `${path}.attach`),
      path,
    };
    if (o.type !== undefined)
      cfg.type = str(o.type, `${path}.type`, /^[a-z_]+$/, "a program type (xdp, tracepoint, ...)");
    if (o.pin !== undefined) cfg.pin = str(o.pin, `${path}.pin`, /^\//, "an absolute bpffs folder");
    if (o.program !== undefined) {
      if (!/\.o$/.test(cfg.file))
        throw error(
          `${path}.program`,
          `'program' picks a program of a clang object (.o); ${cfg.file} is not one`,
        );
      cfg.program = str(o.program, `${path}.program`, /^[A-Za-z_][A-Za-z0-9_]*$/, "a C function name");
    }
    return cfg;
  });

  function attachOf(v: unknown, path: string): AttachSpec {
    if (v === undefined) return { kind: "auto" };
    if (v === "none") return { kind: "none" };
    const kinds = ["tracepoint", "rawTracepoint", "xdp", "tcx", "cgroup", "uprobe"];
    const o = obj(v, path, kinds);
    const given = Object.keys(o);
    if (given.length !== 1) throw error(path, `give exactly one of ${kinds.join(", ")}`);
    const k = given[0]!;
    const p = `${path}.${k}`;
    switch (k) {
      case "tracepoint": {
        const t = str(o[k], p, /^[a-z0-9_]+\/[a-z0-9_]+$/, "CATEGORY/NAME, e.g. syscalls/sys_enter_getppid");
        const [category, name] = t.split("/") as [string, string];
        return { kind: "tracepoint", category, name };
      }
      case "rawTracepoint":
        return {
          kind: "raw_tracepoint",
          name: str(o[k], p, /^[a-z0-9_]+$/, "a tracepoint name, e.g. sys_enter"),
        };
      case "xdp": {
        const x = obj(o[k], p, ["interface", "mode"], ["interface"]);
        return {
          kind: "xdp",
          interface: str(x.interface, `${p}.interface`),
          ...(x.mode !== undefined && {
            mode: oneOf(x.mode, `${p}.mode`, ["generic", "driver", "offload"] as const),
          }),
        };
      }
      case "tcx": {
        const x = obj(o[k], p, ["interface", "direction"], ["interface", "direction"]);
        return {
          kind: "tcx",
          interface: str(x.interface, `${p}.interface`),
          direction: oneOf(x.direction, `${p}.direction`, ["ingress", "egress"] as const),
        };
      }
      case "cgroup": {
        const x = obj(o[k], p, ["path", "attachType"], ["path", "attachType"]);
        return {
          kind: "cgroup",
          path: str(x.path, `${p}.path`, /^\//, "an absolute cgroup path"),
          attachType: str(x.attachType, `${p}.attachType`),
        };
      }
      default: {
        const x = obj(o[k], p, ["binary", "symbol", "retprobe", "pid"], ["binary", "symbol"]);
        if (x.retprobe !== undefined && typeof x.retprobe !== "boolean")
          throw error(`${p}.retprobe`, `expected true or false, got ${describe(x.retprobe)}`);
        return {
          kind: "uprobe",
          binary: str(x.binary, `${p}.binary`),
          symbol: str(x.symbol, `${p}.symbol`),
          retprobe: x.retprobe === true,
          ...(x.pid !== undefined && { pid: int(x.pid, `${p}.pid`, 1, 0x7fffffff) }),
        };
      }
    }
  }

  const maps = list(top.maps, "maps").map((m, i): MapConfig => {
    const path = `maps[${i}]`;
    const o = obj(m, path, ["name", "pinned", "id"], ["name"]);
    const name = str(o.name, `${path}.name`, /^[A-Za-z0-9_.-]{1,64}$/, "a name of letters, digits, _ . -");
    if (names.has(name)) throw error(`${path}.name`, `a program or map named '${name}' is already declared`);
    names.add(name);
    if ((o.pinned === undefined) === (o.id === undefined))
      throw error(path, "give one of 'pinned' (a bpffs path) or 'id'");
    return {
      name,
      path,
      ...(o.pinned !== undefined && {
        pinned: str(o.pinned, `${path}.pinned`, /^\//, "an absolute bpffs path"),
      }),
      ...(o.id !== undefined && { id: int(o.id, `${path}.id`, 1, 0xffffffff) }),
    };
  });

  const decoderOf = (v: unknown, path: string, size: number): DecoderSpec => {
    const o = typeof v === "string" ? { name: v } : obj(v, path, ["name", "values"], ["name"]);
    const name = oneOf(
      o.name,
      typeof v === "string" ? path : `${path}.name`,
      Object.keys(DECODERS) as DecoderName[],
    );
    const d = DECODERS[name];
    if (!d.sizes(size))
      throw error(path, `the ${name} decoder does not fit a ${size}-byte label: it takes ${d.sizeText}`);
    const spec: DecoderSpec = { name };
    if (name === "enum" && o.values !== undefined) {
      const vals = obj(o.values, `${path}.values`, Object.keys((o.values as object) ?? {}));
      spec.values = {};
      for (const [k, n] of Object.entries(vals)) {
        if (!/^-?\d+$/.test(k)) throw error(`${path}.values.${k}`, `enum values are integers, got '${k}'`);
        spec.values[String(BigInt(k))] = str(n, `${path}.values.${k}`);
      }
    } else if (o.values !== undefined) {
      throw error(`${path}.values`, "only the enum decoder takes values");
    }
    return spec;
  };

  const metrics: MetricSpec[] = [];
  const metricNames = new Set<string>();
  const m = obj(top.metrics ?? {}, "metrics", ["counters", "gauges", "histograms"]);
  for (const [group, kind] of [
    ["counters", "counter"],
    ["gauges", "gauge"],
    ["histograms", "histogram"],
  ] as const) {
    list(m[group], `metrics.${group}`).forEach((x, i) => {
      const path = `metrics.${group}[${i}]`;
      const histo = kind === "histogram";
      const keys = ["name", "help", "map", "labels", "perCpu", "maxSeries"];
      if (histo) keys.push("bucketType", "bucketMin", "bucketMax", "bucketMultiplier", "sum");
      const o = obj(x, path, keys, histo ? ["name", "map", "bucketType", "bucketMax"] : ["name", "map"]);
      const name = str(
        o.name,
        `${path}.name`,
        NAME_RE,
        "a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)",
      );
      const family = kind === "counter" ? name.replace(/_total$/, "") : name;
      if (metricNames.has(family)) throw error(`${path}.name`, `metric '${name}' is already declared`);
      metricNames.add(family);
      const labelNames = new Set<string>();
      const labels = list(o.labels, `${path}.labels`).map((l, j): LabelSpec => {
        const lp = `${path}.labels[${j}]`;
        const lo = obj(l, lp, ["name", "size", "decoders", "padding"]);
        if (lo.padding !== undefined) {
          if (lo.name !== undefined || lo.decoders !== undefined)
            throw error(lp, "padding takes only a size: padding: 4");
          return { name: "", size: int(lo.padding, `${lp}.padding`, 1, 256), decoders: [], path: lp };
        }
        if (lo.name === undefined || lo.size === undefined)
          throw error(lp, "a label needs 'name' and 'size' (or is padding: N)");
        const ln = str(lo.name, `${lp}.name`, LABEL_RE, "a label name ([a-zA-Z_][a-zA-Z0-9_]*)");
        if (ln.startsWith("__"))
          throw error(`${lp}.name`, "label names starting with __ are reserved by Prometheus");
        if (labelNames.has(ln)) throw error(`${lp}.name`, `label '${ln}' is already declared`);
        if (ln === "le" || (ln === "cpu" && o.perCpu === "cpu"))
          throw error(`${lp}.name`, `label '${ln}' is the exporter's own here`);
        labelNames.add(ln);
        const size = int(lo.size, `${lp}.size`, 1, 256);
        const decoders = list(lo.decoders ?? ["uint"], `${lp}.decoders`).map((d, k) =>
          decoderOf(d, `${lp}.decoders[${k}]`, size),
        );
        if (decoders.length === 0)
          throw error(`${lp}.decoders`, "give at least one decoder (uint, string, ...)");
        return { name: ln, size, decoders, path: lp };
      });
      const spec: MetricSpec = {
        kind,
        name,
        help: o.help === undefined ? `${name} from map ${String(o.map)}` : str(o.help, `${path}.help`),
        map: str(o.map, `${path}.map`, /^[A-Za-z0-9_.-]+$/, "PROGRAM.MAP or MAP"),
        labels,
        perCpu: o.perCpu === undefined ? "sum" : oneOf(o.perCpu, `${path}.perCpu`, ["sum", "cpu"] as const),
        maxSeries:
          o.maxSeries === undefined ? undefined : int(o.maxSeries, `${path}.maxSeries`, 1, 100_000_000),
        path,
      };
      if (histo) {
        const bucket = labels[labels.length - 1];
        if (bucket?.name !== "bucket")
          throw error(
            `${path}.labels`,
            "a histogram's last label is its bucket index: { name: bucket, size: 4 }",
          );
        if (bucket.size > 8 || bucket.decoders.length !== 1 || bucket.decoders[0]!.name !== "uint")
          throw error(
            bucket.path,
            "the bucket label is an unsigned integer of 1 to 8 bytes (decoders: [uint])",
          );
        spec.bucketType = oneOf(o.bucketType, `${path}.bucketType`, ["exp2", "linear"] as const);
        spec.bucketMin = o.bucketMin === undefined ? 0 : int(o.bucketMin, `${path}.bucketMin`, 0, 1 << 20);
        spec.bucketMax = int(
          o.bucketMax,
          `${path}.bucketMax`,
          0,
          spec.bucketType === "exp2" ? 1023 : 1 << 20,
        );
        if (spec.bucketMax < spec.bucketMin)
          throw error(
            `${path}.bucketMax`,
            `bucketMax ${spec.bucketMax} is below bucketMin ${spec.bucketMin}`,
          );
        if (spec.bucketMax - spec.bucketMin > 10_000)
          throw error(`${path}.bucketMax`, "at most 10001 buckets (bucketMax - bucketMin <= 10000)");
        const mult = o.bucketMultiplier ?? 1;
        if (typeof mult !== "number" || !(mult > 0) || !Number.isFinite(mult))
          throw error(`${path}.bucketMultiplier`, `expected a positive number, got ${describe(mult)}`);
        spec.bucketMultiplier = mult;
        spec.sum =
          o.sum === undefined ? "estimate" : oneOf(o.sum, `${path}.sum`, ["estimate", "bucket"] as const);
      }
      metrics.push(spec);
    });
  }
  const builtin = top.builtin === undefined ? true : top.builtin;
  if (typeof builtin !== "boolean")
    throw error("builtin", `expected true or false, got ${describe(builtin)}`);
  return { file, programs, maps, metrics, builtin, where, error };
}
