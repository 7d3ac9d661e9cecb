/** The bpf(2) system call: commands, the attr scratch buffer, and raw calls that throw BpfError. */
import { missingCapability, type PrivilegeKind } from "./caps.js";
import { Errno } from "./errno.js";
import { BpfError, type BpfErrorDetails, InputError } from "./error.js";
import { descriptorPressureDetails, isDescriptorPressure, reclaimDescriptors } from "./fd.js";
import { ATTR_SIZE } from "./layout.js";
import * as libc from "./libc.js";

/** bpf() command numbers (enum bpf_cmd). */
export const Cmd = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  OBJ_PIN: 6,
  OBJ_GET: 7,
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  PROG_TEST_RUN: 10,
  PROG_GET_NEXT_ID: 11,
  MAP_GET_NEXT_ID: 12,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15,
  PROG_QUERY: 16,
  RAW_TRACEPOINT_OPEN: 17,
  BTF_LOAD: 18,
  BTF_GET_FD_BY_ID: 19,
  TASK_FD_QUERY: 20,
  MAP_LOOKUP_AND_DELETE_ELEM: 21,
  MAP_FREEZE: 22,
  BTF_GET_NEXT_ID: 23,
  MAP_LOOKUP_BATCH: 24,
  MAP_LOOKUP_AND_DELETE_BATCH: 25,
  MAP_UPDATE_BATCH: 26,
  MAP_DELETE_BATCH: 27,
  LINK_CREATE: 28,
  LINK_UPDATE: 29,
  LINK_GET_FD_BY_ID: 30,
  LINK_GET_NEXT_ID: 31,
  ENABLE_STATS: 32,
  ITER_CREATE: 33,
  LINK_DETACH: 34,
  PROG_BIND_MAP: 35,
} as const;
export type CmdName = keyof typeof Cmd;

// Stryker disable next-line ArrayDeclaration: every index a first element could take (0) is overwritten below
const CMD_NAMES: string[] = [];
for (const [name, value] of Object.entries(Cmd)) CMD_NAMES[value] = `BPF_${name}`;

/** The kernel's name of a command number, e.g. "BPF_MAP_CREATE". */
export function cmdName(cmd: number): string {
  return CMD_NAMES[cmd] ?? `BPF_CMD_${cmd}`;
}

const SYS_BPF = libc.SYS_bpf;

/**
 * Calls bpf(cmd, attr, size) and returns the result, or `-errno` on failure. Never throws for a
 * kernel refusal: the hot paths use this and decide what an errno means (ENOENT is not an error
 * for a lookup). When the process is out of descriptors (EMFILE, ENFILE) and a collection closes
 * some that rawbpf objects dropped without close() still held, the call is made once more.
 */
export function bpfRaw(cmd: number, attr: Buffer, size: number = ATTR_SIZE): number {
  if (SYS_BPF === undefined) return -Errno.ENOTSUPP;
  let ret = Number(libc.syscallBuf(SYS_BPF, cmd, attr, size));
  if (ret >= 0) return ret;
  const errno = libc.errno();
  if (!isDescriptorPressure(errno) || reclaimDescriptors() === 0) return -errno;
  ret = Number(libc.syscallBuf(SYS_BPF, cmd, attr, size));
  return ret < 0 ? -libc.errno() : ret;
}

const syscallAddr = libc.syscallAddr;

/**
 * bpf(cmd, attr at `address`, size): the result or `-errno`. The caller keeps the memory at
 * `address` alive (it belongs to a Buffer the caller holds). The element hot path calls this, so
 * it is one native call and a sign test.
 */
export function bpfAt(cmd: number, address: number, size: number = ATTR_SIZE): number {
  if (SYS_BPF === undefined) return -Errno.ENOTSUPP;
  const ret = syscallAddr(SYS_BPF, cmd, address, size) as number;
  return ret < 0 ? -libc.errno() : ret;
}

/** Context used to name a missing capability on EPERM. */
export interface CallContext {
  /** what kind of privilege the operation needs beyond bpf() itself */
  privilege?: PrivilegeKind;
  /** a few words naming the object ("map 'counts'") for the message */
  what?: string;
  details?: BpfErrorDetails;
}

