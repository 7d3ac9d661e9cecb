/**
 * link.ts's attribute writers where mutation testing found no test in test/link (npm run mutate --
 * src/sys/link.ts): every kind of LINK_CREATE's extra attributes, PROG_ATTACH/DETACH, ITER_CREATE,
 * LINK_DETACH, LINK_UPDATE and RAW_TRACEPOINT_OPEN name the attribute a bad value was given for,
 * and with values the writers accept, the kernel's answer to a program descriptor that is not
 * open (EBADF, against os.constants.errno) comes back as a BpfError of that command. Nothing is
 * attached: every call here is refused before or by the kernel's first look at the descriptor.
 */
import assert from "node:assert/strict";
import { constants } from "node:os";
import { test } from "node:test";
import { BpfError } from "../../src/sys/error.js";
import {
  iterCreate,
  type LinkCreateExtra,
  linkCreate,
  linkDetach,
  linkUpdate,
  progAttach,
  progDetach,
  rawTracepointOpen,
} from "../../src/sys/link.js";
import { inputMessage } from "../support/errors.js";
import { needsRoot } from "../support/privilege.js";

const NOT_OPEN = 0x7ffffff0;

/** Checks that `f` is the kernel's EBADF for `command`. */
function badDescriptor(f: () => unknown, command: string): void {
  assert.throws(
    f,
    (e: Error) => e instanceof BpfError && e.command === command && e.errno === constants.errno.EBADF,
    command,
  );
}

const EXTRAS: Record<string, LinkCreateExtra> = {
  target_btf_id: { kind: "target_btf_id", targetBtfId: 1 },
  tracing: { kind: "tracing", targetBtfId: 1, cookie: 1n },
  perf_event: { kind: "perf_event", cookie: 1n },
  tcx: { kind: "tcx", relative: 0, expectedRevision: 0n },
  netkit: { kind: "netkit", relative: 0, expectedRevision: 0n },
  netfilter: { kind: "netfilter", pf: 2, hooknum: 0, priority: -100, flags: 0 },
  iter: { kind: "iter", info: Buffer.alloc(8) },
  uprobe_multi: {
    kind: "uprobe_multi",
    path: Buffer.from("/bin/true\0"),
    offsets: Buffer.alloc(8),
    cookies: undefined,
    count: 1,
    flags: 0,
    pid: 0,
  },
  kprobe_multi: {
    kind: "kprobe_multi",
    symbols: ["schedule"],
    addresses: undefined,
    cookies: undefined,
    count: 1,
    flags: 0,
  },
};

test("linkCreate names the attribute a bad value was given for, of every kind of extra attributes", () => {
  const base = { progFd: NOT_OPEN, target: 0, attachType: 0 };
  for (const [field, words] of [
    ["progFd", "program fd"],
    ["target", "attach target"],
    ["attachType", "attach type"],
    ["flags", "link flags"],
  ] as const)
    assert.match(
      inputMessage(() => linkCreate({ ...base, [field]: -1 })),
      new RegExp(`^${words} must be`),
      field,
    );
  const bad: [string, Record<string, unknown>, string][] = [
    ["target_btf_id", { targetBtfId: -1 }, "target BTF id"],
    ["tracing", { targetBtfId: -1 }, "target BTF id"],
    ["tracing", { cookie: -1n }, "cookie"],
    ["perf_event", { cookie: -1n }, "cookie"],
    ["tcx", { relative: -1 }, "relative fd or id"],
    ["tcx", { expectedRevision: -1n }, "expected revision"],
    ["netkit", { relative: -1 }, "relative fd or id"],
    ["netkit", { expectedRevision: -1n }, "expected revision"],
    ["netfilter", { pf: -1 }, "netfilter protocol family"],
    ["netfilter", { hooknum: -1 }, "netfilter hook"],
    ["netfilter", { priority: 2 ** 31 }, "netfilter priority"],
    ["netfilter", { flags: -1 }, "netfilter flags"],
    ["uprobe_multi", { count: -1 }, "probe count"],
    ["uprobe_multi", { flags: -1 }, "uprobe_multi flags"],
    ["uprobe_multi", { pid: -1 }, "pid"],
    ["kprobe_multi", { count: -1 }, "probe count"],
    ["kprobe_multi", { flags: -1 }, "kprobe_multi flags"],
  ];
  for (const [kind, change, words] of bad) {
    const extra = { ...EXTRAS[kind], ...change } as LinkCreateExtra;
    const message = inputMessage(() => linkCreate({ ...base, extra }));
    assert.ok(
      message.startsWith(`${words} must be`),
      `${kind} ${JSON.stringify(change, (_, v) => (typeof v === "bigint" ? `${v}n` : v))}: ${message}`,
    );
  }
  const nul = { ...EXTRAS.kprobe_multi, symbols: ["a\0b"] } as LinkCreateExtra;
  assert.match(
    inputMessage(() => linkCreate({ ...base, extra: nul })),
    /contains a NUL byte/,
  );
});

