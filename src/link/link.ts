/** `Link`: a program attached to a kernel hook, owning the link's descriptor. */
import { unlinkSync } from "node:fs";
import type { Program } from "../program/program.js";
import { BpfError, InputError } from "../sys/error.js";
import { closeRaw, duplicateFd, expectFdKind, Fd } from "../sys/fd.js";
import { linkDetach, linkUpdate } from "../sys/link.js";
import { getFdById, objGet, objPin } from "../sys/obj.js";
import { UnsupportedLinkOperationError } from "./errors.js";
import { type LinkInfo, linkInfo } from "./info.js";
import { programFd } from "./program.js";
import type { LinkType } from "./types.js";

/** Link kinds whose program the kernel cannot swap (BPF_LINK_UPDATE): attach a new link instead. */
const NO_UPDATE: readonly string[] = [
  "raw_tracepoint",
  "tracing",
  "perf_event",
  "kprobe_multi",
  "uprobe_multi",
];

/** The program types a link kind runs, where one kind means one type. */
const UPDATE_TYPES: Readonly<Record<string, readonly string[]>> = {
  xdp: ["xdp"],
  tcx: ["sched_cls"],
  netkit: ["sched_cls"],
};

/** Options of {@link Link.update}. */
export interface LinkUpdateOptions {
  /** replace only if the link still runs this program (BPF_F_REPLACE), else the kernel refuses (EPERM) */
  expected?: Program;
}

/**
 * Wraps a link descriptor rawbpf just made (an attach function's, or an opened pin's) and owns it;
 * it is closed again when it turns out not to be a link. Not public: users call {@link Link.fromFd}.
 */
export let adoptLink: (fd: number, afterClose?: () => void) => Link;

/**
 * A program attached to a hook. While the link is open (or pinned) the program runs at the hook;
 * `close()` (or `using`) detaches it when this was the last reference. Made by the `attach*`
 * functions, {@link Link.open} (a pinned path) or {@link Link.fromId}.
 *
 * @example
 * ```ts
 * using link = attachXdp(program, "lo", { mode: "generic" });
 * link.info(); // { type: "xdp", id: 7, programId: 42, ifindex: 1 }
 * ```
 */
export class Link implements Disposable {
  readonly #fd: Fd;
  /** the link type as bpftool names it (`"xdp"`, `"tcx"`, `"cgroup"`, `"perf_event"`...) */
  readonly type: LinkType | `type ${number}`;
  #pinned: string | undefined;
  /** what goes with the link once its descriptor is closed (a tracefs kprobe event to remove) */
  #afterClose: (() => void) | undefined;

  private constructor(fd: Fd, type: LinkType | `type ${number}`, afterClose?: () => void) {
    this.#fd = fd;
    this.type = type;
    this.#afterClose = afterClose;
  }

  /**
   * A Link for the link that descriptor `fd` of this process refers to. `fd` stays the caller's:
   * the Link owns a duplicate of it, so closing the Link never closes `fd`; the program stays
   * attached while either is open (or the link is pinned).
   * @throws InputError when `fd` is not open or refers to something else than a BPF link
   *   ("fd 18 is /etc/hostname, not a BPF link"); `fd` is left as it was
   */
  static fromFd(fd: number): Link {
    if (!Number.isInteger(fd) || fd < 0)
      throw new InputError(`a link descriptor must be a non-negative integer, got ${fd}`);
    expectFdKind(fd, "link");
    return adoptLink(duplicateFd(fd, `link fd ${fd}`));
  }

  static {
    adoptLink = (fd: number, afterClose?: () => void): Link => {
      let type: LinkType | `type ${number}`;
      try {
        expectFdKind(fd, "link");
        type = linkInfo(fd).type;
      } catch (e) {
        closeRaw(fd);
        throw e;
      }
      return new Link(new Fd(fd, `${type} link`), type, afterClose);
    };
  }

  /** Opens the link pinned at `path` in a bpffs. */
  static open(path: string): Link {
    checkPath(path);
    return adoptLink(objGet(path, 0, { what: `link pinned at ${path}` }));
  }

  /** Opens the link with id `id` (needs CAP_SYS_ADMIN). */
  static fromId(id: number): Link {
    if (!Number.isInteger(id) || id < 1 || id > 0xffffffff) {
      throw new InputError(`a link id must be an integer from 1 to 4294967295, got ${id}`);
    }
    return adoptLink(getFdById("link", id, 0, { what: `link id ${id}` }));
  }

  /** The descriptor number (throws ClosedError after close). */
  get fd(): number {
    return this.#fd.value;
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /** What the kernel says about this link: its id, its program's id, and details by type. */
  info(): LinkInfo {
    return linkInfo(this.fd);
  }

  /**
   * Detaches the program from its hook now (BPF_LINK_DETACH), even while other descriptors or a
   * pin keep the link itself alive; the descriptor stays open until close(). Kinds the kernel
   * cannot detach this way (tracepoint and tracing links) throw a BpfError (EOPNOTSUPP) that
   * says to close the link and remove its pins instead.
   */
  detach(): void {
    try {
      linkDetach(this.fd, { what: `on ${this.type} link` });
    } catch (e) {
      if (e instanceof BpfError && e.errnoName === "EOPNOTSUPP") {
        throw new BpfError(
          e.command,
          e.errno,
          {
            hint: `the kernel cannot detach a ${this.type} link while it is open: close() it (and remove its pins) to detach`,
          },
          `on ${this.type} link`,
        );
      }
      throw e;
    }
  }

  /**
   * Makes the link run `program` instead (BPF_LINK_UPDATE), atomically: the hook never runs
   * without a program. The new program must be of the same type (and attach type) as the old.
   * xdp, tcx, cgroup, netns, netkit and sockmap links take a new program; tracepoint and tracing
   * links cannot (an {@link UnsupportedLinkOperationError}: attach a new link, then close this one).
   */
  update(program: Program, options: LinkUpdateOptions = {}): void {
    const fd = this.fd;
    if (NO_UPDATE.includes(this.type)) {
      throw new UnsupportedLinkOperationError(
        `a ${this.type} link cannot take a new program (the kernel has no update for it): attach the new program, then close this link`,
      );
    }
    const expected = options.expected;
    const types = UPDATE_TYPES[this.type];
    const what = `update of a ${this.type} link`;
    const newFd = programFd(program, types ?? [program?.type], what);
    const oldFd = expected === undefined ? undefined : programFd(expected, types ?? [expected?.type], what);
    linkUpdate(fd, newFd, oldFd, { what: `on ${this.type} link` });
  }

  /** Pins the link at `path` in a bpffs: it then stays attached after this process exits. */
  pin(path: string): void {
    checkPath(path);
    objPin(this.fd, path, { what: `link at ${path}` });
    this.#pinned = path;
  }

  /**
   * Removes the pin made by {@link Link.pin} (or the one at `path`). The link stays attached while
   * this object is open.
   */
  unpin(path: string | undefined = this.#pinned): void {
    if (path === undefined) throw new InputError("this link was not pinned by pin(): give the path to unpin");
    checkPath(path);
    unlinkSync(path);
    if (path === this.#pinned) this.#pinned = undefined;
  }

  /** Closes the descriptor (detaching the program if nothing else holds the link); a second call does nothing. */
  close(): void {
    this.#fd.close();
    const after = this.#afterClose;
    this.#afterClose = undefined;
    after?.();
  }

  /** The same as `close()`, for `using`: released when the block that declared it ends. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function checkPath(path: string): void {
  if (typeof path !== "string" || path.length === 0)
    throw new InputError("a pin path must be a non-empty string");
}
