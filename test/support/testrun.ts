/** Test runs compared by what they did, a refusal included. */
import { BpfError } from "../../src/sys/error.js";

/** What a test run did: its return value and packet out, or the errno the run was refused with. */
export type RunOutcome = { retval: number; out: string } | { refused: string };

/**
 * Runs `run` and says what happened: a refusal (a BpfError: BPF_PROG_TEST_RUN's EINVAL for a
 * packet whose Ethernet type says IPv4 or IPv6 but which is too short for that header, say) is an
 * outcome to compare like a return value, not a failure of the test.
 */
export function runOutcome(run: () => { retval: number; dataOut: Uint8Array }): RunOutcome {
  try {
    const r = run();
    return { retval: r.retval, out: Buffer.from(r.dataOut).toString("hex") };
  } catch (e) {
    if (e instanceof BpfError) return { refused: e.errnoName };
    throw e;
  }
}
