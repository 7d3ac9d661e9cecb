/**
 * Listing maps (src/map/list.ts), found by mutation testing (npm run mutate -- src/map): no test of
 * test/map reached it. Each map this test creates is listed as bpftool shows it (`bpftool map show
 * id N --json`: bytes_memlock, frozen, the owner of a prog_array), an id no map has is undefined,
 * and user ids are checked before the kernel is asked. Other sessions create and drop maps
 * meanwhile: only this test's ids are compared.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { assemble } from "../../src/isa/asm/index.js";
import { checkObjectId, fdinfo, listMaps, mapById, NoSuchObjectError, openById } from "../../src/map/list.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { BpfError, InputError } from "../../src/sys/error.js";
import { haveTools, skipUnlessCI } from "../support/ci.js";
import { needsRoot } from "../support/privilege.js";

interface Shown {
  id: number;
  bytes_memlock: number;
  frozen: number;
  owner_prog_type?: string;
  owner_jited?: boolean;
}

const bpftoolShow = (id: number): Shown =>
  JSON.parse(execFileSync("bpftool", ["map", "show", "id", String(id), "--json"], { encoding: "utf8" }));

test("listMaps and mapById show this test's maps as bpftool does: memlock, frozen, a prog_array's owner", (t) => {
  if (!needsRoot(t)) return;
  if (!haveTools("bpftool")) return skipUnlessCI(t, "bpftool is not installed");
  using plain = BpfMap.create({ type: "hash", keySize: 4, valueSize: 8, maxEntries: 16 });
  using frozen = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 4 });
  frozen.freeze();
  using jumps = BpfMap.create({ type: "prog_array", keySize: 4, valueSize: 4, maxEntries: 2 });
  using program = Program.load({
    type: "socket_filter",
    instructions: assemble(`.map jumps type=prog_array key=4 value=4 entries=2
r2 = map_fd(jumps)
r3 = 0
call bpf_tail_call
r0 = 0
exit`),
    maps: { jumps },
  });
  assert.ok(program.fd >= 0);
  const ids = [plain, frozen, jumps].map((m) => m.info().id);
  const listed = new Map(listMaps().map((m) => [m.id, m]));
  for (const id of ids) {
    const shown = bpftoolShow(id);
    for (const m of [listed.get(id), mapById(id)]) {
      assert.ok(m, `map ${id} is listed`);
      assert.equal(m.memlock, shown.bytes_memlock, `memlock of ${id}`);
      assert.equal(m.frozen, shown.frozen === 1, `frozen of ${id}`);
      assert.equal(m.ownerProgramType !== undefined, shown.owner_prog_type !== undefined, `owner of ${id}`);
      if (shown.owner_prog_type !== undefined) {
        assert.equal(m.ownerProgramType, 1, "socket_filter is program type 1");
        assert.equal(shown.owner_prog_type, "socket_filter");
        assert.equal(m.ownerJited, shown.owner_jited === true, "owner_jited");
      }
    }
  }
  assert.equal(listed.get(ids[1]!)?.frozen, true, "the frozen one says so");
  assert.equal(listed.get(ids[0]!)?.frozen, false);
  const ids2 = listMaps().map((m) => m.id);
  assert.deepEqual(
    [...ids2].sort((a, b) => a - b),
    ids2,
    "in id order",
  );
});

test("an id no map has: mapById is undefined, openById too; the kernel's other refusals throw", (t) => {
  if (!needsRoot(t)) return;
  const free = 0xfffffff0;
  assert.equal(mapById(free), undefined);
  assert.equal(openById("map", free), undefined);
  using m = BpfMap.create({ type: "array", keySize: 4, valueSize: 4, maxEntries: 1 });
  // open flags BPF_MAP_GET_FD_BY_ID does not know: EINVAL, not "no such map"
  assert.throws(
    () => openById("map", m.info().id, 1 << 20),
    (e: Error) => e instanceof BpfError && e.errnoName === "EINVAL",
  );
  using fd = openById("map", m.info().id);
  assert.ok(fd, "an existing map opens");
  const info = fdinfo(fd.value);
  assert.equal(info.get("map_id"), String(m.info().id), "fdinfo's map_id");
  assert.equal(info.get("max_entries"), "1");
  assert.equal(fdinfo(0x7ffffff0).size, 0, "a descriptor not open: nothing");
});

test("checkObjectId takes integers from 1 to 2^32-1; NoSuchObjectError names the kind and id", () => {
  for (const id of [1, 7, 0xffffffff]) assert.equal(checkObjectId(id, "map"), id);
  for (const id of [0, -1, 0x100000000, 1.5, "3", Number.NaN, undefined])
    assert.throws(() => checkObjectId(id, "map"), InputError, String(id));
  for (const [kind, words] of [
    ["prog", "program"],
    ["map", "map"],
    ["btf", "BTF object"],
    ["link", "link"],
  ] as const) {
    const e = new NoSuchObjectError(kind, 42);
    assert.equal(e.kind, kind);
    assert.equal(e.id, 42);
    assert.ok(e instanceof InputError);
    assert.match(e.message, new RegExp(`^no ${words} with id 42 in the kernel.*rawbpf ${kind} list`));
  }
});
