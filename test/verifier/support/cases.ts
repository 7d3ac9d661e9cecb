/**
 * Programs that make THIS kernel's verifier emit each catalog message. Each case is loaded with the
 * project's own loader (`Program.load`, raw instruction bytes, `check: false` so that deliberately
 * malformed programs reach the kernel) and returns the real log. Cases that need a process without
 * some capability run in a child under `setpriv`.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Program } from "../../../src/program/program.js";
import { BpfError } from "../../../src/sys/error.js";
import { VerifierError } from "../../../src/verifier/error.js";
import {
  close,
  createMap,
  freezeMap,
  funcInfo,
  lineInfo,
  loadBtf,
  prog,
  raw,
  TinyBtf,
  updateMap,
} from "./kernel.js";

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
  btf?: number;
  funcInfo?: Buffer;
  lineInfo?: Buffer;
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
      ...(spec.funcInfo ? { funcInfo: new Uint8Array(spec.funcInfo) } : {}),
      ...(spec.lineInfo ? { lineInfo: new Uint8Array(spec.lineInfo) } : {}),
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

const maps: number[] = [];
function arrayMap(valueSize = 8, flags = 0): number {
  const fd = createMap(2, 4, valueSize, 1, flags);
  maps.push(fd);
  return fd;
}
/** Close the maps the cases created. */
export function closeMaps(): void {
  for (const fd of maps.splice(0)) close(fd);
}

/** BTF id of a vmlinux function, found with bpftool (an independent reader of the kernel's BTF). */
function vmlinuxFuncId(name: string): number | undefined {
  const r = spawnSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  const m = new RegExp(`^\\[(\\d+)\\] FUNC '${name}' `, "m").exec(r.stdout ?? "");
  return m ? Number(m[1]) : undefined;
}

/** Run a case in a child process whose capabilities lack `drop` (e.g. `-perfmon,-sys_admin`). */
function inChild(caseName: string, drop: string): CaseResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(
    "setpriv",
    [
      `--bounding-set=${drop}`,
      `--inh-caps=${drop}`,
      "--",
      process.execPath,
      "--import",
      "tsx",
      "-e",
      `import(${JSON.stringify(self)}).then(m => process.stdout.write(JSON.stringify(m.childCase(${JSON.stringify(caseName)}))))`,
    ],
    { encoding: "utf8", cwd: fileURLToPath(new URL("../../..", import.meta.url)) },
  );
  if (r.status !== 0 || !r.stdout)
    return { errno: -1, log: "", insns: new Uint8Array(), skip: `child failed: ${r.stderr}` };
  const out = JSON.parse(r.stdout) as { errno: number; log: string };
  if (out.errno === 1 && !out.log)
    return {
      ...out,
      insns: new Uint8Array(),
      skip: "the kernel refuses bpf() without CAP_BPF here (kernel.unprivileged_bpf_disabled), and only such a load reports back-edges",
    };
  return { ...out, insns: new Uint8Array() };
}

/** Entry point for {@link inChild}. */
export function childCase(name: string): { errno: number; log: string } {
  const r = CHILD_CASES[name]!();
  return { errno: r.errno, log: r.log };
}

const CHILD_CASES: Record<string, () => CaseResult> = {
  "uninitialized-stack-read": () => {
    const fd = arrayMap();
    // key pointer to 8 bytes of stack that were never written
    return load({
      type: "socket_filter",
      insns: prog(raw(0xbf, 2, 10), raw(0x07, 2, 0, 0, -8), ...lddw(1, 1, fd), call(1), R0_0, EXIT),
    });
  },
  "back-edge": () =>
    load({ type: "socket_filter", insns: prog(R0_0, raw(0x07, 0, 0, 0, 1), raw(0xa5, 0, 0, -2, 10), EXIT) }),
};

