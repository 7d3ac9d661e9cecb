/**
 * fromFd given descriptors that are not ours: the kind is checked first (/proc/self/fd says what a
 * number is), the caller's descriptor is left alone, and the object owns a duplicate, so closing an
 * alias never frees a number another object still uses.
 */
import assert from "node:assert/strict";
import { closeSync, openSync, readdirSync, readlinkSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { asm } from "../../src/isa/template.js";
import { attachTracepoint } from "../../src/link/index.js";
import { Link } from "../../src/link/link.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { InputError } from "../../src/sys/error.js";
import { runModule } from "../support/child.js";
import { needsRoot } from "../support/privilege.js";

function target(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return "closed";
  }
}

const FROM_FD = {
  map: (fd: number) => BpfMap.fromFd(fd),
  prog: (fd: number) => Program.fromFd(fd),
  link: (fd: number) => Link.fromFd(fd),
} as const;
const NOUN = { map: "BPF map", prog: "BPF program", link: "BPF link" } as const;

test("fromFd of a file: an InputError that names what the descriptor is, and the descriptor stays open", (t) => {
  if (!needsRoot(t)) return;
  for (const [kind, fromFd] of Object.entries(FROM_FD)) {
    const fd = openSync("/etc/hostname", "r");
    try {
      assert.throws(
        () => fromFd(fd),
        (e: unknown) =>
          e instanceof InputError &&
          e.message === `fd ${fd} is /etc/hostname, not a ${NOUN[kind as keyof typeof NOUN]}`,
        `${kind}.fromFd names the file`,
      );
      assert.equal(target(fd), "/etc/hostname", `${kind}.fromFd left the caller's descriptor open`);
    } finally {
      closeSync(fd);
    }
  }
});

test("fromFd of a BPF object of another kind says which kind it is, and leaves it open", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 1 });
  using prog = Program.load({ type: "socket_filter", instructions: asm`r0 = 0; exit` });
  assert.throws(() => Program.fromFd(map.fd), { message: `fd ${map.fd} is a BPF map, not a BPF program` });
  assert.throws(() => Link.fromFd(prog.fd), { message: `fd ${prog.fd} is a BPF program, not a BPF link` });
  assert.throws(() => BpfMap.fromFd(prog.fd), { message: `fd ${prog.fd} is a BPF program, not a BPF map` });
  assert.equal(target(map.fd), "anon_inode:bpf-map");
  assert.equal(target(prog.fd), "anon_inode:bpf-prog");
  map.set(new Uint8Array(4), new Uint8Array(4));
  assert.equal(prog.testRun({ data: new Uint8Array(14) }).retval, 0);
  // a number that is not open
  const free = openSync("/etc/hostname", "r");
  closeSync(free);
  assert.throws(() => BpfMap.fromFd(free), {
    message: new RegExp(`^fd ${free} is not open in this process`),
  });
});

test("fromFd of libuv's epoll descriptor is refused without closing it (the process lives on)", (t) => {
  if (!needsRoot(t)) return;
  const src = (p: string) => JSON.stringify(fileURLToPath(new URL(`../../src/${p}`, import.meta.url)));
  const r = runModule(`
import { readdirSync, readlinkSync } from "node:fs";
import { BpfMap } from ${src("map/map.ts")};
import { Program } from ${src("program/program.ts")};
import { Link } from ${src("link/link.ts")};
const epoll = readdirSync("/proc/self/fd").map(Number).find((n) => {
  try { return readlinkSync("/proc/self/fd/" + n) === "anon_inode:[eventpoll]"; } catch { return false; }
});
if (epoll === undefined) throw new Error("no epoll descriptor in this process");
for (const f of [(fd) => BpfMap.fromFd(fd), (fd) => Program.fromFd(fd), (fd) => Link.fromFd(fd)]) {
  try { f(epoll); console.log("accepted"); } catch (e) { console.log(e.constructor.name + ": " + e.message); }
}
setTimeout(() => console.log("event loop alive, fd " + readlinkSync("/proc/self/fd/" + epoll)), 20);
`);
  assert.equal(r.signal, null, `the child was killed by ${r.signal}: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 4, r.stdout);
  for (const [i, noun] of ["BPF map", "BPF program", "BPF link"].entries()) {
    assert.match(lines[i]!, new RegExp(`^InputError: fd \\d+ is an epoll instance .*, not a ${noun}$`));
  }
  assert.equal(lines[3], "event loop alive, fd anon_inode:[eventpoll]");
});

test("a fromFd alias owns a duplicate: closing it leaves the original working, and the other way round", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 1 });
  const alias = BpfMap.fromFd(map.fd);
  assert.notEqual(alias.fd, map.fd, "the alias has a descriptor of its own");
  alias.close();
  // the number the alias freed is reused by the next open; the map must not write there
  const file = openSync("/etc/hostname", "r");
  try {
    assert.equal(
      target(map.fd),
      "anon_inode:bpf-map",
      "closing the alias did not close the map's descriptor",
    );
    map.set(new Uint8Array(4), Uint8Array.of(1, 2, 3, 4));
    assert.deepEqual([...(map.get(new Uint8Array(4)) as Uint8Array)], [1, 2, 3, 4]);
    assert.equal(target(file), "/etc/hostname");
  } finally {
    closeSync(file);
  }

  // the caller closes its own descriptor: the object made from it keeps working
  using program = Program.load({ type: "tracepoint", instructions: asm`r0 = 0; exit` });
  const link = attachTracepoint(program, "syscalls", "sys_enter_getppid");
  const progAlias = Program.fromFd(program.fd);
  const linkAlias = Link.fromFd(link.fd);
  const linkId = link.info().id;
  link.close();
  assert.equal(linkAlias.info().id, linkId, "the link alias still refers to the link");
  assert.equal(progAlias.type, "tracepoint");
  linkAlias.close();
  progAlias.close();
  assert.equal(target(program.fd), "anon_inode:bpf-prog");
  assert.ok(
    readdirSync("/proc/self/fd").every((n) => target(Number(n)) !== "anon_inode:bpf_link"),
    "no link descriptor is left open",
  );
});
