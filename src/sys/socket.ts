/** Sockets: socketpair, send/recv on raw descriptors, SO_ATTACH_BPF / SO_DETACH_BPF. */
import { BpfError } from "./error.js";
import * as libc from "./libc.js";

const SOL_SOCKET = 1;
const SO_ATTACH_BPF = 50;
const SO_DETACH_BPF = 27;
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
const MSG_DONTWAIT = 0x40;

function fail(call: string, what?: string): never {
  throw new BpfError(call, libc.errno(), {}, what);
}

/** socketpair(2): two connected descriptors the caller owns. */
export function socketpair(type: number = SOCK_DGRAM, domain: number = AF_UNIX): [number, number] {
  const sv = [0, 0];
  if (libc.socketpair(domain, type, 0, sv) < 0) fail("socketpair");
  return [sv[0]!, sv[1]!];
}

const intBuf = Buffer.alloc(4);

/** setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, &progFd). */
export function attachBpf(sockFd: number, progFd: number): void {
  intBuf.writeInt32LE(progFd, 0);
  if (libc.setsockopt(sockFd, SOL_SOCKET, SO_ATTACH_BPF, intBuf, 4) < 0) fail("setsockopt(SO_ATTACH_BPF)");
}

/** setsockopt(fd, SOL_SOCKET, SO_DETACH_BPF). */
export function detachBpf(sockFd: number): void {
  intBuf.writeInt32LE(0, 0);
  if (libc.setsockopt(sockFd, SOL_SOCKET, SO_DETACH_BPF, intBuf, 4) < 0) fail("setsockopt(SO_DETACH_BPF)");
}

/** send(2); returns bytes sent. */
export function sendTo(fd: number, data: Uint8Array): number {
  const n = Number(libc.send(fd, data, data.byteLength, MSG_DONTWAIT));
  if (n < 0) fail("send");
  return n;
}

/** recv(2) without blocking; returns the bytes received, or undefined when nothing is waiting. */
export function recvFrom(fd: number, max = 65536): Buffer | undefined {
  const buf = Buffer.alloc(max);
  const n = Number(libc.recv(fd, buf, max, MSG_DONTWAIT));
  if (n < 0) {
    if (libc.errno() === 11) return undefined;
    fail("recv");
  }
  return buf.subarray(0, n);
}

// ---- netlink ------------------------------------------------------------------------------------

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
/** NETLINK_ROUTE: rtnetlink, links, addresses, qdiscs and filters. */
export const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const EAGAIN = 11;

/**
 * A netlink socket of `protocol` (close-on-exec) whose errors come with the kernel's own words
 * (NETLINK_EXT_ACK) and echo only the request's header (NETLINK_CAP_ACK). The caller owns it.
 */
export function netlinkOpen(protocol: number = NETLINK_ROUTE): number {
  const fd = Number(libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol));
  if (fd < 0) fail("socket(AF_NETLINK)");
  intBuf.writeInt32LE(1, 0);
  // both options are hints for the messages: a kernel without them still answers
  libc.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, intBuf, 4);
  libc.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, intBuf, 4);
  return fd;
}

/** Sends one netlink request to the kernel (a netlink socket's default destination). */
export function netlinkSend(fd: number, request: Uint8Array, what: string): void {
  const n = Number(libc.send(fd, request, request.byteLength, 0));
  if (n < 0) fail("send(netlink)", what);
}

/**
 * Receives what the kernel queued on a netlink socket into `buf`, without blocking: the kernel
 * answers rtnetlink requests while handling the send, and makes the next part of a dump while
 * handling the previous receive. Returns the bytes received, or 0 when nothing was queued.
 */
export function netlinkReceive(fd: number, buf: Buffer, what: string): number {
  const n = Number(libc.recv(fd, buf, buf.length, MSG_DONTWAIT));
  if (n < 0) {
    if (libc.errno() === EAGAIN) return 0;
    fail("recv(netlink)", what);
  }
  return n;
}

// ---- TCP congestion control ---------------------------------------------------------------------

const IPPROTO_TCP = 6;
const TCP_CONGESTION = 13;
/** TCP_CA_NAME_MAX */
const CA_NAME_MAX = 16;

/** setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name): the socket's congestion control from now on. */
export function setTcpCongestion(fd: number, name: string): void {
  const buf = Buffer.from(name, "utf8");
  if (libc.setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, buf, buf.length) < 0)
    fail("setsockopt(TCP_CONGESTION)", `to '${name}'`);
}

/** getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION): the name of the socket's congestion control. */
export function getTcpCongestion(fd: number): string {
  const buf = Buffer.alloc(CA_NAME_MAX);
  const len = [CA_NAME_MAX];
  if (libc.getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, buf, len) < 0) fail("getsockopt(TCP_CONGESTION)");
  const n = Math.min(len[0] ?? 0, CA_NAME_MAX);
  const end = buf.indexOf(0);
  return buf.toString("utf8", 0, end < 0 || end > n ? n : end);
}
