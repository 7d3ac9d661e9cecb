/**
 * `rawbpf map list | show ID | dump ID | lookup ID KEY | update ID KEY VALUE | delete ID KEY |
 * pin ID PATH [--json]`: the kernel's maps, as bpftool shows them (`--json` follows `bpftool -j`
 * field for field). Dumps read the map by batches (BPF_MAP_LOOKUP_BATCH, or key by key where the
 * kernel refuses batches) and write the JSON straight into one buffer.
 */
import type { Btf } from "../btf/decode.js";
import { type BtfValue, formatValue } from "../btf/value.js";
import { type ListedMap, listedMap, listMaps, mapById, NoSuchObjectError } from "../map/list.js";
import { BpfMap } from "../map/map.js";
import { possibleCpus } from "../map/percpu.js";
import { isPerCpu } from "../map/types.js";
import { programTypeName } from "../program/types.js";
import { InputError } from "../sys/error.js";
import { parseArgs } from "./args.js";
import { type CliIo, UsageError } from "./io.js";
import { json, takeId } from "./prog.js";

const HELP = `usage: rawbpf map list [--json]
       rawbpf map show ID [--json]
       rawbpf map dump ID [--json]
       rawbpf map lookup ID KEY [--json]
       rawbpf map update ID KEY VALUE [--flags any|noexist|exist]
       rawbpf map delete ID KEY
       rawbpf map pin ID PATH

The maps in the kernel, as bpftool map shows them (needs CAP_SYS_ADMIN). Keys and values of a
map with BTF are printed as objects by their types; without BTF, as bytes.
  KEY, VALUE   an integer (decimal or 0x..., stored little-endian in the key's or value's size,
               at most 8 bytes), or hex:BYTES with every byte (hex:01000000). A per-CPU VALUE of
               one CPU's size is stored on every CPU.
  --json       the output of bpftool -j: entries as {key, value, formatted} with bytes as
               "0x.." strings (per-CPU maps: values [{cpu, value}])
`;

/** A map as `bpftool -j map show` prints it, field for field and in its order. */
export function mapJson(m: ListedMap): Record<string, unknown> {
  const o: Record<string, unknown> = {
    id: m.id,
    type: m.type.startsWith("unknown(") ? m.typeNumber : m.type,
  };
  if (m.name) o.name = m.name;
  o.flags = m.flags;
  if (m.ifindex) o.dev = { ifindex: m.ifindex };
  o.bytes_key = m.keySize;
  o.bytes_value = m.valueSize;
  o.max_entries = m.maxEntries;
  if (m.memlock) o.bytes_memlock = m.memlock;
  if (m.ownerProgramType !== undefined) {
    o.owner_prog_type = programTypeName(m.ownerProgramType);
    o.owner_jited = m.ownerJited;
  }
  o.frozen = m.frozen ? 1 : 0;
  if (m.btfId) o.btf_id = m.btfId;
  return o;
}

function mapText(m: ListedMap): string {
  const head = [`${m.id}: ${m.type}`];
  if (m.name) head.push(`name ${m.name}`);
  head.push(`flags 0x${m.flags.toString(16)}`);
  const lines = [head.join("  ")];
  const sizes = [`key ${m.keySize}B`, `value ${m.valueSize}B`, `max_entries ${m.maxEntries}`];
  if (m.memlock) sizes.push(`memlock ${m.memlock}B`);
  lines.push(`\t${sizes.join("  ")}`);
  const more: string[] = [];
  if (m.btfId) more.push(`btf_id ${m.btfId}`);
  if (m.frozen) more.push("frozen");
  if (more.length > 0) lines.push(`\t${more.join("  ")}`);
  return `${lines.join("\n")}\n`;
}

/** Opens map `id`, or a typed error saying there is none. */
function openMap(id: number): BpfMap {
  try {
    return BpfMap.fromId(id);
  } catch (e) {
    if ((e as { errnoName?: string }).errnoName === "ENOENT") throw new NoSuchObjectError("map", id);
    throw e;
  }
}

