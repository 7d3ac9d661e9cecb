/**
 * The verifier log parser. One pass over the one string, classifying each line by its first
 * characters with sticky regular expressions (no per-line substrings), keeping only typed arrays of
 * line offsets, kinds and instruction numbers. Records are built on demand. Never throws.
 */
import {
  type BranchRecord,
  type CallRecord,
  type FuncRecord,
  type InsnRecord,
  LineKind,
  type LiveRecord,
  type LogRecord,
  type SourceRecord,
  type StatsRecord,
  type VerifierStats,
} from "./records.js";
import { parseStates, type SlotState } from "./state.js";

const INSN = /\d+: \([0-9a-f]{2}\) /y;
const LIVE = / +(?:\d+ +)?\d+: [.0-9]{10} \(/y;
const FRAME_STATE = / +(?:frame\d+: )?(?:R\d+|fp-\d+)[_=]/y;
const BRANCH = /from \d+ to \d+: /y;
const FUNC = /(?:func#\d+ @\d+|Func#\d+ |Validating )/y;
const STATS = /processed \d+ insns \(limit \d+\)/y;
const STATE = /(?:frame\d+: )?(?:R\d+|fp-\d+)[_=]/y;
const NOTE = /\([\d,]+\) (?:frame \d+ insn \d+|live stack)/y;
const CILIUM = /(?:^|: )load program: /;

/** The closing error of a log. */
export interface LogError {
  /** the first line of the error, as the kernel printed it */
  readonly message: string;
  /** every line of the error block */
  readonly lines: readonly string[];
  /** line number of the first error line (-1 when it came from a wrapper such as cilium's one-line error) */
  readonly line: number;
}

/** The state of the registers and stack slots the verifier had at a point of a path. */
export interface StateAt {
  /** the frame the instruction runs in */
  readonly frame: number;
  /** latest known state per register/slot name (`R1`, `fp-8`) */
  readonly slots: ReadonlyMap<string, SlotState>;
  /** registers clobbered by a helper call before this point, with the call's index */
  readonly clobbered: ReadonlyMap<string, number>;
}

/** A parsed verifier log. Holds the text once and compact per-line arrays. */
export class VerifierLog {
  /** the text that was parsed */
  readonly text: string;
  /** number of lines */
  readonly lineCount: number;
  private readonly starts: Uint32Array;
  private readonly ends: Uint32Array;
  private readonly kinds: Uint8Array;
  private readonly nums: Int32Array;
  /** the closing error, if the log has one */
  readonly error: LogError | undefined;
  /** the statistics line, if any */
  readonly stats: VerifierStats | undefined;
  /** `verification time N usec`, if printed (log level 4) */
  readonly verificationMicroseconds: number | undefined;
  /** `stack depth A+B`, one entry per subprogram, if printed */
  readonly stackDepth: readonly number[] | undefined;
  /** cilium/ebpf reported this many lines omitted from the log */
  readonly omittedLines: number;

  /** @internal use {@link parseVerifierLog} */
  constructor(
    text: string,
    lineCount: number,
    starts: Uint32Array,
    ends: Uint32Array,
    kinds: Uint8Array,
    nums: Int32Array,
    wrapperError: string | undefined,
    omitted: number,
    endMarker = -1,
  ) {
    this.text = text;
    this.lineCount = lineCount;
    this.starts = starts;
    this.ends = ends;
    this.kinds = kinds;
    this.nums = nums;
    this.omittedLines = omitted;
    let stats: VerifierStats | undefined;
    let time: number | undefined;
    let depth: number[] | undefined;
    // the trailer: stats, time, depth and the error block, scanning back from the end
    // with libbpf's markers, the kernel's log ends at "-- END PROG LOAD LOG --"
    let i = endMarker >= 0 ? endMarker - 1 : lineCount - 1;
    for (; i >= 0; i--) {
      const k = kinds[i]!;
      if (k === LineKind.stats) stats ??= (this.record(i) as StatsRecord).stats;
      else if (k === LineKind.time) time ??= nums[i]!;
      else if (k === LineKind.stackDepth)
        depth ??= this.lineText(i)
          .slice(12)
          .split("+")
          .map((s) => Number.parseInt(s, 10))
          .filter((n) => Number.isFinite(n));
      else if (k !== LineKind.blank && k !== LineKind.wrapper) break;
    }
    let first = i;
    while (first >= 0 && kinds[first] === LineKind.unknown) first--;
    first++;
    if (first <= i) {
      const lines: string[] = [];
      for (let j = first; j <= i; j++) {
        kinds[j] = LineKind.error;
        lines.push(this.lineText(j));
      }
      this.error = { message: lines[0]!, lines, line: first };
    } else if (wrapperError) {
      this.error = { message: wrapperError, lines: [wrapperError], line: -1 };
    }
    // stats may appear before an error in level-4-only logs; look further if not found
    if (!stats || time === undefined || !depth) {
      for (let j = 0; j < lineCount; j++) {
        const k = kinds[j]!;
        if (k === LineKind.stats && !stats) stats = (this.record(j) as StatsRecord).stats;
        else if (k === LineKind.time && time === undefined) time = nums[j]!;
        else if (k === LineKind.stackDepth && !depth)
          depth = this.lineText(j)
            .slice(12)
            .split("+")
            .map((s) => Number.parseInt(s, 10))
            .filter((n) => Number.isFinite(n));
      }
    }
    this.stats = stats;
    this.verificationMicroseconds = time;
    this.stackDepth = depth;
  }

  /** The kind of line `i`. */
  kind(i: number): LineKind {
    return (this.kinds[i] ?? LineKind.unknown) as LineKind;
  }

  /** The instruction index a line is about (insn, state, live, safe, branch `from`), or -1. */
  insnIndex(i: number): number {
    return this.nums[i] ?? -1;
  }

  /** The text of line `i` (prefixes removed). */
  lineText(i: number): string {
    if (i < 0 || i >= this.lineCount) return "";
    return this.text.slice(this.starts[i]!, this.ends[i]!);
  }

  /** The record for line `i`. */
  record(i: number): LogRecord {
    return buildRecord(this.lineText(i), i, this.kind(i), this.nums[i] ?? -1);
  }

  /** Every record, in order. */
  *records(): IterableIterator<LogRecord> {
    for (let i = 0; i < this.lineCount; i++) yield this.record(i);
  }

  /** Line number of the instruction the verifier was at when it failed, or -1. */
  get failingLine(): number {
    const from = this.error && this.error.line >= 0 ? this.error.line : this.lineCount;
    for (let i = from - 1; i >= 0; i--) if (this.kinds[i] === LineKind.insn) return i;
    return -1;
  }

  /** Index of the instruction the verifier was at when it failed, or -1. */
  get failingInsn(): number {
    const l = this.failingLine;
    return l < 0 ? -1 : this.nums[l]!;
  }

  /**
   * The program as the log shows it: index → `{ opcode, asm }`, from the live-register listing
   * (Linux 6.13+ prints every instruction there) and every instruction line.
   */
  listing(): Map<number, { opcode: number; asm: string }> {
    const out = new Map<number, { opcode: number; asm: string }>();
    for (let i = 0; i < this.lineCount; i++) {
      const k = this.kinds[i];
      if (k !== LineKind.insn && k !== LineKind.live) continue;
      const idx = this.nums[i]!;
      if (out.has(idx)) continue;
      const r = this.record(i) as InsnRecord | LiveRecord;
      out.set(idx, { opcode: r.opcode, asm: r.asm });
    }
    return new Map([...out].sort((a, b) => a[0] - b[0]));
  }

  /** The source annotation (`; code @ file:line`) in effect at line `line`, if any. */
  sourceAt(line: number): SourceRecord | undefined {
    for (let i = line; i >= 0; i--) {
      const k = this.kinds[i];
      if (k === LineKind.source) return this.record(i) as SourceRecord;
      if (k === LineKind.func || k === LineKind.branch) return undefined;
    }
    return undefined;
  }

  /**
   * The register and stack state the verifier had when it reached line `line` on the path the log
   * shows: the latest value printed for each register and slot, walking back until a complete
   * state (a branch line or the program's first state).
   */
  stateAt(line: number): StateAt {
    const slots = new Map<string, SlotState>();
    const clobbered = new Map<string, number>();
    let frame = -1;
    const take = (states: readonly SlotState[]): void => {
      for (const s of states) {
        if (frame < 0) frame = s.frame;
        if (s.frame !== frame || slots.has(s.name) || clobbered.has(s.name)) continue;
        slots.set(s.name, s);
      }
    };
    for (let i = Math.min(line, this.lineCount - 1); i >= 0; i--) {
      const k = this.kinds[i];
      if (k === LineKind.insn) {
        const r = this.record(i) as InsnRecord;
        if (i !== line) {
          take(r.after);
          if (r.opcode === 0x85 && !/call pc/.test(r.asm)) {
            for (let reg = 1; reg <= 5; reg++) if (!slots.has(`R${reg}`)) clobbered.set(`R${reg}`, r.index);
            if (!slots.has("R0")) slots.set("R0", { ...retState(r.index), frame: Math.max(frame, 0) });
          }
        }
      } else if (k === LineKind.state) {
        const r = this.record(i);
        if (r.kind === "state") take(r.states);
        if (r.kind === "state" && this.nums[i] === 0 && i <= 2) break;
      } else if (k === LineKind.branch) {
        const r = this.record(i) as BranchRecord;
        take(r.states);
        if (!r.safe) break;
      } else if (k === LineKind.func && i !== line) {
        break;
      }
    }
    return { frame: Math.max(frame, 0), slots, clobbered };
  }
}

function retState(index: number): SlotState {
  return {
    name: "R0",
    register: 0,
    frame: 0,
    liveness: "",
    precise: false,
    type: "return",
    value: `return value of the call at ${index}`,
    fields: {},
  };
}

function readInt(s: string, at: number): number {
  let n = 0;
  let any = false;
  let neg = false;
  if (s.charCodeAt(at) === 45) {
    neg = true;
    at++;
  }
  for (;;) {
    const c = s.charCodeAt(at++);
    if (!(c >= 48 && c <= 57)) break;
    n = n * 10 + (c - 48);
    any = true;
  }
  return any ? (neg ? -n : n) : -1;
}

function buildRecord(text: string, line: number, kind: LineKind, num: number): LogRecord {
  switch (kind) {
    case LineKind.insn: {
      const open = text.indexOf("(");
      const opcode = Number.parseInt(text.slice(open + 1, open + 3), 16);
      const rest = text.slice(open + 5);
      // the state after the instruction follows "  ; " and starts with a register, slot or frame
      const m = /\s+; ((?:frame\d+: )?(?:R\d+|fp-\d+)[_=].*)$/.exec(rest);
      const asm = (m ? rest.slice(0, m.index) : rest).trimEnd();
      const after = m ? parseStates(m[1]!) : [];
      return { kind: "insn", line, text, index: num, opcode, asm, after };
    }
    case LineKind.state:
      return {
        kind: "state",
        line,
        text,
        index: num,
        states: parseStates(text.slice(text.indexOf(":") + 1)),
      };
    case LineKind.branch: {
      const m = /^from (\d+) to (\d+): ?(.*)$/.exec(text);
      const rest = m?.[3] ?? "";
      return {
        kind: "branch",
        line,
        text,
        from: Number(m?.[1] ?? -1),
        to: Number(m?.[2] ?? -1),
        safe: rest.trim() === "safe",
        states: parseStates(rest),
      };
    }
    case LineKind.safe:
      return { kind: "safe", line, text, index: num };
    case LineKind.precise: {
      const m = /^mark_precise: frame(\d+): (.*)$/.exec(text);
      return { kind: "precise", line, text, frame: Number(m?.[1] ?? 0), detail: m?.[2] ?? text };
    }
    case LineKind.func: {
      let m = /^func#(\d+) @(\d+)/.exec(text);
      if (m) return { kind: "func", line, text, subprog: Number(m[1]), start: Number(m[2]) };
      m = /^Func#(\d+)(?: \('([^']*)'\))?/.exec(text);
      if (m) return { kind: "func", line, text, subprog: Number(m[1]), ...(m[2] ? { name: m[2] } : {}) };
      m = /^Validating (\S+?)\(\) func#(\d+)/.exec(text);
      const rec: FuncRecord = {
        kind: "func",
        line,
        text,
        subprog: Number(m?.[2] ?? -1),
        ...(m ? { name: m[1]! } : {}),
      };
      return rec;
    }
    case LineKind.call: {
      const role: CallRecord["role"] = text.startsWith("caller")
        ? "caller"
        : text.startsWith("callee")
          ? "callee"
          : text.startsWith("returning")
            ? "return"
            : "to-caller";
      const idx = role === "to-caller" ? readInt(text, 13) : -1;
      return { kind: "call", line, text, role, ...(idx >= 0 ? { index: idx } : {}) };
    }
    case LineKind.frameState:
      return { kind: "frameState", line, text, states: parseStates(text) };
    case LineKind.live: {
      const m = /^ *(?:\d+ +)?(\d+): ([.0-9]{10}) \(([0-9a-f]{2})\) ?(.*)$/.exec(text);
      return {
        kind: "live",
        line,
        text,
        index: num,
        live: m?.[2] ?? "",
        opcode: Number.parseInt(m?.[3] ?? "0", 16),
        asm: m?.[4] ?? "",
      };
    }
    case LineKind.source: {
      const m = /^; ?(.*?)(?: @ (.+):(\d+))?$/.exec(text);
      const rec: SourceRecord = {
        kind: "source",
        line,
        text,
        code: m?.[1] ?? text.slice(1),
        ...(m?.[2] ? { file: m[2], lineNumber: Number(m[3]) } : {}),
      };
      return rec;
    }
    case LineKind.stats: {
      const n = (key: string): number => {
        const at = text.indexOf(key);
        return at < 0 ? 0 : Math.max(0, readInt(text, at + key.length));
      };
      const stats: VerifierStats = {
        processedInsns: n("processed "),
        insnLimit: n("(limit "),
        maxStatesPerInsn: n("max_states_per_insn "),
        totalStates: n("total_states "),
        peakStates: n("peak_states "),
        markRead: n("mark_read "),
      };
      return { kind: "stats", line, text, stats };
    }
    case LineKind.time:
      return { kind: "time", line, text, microseconds: num };
    case LineKind.stackDepth:
      return {
        kind: "stackDepth",
        line,
        text,
        depths: text
          .slice(12)
          .split("+")
          .map((s) => Number.parseInt(s, 10))
          .filter((n) => Number.isFinite(n)),
      };
    case LineKind.error:
      return { kind: "error", line, text };
    case LineKind.wrapper:
      return { kind: "wrapper", line, text };
    case LineKind.blank:
      return { kind: "blank", line, text };
    case LineKind.liveHeader:
      return { kind: "liveHeader", line, text };
    case LineKind.note:
      return { kind: "note", line, text };
    default:
      return { kind: "unknown", line, text };
  }
}

function startsWith(s: string, at: number, prefix: string): boolean {
  return s.startsWith(prefix, at);
}

function sticky(re: RegExp, s: string, at: number): boolean {
  re.lastIndex = at;
  return re.test(s);
}

/**
 * Parse a verifier log as the kernel (any level: 1, 2, stats 4), libbpf, bpftool or cilium/ebpf
 * print it. Unrecognised lines are kept as `unknown`; nothing is dropped and nothing throws.
 */
export function parseVerifierLog(input: string): VerifierLog {
  const text = typeof input === "string" ? input : String(input);
  const len = text.length;
  let cap = Math.max(16, (len / 48) | 0);
  let starts = new Uint32Array(cap);
  let ends = new Uint32Array(cap);
  let kinds = new Uint8Array(cap);
  let nums = new Int32Array(cap);
  let n = 0;
  let wrapperError: string | undefined;
  let omitted = 0;
  let endMarker = -1;
  let pos = 0;
  while (pos < len) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = len;
    let s = pos;
    let e = nl;
    if (e > s && text.charCodeAt(e - 1) === 13) e--;
    // wrappers: cilium indents log lines with a tab; libbpf prefixes its own lines
    if (text.charCodeAt(s) === 9) s++;
    let kind: LineKind = LineKind.unknown;
    let num = -1;
    if (startsWith(text, s, "libbpf: ")) {
      const b = text.indexOf("-- BEGIN PROG LOAD LOG --", s);
      const end = text.indexOf("-- END", s);
      if (end >= 0 && end < e) endMarker = n;
      if (b >= 0 && b < e) {
        kind = LineKind.wrapper;
        const after = b + 25;
        if (after < e) {
          // some libbpf versions print the first log line right after the marker
          s = after;
          kind = LineKind.unknown;
        }
      } else kind = LineKind.wrapper;
    }
    if (kind === LineKind.unknown) {
      const c = s < e ? text.charCodeAt(s) : -1;
      if (c === -1) kind = LineKind.blank;
      else if (c >= 48 && c <= 57) {
        const v = readInt(text, s);
        let p = s;
        while (p < e && text.charCodeAt(p) >= 48 && text.charCodeAt(p) <= 57) p++;
        if (text.charCodeAt(p) === 58 && text.charCodeAt(p + 1) === 32) {
          if (sticky(INSN, text, s)) {
            kind = LineKind.insn;
            num = v;
          } else if (sticky(STATE, text, p + 2)) {
            kind = LineKind.state;
            num = v;
          } else if (startsWith(text, p + 2, "safe")) {
            kind = LineKind.safe;
            num = v;
          }
        }
      } else if (c === 32) {
        if (sticky(LIVE, text, s)) {
          kind = LineKind.live;
          let p = s;
          while (text.charCodeAt(p) === 32) p++;
          num = readInt(text, p);
          let q = p;
          while (text.charCodeAt(q) >= 48 && text.charCodeAt(q) <= 57) q++;
          if (text.charCodeAt(q) === 32) {
            while (text.charCodeAt(q) === 32) q++;
            num = readInt(text, q);
          }
        } else if (sticky(FRAME_STATE, text, s)) kind = LineKind.frameState;
      } else if (c === 59) kind = LineKind.source;
      else if (c === 102) {
        if (sticky(BRANCH, text, s)) {
          kind = LineKind.branch;
          num = readInt(text, s + 5);
        } else if (sticky(FUNC, text, s)) kind = LineKind.func;
      } else if (c === 70 || c === 86) {
        if (sticky(FUNC, text, s)) kind = LineKind.func;
      } else if (c === 109) {
        if (startsWith(text, s, "mark_precise: ")) kind = LineKind.precise;
      } else if (c === 112) {
        if (sticky(STATS, text, s)) kind = LineKind.stats;
        else if (startsWith(text, s, "propagating ")) kind = LineKind.precise;
      } else if (c === 118) {
        if (startsWith(text, s, "verification time ")) {
          kind = LineKind.time;
          num = readInt(text, s + 18);
        }
      } else if (c === 115) {
        if (startsWith(text, s, "stack depth ")) kind = LineKind.stackDepth;
      } else if (c === 76) {
        if (startsWith(text, s, "Live regs before insn:")) kind = LineKind.liveHeader;
      } else if (c === 99) {
        if (startsWith(text, s, "caller:") || startsWith(text, s, "callee:")) kind = LineKind.call;
      } else if (c === 114) {
        if (startsWith(text, s, "returning from callee:")) kind = LineKind.call;
      } else if (c === 116) {
        if (startsWith(text, s, "to caller at ")) kind = LineKind.call;
      } else if (c === 83) {
        if (startsWith(text, s, "SCC ")) kind = LineKind.note;
      } else if (c === 45) {
        if (startsWith(text, s, "-- END PROG LOAD LOG --") || startsWith(text, s, "-- END LOG --")) {
          kind = LineKind.wrapper;
          endMarker = n;
        } else if (startsWith(text, s, "-- BEGIN ")) kind = LineKind.wrapper;
      } else if (c === 69 && startsWith(text, s, "Error: ")) kind = LineKind.wrapper;
      else if (c === 87 && startsWith(text, s, "Warning: ")) kind = LineKind.wrapper;
      else if (c === 40 && sticky(NOTE, text, s)) kind = LineKind.note;
      if (kind === LineKind.unknown) {
        const lineStr = text.slice(s, e);
        const m = CILIUM.exec(lineStr);
        if (m) {
          kind = LineKind.wrapper;
          // `load program: permission denied: <last log line> (N line(s) omitted)`
          let rest = lineStr.slice(m.index + m[0].length);
          const colon = rest.indexOf(": ");
          rest = colon >= 0 ? rest.slice(colon + 2) : "";
          const om = /\s*\((\d+) line\(s\) omitted\)\s*$/.exec(rest);
          if (om) {
            omitted = Number(om[1]);
            rest = rest.slice(0, om.index);
          }
          rest = rest.replace(/:$/, "").trim();
          if (rest) wrapperError = rest;
        }
      }
    }
    if (n === cap) {
      cap *= 2;
      const s2 = new Uint32Array(cap);
      s2.set(starts);
      starts = s2;
      const e2 = new Uint32Array(cap);
      e2.set(ends);
      ends = e2;
      const k2 = new Uint8Array(cap);
      k2.set(kinds);
      kinds = k2;
      const n2 = new Int32Array(cap);
      n2.set(nums);
      nums = n2;
    }
    starts[n] = s;
    ends[n] = Math.max(e, s);
    kinds[n] = kind;
    nums[n] = num;
    n++;
    pos = nl + 1;
    if (nl === len) break;
  }
  return new VerifierLog(text, n, starts, ends, kinds, nums, wrapperError, omitted, endMarker);
}
