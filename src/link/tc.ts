/**
 * Legacy tc: a `sched_cls` program as a cls_bpf filter (direct action) on an interface's clsact
 * qdisc, spoken over rtnetlink by rawbpf itself (no `tc` binary) — for kernels without tcx
 * (before Linux 6.6), or beside it.
 */
import {
  type BpfFilterSpec,
  deleteClsactRequest,
  deleteFilterRequest,
  type FilterMessage,
  getClassesRequest,
  getFiltersRequest,
  getQdiscsRequest,
  newBpfFilterRequest,
  newClsactRequest,
  parseFilter,
  parseTcObject,
  TC_H_ROOT,
  TC_PARENTS,
  type TcObjectMessage,
} from "../netlink/route.js";
import type { Program } from "../program/program.js";
import { BpfError, InputError } from "../sys/error.js";
import { type Interface, resolveInterface } from "./iface.js";
import { programFd } from "./program.js";
import { type Rtnetlink, withRtnetlink } from "./rtnl.js";

/** Options of {@link attachTc}. */
export interface TcOptions {
  /** the filter's priority, 1 to 65535 (lower runs first); default 1 */
  priority?: number;
  /** the filter's handle within its priority, 1 to 4294967295; default 1 */
  handle?: number;
  /** the name tc shows for the filter; default "rawbpf" */
  name?: string;
}

/** A cls_bpf filter as the kernel lists it (RTM_GETTFILTER). */
export interface TcFilterInfo {
  /** the interface index */
  ifindex: number;
  direction: "ingress" | "egress";
  priority: number;
  handle: number;
  /** the id of the program the filter runs */
  programId: number;
  /** the filter's name */
  name: string;
  /** the program's return value is the verdict (always, for rawbpf's filters) */
  directAction: boolean;
}

/**
 * A cls_bpf filter made by {@link attachTc}. The kernel holds the program while the filter
 * exists, whatever happens to this object or the process: `detach()` (or `close()`, or `using`)
 * deletes the filter. The clsact qdisc stays (see {@link removeClsact}).
 */
export class TcFilter implements Disposable {
  readonly #spec: BpfFilterSpec;
  #detached = false;

  /** Not public: made by {@link attachTc}. */
  constructor(spec: BpfFilterSpec) {
    this.#spec = { ...spec };
  }

  /** The interface index. */
  get ifindex(): number {
    return this.#spec.ifindex;
  }

  /** `"ingress"` or `"egress"`. */
  get direction(): "ingress" | "egress" {
    return this.#spec.direction;
  }

  /** The filter's priority. */
  get priority(): number {
    return this.#spec.priority;
  }

  /** The filter's handle. */
  get handle(): number {
    return this.#spec.handle;
  }

  /** Whether detach() ran. */
  get detached(): boolean {
    return this.#detached;
  }

  /**
   * What the kernel lists for this filter now, or undefined when it is gone (deleted by someone
   * else, or the interface went away).
   */
  info(): TcFilterInfo | undefined {
    const s = this.#spec;
    let filters: FilterMessage[];
    try {
      filters = listFilters(s.ifindex, s.direction);
    } catch (e) {
      if (e instanceof BpfError && (e.errnoName === "ENODEV" || e.errnoName === "EINVAL")) return undefined;
      throw e;
    }
    const f = filters.find((x) => x.priority === s.priority && x.handle === s.handle && x.bpf !== undefined);
    if (f?.bpf === undefined) return undefined;
    return {
      ifindex: s.ifindex,
      direction: s.direction,
      priority: s.priority,
      handle: s.handle,
      programId: f.bpf.progId ?? 0,
      name: f.bpf.name ?? "",
      directAction: f.bpf.directAction,
    };
  }

  /** Deletes the filter (RTM_DELTFILTER); a second call does nothing, nor does a filter already gone. */
  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    const s = this.#spec;
    withRtnetlink((rt) => {
      const seq = rt.seq();
      try {
        rt.talk(deleteFilterRequest(seq, s), seq, `of tc filter ${describe(s)}`);
      } catch (e) {
        if (
          !(
            e instanceof BpfError &&
            (e.errnoName === "ENOENT" || e.errnoName === "ENODEV" || e.errnoName === "EINVAL")
          )
        )
          throw e;
      }
    });
  }

  /** The same as detach(). */
  close(): void {
    this.detach();
  }

  /** The same as detach(), for `using`. */
  [Symbol.dispose](): void {
    this.detach();
  }
}

function describe(s: BpfFilterSpec): string {
  return `on ifindex ${s.ifindex} ${s.direction} priority ${s.priority} handle ${s.handle}`;
}

/**
 * The cls_bpf filters on an interface's clsact `direction`, in the order the kernel lists them
 * (priority, then handle), read over rtnetlink (RTM_GETTFILTER dump). An interface without a
 * clsact qdisc has none.
 */
