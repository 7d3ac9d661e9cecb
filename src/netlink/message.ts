/**
 * Netlink messages as bytes: the 16-byte `nlmsghdr`, a fixed family header, then attributes
 * (`struct nlattr`: u16 length, u16 type, the payload, padded to 4 bytes), nested at will.
 * Host byte order (little-endian on every platform rawbpf runs on) except where a field says
 * otherwise. Pure: no socket here.
 */
import { NetlinkFormatError } from "./errors.js";

/** nlmsghdr.nlmsg_flags bits. */
export const NlmFlags = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  ECHO: 0x8,
  /** NLM_F_ROOT | NLM_F_MATCH, on a get request */
  DUMP: 0x300,
  /** on a new request: replace what is there */
  REPLACE: 0x100,
  /** on a new request: fail if it exists */
  EXCL: 0x200,
  /** on a new request: create if it does not exist */
  CREATE: 0x400,
  /** on an error message: it ends with extended-ack attributes */
  ACK_TLVS: 0x200,
  /** on an error message: the request echoed back is its header only */
  CAPPED: 0x100,
} as const;

/** The message types every netlink family shares. */
export const NlmsgType = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const;

/** NLA_F_NESTED: the attribute holds attributes. */
export const NLA_F_NESTED = 0x8000;
/** The bits of nla_type that are flags, not the type. */
const NLA_TYPE_MASK = ~(0x8000 | 0x4000) & 0xffff;

/** Size of struct nlmsghdr. */
export const NLMSG_HDRLEN = 16;

const align4 = (n: number) => (n + 3) & ~3;

/**
 * Builds one netlink message: the header, the family header's bytes, then attributes. Lengths
 * (the message's and each nest's) are filled in as parts close.
 */
export class MessageWriter {
  #buf = Buffer.alloc(256);
  #len = 0;
  readonly #nests: number[] = [];

  /** Starts a message of `type` with `flags` and sequence number `seq` (port id 0: the kernel). */
  constructor(type: number, flags: number, seq: number) {
    this.#reserve(NLMSG_HDRLEN);
    this.#buf.writeUInt16LE(type, 4);
    this.#buf.writeUInt16LE(flags, 6);
    this.#buf.writeUInt32LE(seq >>> 0, 8);
    this.#len = NLMSG_HDRLEN;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = Buffer.alloc(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }

  /** Appends raw bytes (a family header), padded to 4 bytes. */
  bytes(data: Uint8Array): this {
    const padded = align4(data.length);
    this.#reserve(padded);
    this.#buf.set(data, this.#len);
    this.#buf.fill(0, this.#len + data.length, this.#len + padded);
    this.#len += padded;
    return this;
  }

  /** Appends an attribute with a raw payload. */
  attr(type: number, payload: Uint8Array): this {
    const len = 4 + payload.length;
    if (len > 0xffff)
      throw new RangeError(`a netlink attribute holds at most 65531 bytes, got ${payload.length}`);
    this.#reserve(align4(len));
    this.#buf.writeUInt16LE(len, this.#len);
    this.#buf.writeUInt16LE(type, this.#len + 2);
    this.#buf.set(payload, this.#len + 4);
    this.#buf.fill(0, this.#len + len, this.#len + align4(len));
    this.#len += align4(len);
    return this;
  }

  /** Appends a u8 attribute. */
  u8(type: number, value: number): this {
    return this.attr(type, Uint8Array.of(value & 0xff));
  }

  /** Appends a u16 attribute (host order). */
  u16(type: number, value: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(value, 0);
    return this.attr(type, b);
  }

  /** Appends a u32 attribute (host order). */
  u32(type: number, value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0, 0);
    return this.attr(type, b);
  }

  /** Appends an s32 attribute (host order). */
  s32(type: number, value: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value, 0);
    return this.attr(type, b);
  }

  /** Appends a NUL-terminated string attribute. */
  string(type: number, value: string): this {
    return this.attr(type, Buffer.from(`${value}\0`, "utf8"));
  }

  /** Opens a nested attribute (NLA_F_NESTED set); close it with {@link MessageWriter.end}. */
  begin(type: number, nestedFlag = true): this {
    this.#reserve(4);
    this.#nests.push(this.#len);
    this.#buf.writeUInt16LE(0, this.#len);
    this.#buf.writeUInt16LE(nestedFlag ? type | NLA_F_NESTED : type, this.#len + 2);
    this.#len += 4;
    return this;
  }

  /** Closes the innermost nested attribute, writing its length. */
  end(): this {
    const start = this.#nests.pop();
    if (start === undefined) throw new RangeError("end() without begin()");
    this.#buf.writeUInt16LE(this.#len - start, start);
    return this;
  }

  /** The finished message (its length written); the writer must not be used after. */
  finish(): Buffer {
    if (this.#nests.length > 0) throw new RangeError(`${this.#nests.length} nested attribute(s) not closed`);
    this.#buf.writeUInt32LE(this.#len, 0);
    return this.#buf.subarray(0, this.#len);
  }
}