/** `"0x00"` ... `"0xff"`, quoted, as UTF-8: the JSON of one byte in bpftool's dumps. */
const HEX_QUOTED: Buffer[] = [];
for (let b = 0; b < 256; b++)
  HEX_QUOTED.push(Buffer.from(`"0x${b.toString(16).padStart(2, "0")}"`, "latin1"));

/** A growing output buffer for large JSON. */
class Out {
  buf = Buffer.allocUnsafe(1 << 16);
  pos = 0;
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  ascii(s: string): void {
    this.room(s.length * 3);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }
  /** `["0x01","0x00",...]` */
  hex(bytes: Buffer, start: number, n: number): void {
    this.room(n * 7 + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 0x5b;
    for (let i = 0; i < n; i++) {
      if (i > 0) buf[p++] = 0x2c;
      const h = HEX_QUOTED[bytes[start + i]!]!;
      buf[p] = h[0]!;
      buf[p + 1] = h[1]!;
      buf[p + 2] = h[2]!;
      buf[p + 3] = h[3]!;
      buf[p + 4] = h[4]!;
      buf[p + 5] = h[5]!;
      p += 6;
    }
    buf[p++] = 0x5d;
    this.pos = p;
  }
}

/** What a dump needs to know of a map: sizes, per-CPU layout, and its BTF (when it has one). */
interface Shape {
  info: ListedMap;
  perCpu: boolean;
  cpus: number;
  /** bytes of one CPU's slot in a per-CPU value */
  stride: number;
  btf: Btf | undefined;
}

async function shapeOf(map: BpfMap): Promise<Shape> {
  const info = listedMap(map.fd);
  const perCpu = isPerCpu(map.type);
  let btf: Btf | undefined;
  if (info.btfId !== 0 && info.btfValueTypeId !== 0) {
    const { parseKernelBtf, readBtfById } = await import("../btf/kernel.js");
    btf = parseKernelBtf(readBtfById(info.btfId));
  }
  return { info, perCpu, cpus: perCpu ? possibleCpus() : 1, stride: (info.valueSize + 7) & ~7, btf };
}

function formatted(s: Shape, typeId: number, bytes: Buffer, at: number, size: number): BtfValue {
  if (typeId === 0 || !s.btf) return Buffer.from(bytes.subarray(at, at + size)).toString("hex");
  return formatValue(s.btf, typeId, bytes.subarray(at, at + size));
}

/** One entry in bpftool's JSON: key and value as bytes, the map-of-maps or prog id, the formatted pair. */
function entryJson(out: Out, s: Shape, keys: Buffer, ko: number, values: Buffer, vo: number): void {
  const { info } = s;
  out.ascii('{"key":');
  out.hex(keys, ko, info.keySize);
  if (!s.perCpu) {
    out.ascii(',"value":');
    out.hex(values, vo, info.valueSize);
    if (s.btf)
      out.ascii(
        `,"formatted":${json({
          key: formatted(s, info.btfKeyTypeId, keys, ko, info.keySize),
          value: formatted(s, info.btfValueTypeId, values, vo, info.valueSize),
        })}`,
      );
  } else {
    out.ascii(',"values":[');
    for (let c = 0; c < s.cpus; c++) {
      out.ascii(`${c > 0 ? "," : ""}{"cpu":${c},"value":`);
      out.hex(values, vo + c * s.stride, info.valueSize);
      out.ascii("}");
    }
    out.ascii("]");
    if (s.btf) {
      const per = [];
      for (let c = 0; c < s.cpus; c++)
        per.push({
          cpu: c,
          value: formatted(s, info.btfValueTypeId, values, vo + c * s.stride, info.valueSize),
        });
      out.ascii(
        `,"formatted":${json({ key: formatted(s, info.btfKeyTypeId, keys, ko, info.keySize), values: per })}`,
      );
    }
  }
  out.ascii("}");
}

function spaced(bytes: Buffer, at: number, n: number): string {
  return Buffer.from(bytes.subarray(at, at + n))
    .toString("hex")
    .replace(/(..)(?!$)/g, "$1 ");
}

/** One entry in text: formatted by BTF when the map has it, else bytes as bpftool prints them. */
function entryText(s: Shape, keys: Buffer, ko: number, values: Buffer, vo: number): string {
  const { info } = s;
  const key = s.btf
    ? json(formatted(s, info.btfKeyTypeId, keys, ko, info.keySize))
    : spaced(keys, ko, info.keySize);
  if (!s.perCpu) {
    const value = s.btf
      ? json(formatted(s, info.btfValueTypeId, values, vo, info.valueSize))
      : spaced(values, vo, info.valueSize);
    return `key: ${key}  value: ${value}\n`;
  }
  const lines = [`key: ${key}`];
  for (let c = 0; c < s.cpus; c++) {
    const at = vo + c * s.stride;
    const v = s.btf
      ? json(formatted(s, info.btfValueTypeId, values, at, info.valueSize))
      : spaced(values, at, info.valueSize);
    lines.push(`  value (CPU ${String(c).padStart(2, "0")}): ${v}`);
  }
  return `${lines.join("\n")}\n`;
}

async function dump(id: number, asJson: boolean, io: CliIo): Promise<void> {
  using map = openMap(id);
  if (map.keySize === 0)
    throw new InputError(
      `map ${id}${map.name ? ` '${map.name}'` : ""} is a ${map.type}: it has no keys to walk, so it cannot be dumped ` +
        `(its values are read by taking them: ${map.type === "ringbuf" || map.type === "user_ringbuf" ? "RingBuffer in the library" : "pop or peek"})`,
    );
  const s = await shapeOf(map);
  const r = map.getBatchRaw();
  const ks = s.info.keySize;
  const vs = map.value.size;
  if (asJson) {
    const out = new Out();
    out.room(r.count * (ks + vs) * 7 + 64);
    out.ascii("[");
    for (let i = 0; i < r.count; i++) {
      if (i > 0) out.ascii(",");
      entryJson(out, s, r.keys, i * ks, r.values, i * vs);
    }
    out.ascii("]\n");
    io.stdoutBytes(out.buf.subarray(0, out.pos));
    return;
  }
  const parts: string[] = [];
  for (let i = 0; i < r.count; i++) parts.push(entryText(s, r.keys, i * ks, r.values, i * vs));
  parts.push(`Found ${r.count} element${r.count === 1 ? "" : "s"}\n`);
  io.stdout(parts.join(""));
}

/** KEY or VALUE bytes from the command line: an integer (little-endian, size <= 8) or hex:BYTES. */
export function parseBytes(text: string, size: number, what: string): Buffer {
  if (text.startsWith("hex:")) {
    const hex = text.slice(4).replace(/[\s_]/g, "");
    if (!/^([0-9a-fA-F]{2})*$/.test(hex))
      throw new InputError(`${what} '${text}': hex: needs two hex digits per byte`);
    const b = Buffer.from(hex, "hex");
    if (b.byteLength !== size)
      throw new InputError(
        `${what} '${text}' is ${b.byteLength} bytes, but the map's ${what} is ${size} bytes`,
      );
    return b;
  }
  if (!/^-?(0x[0-9a-fA-F]+|\d+)$/.test(text))
    throw new InputError(`${what} '${text}' is neither an integer nor hex:BYTES`);
  if (size > 8 || size === 0)
    throw new InputError(`the map's ${what} is ${size} bytes: give it as hex:BYTES (${size * 2} hex digits)`);
  const neg = text.startsWith("-");
  const n = BigInt(neg ? text.slice(1) : text) * (neg ? -1n : 1n);
  const bits = BigInt(size * 8);
  if (n >= 1n << bits || n < -(1n << (bits - 1n)))
    throw new InputError(`${what} ${text} does not fit in ${size} bytes`);
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, n));
  return b.subarray(0, size);
}