/** Builds the BpfError for a failed command, naming the missing capability on EPERM. */
export function bpfError(cmd: number, errno: number, ctx: CallContext = {}): BpfError {
  const details: BpfErrorDetails = { ...descriptorPressureDetails(errno), ...ctx.details };
  if (errno === Errno.EPERM && details.capability === undefined) {
    // Stryker disable next-line StringLiteral: missingCapability treats every kind but "admin", "net" and "perfmon" as "bpf"
    const cap = missingCapability(ctx.privilege ?? "bpf");
    // Stryker disable next-line ConditionalExpression: a capability set to undefined reads as one never set
    if (cap) details.capability = cap;
  }
  return new BpfError(cmdName(cmd), errno, details, ctx.what);
}

/** Calls bpf() and throws a BpfError on failure; returns the (non-negative) result. */
export function bpfCall(cmd: number, attr: Buffer, ctx?: CallContext, size: number = ATTR_SIZE): number {
  const ret = bpfRaw(cmd, attr, size);
  if (ret < 0) throw bpfError(cmd, -ret, ctx);
  return ret;
}

// ---- attr buffers -------------------------------------------------------------------------------

const scratch = Buffer.alloc(ATTR_SIZE);

/**
 * The shared attr scratch buffer, zeroed. JavaScript is single-threaded and no command re-enters
 * another while its attr is being filled, so one buffer serves every non-hot command.
 */
export function scratchAttr(): Buffer {
  scratch.fill(0);
  return scratch;
}

/** Writes a u32 after checking it is one. */
export function putU32(buf: Buffer, offset: number, value: number, field = "value"): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new InputError(`${field} must be an integer from 0 to 4294967295, got ${value}`);
  }
  buf.writeUInt32LE(value, offset);
}

/** Writes an s32 after checking it is one. */
export function putS32(buf: Buffer, offset: number, value: number, field = "value"): void {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw new InputError(`${field} must be a 32-bit signed integer, got ${value}`);
  }
  buf.writeInt32LE(value, offset);
}

/** Writes a u64 (number or bigint) after checking it is one. */
export function putU64(buf: Buffer, offset: number, value: number | bigint, field = "value"): void {
  const v = typeof value === "bigint" ? value : Number.isInteger(value) ? BigInt(value) : -1n;
  if (v < 0n || v > 0xffffffffffffffffn) {
    throw new InputError(`${field} must be an integer from 0 to 2^64-1, got ${value}`);
  }
  buf.writeBigUInt64LE(v, offset);
}

/** Writes the address of `data` (or 0 for none). The caller keeps `data` referenced across the call. */
export function putPtr(buf: Buffer, offset: number, data: ArrayBufferView | undefined | null): void {
  buf.writeBigUInt64LE(data && data.byteLength > 0 ? libc.addressOf(data) : 0n, offset);
}

const NAME_RE = /^[A-Za-z0-9_.]*$/;

/** Writes an object name (at most 15 characters of [A-Za-z0-9_.]) into a char[16]. */
export function putName(buf: Buffer, offset: number, name: string | undefined, what: string): void {
  if (!name) return;
  if (name.length > 15 || !NAME_RE.test(name)) {
    throw new InputError(
      `${what} name '${name}' is not accepted by the kernel: at most 15 characters of letters, digits, '_' and '.'`,
    );
  }
  // Stryker disable next-line StringLiteral: NAME_RE admits ASCII only, which UTF-8 (the default) writes as latin1 does
  buf.write(name, offset, "latin1");
}

/** Reads a NUL-terminated char[16]. */
export function getName(buf: Uint8Array, offset: number): string {
  let end = offset;
  while (end < offset + 16 && buf[end] !== 0) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + offset, end - offset).toString("latin1");
}

/** A NUL-terminated copy of a string, for paths and licenses. */
export function cString(s: string): Buffer {
  if (s.includes("\0")) throw new InputError(`string ${JSON.stringify(s)} contains a NUL byte`);
  return Buffer.from(`${s}\0`, "utf8");
}
