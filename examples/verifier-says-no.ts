/**
 * verifier-says-no: the drop-needle filter with three classic mistakes, and what the kernel says
 * about each — the message, the instruction it names, and what to change.
 *
 * Run alone: `node --import tsx examples/verifier-says-no.ts`
 */

import { Program, ProgramRejectedError } from "../src/index.js";
import { type Log, runIfMain } from "./main.js";
import { type Mistake, needleFilter, needleMap } from "./needle-filter.js";

/** One rejected load. */
export interface Rejection {
  mistake: string;
  errno: string;
  /** the verifier's closing message */
  message: string;
  /** the instruction the verifier was at, when it names one */
  insn: number | undefined;
  /** the instruction's text as the verifier printed it */
  insnText: string | undefined;
  fix: string;
  log: string;
}

const CASES: { mistake: Mistake; freeze: boolean; title: string; fix: string }[] = [
  {
    mistake: "endless-loop",
    freeze: true,
    title: "a loop whose counter never moves",
    fix: "advance the loop counter (r7 += 1) so every pass differs, or bound the loop with may_goto / bpf_loop",
  },
  {
    mistake: "clobbered-register",
    freeze: true,
    title: "a register read after a helper call wiped it",
    fix: "helper calls clobber r1-r5: set r2 again before each call (or keep the value in r6-r9)",
  },
  {
    mistake: "none",
    freeze: false,
    title: "the needle map left unfrozen",
    fix: "bpf_strncmp wants a constant string: create the map with BPF_F_RDONLY_PROG, fill it, then freeze() it before loading",
  },
];

export async function run(log: Log): Promise<Rejection[]> {
  const out: Rejection[] = [];
  for (const c of CASES) {
    using map = needleMap("needle", { freeze: c.freeze });
    try {
      using _p = Program.load({
        type: "socket_filter",
        instructions: needleFilter(map, 6, c.mistake),
        logLevel: 1,
      });
      log(`${c.title}: the kernel ACCEPTED it (this kernel is more lenient than expected)`);
    } catch (e) {
      if (!(e instanceof ProgramRejectedError)) throw e;
      const ex = e.explanation;
      const r: Rejection = {
        mistake: c.title,
        errno: e.errnoName,
        message: ex?.message ?? e.log.error?.message ?? e.message,
        insn: e.insn,
        insnText: ex?.insnText,
        fix: c.fix,
        log: e.log.text,
      };
      out.push(r);
      log(`${c.title}:`);
      log(`  the kernel said ${r.errno}: ${r.message}`);
      if (r.insn !== undefined) log(`  at instruction ${r.insn}${r.insnText ? `: ${r.insnText}` : ""}`);
      log(`  what to change: ${r.fix}`);
    }
  }
  return out;
}

runIfMain(import.meta.url, run);
