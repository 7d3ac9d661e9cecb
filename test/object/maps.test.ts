/**
 * maps.c: map-in-map and prog-array initial values (a tail call through the prog array under
 * BPF_PROG_TEST_RUN) as libbpf gives them; a map pinned by name (LIBBPF_PIN_BY_NAME) under a pin
 * root, reused by the next object that opens it.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import test from "node:test";
import { BpfObject } from "../../src/object/index.js";
import { needsRoot } from "../support/privilege.js";
import { compileFixture } from "./compile.js";
import { sameAsLibbpf } from "./oracle.js";

test("maps.c: map-in-map, prog array and pinned map as libbpf loads them; the pin is reused", (t) => {
  if (!needsRoot(t)) return;
  const path = compileFixture("maps");
  const root = `/sys/fs/bpf/rawbpf-obj-${process.pid}`;
  const ours = `${root}/ours`;
  const theirs = `${root}/libbpf`;
  mkdirSync(ours, { recursive: true });
  mkdirSync(theirs, { recursive: true });
  try {
    {
      using obj = BpfObject.open(path, { pinRoot: ours }).load();
      sameAsLibbpf(obj, path, ["use_maps"], ["inner_a", "inner_b", "pinned_counts"], { pinRoot: theirs });
      assert.equal(
        obj.program("use_maps").testRun({ data: new Uint8Array(64) }).retval,
        42,
        "the tail call ran",
      );
      assert.ok(existsSync(`${ours}/pinned_counts`), "pinned by name under the pin root");
      assert.ok(existsSync(`${theirs}/pinned_counts`), "libbpf pinned its own under its root");
    }
    using again = BpfObject.open(path, { pinRoot: ours }).load();
    const count = again.map("pinned_counts").get(new Uint8Array(4)) as Uint8Array;
    assert.equal(
      new DataView(count.buffer, count.byteOffset).getBigUint64(0, true),
      2n,
      "the second object found the pinned map with the first one's two runs in it",
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
