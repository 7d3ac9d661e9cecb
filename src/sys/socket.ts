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
