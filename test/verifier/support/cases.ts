/**
 * Programs that make THIS kernel's verifier emit each catalog message. Each case is loaded with the
 * project's own loader (`Program.load`, raw instruction bytes, `check: false` so that deliberately
 * malformed programs reach the kernel) and returns the real log. Maps come from `BpfMap`, BTF from
 * `BtfBuilder` and `loadBtf`, vmlinux type ids from `Btf`. Cases that need a process without some
 * capability run in a child under `setpriv`.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Btf, BtfBuilder, encodeFuncInfo, encodeLineInfo, loadBtf } from "../../../src/btf/index.js";
import { BpfMap, type MapFlags } from "../../../src/map/index.js";
import { Program, type ProgramSpec } from "../../../src/program/program.js";
import { BpfError } from "../../../src/sys/error.js";
import { VerifierError } from "../../../src/verifier/error.js";
import { prog, raw } from "./insns.js";
import { runUnprivileged } from "./unprivileged.js";

export interface CaseResult {
  /** the errno of the rejection (0 if it loaded) */
  errno: number;
  log: string;
  /** raw instruction bytes that were loaded */
  insns: Uint8Array;
  /** set when the case cannot run here, with the reason */
  skip?: string;
  /** the VerifierError the project's loader threw, if it threw one */
  thrown?: VerifierError;
}

interface Spec {
  type: string;
  insns: Buffer;
  license?: string;
  logLevel?: number;
  expectedAttachType?: string;
  attachBtfId?: number;
  btf?: ProgramSpec["btf"];
  funcInfo?: Uint8Array;
  lineInfo?: Uint8Array;
}

/** Load with the project's loader; return the verifier's log. */
export function load(spec: Spec): CaseResult {
  try {
    const p = Program.load({
      type: spec.type,
      instructions: new Uint8Array(spec.insns),
      license: spec.license ?? "GPL",
      logLevel: spec.logLevel ?? 2,
      check: false,
      emitBtf: false,
      ...(spec.expectedAttachType ? { expectedAttachType: spec.expectedAttachType } : {}),
      ...(spec.attachBtfId ? { attachBtfId: spec.attachBtfId } : {}),
      ...(spec.btf !== undefined ? { btf: spec.btf } : {}),
      ...(spec.funcInfo ? { funcInfo: spec.funcInfo } : {}),
      ...(spec.lineInfo ? { lineInfo: spec.lineInfo } : {}),
    });
    const log = p.log;
    p.close();
    return { errno: 0, log, insns: spec.insns };
  } catch (e) {
    // the loader throws a VerifierError (ProgramRejectedError) for rejections; older versions a BpfError
    if (e instanceof VerifierError)
      return { errno: e.errno ?? -1, log: e.log.text, insns: spec.insns, thrown: e };
    if (e instanceof BpfError) return { errno: e.errno, log: e.log ?? "", insns: spec.insns };
    throw e;
  }
}

const EXIT = raw(0x95);
const R0_0 = raw(0xb7, 0, 0, 0, 0);
const lddw = (dst: number, src: number, imm: number, imm2 = 0): Buffer[] => [
  raw(0x18, dst, src, 0, imm),
  raw(0, 0, 0, 0, imm2),
];
const call = (id: number): Buffer => raw(0x85, 0, 0, 0, id);
/** r2 = fp-8 with 8 zero bytes there */
const keyOnStack = (): Buffer[] => [raw(0x7a, 10, 0, -8, 0), raw(0xbf, 2, 10), raw(0x07, 2, 0, 0, -8)];

const maps: BpfMap[] = [];
/** A one-element array map (4-byte key), closed by {@link closeMaps}. */
function arrayMap(valueSize = 8, flags?: MapFlags): BpfMap {
  const map = BpfMap.create({
    type: "array",
    keySize: 4,
    valueSize,
    maxEntries: 1,
    ...(flags ? { flags } : {}),
  });
  maps.push(map);
  return map;
}

/** Close the maps the cases created. */
export function closeMaps(): void {
  for (const map of maps.splice(0)) map.close();
}

let vmlinux: Btf | undefined;
/** The id of a named type of the kind given in the kernel's own BTF. */
function vmlinuxId(name: string, kind: "func" | "typedef"): number | undefined {
  vmlinux ??= Btf.parse(readFileSync("/sys/kernel/btf/vmlinux"));
  return vmlinux.findId(name, kind);
}

