/**
 * What a descriptor number refers to (describeFd, expectFdKind), found by mutation testing (npm run
 * mutate -- src/sys/fd.ts): the kind of each BPF object's descriptor as /proc/self/fd shows it
 * (read here with readlinkSync, independently), files, pipes, sockets and libuv's epoll instance
 * named in words, numbers out of range refused, a number not open said to be so. Only this
 * process's own descriptors are used (no lock needed).
 */
import assert from "node:assert/strict";
import { closeSync, openSync, readdirSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";
import { test } from "node:test";
import { assemble } from "../../src/isa/asm/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { InputError } from "../../src/sys/error.js";
import { type BpfFdKind, describeFd, expectFdKind } from "../../src/sys/fd.js";
import { needsRoot } from "../support/privilege.js";

const KINDS: BpfFdKind[] = ["map", "prog", "link", "btf"];
const NOUN = { map: "a BPF map", prog: "a BPF program", link: "a BPF link", btf: "a BTF object" };

/** The InputError expectFdKind(fd, kind) throws, or undefined when it accepts. */
function refusal(fd: number, kind: BpfFdKind): string | undefined {
  try {
    expectFdKind(fd, kind);
    return undefined;
  } catch (e) {
    assert.ok(e instanceof InputError, `an InputError, got ${String(e)}`);
    return e.message;
  }
}

test("a map's and a program's descriptors are theirs and no other kind's; /proc/self/fd says the same", (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 1 });
  using program = Program.load({ type: "socket_filter", instructions: assemble("r0 = 0\nexit") });
  for (const [fd, kind, inode] of [
    [map.fd, "map", "anon_inode:bpf-map"],
    [program.fd, "prog", "anon_inode:bpf-prog"],
  ] as const) {
    assert.equal(describeFd(fd), readlinkSync(`/proc/self/fd/${fd}`));
    assert.equal(describeFd(fd), inode);
    for (const other of KINDS) {
      const said = refusal(fd, other);
      if (other === kind) assert.equal(said, undefined, `fd ${fd} is ${kind}`);
      else assert.equal(said, `fd ${fd} is ${NOUN[kind]}, not ${NOUN[other]}`);
    }
  }
});

test("a file, a pipe, a socket and libuv's epoll instance are named in words; a number not open is said to be so", async () => {
  const file = openSync("package.json", "r");
  try {
    const path = readlinkSync(`/proc/self/fd/${file}`);
    assert.equal(describeFd(file), path);
    assert.equal(refusal(file, "map"), `fd ${file} is ${path}, not a BPF map`);
  } finally {
    closeSync(file);
  }
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const words = (target: string): string | undefined => {
      if (target === "anon_inode:[eventpoll]") return "an epoll instance (anon_inode:[eventpoll])";
      if (target.startsWith("socket:")) return `a socket (${target})`;
      if (target.startsWith("pipe:")) return `a pipe (${target})`;
      return undefined;
    };
    const seen = new Set<string>();
    for (const name of readdirSync("/proc/self/fd")) {
      const fd = Number(name);
      let target: string;
      try {
        target = readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        continue; // the listing's own descriptor
      }
      const w = words(target);
      if (w === undefined) continue;
      seen.add(w.split(" ")[1]!);
      assert.equal(refusal(fd, "prog"), `fd ${fd} is ${w}, not a BPF program`);
    }
    assert.ok(seen.has("epoll") && seen.has("socket"), `libuv's epoll and the server's socket: ${[...seen]}`);
  } finally {
    server.close();
  }
  // a number no descriptor has
  const free = 0x7ffffff0;
  assert.equal(describeFd(free), null);
  assert.equal(refusal(free, "map"), `fd ${free} is not open in this process, so it is not a BPF map`);
  for (const bad of [-1, 1.5, 0x80000000, Number.NaN])
    assert.match(refusal(bad, "map") ?? "", /a descriptor is a non-negative integer/, String(bad));
  assert.equal(
    refusal(0x7fffffff, "btf"),
    `fd ${0x7fffffff} is not open in this process, so it is not a BTF object`,
  );
});