export function tcFilters(iface: Interface, direction: "ingress" | "egress"): TcFilterInfo[] {
  if (direction !== "ingress" && direction !== "egress")
    throw new InputError(`a tc direction is 'ingress' or 'egress', got ${JSON.stringify(direction)}`);
  const ifindex = resolveInterface(iface);
  let filters: FilterMessage[];
  try {
    filters = listFilters(ifindex, direction);
  } catch (e) {
    // no clsact qdisc on the interface (EINVAL), or it went away meanwhile
    if (e instanceof BpfError && ["EINVAL", "ENOENT", "ENODEV"].includes(e.errnoName)) return [];
    throw e;
  }
  const out: TcFilterInfo[] = [];
  for (const f of filters) {
    if (f.kind !== "bpf" || f.bpf === undefined) continue;
    out.push({
      ifindex,
      direction,
      priority: f.priority,
      handle: f.handle,
      programId: f.bpf.progId ?? 0,
      name: f.bpf.name ?? "",
      directAction: f.bpf.directAction,
    });
  }
  return out;
}

/**
 * A cls_bpf filter on any of an interface's tc hooks: a class, a classful qdisc's own block, the
 * root, or clsact — as `bpftool net list` walks them.
 */
export interface TcBpfFilter {
  /** the interface index */
  ifindex: number;
  /**
   * where it was found, in bpftool's words: the kind of the class or qdisc it hangs on (`"htb"`),
   * `"root"`, `"clsact/ingress"` or `"clsact/egress"`
   */
  attachPoint: string;
  /** the tc parent it was listed under (a class's `major:minor`, a qdisc's `major:0`, as one u32) */
  parent: number;
  priority: number;
  handle: number;
  /** the id of the program the filter runs (absent when the kernel did not say) */
  programId?: number;
  /** the filter's name, as the attacher gave it */
  name?: string;
  /** the program's return value is the verdict */
  directAction: boolean;
  /**
   * when the filter has actions: its bpf actions (act_bpf), each with its program's name and id
   * (other kinds of action are left out, as bpftool does; an empty array when all are)
   */
  actions?: { name?: string; id?: number }[];
}

const TC_WALK_GONE = ["EINVAL", "ENOENT", "ENODEV"];

/**
 * Every cls_bpf filter on the tc hooks of `iface` (or of each interface in the list, or of every
 * interface of this namespace), in bpftool's order, interface by interface: filters on each class
 * (an RTM_GETTCLASS dump), on each qdisc of the interface but clsact and the default ones (handle
 * 0), on the root (TC_H_ROOT), then on clsact ingress and egress; each hook's filters in the order
 * the kernel lists them (priority, then handle). Read over rtnetlink by rawbpf itself.
 *
 * One difference from bpftool 7.1: its qdisc dump is not per interface (the kernel answers with
 * every interface's qdiscs), so bpftool lists a filter on qdisc `1:` once per interface of the
 * namespace that has a qdisc `1:`; here each interface's filters come once.
 */
export function tcBpfFilters(iface?: Interface | readonly Interface[]): TcBpfFilter[] {
  return withRtnetlink((rt) => {
    const list = iface === undefined ? undefined : Array.isArray(iface) ? iface : [iface as Interface];
    const ifindexes =
      list === undefined
        ? rt
            .links()
            .map((l) => l.index)
            .sort((a, b) => a - b)
        : list.map(resolveInterface);
    return walkTcBpf(rt, ifindexes);
  });
}

/** {@link tcBpfFilters} on interface indexes as they are (already read from this namespace). */
export function walkTcBpf(rt: Rtnetlink, ifindexes: readonly number[]): TcBpfFilter[] {
  let qdiscs: TcObjectMessage[] | undefined;
  const out: TcBpfFilter[] = [];
  for (const ifindex of ifindexes) {
    try {
      qdiscs ??= dumpTc(rt, getQdiscsRequest, 0, "of the qdiscs of this namespace");
      const hooks: { parent: number; kind: string }[] = [];
      for (const c of dumpTc(rt, getClassesRequest, ifindex, `of the tc classes on ifindex ${ifindex}`))
        hooks.push({ parent: c.handle, kind: c.kind ?? "unknown" });
      for (const q of qdiscs) {
        if (q.ifindex !== ifindex || q.kind === "clsact" || q.handle === 0) continue;
        hooks.push({ parent: q.handle, kind: q.kind ?? "unknown" });
      }
      hooks.push(
        { parent: TC_H_ROOT, kind: "root" },
        { parent: TC_PARENTS.ingress, kind: "clsact/ingress" },
        { parent: TC_PARENTS.egress, kind: "clsact/egress" },
      );
      for (const h of hooks) {
        const seq = rt.seq();
        const what = `of tc filters on ifindex ${ifindex} parent ${tcHandle(h.parent)}`;
        for (const m of rt.talk(getFiltersRequest(seq, ifindex, h.parent), seq, what)) {
          const f = parseFilter(m);
          if (f.kind !== "bpf" || f.bpf === undefined) continue;
          const e: TcBpfFilter = {
            ifindex,
            attachPoint: h.kind,
            parent: h.parent,
            priority: f.priority,
            handle: f.handle,
            directAction: f.bpf.directAction,
          };
          if (f.bpf.progId !== undefined) e.programId = f.bpf.progId;
          if (f.bpf.name !== undefined) e.name = f.bpf.name;
          if (f.bpf.actions !== undefined) {
            e.actions = [];
            for (const a of f.bpf.actions) {
              if (a.kind !== "bpf" || a.bpf === undefined) continue;
              if (!a.bpf.hasParms) break; // bpftool stops the list at a bpf action without parameters
              const one: { name?: string; id?: number } = {};
              if (a.bpf.name !== undefined) one.name = a.bpf.name;
              if (a.bpf.id !== undefined) one.id = a.bpf.id;
              e.actions.push(one);
            }
          }
          out.push(e);
        }
      }
    } catch (e) {
      // the interface went away while we walked it: what was read stays, as bpftool does
      if (e instanceof BpfError && TC_WALK_GONE.includes(e.errnoName)) continue;
      throw e;
    }
  }
  return out;
}