/** Program BTF: one `int NAME(void)` FUNC per function, with its linkage, for func_info / line_info. */
function programBtf(funcs: Array<{ name: string; linkage: "static" | "global" }>): {
  builder: BtfBuilder;
  ids: number[];
} {
  const builder = new BtfBuilder();
  const int = builder.int("int", 4, { signed: true });
  const proto = builder.funcProto(int, []);
  const ids = funcs.map((f) => builder.func(f.name, proto, f.linkage));
  return { builder, ids };
}

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const SELF = fileURLToPath(import.meta.url);
/** node arguments that run {@link childCase} for `name` and print its result as JSON. */
const childArgs = (name: string): string[] => [
  "--import",
  "tsx",
  "-e",
  `import(${JSON.stringify(SELF)}).then(m => process.stdout.write(JSON.stringify(m.childCase(${JSON.stringify(name)}))))`,
];

/** Reads what {@link childCase} printed. */
function childResult(r: {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}): CaseResult {
  if (r.status !== 0 || !r.stdout)
    throw new Error(
      `the child process failed (status ${r.status}${r.signal ? `, ${r.signal}` : ""}): ${r.stderr}`,
    );
  const out = JSON.parse(r.stdout) as { errno: number; log: string; insns: string };
  return { errno: out.errno, log: out.log, insns: new Uint8Array(Buffer.from(out.insns, "base64")) };
}

/** Run a case in a child process, as root, whose capabilities lack `drop` (e.g. `-perfmon,-sys_admin`). */
function inChild(caseName: string, drop: string): CaseResult {
  const r = spawnSync(
    "setpriv",
    [`--bounding-set=${drop}`, `--inh-caps=${drop}`, "--", process.execPath, ...childArgs(caseName)],
    { encoding: "utf8", cwd: ROOT, timeout: 60_000, killSignal: "SIGKILL" },
  );
  return childResult(r);
}

const unprivileged = new Map<string, CaseResult>();
/**
 * Run a case in a child with no privilege at all (nobody, no capabilities), with unprivileged bpf()
 * allowed for the moment it runs (see `unprivileged.ts`). Its result is kept: one window per process.
 */
function asNobody(caseName: string): CaseResult {
  const known = unprivileged.get(caseName);
  if (known) return known;
  const run = runUnprivileged(process.execPath, childArgs(caseName), ROOT);
  if ("skip" in run) return { errno: -1, log: "", insns: new Uint8Array(), skip: run.skip };
  const result = childResult(run.child);
  if (result.errno === 1 && !result.log)
    throw new Error(
      "the kernel refused bpf() to the unprivileged child even with unprivileged_bpf_disabled at 0",
    );
  unprivileged.set(caseName, result);
  return result;
}

/** Entry point for the child processes of {@link inChild} and {@link asNobody}. */
export function childCase(name: string): { errno: number; log: string; insns: string } {
  const r = CHILD_CASES[name]!();
  closeMaps();
  return { errno: r.errno, log: r.log, insns: Buffer.from(r.insns).toString("base64") };
}

const CHILD_CASES: Record<string, () => CaseResult> = {
  "uninitialized-stack-read": () => {
    const map = arrayMap();
    // key pointer to 8 bytes of stack that were never written
    return load({
      type: "socket_filter",
      insns: prog(raw(0xbf, 2, 10), raw(0x07, 2, 0, 0, -8), ...lddw(1, 1, map.fd), call(1), R0_0, EXIT),
    });
  },
  // r0 = 0; r0 += 1; if r0 < 10 goto -2: a bounded loop, which only CAP_BPF may write
  "back-edge": () =>
    load({ type: "socket_filter", insns: prog(R0_0, raw(0x07, 0, 0, 0, 1), raw(0xa5, 0, 0, -2, 10), EXIT) }),
};

