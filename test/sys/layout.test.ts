/**
 * Every bpf_attr and info layout offset checked against the running kernel's BTF
 * (/sys/kernel/btf/vmlinux), read through bpftool's raw dump (an independent oracle).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { ALL_LAYOUTS, ATTR_SIZE, PERF_EVENT_MMAP_PAGE } from "../../src/sys/layout.js";
import { PERF_ATTR_SIZE, PERF_EVENT_ATTR } from "../../src/sys/link.js";

interface RawType {
  id: number;
  kind: string;
  name: string;
  size: number;
  members: { name: string; type: number; bitsOffset: number }[];
}

function loadRaw(): Map<number, RawType> | undefined {
  let text: string;
  try {
    text = execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"], {
      encoding: "utf8",
      maxBuffer: 1 << 30,
    });
  } catch {
    return undefined;
  }
  const types = new Map<number, RawType>();
  let cur: RawType | undefined;
  for (const line of text.split("\n")) {
    const head = /^\[(\d+)\] (\w+) '([^']*)'(?: size=(\d+))?/.exec(line);
    if (head) {
      cur = { id: Number(head[1]), kind: head[2]!, name: head[3]!, size: Number(head[4] ?? 0), members: [] };
      types.set(cur.id, cur);
      continue;
    }
    const mem = /^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)/.exec(line);
    if (mem && cur) cur.members.push({ name: mem[1]!, type: Number(mem[2]), bitsOffset: Number(mem[3]) });
  }
  return types;
}

/**
 * All named fields reachable from a struct/union, flattening anonymous members, with byte offsets.
 * A field inside a named struct or union member is also recorded by its path, `member.field`
 * (`tcx.relative_fd`, `perf_event.tracepoint.tp_name`), for layouts of inner unions.
 */
function fields(
  types: Map<number, RawType>,
  id: number,
  base: number,
  out: Map<string, number>,
  prefix = "",
): void {
  const t = types.get(id);
  if (!t) return;
  for (const m of t.members) {
    const off = base + m.bitsOffset / 8;
    if (m.name === "(anon)") {
      fields(types, m.type, off, out, prefix);
      continue;
    }
    const name = prefix + m.name;
    if (!out.has(name)) out.set(name, Math.floor(off));
    const inner = types.get(m.type);
    if (inner && (inner.kind === "STRUCT" || inner.kind === "UNION")) {
      fields(types, m.type, off, out, `${name}.`);
    }
  }
}

test("bpf_attr and info layouts match the running kernel's BTF", (t) => {
  const types = loadRaw();
  if (!types) {
    if (process.env.CI === "true") assert.fail("bpftool is needed to read the kernel's BTF");
    t.skip("bpftool not installed");
    return;
  }
  const attr = [...types.values()].find((x) => x.kind === "UNION" && x.name === "bpf_attr");
  assert.ok(attr, "union bpf_attr is in vmlinux BTF");
  assert.equal(attr.size, ATTR_SIZE, "sizeof(union bpf_attr)");
  for (const layout of ALL_LAYOUTS) {
    const names = Object.keys(layout.offset);
    let found: Map<string, number> | undefined;
    if (layout.btfName.startsWith("bpf_")) {
      const s = [...types.values()].find((x) => x.kind === "STRUCT" && x.name === layout.btfName);
      assert.ok(s, `struct ${layout.btfName} exists`);
      found = new Map();
      fields(types, s.id, 0, found);
      assert.ok(layout.size <= s.size, `sizeof(struct ${layout.btfName}) is at least ours (${layout.size})`);
    } else {
      // the member of union bpf_attr (named or anonymous) that holds every field of ours
      for (const m of attr.members) {
        const f = new Map<string, number>();
        if (m.name === "(anon)") fields(types, m.type, 0, f);
        else if (m.name === layout.btfName) fields(types, m.type, 0, f);
        else continue;
        if (names.every((n) => f.has(n))) {
          found = f;
          break;
        }
      }
    }
    assert.ok(
      found,
      `a member of the kernel's types holds all fields of ${layout.btfName}: ${names.join(", ")}`,
    );
    for (const n of names) {
      assert.equal(
        (layout.offset as Record<string, number>)[n],
        found.get(n),
        `${layout.btfName}.${n} offset`,
      );
    }
  }
});

test("the perf_event_attr head built for tracepoint and uprobe links matches the running kernel's BTF", (t) => {
  const types = loadRaw();
  if (!types) {
    if (process.env.CI === "true") assert.fail("bpftool is needed to read the kernel's BTF");
    t.skip("bpftool not installed");
    return;
  }
  const s = [...types.values()].find((x) => x.kind === "STRUCT" && x.name === "perf_event_attr");
  assert.ok(s, "struct perf_event_attr exists");
  assert.equal(PERF_ATTR_SIZE, s.size, "sizeof(struct perf_event_attr)");
  const found = new Map<string, number>();
  fields(types, s.id, 0, found);
  for (const [n, off] of Object.entries(PERF_EVENT_ATTR.offset)) {
    assert.equal(off, found.get(n), `perf_event_attr.${n} offset`);
  }
});

test("the perf_event_mmap_page fields a perf buffer reader uses match the running kernel's BTF", (t) => {
  const types = loadRaw();
  if (!types) {
    if (process.env.CI === "true") assert.fail("bpftool is needed to read the kernel's BTF");
    t.skip("bpftool not installed");
    return;
  }
  const s = [...types.values()].find((x) => x.kind === "STRUCT" && x.name === "perf_event_mmap_page");
  assert.ok(s, "struct perf_event_mmap_page exists");
  assert.equal(PERF_EVENT_MMAP_PAGE.size, s.size, "sizeof(struct perf_event_mmap_page)");
  const found = new Map<string, number>();
  fields(types, s.id, 0, found);
  for (const [n, off] of Object.entries(PERF_EVENT_MMAP_PAGE.offset)) {
    assert.equal(off, found.get(n), `perf_event_mmap_page.${n} offset`);
  }
});