test("linkCreate with every kind of extra attributes the writers accept: the kernel's EBADF for a program that is not open", (t) => {
  if (!needsRoot(t)) return;
  for (const [kind, extra] of Object.entries(EXTRAS))
    assert.throws(
      () => linkCreate({ progFd: NOT_OPEN, target: 0, attachType: 0, extra }),
      (e: Error) =>
        e instanceof BpfError && e.command === "BPF_LINK_CREATE" && e.errno === constants.errno.EBADF,
      kind,
    );
});

test("the other attach commands name the attribute a bad value was given for; with a descriptor that is not open, the kernel's EBADF", (t) => {
  const a = { target: NOT_OPEN, progFd: NOT_OPEN, attachType: 0 };
  for (const [field, words] of [
    ["target", "attach target"],
    ["progFd", "program fd"],
    ["attachType", "attach type"],
    ["flags", "attach flags"],
  ] as const)
    assert.match(
      inputMessage(() => progAttach({ ...a, [field]: -1 })),
      new RegExp(`^${words} must be`),
      field,
    );
  for (const [field, words] of [
    ["target", "attach target"],
    ["progFd", "program fd"],
    ["attachType", "attach type"],
  ] as const)
    assert.match(
      inputMessage(() => progDetach({ ...a, [field]: -1 })),
      new RegExp(`^${words} must be`),
      field,
    );
  assert.match(
    inputMessage(() => iterCreate(-1)),
    /^link fd must be/,
  );
  assert.match(
    inputMessage(() => linkDetach(-1)),
    /^link fd must be/,
  );
  assert.match(
    inputMessage(() => linkUpdate(-1, 0)),
    /^link fd must be/,
  );
  assert.match(
    inputMessage(() => linkUpdate(0, -1)),
    /^program fd must be/,
  );
  assert.match(
    inputMessage(() => linkUpdate(0, 0, -1)),
    /^old program fd must be/,
  );
  assert.match(
    inputMessage(() => rawTracepointOpen(-1, "sys_enter")),
    /^program fd must be/,
  );
  assert.match(
    inputMessage(() => rawTracepointOpen(0, "sys_enter", -1n)),
    /^cookie must be/,
  );
  assert.match(
    inputMessage(() => rawTracepointOpen(0, "sys\0enter")),
    /contains a NUL byte/,
  );
  if (!needsRoot(t)) return;
  badDescriptor(() => progAttach({ ...a, target: 0, attachType: 0 }), "BPF_PROG_ATTACH");
  badDescriptor(() => iterCreate(NOT_OPEN), "BPF_ITER_CREATE");
  badDescriptor(() => linkDetach(NOT_OPEN), "BPF_LINK_DETACH");
  badDescriptor(() => linkUpdate(NOT_OPEN, NOT_OPEN), "BPF_LINK_UPDATE");
  badDescriptor(() => linkUpdate(NOT_OPEN, NOT_OPEN, NOT_OPEN), "BPF_LINK_UPDATE");
  badDescriptor(() => rawTracepointOpen(NOT_OPEN, "sys_enter"), "BPF_RAW_TRACEPOINT_OPEN");
});