/** A per-CPU value of one CPU's size, copied to every CPU's slot; other values as they are. */
function fullValue(s: Shape, value: Buffer, full: number): Buffer {
  if (!s.perCpu || value.byteLength === full) return value;
  const out = Buffer.alloc(full);
  for (let c = 0; c < s.cpus; c++) value.copy(out, c * s.stride);
  return out;
}

const UPDATE_FLAGS = { any: "BPF_ANY", noexist: "BPF_NOEXIST", exist: "BPF_EXIST" } as const;

/** Runs `rawbpf map ...`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { booleans: ["json"], values: ["flags"], aliases: { j: "json" } });
  if (args.bools.has("help")) {
    io.stdout(HELP);
    return 0;
  }
  const [verb, ...rest] = args.positionals;
  const asJson = args.bools.has("json");
  const none = (more: string[]) => {
    if (more.length > 0) throw new UsageError(`unexpected argument '${more[0]}'`);
  };
  switch (verb) {
    case "list":
    case "show": {
      if (verb === "list" || rest.length === 0) {
        none(rest);
        const all = listMaps();
        io.stdout(asJson ? `${json(all.map(mapJson))}\n` : all.map(mapText).join(""));
        return 0;
      }
      const [id, more] = takeId(rest, "map");
      none(more);
      const m = mapById(id);
      if (!m) throw new NoSuchObjectError("map", id);
      io.stdout(asJson ? `${json(mapJson(m))}\n` : mapText(m));
      return 0;
    }
    case "dump": {
      const [id, more] = takeId(rest, "map");
      none(more);
      await dump(id, asJson, io);
      return 0;
    }
    case "lookup":
    case "delete": {
      const [id, more] = takeId(rest, "map");
      if (more.length !== 1) throw new UsageError(`${verb} takes a map id and a key: ${verb} ID KEY`);
      using map = openMap(id);
      const key = parseBytes(more[0]!, map.keySize, "key");
      if (verb === "delete") {
        if (!map.delete(key)) throw new InputError(`map ${id} has no key ${more[0]}`);
        return 0;
      }
      const s = await shapeOf(map);
      const value = Buffer.alloc(map.value.size);
      if (!map.getInto(key, value)) throw new InputError(`map ${id} has no key ${more[0]}`);
      if (asJson) {
        const out = new Out();
        entryJson(out, s, key, 0, value, 0);
        out.ascii("\n");
        io.stdoutBytes(out.buf.subarray(0, out.pos));
      } else io.stdout(entryText(s, key, 0, value, 0));
      return 0;
    }
    case "update": {
      const [id, more] = takeId(rest, "map");
      if (more.length !== 2)
        throw new UsageError("update takes a map id, a key and a value: update ID KEY VALUE");
      const flag = args.flags.get("flags") ?? "any";
      if (!(flag in UPDATE_FLAGS))
        throw new UsageError(`--flags must be any, noexist or exist, not '${flag}'`);
      using map = openMap(id);
      const s = await shapeOf(map);
      const key = parseBytes(more[0]!, map.keySize, "key");
      const value = fullValue(s, parseBytes(more[1]!, s.info.valueSize, "value"), map.value.size);
      map.set(key, value, [UPDATE_FLAGS[flag as keyof typeof UPDATE_FLAGS]]);
      return 0;
    }
    case "pin": {
      const [id, more] = takeId(rest, "map");
      if (more.length !== 1) throw new UsageError("pin takes a map id and a path: pin ID PATH");
      using map = openMap(id);
      map.pin(more[0]!);
      return 0;
    }
    default:
      throw new UsageError(
        verb
          ? `unknown verb '${verb}' (list, show, dump, lookup, update, delete, pin)`
          : "missing verb: list, show, dump, lookup, update, delete or pin",
      );
  }
}