/** One decoded message: its header fields and its payload (the bytes after the header). */
export interface Message {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
}

/** Splits a buffer received from a netlink socket into its messages. */
export function parseMessages(buf: Buffer): Message[] {
  const out: Message[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < NLMSG_HDRLEN)
      throw new NetlinkFormatError(`${buf.length - at} bytes left, too few for a netlink header`, at);
    const len = buf.readUInt32LE(at);
    if (len < NLMSG_HDRLEN || at + len > buf.length) {
      throw new NetlinkFormatError(
        `a netlink message says it is ${len} bytes, but ${buf.length - at} are left (and a header is 16)`,
        at,
      );
    }
    out.push({
      type: buf.readUInt16LE(at + 4),
      flags: buf.readUInt16LE(at + 6),
      seq: buf.readUInt32LE(at + 8),
      pid: buf.readUInt32LE(at + 12),
      payload: buf.subarray(at + NLMSG_HDRLEN, at + len),
    });
    at += align4(len);
  }
  return out;
}

/** Attributes by type (the flag bits removed); a type seen twice keeps its last payload. */
export type Attributes = Map<number, Buffer>;

/** Reads the attributes in `buf` from `start` to its end. */
export function parseAttributes(buf: Buffer, start = 0): Attributes {
  const out: Attributes = new Map();
  let at = start;
  while (at + 4 <= buf.length) {
    const len = buf.readUInt16LE(at);
    const type = buf.readUInt16LE(at + 2) & NLA_TYPE_MASK;
    if (len < 4 || at + len > buf.length) {
      throw new NetlinkFormatError(
        `a netlink attribute (type ${type}) says it is ${len} bytes, but ${buf.length - at} are left`,
        at,
      );
    }
    out.set(type, buf.subarray(at + 4, at + len));
    at += align4(len);
  }
  return out;
}

/** A string attribute's text (up to its NUL). */
export function attrString(payload: Buffer | undefined): string | undefined {
  if (payload === undefined) return undefined;
  const end = payload.indexOf(0);
  return payload.toString("utf8", 0, end < 0 ? payload.length : end);
}

/** A u32 attribute's value. */
export function attrU32(payload: Buffer | undefined): number | undefined {
  return payload !== undefined && payload.length >= 4 ? payload.readUInt32LE(0) : undefined;
}

/** A u8 attribute's value. */
export function attrU8(payload: Buffer | undefined): number | undefined {
  return payload !== undefined && payload.length >= 1 ? payload[0] : undefined;
}

/** The extended-ack attributes of an error message (NLMSGERR_ATTR_*). */
const NLMSGERR_ATTR_MSG = 1;
const NLMSGERR_ATTR_OFFS = 2;

/** What an NLMSG_ERROR message says: 0 for an acknowledgement, else a positive errno, and the kernel's words. */
export interface Ack {
  /** 0: done; otherwise the errno (positive) */
  errno: number;
  /** the sequence number of the request it answers */
  seq: number;
  /** the kernel's own message (extended ack), when it gave one: "Unknown device type" */
  message?: string;
  /** the byte offset in the request of the attribute the kernel objected to, when it said */
  offset?: number;
}

/** Decodes an NLMSG_ERROR message (an acknowledgement when its errno is 0). */
export function parseAck(m: Message): Ack {
  const p = m.payload;
  if (p.length < 4 + NLMSG_HDRLEN)
    throw new NetlinkFormatError(`an error message of ${p.length} bytes is shorter than 20`, 0);
  const errno = -p.readInt32LE(0);
  const ack: Ack = { errno, seq: p.readUInt32LE(4 + 8) };
  if (m.flags & NlmFlags.ACK_TLVS) {
    // the request comes back whole unless CAPPED (header only)
    const echoed = m.flags & NlmFlags.CAPPED ? NLMSG_HDRLEN : p.readUInt32LE(4);
    const attrs = parseAttributes(p, 4 + align4(echoed));
    const text = attrString(attrs.get(NLMSGERR_ATTR_MSG));
    if (text) ack.message = text;
    const offs = attrU32(attrs.get(NLMSGERR_ATTR_OFFS));
    if (offs !== undefined) ack.offset = offs;
  }
  return ack;
}