/** One case per catalog id. */
export const CASES: Record<string, () => CaseResult> = {
  "invalid-mem-access": () => load({ type: "socket_filter", insns: prog(R0_0, raw(0x79, 0, 0, 0, 0), EXIT) }),
  "null-pointer-dereference": () => {
    const { fd } = arrayMap();
    return load({
      type: "socket_filter",
      insns: prog(...keyOnStack(), ...lddw(1, 1, fd), call(1), raw(0x79, 0, 0, 0, 0), EXIT),
    });
  },
  "wrong-argument-type": () =>
    load({ type: "socket_filter", insns: prog(...keyOnStack(), call(1), R0_0, EXIT) }),
  "unbounded-memory-access": () => {
    const { fd } = arrayMap();
    return load({
      type: "socket_filter",
      insns: prog(
        ...keyOnStack(),
        ...lddw(1, 1, fd),
        call(1),
        raw(0x15, 0, 0, 4, 0),
        raw(0x61, 1, 0, 0, 0),
        raw(0x0f, 0, 1),
        raw(0x71, 0, 0, 0, 0),
        EXIT,
        R0_0,
        EXIT,
      ),
    });
  },
  "negative-min-value": () => {
    const { fd } = arrayMap();
    return load({
      type: "socket_filter",
      insns: prog(
        ...keyOnStack(),
        ...lddw(1, 1, fd),
        call(1),
        raw(0x15, 0, 0, 5, 0),
        raw(0x71, 1, 0, 0, 0),
        raw(0x07, 1, 0, 0, -4),
        raw(0x0f, 0, 1),
        raw(0x71, 0, 0, 0, 0),
        EXIT,
        R0_0,
        EXIT,
      ),
    });
  },
  "map-value-out-of-bounds": () => {
    const { fd } = arrayMap();
    return load({
      type: "socket_filter",
      insns: prog(
        ...keyOnStack(),
        ...lddw(1, 1, fd),
        call(1),
        raw(0x15, 0, 0, 2, 0),
        raw(0x79, 0, 0, 8, 0),
        EXIT,
        R0_0,
        EXIT,
      ),
    });
  },
  "packet-out-of-bounds": () =>
    load({ type: "xdp", insns: prog(raw(0x61, 2, 1, 0, 0), raw(0x71, 0, 2, 0, 0), R0_0, EXIT) }),
  "pointer-math-unbounded": () =>
    load({
      type: "xdp",
      insns: prog(raw(0xbf, 6, 1), call(5), raw(0x61, 2, 6, 0, 0), raw(0x0f, 2, 0), R0_0, EXIT),
    }),
  "back-edge": () => asNobody("back-edge"),
  "infinite-loop": () =>
    load({
      type: "socket_filter",
      // r0 = 0; if r0 == 1 goto exit; goto back to the test: the same state forever
      insns: prog(R0_0, raw(0x15, 0, 0, 1, 1), raw(0x05, 0, 0, -2, 0), EXIT),
    }),
  "program-too-complex": () =>
    load({
      type: "socket_filter",
      logLevel: 1,
      insns: prog(R0_0, raw(0x07, 0, 0, 0, 1), raw(0xa5, 0, 0, -2, 10_000_000), EXIT),
    }),
  "uninitialized-stack-read": () => inChild("uninitialized-stack-read", "-perfmon,-sys_admin"),
  "return-value-unset": () => load({ type: "socket_filter", insns: prog(EXIT) }),
  "uninitialized-register": () => load({ type: "socket_filter", insns: prog(raw(0xbf, 0, 2), EXIT) }),
  "unreachable-insn": () => load({ type: "socket_filter", insns: prog(R0_0, EXIT, R0_0, EXIT) }),
  "jump-out-of-range": () => load({ type: "socket_filter", insns: prog(raw(0x05, 0, 0, 5, 0), R0_0, EXIT) }),
  "missing-func-info": () =>
    load({ type: "socket_filter", insns: prog(...lddw(2, 4, 3), R0_0, EXIT, R0_0, EXIT) }),
  "callback-not-static": () => {
    // the callback (bpf_loop's, at insn 4) is global in the BTF, where it must be static
    const { builder, ids } = programBtf([
      { name: "main", linkage: "global" },
      { name: "cb", linkage: "global" },
    ]);
    using btf = loadBtf(builder.build()).fd;
    return load({
      type: "socket_filter",
      insns: prog(...lddw(2, 4, 3), R0_0, EXIT, R0_0, EXIT),
      btf,
      funcInfo: encodeFuncInfo([
        { insnOff: 0, typeId: ids[0]! },
        { insnOff: 4, typeId: ids[1]! },
      ]),
    });
  },
  "not-readonly-map": () => {
    const { fd } = arrayMap(8);
    // bpf_strncmp(s1 = fp-8, 8, s2 = map value of a writable map)
    return load({
      type: "socket_filter",
      insns: prog(
        raw(0x7a, 10, 0, -8, 0),
        raw(0xbf, 1, 10),
        raw(0x07, 1, 0, 0, -8),
        raw(0xb7, 2, 0, 0, 8),
        ...lddw(3, 2, fd, 0),
        call(182),
        R0_0,
        EXIT,
      ),
    });
  },
  "string-not-terminated": () => {
    // a read-only map (for programs), frozen, whose 8-byte value has no NUL
    const map = arrayMap(8, ["BPF_F_RDONLY_PROG"]);
    map.set(new Uint8Array(4), new TextEncoder().encode("abcdefgh"));
    map.freeze();
    const { fd } = map;
    return load({
      type: "socket_filter",
      insns: prog(
        raw(0x7a, 10, 0, -8, 0),
        raw(0xbf, 1, 10),
        raw(0x07, 1, 0, 0, -8),
        raw(0xb7, 2, 0, 0, 8),
        ...lddw(3, 2, fd, 0),
        call(182),
        R0_0,
        EXIT,
      ),
    });
  },
  "unreleased-reference": () => {
    const ringbuf = BpfMap.create({ type: "ringbuf", maxEntries: 4096 });
    maps.push(ringbuf);
    const { fd } = ringbuf;
    return load({
      type: "socket_filter",
      insns: prog(...lddw(1, 1, fd), raw(0xb7, 2, 0, 0, 8), raw(0xb7, 3, 0, 0, 0), call(131), R0_0, EXIT),
    });
  },
  "helper-not-allowed-here": () => {
    // A tp_btf program (tracing, attach type trace_raw_tp) on the sched_switch tracepoint calls
    // bpf_d_path. The helper exists for tracing programs, but its `allowed` callback
    // (bpf_d_path_allowed) admits only iterators, sleepable LSM hooks and an allow list of
    // functions, so the verifier refuses the call before it looks at the arguments.
    const id = vmlinuxId("btf_trace_sched_switch", "typedef");
    if (id === undefined)
      return {
        errno: -1,
        log: "",
        insns: new Uint8Array(),
        skip: "no btf_trace_sched_switch in vmlinux BTF",
      };
    return load({
      type: "tracing",
      expectedAttachType: "trace_raw_tp",
      attachBtfId: id,
      insns: prog(
        raw(0xb7, 1, 0, 0, 0),
        raw(0xbf, 2, 10),
        raw(0x07, 2, 0, 0, -8),
        raw(0xb7, 3, 0, 0, 8),
        call(147), // bpf_d_path(path, buf, sz)
        R0_0,
        EXIT,
      ),
    });
  },
  "unknown-helper": () => load({ type: "socket_filter", insns: prog(call(100_000), R0_0, EXIT) }),
  "helper-not-for-program-type": () => load({ type: "socket_filter", insns: prog(call(23), R0_0, EXIT) }),
  "gpl-only-helper": () =>
    load({
      type: "kprobe",
      license: "Proprietary",
      insns: prog(
        raw(0xbf, 1, 10),
        raw(0x07, 1, 0, 0, -8),
        raw(0xb7, 2, 0, 0, 8),
        raw(0xb7, 3, 0, 0, 0),
        call(113),
        R0_0,
        EXIT,
      ),
    }),
  "frame-pointer-read-only": () =>
    load({ type: "socket_filter", insns: prog(raw(0xb7, 10, 0, 0, 0), R0_0, EXIT) }),
  "stack-out-of-bounds": () =>
    load({ type: "socket_filter", insns: prog(raw(0x7a, 10, 0, -520, 0), R0_0, EXIT) }),
  "misaligned-stack-access": () =>
    load({ type: "socket_filter", insns: prog(raw(0x7a, 10, 0, -4, 0), R0_0, EXIT) }),
  "invalid-context-access": () =>
    load({ type: "socket_filter", insns: prog(raw(0x61, 0, 1, 1000, 0), R0_0, EXIT) }),
  "modified-context-pointer": () =>
    load({ type: "socket_filter", insns: prog(raw(0x07, 1, 0, 0, 4), raw(0x61, 0, 1, 0, 0), R0_0, EXIT) }),
  "division-by-zero": () => load({ type: "socket_filter", insns: prog(R0_0, raw(0x37, 0, 0, 0, 0), EXIT) }),
  "last-insn-not-exit": () => load({ type: "socket_filter", insns: prog(R0_0) }),
  "invalid-opcode": () => load({ type: "socket_filter", insns: prog(R0_0, raw(0xff, 0, 0, 0, 0), EXIT) }),
  "map-pointer-arithmetic": () => {
    const { fd } = arrayMap();
    return load({ type: "socket_filter", insns: prog(...lddw(1, 1, fd), raw(0x07, 1, 0, 0, 8), R0_0, EXIT) });
  },
  "bad-return-value": () =>
    load({
      type: "cgroup_skb",
      expectedAttachType: "cgroup_inet_ingress",
      insns: prog(raw(0xb7, 0, 0, 0, 5), EXIT),
    }),
  "reserved-fields": () => load({ type: "socket_filter", insns: prog(R0_0, raw(0x95, 1, 0, 0, 0)) }),
  "sleeping-helper": () =>
    load({
      type: "kprobe",
      insns: prog(
        raw(0xbf, 1, 10),
        raw(0x07, 1, 0, 0, -8),
        raw(0xb7, 2, 0, 0, 8),
        raw(0xb7, 3, 0, 0, 0),
        call(148),
        R0_0,
        EXIT,
      ),
    }),
  "call-stack-too-deep": () => {
    // nine nested bpf-to-bpf calls: each function calls the next
    const slots: Buffer[] = [];
    for (let i = 0; i < 9; i++) slots.push(raw(0x85, 0, 1, 0, 2), R0_0, EXIT);
    slots.push(R0_0, EXIT);
    return load({ type: "socket_filter", insns: prog(...slots) });
  },
  "combined-stack-too-large": () =>
    load({
      type: "socket_filter",
      insns: prog(
        raw(0x7a, 10, 0, -304, 0),
        raw(0x85, 0, 1, 0, 2),
        R0_0,
        EXIT,
        raw(0x7a, 10, 0, -304, 0),
        R0_0,
        EXIT,
      ),
    }),
  "min-value-out-of-range": () => CASES["map-value-out-of-bounds"]!(),
  "variable-context-access": () =>
    load({
      type: "socket_filter",
      insns: prog(
        raw(0xbf, 6, 1),
        call(5),
        raw(0x57, 0, 0, 0, 0xff),
        raw(0x0f, 6, 0),
        raw(0x61, 0, 6, 0, 0),
        EXIT,
      ),
    }),
  "kfunc-not-allowed": () => {
    const id = vmlinuxId("bpf_task_acquire", "func");
    if (id === undefined)
      return { errno: -1, log: "", insns: new Uint8Array(), skip: "no bpf_task_acquire in vmlinux BTF" };
    return load({ type: "socket_filter", insns: prog(raw(0x85, 0, 2, 0, id), R0_0, EXIT) });
  },
  "invalid-map-fd": () => load({ type: "socket_filter", insns: prog(...lddw(1, 1, 9999), R0_0, EXIT) }),
  "invalid-ld-imm64": () =>
    load({ type: "socket_filter", insns: prog(raw(0x18, 1, 0, 0, 1), raw(0x07, 0, 0, 0, 0), R0_0, EXIT) }),
  "source-annotated": () => {
    const { builder, ids } = programBtf([{ name: "main", linkage: "global" }]);
    const file = builder.strings.add("prog.c");
    const l0 = builder.strings.add("int x = 0;");
    const l1 = builder.strings.add("return *(long *)x;");
    using btf = loadBtf(builder.build()).fd;
    return load({
      type: "socket_filter",
      insns: prog(R0_0, raw(0x79, 0, 0, 0, 0), EXIT),
      btf,
      funcInfo: encodeFuncInfo([{ insnOff: 0, typeId: ids[0]! }]),
      lineInfo: encodeLineInfo([
        { insnOff: 0, fileNameOff: file, lineOff: l0, line: 3, column: 5 },
        { insnOff: 1, fileNameOff: file, lineOff: l1, line: 4, column: 3 },
      ]),
    });
  },
};