/** `1:10`, `ffff:fff2`, `root`: a tc handle as tc prints it. */
export function tcHandle(h: number): string {
  if (h >>> 0 === TC_H_ROOT) return "root";
  return `${((h >>> 16) & 0xffff).toString(16)}:${(h & 0xffff).toString(16)}`;
}

function dumpTc(
  rt: Rtnetlink,
  request: (seq: number, ifindex: number) => Buffer,
  ifindex: number,
  what: string,
): TcObjectMessage[] {
  const seq = rt.seq();
  return rt.talk(request(seq, ifindex), seq, what).map(parseTcObject);
}

/** Every filter on an interface's clsact hook (RTM_GETTFILTER dump). */
function listFilters(ifindex: number, direction: "ingress" | "egress"): FilterMessage[] {
  return withRtnetlink((rt) => {
    const seq = rt.seq();
    return rt
      .talk(
        getFiltersRequest(seq, ifindex, direction),
        seq,
        `of tc filters on ifindex ${ifindex} ${direction}`,
      )
      .map(parseFilter);
  });
}

function checkRange(value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    throw new InputError(`${what} is an integer from ${min} to ${max}, got ${String(value)}`);
  return value;
}

/**
 * Attaches a `sched_cls` program to an interface as a cls_bpf filter in direct-action mode (its
 * return value is the verdict: TC_ACT_OK 0, TC_ACT_SHOT 2, TC_ACT_REDIRECT 7...), on the
 * interface's clsact qdisc, which is added when missing. Everything goes over rtnetlink; no `tc`
 * binary is needed. Returns a {@link TcFilter} whose `detach()` deletes the filter.
 */
export function attachTc(
  program: Program,
  iface: Interface,
  direction: "ingress" | "egress",
  options: TcOptions = {},
): TcFilter {
  const fd = programFd(program, ["sched_cls"], "attachTc");
  if (direction !== "ingress" && direction !== "egress")
    throw new InputError(`a tc direction is 'ingress' or 'egress', got ${JSON.stringify(direction)}`);
  const priority = checkRange(options.priority ?? 1, 1, 0xffff, "a tc filter priority");
  const handle = checkRange(options.handle ?? 1, 1, 0xffffffff, "a tc filter handle");
  const name = options.name ?? "rawbpf";
  if (typeof name !== "string" || name.length === 0 || name.length > 255 || name.includes("\0"))
    throw new InputError(`a tc filter name is 1 to 255 characters, got ${JSON.stringify(name)}`);
  const ifindex = resolveInterface(iface);
  const spec: BpfFilterSpec = { ifindex, direction, priority, handle };
  withRtnetlink((rt) => {
    let seq = rt.seq();
    try {
      rt.talk(newClsactRequest(seq, ifindex), seq, `of clsact qdisc on ${String(iface)}`);
    } catch (e) {
      if (!(e instanceof BpfError && e.errnoName === "EEXIST")) throw e;
    }
    seq = rt.seq();
    try {
      rt.talk(newBpfFilterRequest(seq, { ...spec, progFd: fd, name }), seq, `of tc filter ${describe(spec)}`);
    } catch (e) {
      if (e instanceof BpfError && e.errnoName === "EEXIST") {
        throw new BpfError(
          e.command,
          e.errno,
          {
            hint: `${String(iface)} ${direction} already has a filter with priority ${priority} and handle ${handle}: pick another priority or handle (${e.hint})`,
          },
          `of tc filter ${describe(spec)}`,
        );
      }
      throw e;
    }
  });
  return new TcFilter(spec);
}

/**
 * Removes an interface's clsact qdisc and with it every tc filter on its ingress and egress
 * (RTM_DELQDISC). Returns false when there was none.
 */
export function removeClsact(iface: Interface): boolean {
  const ifindex = resolveInterface(iface);
  return withRtnetlink((rt) => {
    const seq = rt.seq();
    try {
      rt.talk(deleteClsactRequest(seq, ifindex), seq, `of clsact qdisc on ${String(iface)}`);
      return true;
    } catch (e) {
      if (e instanceof BpfError && (e.errnoName === "ENOENT" || e.errnoName === "EINVAL")) return false;
      throw e;
    }
  });
}
