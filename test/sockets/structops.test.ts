/**
 * struct_ops against the real kernel: a tcp_congestion_ops (Reno through the kernel's kfuncs, plus
 * a counter) implemented as BPF programs and registered with a struct_ops map and link; the
 * kernel then lists it (/proc/sys/net/ipv4/tcp_available_congestion_control), a TCP connection
 * made by python3 with TCP_CONGESTION uses it (getsockopt says so), and the counter proves the
 * programs ran. Closing unregisters it.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { u32, u64 } from "../../src/codec/index.js";
import { asm } from "../../src/isa/template.js";
import { WrongProgramTypeError } from "../../src/link/errors.js";
import {
  congestionControl,
  loadStructOpsProgram,
  registerStructOps,
  setCongestionControl,
  UnknownStructOpsError,
} from "../../src/link/structops.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { skipUnlessCI } from "../support/ci.js";
import { needsRoot } from "../support/privilege.js";
import { countThen } from "./programs.js";
import { connections } from "./support.js";

const available = () =>
  readFileSync("/proc/sys/net/ipv4/tcp_available_congestion_control", "utf8").trim().split(/\s+/);

/** A TCP transfer over 127.0.0.1 whose sending socket uses congestion control `cc`; prints what getsockopt says. */
const PYTHON = `
import socket, sys, threading
cc = sys.argv[1].encode()
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
got = []
def sink():
    c, _ = srv.accept()
    n = 0
    while True:
        b = c.recv(1 << 16)
        if not b: break
        n += len(b)
    got.append(n)
t = threading.Thread(target=sink); t.start()
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
s.connect(srv.getsockname())
s.sendall(b"x" * (4 << 20))
used = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\\0").decode()
s.close(); t.join()
print(used, got[0])
`;

function counter() {
  return BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 3, name: "cc_count" });
}

/** Counts into slot `slot`, then calls the kernel's Reno for `member`. */
function renoMember(
  member: "ssthresh" | "undo_cwnd" | "cong_avoid",
  count: ReturnType<typeof counter>,
  slot: number,
): Program {
  const call =
    member === "cong_avoid"
      ? "r1 = *(u64 *)(r6 + 0)\n r2 = *(u64 *)(r6 + 8)\n r3 = *(u64 *)(r6 + 16)\n call kfunc tcp_reno_cong_avoid\n r0 = 0"
      : `r1 = *(u64 *)(r6 + 0)\n call kfunc tcp_reno_${member}`;
  return loadStructOpsProgram("tcp_congestion_ops", member, {
    name: `cc_${member}`.slice(0, 15),
    instructions: countThen(count, slot)`
      ${call}
      exit
    `,
  });
}

test("registerStructOps: a tcp_congestion_ops of BPF programs is registered, used by a TCP connection, and unregistered on close", (t) => {
  if (!needsRoot(t)) return;
  if (spawnSync("python3", ["-c", "import socket; socket.TCP_CONGESTION"]).status !== 0) {
    skipUnlessCI(t, "python3 (with socket.TCP_CONGESTION) is needed to set TCP_CONGESTION on a socket");
    return;
  }
  const name = `rbpf_${process.pid % 1_000_000}`;
  using count = counter();
  using ssthresh = renoMember("ssthresh", count, 0);
  using undo = renoMember("undo_cwnd", count, 1);
  using avoid = renoMember("cong_avoid", count, 2);
  assert.ok(!available().includes(name), "not registered before");
  const ops = registerStructOps("tcp_congestion_ops", {
    programs: { ssthresh, undo_cwnd: undo, cong_avoid: avoid },
    data: { name },
    mapName: "rbpf_cc",
  });
  try {
    assert.ok(available().includes(name), `the kernel lists ${name}: ${available().join(" ")}`);
    const info = ops.link.info();
    assert.equal(info.type, "struct_ops");
    if (info.type === "struct_ops") assert.equal(info.mapId, ops.map.info().id, "the link's map");
    assert.equal(ops.map.info().btfVmlinuxValueTypeId > 0, true);
    const r = spawnSync("python3", ["-c", PYTHON, name], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, `python3 failed: ${r.stderr}`);
    const [used, bytes] = r.stdout.trim().split(" ");
    assert.equal(used, name, "getsockopt(TCP_CONGESTION) says the connection used it");
    assert.equal(bytes, String(4 << 20), "every byte arrived");
    const avoidRuns = count.get(2) ?? 0n;
    assert.ok(avoidRuns > 0n, `cong_avoid ran for the connection's ACKs (${avoidRuns} runs)`);
  } finally {
    ops.close();
  }
  assert.ok(!available().includes(name), "closing unregistered it");
});

