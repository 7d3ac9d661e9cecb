/**
 * Socket filters on any socket: a raw descriptor, a {@link SocketPair}, or a Node `dgram.Socket`,
 * `net.Socket` or `net.Server` — so a Node server can drop packets in the kernel before its
 * JavaScript ever sees them.
 */

import { WrongProgramTypeError } from "../link/errors.js";
import { BpfError, InputError } from "../sys/error.js";
import { expectFdKind, Fd } from "../sys/fd.js";
import {
  attachBpf,
  detachBpf,
  recvFrom,
  SOCK_DGRAM,
  SOCK_STREAM,
  sendTo,
  socketpair,
} from "../sys/socket.js";

/** A socket filter program: a `Program` (anything with an `fd`) or a raw program descriptor. */
export type FilterProgram = number | { readonly fd: number };

/**
 * A socket: a raw descriptor, a {@link SocketPair} (its receiving end), a Node `dgram.Socket`
 * (bound), a `net.Socket` (connected) or a `net.Server` (listening).
 */
export type SocketLike = number | SocketPair | object;

/** The value is not a socket we can find a descriptor for. */
export class NotASocketError extends InputError {}

function handleFd(handle: unknown, what: string): number {
  const fd = (handle as { fd?: unknown } | undefined)?.fd;
  if (typeof fd !== "number") {
    throw new NotASocketError(
      `${what} has no descriptor yet: bind, connect or listen first, then attach the filter`,
    );
  }
  if (fd < 0) {
    throw new NotASocketError(
      `${what} has no descriptor yet (${fd}): bind, connect or listen first (wait for the 'listening' or 'connect' event), then attach the filter`,
    );
  }
  return fd;
}

/**
 * The descriptor of a socket. Node keeps it on the native handle: `socket._handle.fd` for
 * `net.Socket` and `net.Server`, and the handle inside the `state symbol` slot for `dgram.Socket`
 * (Node 20 has no public accessor for either).
 */
export function socketFd(socket: SocketLike): number {
  if (typeof socket === "number") {
    if (!Number.isInteger(socket) || socket < 0)
      throw new NotASocketError(`socket descriptor must be a non-negative integer, got ${socket}`);
    return socket;
  }
  if (socket instanceof SocketPair) return socket.receiverFd;
  if (socket === null || typeof socket !== "object") {
    throw new NotASocketError(
      `expected a socket (a descriptor, a SocketPair, a dgram or net socket), got ${String(socket)}`,
    );
  }
  // dgram first: its `_handle` getter is deprecated (DEP0112) and warns
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  if (state !== undefined) {
    const handle = (socket as Record<symbol, { handle?: unknown } | undefined>)[state]?.handle;
    // Node drops the handle when the socket is closed (it has one from creation until then)
    if (handle === null) throw new NotASocketError("the dgram socket is closed: create and bind a new one");
    return handleFd(handle, "the dgram socket");
  }
  if ((socket as { destroyed?: unknown }).destroyed === true)
    throw new NotASocketError("the socket is closed (destroyed): a filter goes on an open socket");
  if ("_handle" in socket) return handleFd((socket as { _handle: unknown })._handle, "the socket");
  throw new NotASocketError(
    "expected a socket (a descriptor, a SocketPair, a dgram.Socket, a net.Socket or a net.Server): this object has no socket handle",
  );
}

function programFd(program: FilterProgram): number {
  if (typeof program === "number") {
    expectFdKind(program, "prog");
    return program;
  }
  if (program !== null && typeof program === "object" && typeof program.fd === "number") {
    const type = (program as { type?: unknown }).type;
    // SO_ATTACH_BPF takes socket_filter programs only; the kernel's answer to others is a bare EINVAL
    if (typeof type === "string" && type !== "socket_filter")
      throw new WrongProgramTypeError("attachFilter", type, ["socket_filter"]);
    return program.fd;
  }
  throw new InputError("the filter must be a Program or a program descriptor");
}

/**
 * Attaches a socket filter program (`socket_filter` type) to a socket with SO_ATTACH_BPF. Every
 * packet the socket receives first runs the program: it returns how many bytes to keep (0 drops
 * the packet). A second attach replaces the first.
 */
export function attachFilter(socket: SocketLike, program: FilterProgram): void {
  attachBpf(socketFd(socket), programFd(program));
}

/**
 * Detaches the socket's filter with SO_DETACH_BPF. Returns false when no filter was attached.
 */
export function detachFilter(socket: SocketLike): boolean {
  try {
    detachBpf(socketFd(socket));
    return true;
  } catch (e) {
    if (e instanceof BpfError && e.errnoName === "ENOENT") return false;
    throw e;
  }
}

/**
 * Two connected AF_UNIX sockets: `send` writes at one end, `recv` reads at the other (the
 * receiving end, where {@link attachFilter} puts a filter when given the pair).
 */
export class SocketPair implements Disposable {
  readonly #sender: Fd;
  readonly #receiver: Fd;

  /** Creates a connected pair; `kind` is `"dgram"` (default, one message per packet) or `"stream"`. */
  constructor(kind: "dgram" | "stream" = "dgram") {
    if (kind !== "dgram" && kind !== "stream")
      throw new InputError(`socket pair kind must be 'dgram' or 'stream', got '${String(kind)}'`);
    const [a, b] = socketpair(kind === "dgram" ? SOCK_DGRAM : SOCK_STREAM);
    this.#sender = new Fd(a, "socket pair (sending end)");
    this.#receiver = new Fd(b, "socket pair (receiving end)");
  }

  /** The sending end's descriptor. */
  get senderFd(): number {
    return this.#sender.value;
  }

  /** The receiving end's descriptor (filters go here). */
  get receiverFd(): number {
    return this.#receiver.value;
  }

  /** Sends one message from the sending end; returns the bytes sent. */
  send(data: Uint8Array | string): number {
    return sendTo(this.senderFd, typeof data === "string" ? Buffer.from(data) : data);
  }

  /** Receives one waiting message at the receiving end, or undefined when none is waiting. */
  recv(max = 65536): Buffer | undefined {
    if (!Number.isInteger(max) || max < 1 || max > 1 << 24)
      throw new InputError(`recv size must be from 1 to 16777216, got ${max}`);
    return recvFrom(this.receiverFd, max);
  }

  /** Every message waiting at the receiving end. */
  recvAll(max = 65536): Buffer[] {
    const out: Buffer[] = [];
    for (let m = this.recv(max); m !== undefined; m = this.recv(max)) out.push(m);
    return out;
  }

  /** Closes both ends; a second call does nothing. */
  close(): void {
    this.#sender.close();
    this.#receiver.close();
  }

  /** The same as `close()`, for `using`: released when the block that declared it ends. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** A connected AF_UNIX socket pair (see {@link SocketPair}). */
export function socketPair(kind: "dgram" | "stream" = "dgram"): SocketPair {
  return new SocketPair(kind);
}
