/**
 * struct_ops: a kernel operations table (`tcp_congestion_ops`, ...) implemented by BPF programs,
 * laid out from the running kernel's BTF, registered through a BPF_MAP_TYPE_STRUCT_OPS map and a
 * link (BPF_LINK_CREATE, BPF_STRUCT_OPS).
 */
import type { Btf } from "../btf/decode.js";
import { vmlinuxBtf } from "../btf/kernel.js";
import type { CompositeType } from "../btf/types.js";
import { BpfMap } from "../map/map.js";
import { Program, type ProgramSpec } from "../program/program.js";
import { attachTypeName, attachTypeNumber } from "../program/types.js";
import { type SocketLike, socketFd } from "../socket/socket.js";
import { BpfError, InputError } from "../sys/error.js";
import { linkCreate } from "../sys/link.js";
import { getTcpCongestion, setTcpCongestion } from "../sys/socket.js";
import { WrongProgramTypeError } from "./errors.js";
import { adoptLink, type Link } from "./link.js";

/** The kernel has no struct_ops type by that name, or the struct has no such member. */
export class UnknownStructOpsError extends InputError {}

/** A struct_ops type as this kernel's BTF lays it out. */
interface StructOpsType {
  btf: Btf;
  /** the struct (`tcp_congestion_ops`) */
  id: number;
  struct: CompositeType;
  /** `struct bpf_struct_ops_<name>`: the map's value */
  valueId: number;
  valueSize: number;
  /** where the struct starts in the value (its `data` member) */
  dataOffset: number;
}

