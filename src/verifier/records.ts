/**
 * The structured records a verifier log becomes. A parsed log stores only compact arrays (line
 * offsets, kinds, instruction indexes); a record is made when asked for.
 */
import type { SlotState } from "./state.js";

/** What a log line is. Numeric so the parser can keep it in a Uint8Array. */
export const LineKind = {
  unknown: 0,
  /** `12: (bf) r1 = r6` with an optional `; R1=...` state after it */
  insn: 1,
  /** `12: R0_w=... R1=...` or `12: frame1: R1=...`: the state before instruction 12 */
  state: 2,
  /** `from 6 to 11: R0=...` or `from 6 to 11: safe` */
  branch: 3,
  /** `12: safe`: the state was pruned (equivalent to one already verified) */
  safe: 4,
  /** `mark_precise: frame0: ...` precision backtracking */
  precise: 5,
  /** `func#0 @0`, `Func#1 ('name') is global and valid`, `Validating name() func#1...` */
  func: 6,
  /** `caller:`, `callee:`, `returning from callee:`, `to caller at 5:` */
  call: 7,
  /** an indented state under caller:/callee: (` R10=fp0`, ` frame1: R1=3`) */
  frameState: 8,
  /** `Live regs before insn:` */
  liveHeader: 9,
  /** `      0: .1........ (61) r2 = *(u32 *)(r1 +0)` */
  live: 10,
  /** `; return x; @ file.c:12` */
  source: 11,
  /** `processed N insns (limit L) max_states_per_insn M total_states T peak_states P mark_read R` */
  stats: 12,
  /** `verification time N usec` */
  time: 13,
  /** `stack depth 8` or `stack depth 8+16` */
  stackDepth: 14,
  /** the closing error (one or more lines) */
  error: 15,
  /** text around the log added by libbpf, bpftool or cilium/ebpf */
  wrapper: 16,
  /** an empty line */
  blank: 17,
  /** bookkeeping notes: `SCC enter (1)`, `SCC exit (1)`, `(0) frame 0 insn 3 +live -16` */
  note: 18,
} as const;
export type LineKind = (typeof LineKind)[keyof typeof LineKind];

/** Names of the kinds, by number. */
export const LINE_KIND_NAMES: readonly string[] = Object.keys(LineKind);

interface Base {
  /** 0-based line number in the parsed text */
  readonly line: number;
  /** the line's text (prefixes such as `libbpf: ` or a tab removed) */
  readonly text: string;
}

/** An instruction the verifier simulated: `12: (bf) r1 = r6 ; R1_w=ctx()`. */
export interface InsnRecord extends Base {
  readonly kind: "insn";
  /** instruction index */
  readonly index: number;
  /** the opcode byte printed in parentheses */
  readonly opcode: number;
  /** the disassembly, e.g. `r1 = r6` */
  readonly asm: string;
  /** the states printed after `;`, if any */
  readonly after: readonly SlotState[];
}
/** The register and stack state before an instruction: `12: R1=ctx() R10=fp0`. */
export interface StateRecord extends Base {
  readonly kind: "state";
  readonly index: number;
  readonly states: readonly SlotState[];
}
/** A branch the verifier goes back to: `from 3 to 5: R0=... ` (or `from 3 to 5: safe`). */
export interface BranchRecord extends Base {
  readonly kind: "branch";
  readonly from: number;
  readonly to: number;
  /** true for `from X to Y: safe` */
  readonly safe: boolean;
  readonly states: readonly SlotState[];
}
/** A state already proven safe, so the path stops there: `12: safe`. */
export interface SafeRecord extends Base {
  readonly kind: "safe";
  readonly index: number;
}
/** A precision backtracking line: `mark_precise: frame0: ...`. */
export interface PreciseRecord extends Base {
  readonly kind: "precise";
  readonly frame: number;
  /** the text after `mark_precise: frameN: ` */
  readonly detail: string;
}
/** The start of a subprogram: `func#1 @4`. */
export interface FuncRecord extends Base {
  readonly kind: "func";
  /** the subprogram number (`func#1`) */
  readonly subprog: number;
  /** first instruction (`func#1 @4`), when printed */
  readonly start?: number;
  /** the function's name, when printed */
  readonly name?: string;
}
/** A bpf-to-bpf call or return: `caller:`, `callee:`, `returning from callee:`, `to caller at 7:`. */
export interface CallRecord extends Base {
  readonly kind: "call";
  readonly role: "caller" | "callee" | "return" | "to-caller";
  /** for `to caller at N:` the instruction index */
  readonly index?: number;
}
/** The state of one frame under a `caller:` or `callee:` line. */
export interface FrameStateRecord extends Base {
  readonly kind: "frameState";
  readonly states: readonly SlotState[];
}
/** A line of the live-registers listing: `12: .12....... (bf) r1 = r6`. */
export interface LiveRecord extends Base {
  readonly kind: "live";
  readonly index: number;
  /** one character per register r0..r9: the digit when live, `.` when dead */
  readonly live: string;
  readonly opcode: number;
  readonly asm: string;
}
/** A source line from the program's line info: `; if (x) return 0; @ prog.c:12`. */
export interface SourceRecord extends Base {
  readonly kind: "source";
  /** the source line's text */
  readonly code: string;
  readonly file?: string;
  readonly lineNumber?: number;
}
/** The closing statistics: `processed 12 insns (limit 1000000) ...`. */
export interface StatsRecord extends Base {
  readonly kind: "stats";
  readonly stats: VerifierStats;
}
/** `verification time N usec`. */
export interface TimeRecord extends Base {
  readonly kind: "time";
  readonly microseconds: number;
}
/** `stack depth 8+0`: the stack used by each subprogram. */
export interface StackDepthRecord extends Base {
  readonly kind: "stackDepth";
  /** one depth per subprogram */
  readonly depths: readonly number[];
}
/** Any other line: the error, wrapper and note lines, blank lines, lines the parser does not know. */
export interface PlainRecord extends Base {
  readonly kind: "unknown" | "error" | "wrapper" | "blank" | "liveHeader" | "note";
}

/** One parsed line of a verifier log. */
export type LogRecord =
  | InsnRecord
  | StateRecord
  | BranchRecord
  | SafeRecord
  | PreciseRecord
  | FuncRecord
  | CallRecord
  | FrameStateRecord
  | LiveRecord
  | SourceRecord
  | StatsRecord
  | TimeRecord
  | StackDepthRecord
  | PlainRecord;

/** The statistics line. */
export interface VerifierStats {
  readonly processedInsns: number;
  readonly insnLimit: number;
  readonly maxStatesPerInsn: number;
  readonly totalStates: number;
  readonly peakStates: number;
  readonly markRead: number;
}