test("setCongestionControl: a Node connection uses the registered congestion control (ss -ti is the oracle)", async (t) => {
  if (!needsRoot(t)) return;
  const name = `rbpn_${process.pid % 1_000_000}`;
  using count = counter();
  using ssthresh = renoMember("ssthresh", count, 0);
  using undo = renoMember("undo_cwnd", count, 1);
  using avoid = renoMember("cong_avoid", count, 2);
  using _ops = registerStructOps("tcp_congestion_ops", {
    programs: { ssthresh, undo_cwnd: undo, cong_avoid: avoid },
    data: { name },
  });
  const conns = await connections(1);
  try {
    const client = conns.clients[0]!.socket;
    setCongestionControl(client, name);
    assert.equal(congestionControl(client), name, "getsockopt says so");
    const ss = execFileSync(
      "ss",
      [
        "-tinH",
        "state",
        "established",
        "src",
        `127.0.0.1:${client.localPort}`,
        "dst",
        `127.0.0.1:${conns.port}`,
      ],
      { encoding: "utf8" },
    );
    assert.match(ss, new RegExp(`\\b${name}\\b`), `ss shows the connection's algorithm: ${ss}`);
    client.write(Buffer.alloc(4 << 20, 120));
    const got = await conns.accepted[0]!.until(4 << 20, 30_000);
    assert.equal(got.length, 4 << 20, "every byte arrived");
    assert.ok((count.get(2) ?? 0n) > 0n, `cong_avoid ran (${count.get(2)} runs)`);
    assert.throws(
      () => setCongestionControl(client, "rbpf_nonesuch"),
      (e: unknown) =>
        e instanceof BpfError &&
        e.errnoName === "ENOENT" &&
        /there is no congestion control 'rbpf_nonesuch'/.test(e.message),
    );
    assert.throws(() => setCongestionControl(client, "x".repeat(16)), InputError);
  } finally {
    conns.close();
  }
});

test("registerStructOps / loadStructOpsProgram: bad input is refused before the kernel", (t) => {
  if (!needsRoot(t)) return;
  using count = counter();
  using ssthresh = renoMember("ssthresh", count, 0);
  using sf = Program.load({ type: "socket_filter", instructions: asm`r0 = 0\nexit` });
  assert.throws(
    () => loadStructOpsProgram("no_such_ops", "x", { instructions: asm`r0 = 0\nexit` }),
    (e: unknown) => e instanceof UnknownStructOpsError && /it has: .*tcp_congestion_ops/.test(e.message),
  );
  assert.throws(
    () => loadStructOpsProgram("tcp_congestion_ops", "sshtresh", { instructions: asm`r0 = 0\nexit` }),
    (e: unknown) =>
      e instanceof UnknownStructOpsError && /its members are ssthresh, cong_avoid/.test(e.message),
  );
  assert.throws(
    () => loadStructOpsProgram("tcp_congestion_ops", "name", { instructions: asm`r0 = 0\nexit` }),
    /is a data member, not a function/,
  );
  assert.throws(
    () => registerStructOps("tcp_congestion_ops", { programs: { cong_avoid: ssthresh } }),
    /loaded for tcp_congestion_ops.ssthresh: load it with loadStructOpsProgram\('tcp_congestion_ops', 'cong_avoid'/,
  );
  assert.throws(
    () => registerStructOps("tcp_congestion_ops", { programs: { ssthresh: sf } }),
    WrongProgramTypeError,
  );
  assert.throws(
    () => registerStructOps("tcp_congestion_ops", { programs: {}, data: { name: "x".repeat(16) } }),
    (e: unknown) => e instanceof InputError && /holds at most 15 bytes/.test(e.message),
  );
  assert.throws(
    () => registerStructOps("tcp_congestion_ops", { programs: {}, data: { flags: 1n << 40n } }),
    /4-byte integer: 1099511627776 does not fit/,
  );
  assert.throws(
    () => registerStructOps("tcp_congestion_ops", { programs: {}, data: { owner: 1 } }),
    /pointer: the kernel fills it/,
  );
  // the kernel's own check: ssthresh alone is not a congestion control
  assert.throws(
    () => registerStructOps("tcp_congestion_ops", { programs: { ssthresh }, data: { name: "rbpf_partial" } }),
    (e: unknown) =>
      e instanceof BpfError && e.errnoName === "EINVAL" && /a required member is missing/.test(e.message),
  );
});
