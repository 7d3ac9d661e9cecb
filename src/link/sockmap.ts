/**
 * Socket maps: `sk_msg` and `sk_skb` programs on a sockmap or sockhash, run for the sockets in
 * the map (their sends, their received bytes), as a link (BPF_LINK_CREATE with the map as
 * target) or as a plain attachment (BPF_PROG_ATTACH to the map).
 */
import type { Program } from "../program/program.js";
import { attachTypeNumber } from "../program/types.js";
import { type SocketLike, socketFd } from "../socket/socket.js";
import { BpfError, InputError } from "../sys/error.js";
import { closeRaw, duplicateFd, Fd } from "../sys/fd.js";
import { linkCreate, progAttach, progDetach } from "../sys/link.js";
import { adoptLink, type Link } from "./link.js";
import { programFd } from "./program.js";

/**
 * Where a program goes on a socket map: `"sk_msg_verdict"` (an `sk_msg` program deciding each
 * message a socket in the map sends: pass, drop or `bpf_msg_redirect_map`),
 * `"sk_skb_stream_parser"` (an `sk_skb` program returning the length of the next message in the
 * received stream), `"sk_skb_stream_verdict"` (an `sk_skb` program deciding each received message,
 * `bpf_sk_redirect_map` to another socket's egress or ingress) or `"sk_skb_verdict"` (the same
 * without a parser, per received skb).
 */
export type SockmapAttachType =
  | "sk_msg_verdict"
  | "sk_skb_stream_parser"
  | "sk_skb_stream_verdict"
  | "sk_skb_verdict";

const PROGRAM_TYPE: Readonly<Record<SockmapAttachType, string>> = {
  sk_msg_verdict: "sk_msg",
  sk_skb_stream_parser: "sk_skb",
  sk_skb_stream_verdict: "sk_skb",
  sk_skb_verdict: "sk_skb",
};

const SOCKET_MAPS = ["sockmap", "sockhash"];

/** A live sockmap or sockhash: a `BpfMap` (anything with its `fd` and `type`). */
export interface SocketMapLike {
  /** the map's descriptor */
  readonly fd: number;
  /** the map's type: `"sockmap"` or `"sockhash"` */
  readonly type: string;
}

/** Checks the map and attach type, and the program against it; returns [program fd, map fd]. */
function check(
  program: Program,
  map: SocketMapLike,
  attachType: SockmapAttachType,
  attach: string,
): [number, number] {
  const wanted = typeof attachType === "string" ? PROGRAM_TYPE[attachType] : undefined;
  if (wanted === undefined || !Object.hasOwn(PROGRAM_TYPE, attachType)) {
    throw new InputError(
      `${JSON.stringify(attachType)} is not a socket map attach type: one of ${Object.keys(PROGRAM_TYPE).join(", ")}`,
    );
  }
  if (map === null || typeof map !== "object" || typeof map.type !== "string") {
    throw new InputError(`${attach} needs a live sockmap or sockhash (a BpfMap), got ${String(map)}`);
  }
  if (!SOCKET_MAPS.includes(map.type)) {
    throw new InputError(
      `${attach} needs a sockmap or sockhash, got a '${map.type}' map: create it with type 'sockmap' (keys are u32 slots) or 'sockhash' (any key)`,
    );
  }
  const progFd = programFd(program, [wanted], `${attach}(${attachType})`);
  return [progFd, map.fd];
}

/**
 * Attaches an `sk_msg` or `sk_skb` program to a sockmap or sockhash as a link (BPF_LINK_CREATE,
 * Linux 6.10 and later): it runs for every socket in the map, now and later. Close the link to
 * detach; `update()` swaps the program.
 */
export function attachSockmap(program: Program, map: SocketMapLike, attachType: SockmapAttachType): Link {
  const [progFd, mapFd] = check(program, map, attachType, "attachSockmap");
  const link = linkCreate(
    { progFd, target: mapFd, attachType: attachTypeNumber(attachType) },
    { what: `of ${program.type} program on ${map.type} (${attachType})`, privilege: "net" },
  );
  return adoptLink(link);
}

/**
 * A program attached with BPF_PROG_ATTACH, which no descriptor owns: it stays until
 * {@link ProgramAttachment.detach} (or `close()`, or `using`) runs BPF_PROG_DETACH, or the target
 * goes away. It keeps its own references to the program and target, so detaching works after the
 * caller closed them.
 */
