/** Typed errors of USDT probes: an argument spec rawbpf cannot read, a probe not in the binary. */
import { InputError } from "../sys/error.js";

/** A probe's argument spec that rawbpf cannot read (or cannot read yet). */
export class UsdtArgError extends InputError {
  /** the spec as the note has it (`8@(%rax,%rdx,8)`) */
  readonly spec: string;
  constructor(where: string, spec: string, why: string) {
    super(`${where}: cannot read the USDT argument '${spec}': ${why}`);
    this.spec = spec;
  }
}

/** The binary has no USDT probe by that provider and name. */
export class UsdtProbeNotFoundError extends InputError {
  /** `provider:name` */
  readonly probe: string;
  constructor(binary: string, probe: string, known: readonly string[], suggestion: string | undefined) {
    super(
      known.length === 0
        ? `${binary} has no USDT probes at all (no .note.stapsdt section): was it built with <sys/sdt.h> probes (or node with --with-dtrace)?`
        : `${binary} has no USDT probe ${probe}` +
            (suggestion ? ` — did you mean ${suggestion}?` : "") +
            ` (it has ${known.length}: ${known.slice(0, 8).join(", ")}${known.length > 8 ? ", ..." : ""}; \`rawbpf\`'s listUsdtProbes() lists them)`,
    );
    this.probe = probe;
  }
}

/** The spec map has no free slot for another probe site. */
export class UsdtSpecsFullError extends InputError {
  constructor(slots: number, wanted: number) {
    super(
      `the USDT spec map has ${slots} slots and ${wanted} more are needed: create it with more (usdtSpecMap({ maxEntries }))` +
        " or close attachments you no longer need",
    );
  }
}
