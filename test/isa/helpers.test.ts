import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import {
  closestHelperNames,
  HELPERS,
  helperById,
  helperByName,
  UnknownHelperError,
  UnknownHelperIdError,
} from "../../src/isa/helpers.js";
import { haveTools } from "../support/ci.js";

const skipBpftool = !haveTools("bpftool") && process.env.CI !== "true" ? "bpftool is not installed" : false;

test("every helper of the running kernel's enum bpf_func_id is in the table with the same id", {
  skip: skipBpftool,
}, () => {
  const raw = execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  const start = raw.indexOf("ENUM 'bpf_func_id'");
  assert.ok(start >= 0, "enum bpf_func_id not in the kernel's BTF");
  const lines = raw.slice(start).split("\n").slice(1);
  const kernel = new Map<string, number>();
  for (const line of lines) {
    const m = /^\t'BPF_FUNC_(\w+)' val=(\d+)$/.exec(line);
    if (!m) break;
    kernel.set(`bpf_${m[1]}`, Number(m[2]));
  }
  kernel.delete("bpf_unspec");
  assert.ok(kernel.size >= 211);
  assert.equal(HELPERS.length, kernel.size);
  for (const [name, id] of kernel) {
    assert.equal(helperByName(name).id, id, name);
    assert.equal(helperById(id).name, name);
  }
});

const defs = "/usr/include/bpf/bpf_helper_defs.h";
test("signatures match libbpf's bpf_helper_defs.h", {
  skip: !existsSync(defs) && process.env.CI !== "true",
}, () => {
  const text = readFileSync(defs, "utf8");
  for (const m of text.matchAll(/^static (.+?)\s*\(\*(\w+)\)\((.*)\) = \(void \*\) (\d+);$/gm)) {
    const helper = helperById(Number(m[4]));
    assert.equal(helper.name, m[2]);
    assert.equal(helper.returns, m[1]!.trim());
    const args = m[3] === "void" ? [] : m[3]!.split(", ").filter((a) => a !== "...");
    assert.deepEqual(
      helper.args.map((a) => `${a.type}${a.type.endsWith("*") ? "" : " "}${a.name}`),
      args,
      helper.name,
    );
  }
});

test("well-known helpers and their signatures", () => {
  const lookup = helperByName("bpf_map_lookup_elem");
  assert.equal(lookup.id, 1);
  assert.equal(lookup.returns, "void *");
  assert.deepEqual(
    lookup.args.map((a) => a.name),
    ["map", "key"],
  );
  assert.equal(helperByName("map_lookup_elem"), lookup);
  assert.equal(helperByName("bpf_trace_printk").variadic, true);
  assert.equal(helperByName("bpf_loop").args.length, 4);
  for (const h of HELPERS) assert.ok(h.args.length <= 5, h.name);
});

test("unknown names and ids are typed errors that suggest the closest names", () => {
  assert.throws(
    () => helperByName("bpf_map_lookup_elm"),
    (e: unknown) => {
      assert.ok(e instanceof UnknownHelperError);
      assert.equal(e.suggestions[0], "bpf_map_lookup_elem");
      assert.match(e.message, /did you mean "bpf_map_lookup_elem"/);
      return true;
    },
  );
  assert.ok(closestHelperNames("ringbuf_output").includes("bpf_ringbuf_output"));
  assert.throws(() => helperById(0), UnknownHelperIdError);
  assert.throws(() => helperById(100000), UnknownHelperIdError);
  assert.throws(() => helperByName("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"), UnknownHelperError);
});