export class ProgramAttachment implements Disposable {
  readonly #program: Fd;
  readonly #target: Fd;
  readonly #attachType: number;
  /** the attach type, as bpftool spells it */
  readonly attachType: string;

  /** Not public: made by the attach functions that use BPF_PROG_ATTACH. */
  constructor(programFd: number, targetFd: number, attachType: string, attachTypeNumber: number) {
    const prog = duplicateFd(programFd, "program");
    let target: number;
    try {
      target = duplicateFd(targetFd, "attach target");
    } catch (e) {
      closeRaw(prog);
      throw e;
    }
    this.#program = new Fd(prog, "attached program");
    this.#target = new Fd(target, "attach target");
    this.attachType = attachType;
    this.#attachType = attachTypeNumber;
  }

  /** Whether the program was detached (by detach(), close() or dispose). */
  get detached(): boolean {
    return this.#program.closed;
  }

  /**
   * Detaches the program (BPF_PROG_DETACH) and lets go of the references; a second call does
   * nothing, nor does a program that is no longer there (replaced by a later attach, or detached
   * by someone else: the kernel's ENOENT). Other refusals throw a BpfError.
   */
  detach(): void {
    if (this.#program.closed) return;
    try {
      progDetach(
        { target: this.#target.value, progFd: this.#program.value, attachType: this.#attachType },
        { what: `of ${this.attachType} program`, privilege: "net" },
      );
    } catch (e) {
      if (!(e instanceof BpfError && e.errnoName === "ENOENT")) throw e;
    } finally {
      this.#program.close();
      this.#target.close();
    }
  }

  /** The same as detach(). */
  close(): void {
    this.detach();
  }

  /** The same as detach(), for `using`. */
  [Symbol.dispose](): void {
    this.detach();
  }
}

/**
 * Attaches an `sk_msg` or `sk_skb` program to a sockmap or sockhash with BPF_PROG_ATTACH (every
 * kernel with socket maps): it runs for every socket in the map. The returned
 * {@link ProgramAttachment} detaches it. One program per map and attach type: a second attach
 * replaces the first.
 */
export function attachSockmapProgram(
  program: Program,
  map: SocketMapLike,
  attachType: SockmapAttachType,
): ProgramAttachment {
  const [progFd, mapFd] = check(program, map, attachType, "attachSockmapProgram");
  const type = attachTypeNumber(attachType);
  const attr = { target: mapFd, progFd, attachType: type };
  const what = {
    what: `of ${program.type} program on ${map.type} (${attachType})`,
    privilege: "net",
  } as const;
  progAttach(attr, what);
  let attachment: ProgramAttachment;
  try {
    attachment = new ProgramAttachment(progFd, mapFd, attachType, type);
  } catch (e) {
    // out of descriptors: undo the attach rather than leave one nothing can detach
    progDetach(attr, what);
    throw e;
  }
  return attachment;
}

/**
 * Puts a TCP socket (a descriptor, or a connected Node `net.Socket`) into a sockmap or sockhash
 * under `key` (BPF_MAP_UPDATE_ELEM with the socket's descriptor as the value). The kernel takes
 * established TCP sockets (and listening ones, and UDP and unix sockets on recent kernels); the
 * socket stays in the map until it is deleted or closed.
 */
export function addSocket(
  map: SocketMapLike & { set(key: Uint8Array, value: Uint8Array): unknown },
  key: number | Uint8Array,
  socket: SocketLike,
): void {
  if (map === null || typeof map !== "object" || !SOCKET_MAPS.includes(map.type)) {
    throw new InputError(
      `addSocket needs a sockmap or sockhash, got ${map === null ? "null" : typeof map === "object" ? `a '${map.type}' map` : String(map)}`,
    );
  }
  let k: Uint8Array;
  if (typeof key === "number") {
    if (!Number.isInteger(key) || key < 0 || key > 0xffffffff)
      throw new InputError(`a sockmap key is a u32 slot, got ${key}`);
    k = Buffer.alloc(4);
    Buffer.from(k.buffer, k.byteOffset, 4).writeUInt32LE(key, 0);
  } else if (key instanceof Uint8Array) {
    k = key;
  } else {
    throw new InputError(`a socket map key is a number or bytes, got ${String(key)}`);
  }
  const fd = socketFd(socket);
  const v = Buffer.alloc(4);
  v.writeUInt32LE(fd, 0);
  map.set(k, v);
}
