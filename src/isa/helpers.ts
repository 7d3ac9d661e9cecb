/**
 * The BPF helper functions of Linux 6.18: name, id (`enum bpf_func_id`) and signature. A helper is
 * called by `call` with `src` 0 and its id in `imm`. The table itself is generated
 * (scripts/gen-helpers.ts) into helper-table.ts.
 */

import { INSPECT, shortText } from "../util/print.js";
import { HELPER_ROWS } from "./helper-table.js";

/** One helper function. */
export interface Helper {
  /** its id, the `imm` of the call (`BPF_FUNC_xxx` of `enum bpf_func_id`) */
  readonly id: number;
  /** its name with the `bpf_` prefix, e.g. `bpf_map_lookup_elem` */
  readonly name: string;
  /** the C return type, e.g. `long` or `void *` */
  readonly returns: string;
  /** the arguments, in order (at most five, in r1..r5) */
  readonly args: readonly { readonly type: string; readonly name: string }[];
  /** whether it takes more arguments than it declares (`bpf_trace_printk`) */
  readonly variadic: boolean;
  /** first sentence of its documentation */
  readonly summary: string;
}

/** No helper has the given name. */
export class UnknownHelperError extends Error {
  override readonly name = "UnknownHelperError";
  /** the name that was asked for */
  readonly helper: string;
  /** the closest known names */
  readonly suggestions: readonly string[];
  constructor(helper: string, suggestions: readonly string[]) {
    super(
      `unknown helper "${helper}"` +
        (suggestions.length > 0 ? `; did you mean ${suggestions.map((s) => `"${s}"`).join(", ")}?` : "") +
        " (helpers are named as in the kernel's enum bpf_func_id, with the bpf_ prefix; kfuncs are called with callKfunc)",
    );
    this.helper = helper;
    this.suggestions = suggestions;
  }

  /** `console.log`/`util.inspect` print the message and the stack frames, not every field. */
  [INSPECT](): string {
    return shortText(this, {});
  }
}

/** No helper has the given id. */
export class UnknownHelperIdError extends Error {
  override readonly name = "UnknownHelperIdError";
  /** the id that was asked for */
  readonly id: number;
  constructor(id: number) {
    super(`unknown helper id ${id}: Linux 6.18 defines helpers 1..${HELPERS.length} (enum bpf_func_id)`);
    this.id = id;
  }

  /** `console.log`/`util.inspect` print the message and the stack frames, not every field. */
  [INSPECT](): string {
    return shortText(this, {});
  }
}

/** Every helper, ordered by id (`HELPERS[i].id === i + 1`). */
export const HELPERS: readonly Helper[] = HELPER_ROWS.map(
  ([id, name, returns, types, names, variadic, summary]): Helper =>
    Object.freeze({
      id,
      name,
      returns,
      args: Object.freeze(types.map((type, i) => Object.freeze({ type, name: names[i]! }))),
      variadic,
      summary,
    }),
);

/** Helpers by name, made at the first lookup (most programs never look one up). */
let byName: Map<string, Helper> | undefined;

/** The helper of that name (with or without the `bpf_` prefix), or undefined. */
export function findHelper(name: string): Helper | undefined {
  byName ??= new Map<string, Helper>(HELPERS.map((h) => [h.name, h]));
  return byName.get(name) ?? byName.get(`bpf_${name}`);
}

/**
 * The helper of that name (`bpf_map_lookup_elem`; the `bpf_` prefix may be left out).
 * @throws UnknownHelperError suggesting the closest names
 */
export function helperByName(name: string): Helper {
  const helper = findHelper(name);
  if (helper === undefined) throw new UnknownHelperError(name, closestHelperNames(name));
  return helper;
}

/**
 * The helper with that id.
 * @throws UnknownHelperIdError
 */
export function helperById(id: number): Helper {
  // ids are dense from 1 (HELPERS[i].id === i + 1); the search is only a safety net
  const at = Number.isInteger(id) && id >= 1 ? HELPERS[id - 1] : undefined;
  const helper = at?.id === id ? at : HELPERS.find((h) => h.id === id);
  if (helper === undefined) throw new UnknownHelperIdError(id);
  return helper;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Up to `count` helper names closest to `name` (by edit distance, then by shared substring). */
export function closestHelperNames(name: string, count = 3): string[] {
  const wanted = name.startsWith("bpf_") ? name : `bpf_${name}`;
  const scored = HELPERS.map((h) => {
    let score = editDistance(wanted, h.name);
    if (h.name.includes(wanted.slice(4)) || wanted.includes(h.name.slice(4))) score -= 100;
    return { name: h.name, score };
  });
  scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name));
  const limit = Math.max(3, Math.floor(wanted.length / 2));
  return scored
    .filter((s) => s.score <= limit)
    .slice(0, count)
    .map((s) => s.name);
}
