/**
 * A Stryker reporter (`reporters: [..., "survivors"]` in scripts/mutate.mjs) that appends each
 * mutant that is not killed to $RAWBPF_MUTATE_SURVIVORS as soon as it is tested, so the survivors
 * of a long run can be read (and tests written for them) before the run ends.
 */
import { appendFileSync } from "node:fs";
import { relative } from "node:path";

class SurvivorsReporter {
  static inject = [];
  onMutantTested(m) {
    const file = process.env.RAWBPF_MUTATE_SURVIVORS;
    if (!file || m.status === "Killed" || m.status === "Ignored") return;
    const at = `${relative(process.cwd(), m.fileName)}:${m.location.start.line}:${m.location.start.column}`;
    const replacement = (m.replacement ?? "").replace(/\s+/g, " ").slice(0, 160);
    appendFileSync(file, `${m.status} ${at} ${m.mutatorName}: ${replacement}\n`);
  }
}

export const strykerPlugins = [{ kind: "Reporter", name: "survivors", injectableClass: SurvivorsReporter }];
