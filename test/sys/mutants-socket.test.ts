/**
 * socket.ts where mutation testing found no test (npm run mutate -- src/sys/socket.ts): a socket
 * filter attached to and detached from a socket pair of this test's own (what passes, as recv sees
 * it), the calls' refusals with the kernel's errno (against os.constants.errno), a netlink request
 * answered and an empty queue, and a TCP socket's congestion control (against the sysctl's file,
 * only read). Nothing here is visible to another test.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { test } from "node:test";
import { BpfError } from "../../src/sys/error.js";
import { Fd } from "../../src/sys/fd.js";
import * as libc from "../../src/sys/libc.js";
import { progLoad } from "../../src/sys/prog.js";
import {
  attachBpf,
  detachBpf,
  getTcpCongestion,
  netlinkOpen,
  netlinkReceive,
  netlinkSend,
  recvFrom,
  SOCK_STREAM,
  sendTo,
  setTcpCongestion,
  socketpair,
} from "../../src/sys/socket.js";
import { needsRoot } from "../support/privilege.js";

const NOT_OPEN = 0x7ffffff0;
const errno = constants.errno;

/** The BpfError `f` throws, checked to be `call` failing with `e`. */
function refused(f: () => unknown, call: string, e: number): BpfError {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof BpfError, String(err));
    assert.equal(err.command, call);
    assert.equal(err.errno, e, `${call}: ${err.message}`);
    return err;
  }
  assert.fail(`${call} was not refused`);
}

test("a socket filter attached to a socket pair drops what it returns 0 for; detached, the bytes pass", (t) => {
  if (!needsRoot(t)) return;
  // r0 = 0; exit: keep nothing
  const drop = Buffer.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  using prog = new Fd(progLoad({ progType: 1, insns: drop, license: "GPL" }).fd, "program");
  const [a, b] = socketpair();
  using _a = new Fd(a, "socket");
  using _b = new Fd(b, "socket");
  attachBpf(b, prog.value);
  sendTo(a, new Uint8Array([1, 2]));
  assert.equal(recvFrom(b), undefined, "the filter dropped it");
  detachBpf(b);
  sendTo(a, new Uint8Array([3, 4]));
  assert.deepEqual([...(recvFrom(b) ?? [])], [3, 4]);
  refused(() => detachBpf(b), "setsockopt(SO_DETACH_BPF)", errno.ENOENT);
  refused(() => attachBpf(b, NOT_OPEN), "setsockopt(SO_ATTACH_BPF)", errno.EBADF);
  refused(() => attachBpf(NOT_OPEN, prog.value), "setsockopt(SO_ATTACH_BPF)", errno.EBADF);
  refused(() => detachBpf(NOT_OPEN), "setsockopt(SO_DETACH_BPF)", errno.EBADF);
});

test("socketpair of a stream pair carries bytes; the calls on a descriptor that is not open are the kernel's EBADF", () => {
  const [a, b] = socketpair(SOCK_STREAM);
  using _a = new Fd(a, "socket");
  using _b = new Fd(b, "socket");
  assert.equal(sendTo(b, new Uint8Array([9, 8, 7])), 3);
  assert.deepEqual([...(recvFrom(a, 2) ?? [])], [9, 8], "at most max bytes");
  assert.deepEqual([...(recvFrom(a) ?? [])], [7]);
  refused(() => socketpair(SOCK_STREAM, 9999), "socketpair", errno.EAFNOSUPPORT);
  refused(() => sendTo(NOT_OPEN, new Uint8Array(1)), "send", errno.EBADF);
  refused(() => recvFrom(NOT_OPEN), "recv", errno.EBADF);
});

test("netlink: a request for lo is answered; with nothing queued, receive is 0; a bad descriptor is the kernel's EBADF", () => {
  using fd = new Fd(netlinkOpen(), "netlink");
  const buf = Buffer.alloc(65536);
  assert.equal(netlinkReceive(fd.value, buf, "a test"), 0, "nothing asked yet");
  // RTM_GETLINK (18) of ifindex 1 with NLM_F_REQUEST: nlmsghdr (16) + ifinfomsg (16)
  const req = Buffer.alloc(32);
  req.writeUInt32LE(32, 0);
  req.writeUInt16LE(18, 4);
  req.writeUInt16LE(1, 6);
  req.writeUInt32LE(1, 8);
  req.writeInt32LE(1, 20);
  netlinkSend(fd.value, req, "a test");
  const n = netlinkReceive(fd.value, buf, "a test");
  assert.ok(n >= 32, `an answer (${n} bytes)`);
  assert.equal(buf.readUInt16LE(4), 16, "RTM_NEWLINK: the link");
  assert.equal(buf.readInt32LE(20), 1, "of ifindex 1");
  refused(() => netlinkSend(NOT_OPEN, req, "a test"), "send(netlink)", errno.EBADF);
  refused(() => netlinkReceive(NOT_OPEN, buf, "a test"), "recv(netlink)", errno.EBADF);
});

test("a TCP socket's congestion control is the system's default (the sysctl's file); set, it reads back; an unknown one is refused", () => {
  const AF_INET = 2;
  using fd = new Fd(Number(libc.socket(AF_INET, SOCK_STREAM, 0)), "socket");
  const system = readFileSync("/proc/sys/net/ipv4/tcp_congestion_control", "utf8").trim();
  assert.equal(getTcpCongestion(fd.value), system);
  setTcpCongestion(fd.value, "reno");
  assert.equal(getTcpCongestion(fd.value), "reno");
  const e = refused(
    () => setTcpCongestion(fd.value, "rawbpf_none"),
    "setsockopt(TCP_CONGESTION)",
    errno.ENOENT,
  );
  assert.match(e.message, /to 'rawbpf_none'/);
  refused(() => getTcpCongestion(NOT_OPEN), "getsockopt(TCP_CONGESTION)", errno.EBADF);
});

test("an empty datagram: send and recv of 0 bytes are no failure", () => {
  const [a, b] = socketpair();
  using _a = new Fd(a, "socket");
  using _b = new Fd(b, "socket");
  assert.equal(sendTo(a, new Uint8Array(0)), 0, "0 bytes sent");
  const got = recvFrom(b);
  assert.ok(got !== undefined, "an empty datagram was waiting");
  assert.equal(got.length, 0, "0 bytes received");
  assert.equal(recvFrom(b), undefined, "nothing more");
});