function structOpsType(name: string): StructOpsType {
  if (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new InputError(
      `a struct_ops type is a C struct name like 'tcp_congestion_ops', got ${JSON.stringify(name)}`,
    );
  const btf = vmlinuxBtf();
  const valueId = btf.findId(`bpf_struct_ops_${name}`, "struct");
  const id = btf.findId(name, "struct");
  if (valueId === undefined || id === undefined) {
    const known: string[] = [];
    for (let i = 1; i < btf.typeCount; i++) {
      const n = btf.nameOf(i);
      if (
        n.startsWith("bpf_struct_ops_") &&
        btf.kindName(i) === "struct" &&
        n !== "bpf_struct_ops_common_value"
      )
        known.push(n.slice("bpf_struct_ops_".length));
    }
    throw new UnknownStructOpsError(
      `this kernel has no struct_ops type '${name}' (no struct bpf_struct_ops_${name} in its BTF); it has: ${known.sort().join(", ") || "none"}`,
    );
  }
  const value = btf.type(valueId) as CompositeType;
  const data = value.members.find((m) => m.name === "data");
  if (data === undefined)
    throw new UnknownStructOpsError(`struct bpf_struct_ops_${name} has no 'data' member`);
  return {
    btf,
    id,
    struct: btf.type(id) as CompositeType,
    valueId,
    valueSize: value.size,
    dataOffset: data.bitOffset / 8,
  };
}

function memberIndex(t: StructOpsType, name: string, member: string): number {
  const i = t.struct.members.findIndex((m) => m.name === member);
  if (i < 0) {
    throw new UnknownStructOpsError(
      `struct ${name} has no member '${member}': its members are ${t.struct.members.map((m) => m.name).join(", ")}`,
    );
  }
  return i;
}

/** Whether member `i` is a function pointer (a slot for a program). */
function isFunctionSlot(t: StructOpsType, i: number): boolean {
  const m = t.struct.members[i]!;
  const ref = t.btf.type(t.btf.resolve(m.type));
  return ref.kind === "ptr" && t.btf.kindName(t.btf.resolve(ref.type)) === "func_proto";
}

/** What {@link loadStructOpsProgram} takes: a program spec without its type and attach fields. */
export type StructOpsProgramSpec = Omit<ProgramSpec, "type" | "attachBtfId" | "expectedAttachType">;

/**
 * Loads a `struct_ops` program implementing member `member` of kernel struct `structName`
 * (`loadStructOpsProgram("tcp_congestion_ops", "ssthresh", {...})`): attach_btf_id is the
 * struct's id in this kernel's BTF and the expected attach type the member's index. The program
 * reads its arguments as u64 slots of its context (`r1`), as the member's prototype orders them,
 * and may call the kfuncs the kernel offers that struct (`call kfunc tcp_reno_ssthresh`).
 */
export function loadStructOpsProgram(
  structName: string,
  member: string,
  spec: StructOpsProgramSpec,
): Program {
  const t = structOpsType(structName);
  const i = memberIndex(t, structName, member);
  if (!isFunctionSlot(t, i)) {
    throw new InputError(
      `${structName}.${member} is a data member, not a function: give its value in registerStructOps' data`,
    );
  }
  // expected_attach_type carries the member's index for struct_ops; Program.load takes attach
  // types by name, so it is given the name whose number is that index
  return Program.load({
    ...spec,
    type: "struct_ops",
    attachBtfId: t.id,
    expectedAttachType: attachTypeName(i),
  });
}

/** Options of {@link registerStructOps}. */
export interface StructOpsOptions {
  /** function members: the program for each, loaded by {@link loadStructOpsProgram} for that member */
  programs: Readonly<Record<string, Program>>;
  /** data members: integers for integer members, strings for char arrays (`name`) */
  data?: Readonly<Record<string, number | bigint | string>>;
  /** the map's name (at most 15 characters) */
  mapName?: string;
}

/** A registered struct_ops: its map (the table's value) and the link that keeps it registered. */
export class StructOps implements Disposable {
  /** the BPF_MAP_TYPE_STRUCT_OPS map holding the table */
  readonly map: BpfMap;
  /** the struct_ops link; closing it unregisters the table */
  readonly link: Link;

  /** Not public: made by {@link registerStructOps}. */
  constructor(map: BpfMap, link: Link) {
    this.map = map;
    this.link = link;
  }

  /** Unregisters the table (closes the link) and closes the map; a second call does nothing. */
  close(): void {
    this.link.close();
    this.map.close();
  }

  /** The same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function writeData(t: StructOpsType, value: Buffer, member: string, v: unknown, structName: string): void {
  const i = memberIndex(t, structName, member);
  const m = t.struct.members[i]!;
  if (m.bitfieldSize !== 0)
    throw new InputError(`${structName}.${member} is a bitfield: rawbpf does not fill bitfields`);
  const at = t.dataOffset + m.bitOffset / 8;
  const resolved = t.btf.resolve(m.type);
  const ty = t.btf.type(resolved);
  if (ty.kind === "array") {
    const elem = t.btf.type(t.btf.resolve(ty.type));
    if (typeof v !== "string" || elem.kind !== "int" || t.btf.sizeOf(ty.type) !== 1)
      throw new InputError(`${structName}.${member} is an array: give a string for a char array`);
    const bytes = Buffer.from(v, "utf8");
    if (bytes.length >= ty.length || bytes.includes(0))
      throw new InputError(
        `${structName}.${member} holds at most ${ty.length - 1} bytes and no NUL, got ${JSON.stringify(v)}`,
      );
    value.set(bytes, at);
    return;
  }
  if (ty.kind !== "int" && ty.kind !== "enum" && ty.kind !== "enum64") {
    throw new InputError(
      `${structName}.${member} is a ${ty.kind === "ptr" ? (isFunctionSlot(t, i) ? "function: give a program in 'programs'" : "pointer: the kernel fills it") : ty.kind}, not an integer or char array`,
    );
  }
  const size = t.btf.sizeOf(resolved);
  if (typeof v !== "number" && typeof v !== "bigint")
    throw new InputError(`${structName}.${member} is a ${size}-byte integer, got ${JSON.stringify(v)}`);
  const n = BigInt(v);
  const bits = BigInt(size * 8);
  if (n < -(1n << (bits - 1n)) || n >= 1n << bits)
    throw new InputError(`${structName}.${member} is a ${size}-byte integer: ${n} does not fit`);
  const u = BigInt.asUintN(size * 8, n);
  for (let b = 0; b < size; b++) value[at + b] = Number((u >> BigInt(8 * b)) & 0xffn);
}

/**
 * Registers a kernel operations table implemented by BPF programs: lays out
 * `struct bpf_struct_ops_<structName>` from this kernel's BTF, puts each program's descriptor in
 * its function slot and each data value in its member, creates the struct_ops map (with
 * BPF_F_LINK), stores the table, and links it (BPF_LINK_CREATE): from then on the kernel uses it
 * (a `tcp_congestion_ops` is then a congestion control by its `name`, for `TCP_CONGESTION`).
 * Close the result to unregister.
 */
export function registerStructOps(structName: string, options: StructOpsOptions): StructOps {
  const t = structOpsType(structName);
  if (
    options === null ||
    typeof options !== "object" ||
    options.programs === null ||
    typeof options.programs !== "object"
  )
    throw new InputError("registerStructOps needs options { programs: { member: Program } }");
  const value = Buffer.alloc(t.valueSize);
  for (const [member, program] of Object.entries(options.programs)) {
    const i = memberIndex(t, structName, member);
    if (!isFunctionSlot(t, i))
      throw new InputError(`${structName}.${member} is a data member, not a function: give it in 'data'`);
    if (program === null || typeof program !== "object" || typeof program.type !== "string")
      throw new InputError(`${structName}.${member} needs a loaded Program, got ${String(program)}`);
    if (program.type !== "struct_ops")
      throw new WrongProgramTypeError(`${structName}.${member}`, program.type, ["struct_ops"]);
    const wanted = attachTypeName(i);
    if (program.expectedAttachType !== undefined && program.expectedAttachType !== wanted) {
      const other = t.struct.members[attachTypeNumber(program.expectedAttachType)]?.name ?? "another member";
      throw new InputError(
        `the program given for ${structName}.${member} was loaded for ${structName}.${other}: load it with loadStructOpsProgram('${structName}', '${member}', ...)`,
      );
    }
    value.writeBigUInt64LE(BigInt(program.fd), t.dataOffset + t.struct.members[i]!.bitOffset / 8);
  }
  for (const [member, v] of Object.entries(options.data ?? {})) writeData(t, value, member, v, structName);
  const map = BpfMap.create({
    type: "struct_ops",
    keySize: 4,
    valueSize: t.valueSize,
    maxEntries: 1,
    flags: ["BPF_F_LINK"],
    btfVmlinuxValueTypeId: t.valueId,
    ...(options.mapName === undefined ? {} : { name: options.mapName }),
  });
  try {
    try {
      map.set(Buffer.alloc(4), value);
    } catch (e) {
      if (e instanceof BpfError && (e.errnoName === "EINVAL" || e.errnoName === "EEXIST")) {
        throw new BpfError(
          e.command,
          e.errno,
          {
            hint:
              e.errnoName === "EEXIST"
                ? `a ${structName} by that name is registered already: give it another name`
                : `the kernel's check of the ${structName} refused it: a required member is missing (tcp_congestion_ops needs ssthresh, undo_cwnd and cong_avoid or cong_control, and a name), or a program does not fit its member`,
          },
          `of struct_ops ${structName}`,
        );
      }
      throw e;
    }
    const link = linkCreate(
      { progFd: map.fd, target: 0, attachType: attachTypeNumber("struct_ops") },
      { what: `of struct_ops ${structName}`, privilege: "admin" },
    );
    return new StructOps(map, adoptLink(link));
  } catch (e) {
    map.close();
    throw e;
  }
}

/**
 * Makes a TCP socket (a descriptor, or a Node `net.Socket` once connected) use congestion control
 * `name` (setsockopt TCP_CONGESTION, which Node has no API for) — a built-in one (`"cubic"`,
 * `"reno"`) or one registered with {@link registerStructOps}. A name not in
 * /proc/sys/net/ipv4/tcp_allowed_congestion_control needs CAP_NET_ADMIN; an unknown one is ENOENT.
 */
export function setCongestionControl(socket: SocketLike, name: string): void {
  if (typeof name !== "string" || name.length === 0 || Buffer.byteLength(name) > 15 || name.includes("\0"))
    throw new InputError(`a congestion control name is 1 to 15 bytes, got ${JSON.stringify(name)}`);
  try {
    setTcpCongestion(socketFd(socket), name);
  } catch (e) {
    if (e instanceof BpfError && e.errnoName === "ENOENT") {
      throw new BpfError(
        e.command,
        e.errno,
        {
          hint: `there is no congestion control '${name}': /proc/sys/net/ipv4/tcp_available_congestion_control lists them (a struct_ops one is there while registered)`,
        },
        `to '${name}'`,
      );
    }
    throw e;
  }
}

/** The congestion control a TCP socket (a descriptor or a Node `net.Socket`) uses (getsockopt TCP_CONGESTION). */
export function congestionControl(socket: SocketLike): string {
  return getTcpCongestion(socketFd(socket));
}