/** One case per catalog id. */
export const CASES: Record<string, () => CaseResult> = {
  "invalid-mem-access": () => load({ type: "socket_filter", insns: prog(R0_0, raw(0x79, 0, 0, 0, 0), EXIT) }),
  "null-pointer-dereference": () => {
    const fd = arrayMap();
    return load({
      type: "socket_filter",
      insns: prog(...keyOnStack(), ...lddw(1, 1, fd), call(1), raw(0x79, 0, 0, 0, 0), EXIT),
    });
  },
  "wrong-argument-type": () =>
    load({ type: "socket_filter", insns: prog(...keyOnStack(), call(1), R0_0, EXIT) }),
  "unbounded-memory-access": () => {
    const fd = arrayMap();
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
    const fd = arrayMap();
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
    const fd = arrayMap();
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
  "back-edge": () => inChild("back-edge", "-bpf,-sys_admin,-perfmon,-net_admin"),
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
    const b = new TinyBtf();
    const int = b.int("int");
    const main = b.func("main", b.proto(int, []), 1);
    const cb = b.func("cb", b.proto(int, []), 1);
    const btf = loadBtf(b.blob());
    try {
      return load({
        type: "socket_filter",
        insns: prog(...lddw(2, 4, 3), R0_0, EXIT, R0_0, EXIT),
        btf,
        funcInfo: funcInfo([0, main], [4, cb]),
      });
    } finally {
      close(btf);
    }
  },
  "not-readonly-map": () => {
    const fd = arrayMap(8);
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
    const fd = arrayMap(8, 1 << 7); // BPF_F_RDONLY_PROG
    updateMap(fd, Buffer.alloc(4), Buffer.from("abcdefgh"));
    freezeMap(fd);
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
    const fd = createMap(27, 0, 0, 4096);
    maps.push(fd);
    return load({
      type: "socket_filter",
      insns: prog(...lddw(1, 1, fd), raw(0xb7, 2, 0, 0, 8), raw(0xb7, 3, 0, 0, 0), call(131), R0_0, EXIT),
    });
  },
  "helper-not-allowed-here": () => {
    const id = vmlinuxFuncId("d_path");
    if (id === undefined)
      return { errno: -1, log: "", insns: new Uint8Array(), skip: "no d_path in vmlinux BTF" };
    const r = load({
      type: "tracing",
      expectedAttachType: "trace_fentry",
      attachBtfId: id,
      insns: prog(
        raw(0x79, 1, 1, 0, 0),
        raw(0xbf, 2, 10),
        raw(0x07, 2, 0, 0, -8),
        raw(0xb7, 6, 0, 0, 0),
        raw(0x7b, 2, 6, 0, 0),
        raw(0xb7, 3, 0, 0, 8),
        call(147),
        R0_0,
        EXIT,
      ),
    });
    if (r.errno === 1 && !r.log)
      r.skip = "this kernel refuses fentry programs (EPERM before the verifier runs)";
    return r;
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
    const fd = arrayMap();
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
    const id = vmlinuxFuncId("bpf_task_acquire");
    if (id === undefined)
      return { errno: -1, log: "", insns: new Uint8Array(), skip: "no bpf_task_acquire in vmlinux BTF" };
    return load({ type: "socket_filter", insns: prog(raw(0x85, 0, 2, 0, id), R0_0, EXIT) });
  },
  "invalid-map-fd": () => load({ type: "socket_filter", insns: prog(...lddw(1, 1, 9999), R0_0, EXIT) }),
  "invalid-ld-imm64": () =>
    load({ type: "socket_filter", insns: prog(raw(0x18, 1, 0, 0, 1), raw(0x07, 0, 0, 0, 0), R0_0, EXIT) }),
  "source-annotated": () => {
    const b = new TinyBtf();
    const int = b.int("int");
    const main = b.func("main", b.proto(int, []), 1);
    const file = b.str("prog.c");
    const l0 = b.str("int x = 0;");
    const l1 = b.str("return *(long *)x;");
    const btf = loadBtf(b.blob());
    try {
      return load({
        type: "socket_filter",
        insns: prog(R0_0, raw(0x79, 0, 0, 0, 0), EXIT),
        btf,
        funcInfo: funcInfo([0, main]),
        lineInfo: lineInfo([0, file, l0, 3, 5], [1, file, l1, 4, 3]),
      });
    } finally {
      close(btf);
    }
  },
};
