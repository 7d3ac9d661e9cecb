/**
 * A Stryker reporter (`reporters: [..., "survivors"]` in scripts/mutate.mjs) that appends each
 * mutant that is not killed to $RAWBPF_MUTATE_SURVIVORS as soon as it is tested, so the survivors
 * of a long run can be read (and tests written for them) before the run ends; and every verdict,
 * killed too, to $RAWBPF_MUTATE_VERDICTS, so a run stopped before its end (which writes no JSON
 * report) still gives its score so far (`node scripts/mutate.mjs --partial FILE.verdicts.log`).
 */
import { appendFileSync } from "node:fs";
import { relative } from "node:path";

class SurvivorsReporter {
  static inject = [];
  onMutantTested(m) {
    const at = `${relative(process.cwd(), m.fileName)}:${m.location.start.line}:${m.location.start.column}`;
    const replacement = (m.replacement ?? "").replace(/\s+/g, " ").slice(0, 160);
    const line = `${m.status} ${at} ${m.mutatorName}: ${replacement}\n`;
    if (process.env.RAWBPF_MUTATE_VERDICTS) appendFileSync(process.env.RAWBPF_MUTATE_VERDICTS, line);
    const file = process.env.RAWBPF_MUTATE_SURVIVORS;
    if (!file || m.status === "Killed" || m.status === "Ignored") return;
    appendFileSync(file, line);
  }
}

export const strykerPlugins = [{ kind: "Reporter", name: "survivors", injectableClass: SurvivorsReporter }];
