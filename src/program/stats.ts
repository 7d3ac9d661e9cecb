/** The verifier's statistics, parsed from the lines BPF_LOG_STATS adds to the log. */

/** What the verifier reported about its work on one program. */
export interface VerifierStatistics {
  /** instructions the verifier processed (across every path), `processed N insns` */
  processedInsns: number;
  /** the complexity limit it was checked against (1,000,000 for privileged loads) */
  insnLimit: number;
  /** `max_states_per_insn` */
  maxStatesPerInsn: number;
  /** `total_states` */
  totalStates: number;
  /** `peak_states` */
  peakStates: number;
  /** `mark_read` */
  markRead: number;
  /** verification time in microseconds, `verification time N usec` */
  verificationTimeUs: number;
  /** stack depth of each function, `stack depth 8+0` */
  stackDepth: number[];
}

const PROCESSED =
  /processed (\d+) insns \(limit (\d+)\) max_states_per_insn (\d+) total_states (\d+) peak_states (\d+) mark_read (\d+)/;
const TIME = /verification time (\d+) usec/;
const STACK = /^stack depth ([\d+]+)$/m;

/** Parses the statistics lines of a verifier log; undefined when the log has none. */
export function parseVerifierStatistics(log: string): VerifierStatistics | undefined {
  const p = PROCESSED.exec(log);
  if (!p) return undefined;
  const t = TIME.exec(log);
  const s = STACK.exec(log);
  return {
    processedInsns: Number(p[1]),
    insnLimit: Number(p[2]),
    maxStatesPerInsn: Number(p[3]),
    totalStates: Number(p[4]),
    peakStates: Number(p[5]),
    markRead: Number(p[6]),
    verificationTimeUs: t ? Number(t[1]) : 0,
    stackDepth: s ? s[1]!.split("+").map(Number) : [],
  };
}
