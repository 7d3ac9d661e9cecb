/**
 * The child of privileges.ts: tries each load with whatever capabilities it was started with and
 * prints one JSON array of outcomes on stdout.
 */
import {
  BpfError,
  effectiveCapabilities,
  exit,
  type Instruction,
  ldxdw,
  mov,
  Program,
  ProgramRejectedError,
  R0,
  R10,
} from "../src/index.js";

/** One attempted load, as the child reports it. */
export interface Attempt {
  case: string;
  ok: boolean;
  errno?: string;
  capability?: string;
  message?: string;
}

/** The loads tried, each needing a little more than the one before. */
export const ATTEMPTS: { case: string; type: string; insns: Instruction[] }[] = [
  { case: "socket filter", type: "socket_filter", insns: [mov(R0, 0), exit()] },
  { case: "XDP program", type: "xdp", insns: [mov(R0, 2), exit()] },
  {
    case: "socket filter reading uninitialised stack",
    type: "socket_filter",
    insns: [ldxdw(R0, R10, -8), exit()],
  },
];

function attempt(a: (typeof ATTEMPTS)[number]): Attempt {
  try {
    using _p = Program.load({ type: a.type, instructions: a.insns });
    return { case: a.case, ok: true };
  } catch (e) {
    if (e instanceof BpfError || e instanceof ProgramRejectedError) {
      return {
        case: a.case,
        ok: false,
        errno: e.errnoName,
        ...(e.capability ? { capability: e.capability } : {}),
        message: e.message,
      };
    }
    return { case: a.case, ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}

const results = ATTEMPTS.map(attempt);
process.stdout.write(
  `${JSON.stringify({ uid: process.getuid?.(), capEff: effectiveCapabilities().toString(16), results })}\n`,
);
