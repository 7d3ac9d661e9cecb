/**
 * BPF iterators: a `tracing` program loaded for an iterator target (`iter/task`,
 * `iter/bpf_map_elem`, `iter/tcp`, ...) is attached with BPF_LINK_CREATE (BPF_TRACE_ITER), and
 * each BPF_ITER_CREATE on the link gives a descriptor whose reads run the program over every
 * object of the target, returning what it wrote with `bpf_seq_printf` / `bpf_seq_write`.
 */
import { read as readCb, readSync } from "node:fs";
import { Readable } from "node:stream";
import { vmlinuxBtf } from "../btf/kernel.js";
import { nearestName } from "../elf/names.js";
import { openCgroup } from "../link/cgroup.js";
import type { LinkInfo } from "../link/info.js";
import { adoptLink, type Link } from "../link/link.js";
import { programFd } from "../link/program.js";
import { checkPid } from "../link/uprobe.js";
import type { BpfMap } from "../map/map.js";
import type { Program } from "../program/program.js";
import { attachTypeNumber } from "../program/types.js";
import { errnoName } from "../sys/errno.js";
import { BpfError, InputError } from "../sys/error.js";
import { closeRaw, Fd } from "../sys/fd.js";
import { iterCreate, linkCreate } from "../sys/link.js";

/** Iterator targets of Linux 6.x (each is the kernel function `bpf_iter_<target>` in BTF). */
export const ITER_TARGETS = [
  "task",
  "task_file",
  "task_vma",
  "bpf_map",
  "bpf_map_elem",
  "bpf_prog",
  "bpf_link",
  "bpf_sk_storage_map",
  "sockmap",
  "tcp",
  "udp",
  "unix",
  "netlink",
  "ipv6_route",
  "cgroup",
  "ksym",
  "kmem_cache",
] as const;

/** What `Program.load` needs to load an iterator program for `target`. */
export interface IterLoadOptions {
  type: "tracing";
  expectedAttachType: "trace_iter";
  /** the BTF id of `bpf_iter_<target>` in vmlinux */
  attachBtfId: number;
}

/**
 * The load options of an iterator program for `target` (`"task"`, `"bpf_map_elem"`, `"tcp"`...):
 * `Program.load({ ...iterTarget("task"), instructions })`. The program's context is the kernel's
 * `struct bpf_iter__<target>` (`meta` first: `meta->seq` is what `bpf_seq_printf` writes to).
 * @throws InputError when this kernel has no such iterator (with the nearest name)
 */
export function iterTarget(target: string): IterLoadOptions {
  if (typeof target !== "string" || target.length === 0)
    throw new InputError(
      `an iterator target is a name like "task" or "bpf_map_elem", got ${JSON.stringify(target)}`,
    );
  const name = target.startsWith("iter/") ? target.slice(5) : target;
  const id = vmlinuxBtf().findId(`bpf_iter_${name}`, "func");
  if (id === undefined) {
    const guess = nearestName(name, ITER_TARGETS);
    throw new InputError(
      `this kernel has no BPF iterator '${name}' (no function bpf_iter_${name} in /sys/kernel/btf/vmlinux)` +
        (guess ? ` — did you mean '${guess}'?` : "") +
        ` (targets: ${ITER_TARGETS.join(", ")})`,
    );
  }
  return { type: "tracing", expectedAttachType: "trace_iter", attachBtfId: id };
}

/** The order a cgroup iterator walks in (enum bpf_cgroup_iter_order). */
export type CgroupIterOrder = "self" | "descendants_pre" | "descendants_post" | "ancestors_up";

const ORDER: Record<CgroupIterOrder, number> = {
  self: 1,
  descendants_pre: 2,
  descendants_post: 3,
  ancestors_up: 4,
};

/** Options of {@link attachIter}: what the iterator walks, for targets that take one. */
export interface IterOptions {
  /** the map whose elements `bpf_map_elem` (and `bpf_sk_storage_map`, `sockmap`) walk */
  map?: BpfMap<never, never> | { readonly fd: number };
  /** the cgroup the `cgroup` iterator starts at: a cgroup v2 directory or a descriptor, and the order */
  cgroup?: { path: string | number; order?: CgroupIterOrder };
  /** only this thread (`tid`) or this process's threads (`pid`) for `task`, `task_file`, `task_vma` */
  task?: { tid?: number; pid?: number };
}

/** union bpf_iter_link_info, 16 bytes. */
function linkInfo(options: IterOptions): { info: Buffer | undefined; owned: number | undefined } {
  const set = [options.map, options.cgroup, options.task].filter((x) => x !== undefined).length;
  if (set > 1) throw new InputError("attachIter takes at most one of map, cgroup and task");
  if (options.map !== undefined) {
    const fd = (options.map as { fd?: unknown }).fd;
    if (typeof fd !== "number") throw new InputError("attachIter's map is a BpfMap (an open map)");
    const info = Buffer.alloc(16);
    info.writeUInt32LE(fd, 0);
    return { info, owned: undefined };
  }
  if (options.cgroup !== undefined) {
    const { path, order = "descendants_pre" } = options.cgroup;
    if (!(order in ORDER))
      throw new InputError(
        `a cgroup iterator's order is one of ${Object.keys(ORDER).join(", ")}, got ${String(order)}`,
      );
    let fd: number;
    let owned: number | undefined;
    if (typeof path === "number") {
      if (!Number.isInteger(path) || path < 0)
        throw new InputError(`a cgroup descriptor is a non-negative integer, got ${path}`);
      fd = path;
    } else if (typeof path === "string" && path.length > 0) {
      fd = openCgroup(path);
      owned = fd;
    } else
      throw new InputError(`a cgroup is a cgroup v2 directory's path or a descriptor, got ${String(path)}`);
    const info = Buffer.alloc(16);
    info.writeUInt32LE(ORDER[order], 0);
    info.writeUInt32LE(fd, 4);
    return { info, owned };
  }
  if (options.task !== undefined) {
    const { tid, pid } = options.task;
    if ((tid === undefined) === (pid === undefined))
      throw new InputError("a task iterator takes one of tid and pid");
    const info = Buffer.alloc(16);
    if (tid !== undefined) info.writeUInt32LE(checkPid(tid), 0);
    else info.writeUInt32LE(checkPid(pid), 4);
    return { info, owned: undefined };
  }
  return { info: undefined, owned: undefined };
}

/**
 * An iterator attached: a link (kept open while you read) that {@link IterLink.open} runs. Each
 * open gives a fresh walk over the objects as they are at that moment.
 */
export class IterLink implements Disposable {
  /** the BPF link (type "iter"): pin it to make the iterator a file in bpffs that `cat` runs */
  readonly link: Link;

  /** @internal */
  constructor(link: Link) {
    this.link = link;
  }

  /**
   * What the kernel says about the iterator link: its target (`targetName`), and the map, cgroup
   * (id and order) or task (tid or pid) it walks, as `bpftool link show` shows them.
   */
  info(): Extract<LinkInfo, { type: "iter" }> {
    return this.link.info() as Extract<LinkInfo, { type: "iter" }>;
  }

  /** Starts a walk: BPF_ITER_CREATE, a descriptor the {@link IterReader} owns. */
  open(): IterReader {
    const fd = iterCreate(this.link.fd, { what: "on iterator link" });
    return new IterReader(new Fd(fd, "BPF iterator"));
  }

  /** Everything one walk writes (the program runs in this call, on this thread). */
  read(): Buffer {
    using r = this.open();
    return r.readAll();
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.link.closed;
  }

  /** Closes the link (readers already open finish their walk). */
  close(): void {
    this.link.close();
  }

  /** The same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Bytes a read asks for: the kernel's seq_file hands out at most a few pages per read. */
const CHUNK = 64 * 1024;

function readError(e: unknown): never {
  const code = (e as NodeJS.ErrnoException).code;
  const errno = -((e as NodeJS.ErrnoException).errno ?? 5);
  throw new BpfError(
    "read",
    errno > 0 ? errno : 5,
    {
      hint:
        code === "E2BIG"
          ? "one run of the program wrote more than the iterator's buffer (8 pages): write less per object"
          : `the iterator's read failed (${code ?? errnoName(errno)})`,
    },
    "of a BPF iterator",
  );
}

/**
 * One walk of an iterator: read it whole ({@link IterReader.readAll}), as chunks, lines or
 * fixed-size records (async iterables; reads go through libuv's thread pool, so the event loop
 * stays free while the kernel runs the program), or as a Node `Readable`. Close it (or `using`)
 * when done; a walk is read once.
 */
export class IterReader implements Disposable, AsyncIterable<Buffer> {
  readonly #fd: Fd;

  /** @internal */
  constructor(fd: Fd) {
    this.#fd = fd;
  }

  /** The descriptor (throws ClosedError after close). */
  get fd(): number {
    return this.#fd.value;
  }

  /** Reads the walk to its end, synchronously. */
  readAll(): Buffer {
    const parts: Buffer[] = [];
    const fd = this.fd;
    for (;;) {
      const buf = Buffer.allocUnsafe(CHUNK);
      let n: number;
      try {
        n = readSync(fd, buf, 0, CHUNK, null);
      } catch (e) {
        readError(e);
      }
      if (n === 0) break;
      parts.push(buf.subarray(0, n));
    }
    return Buffer.concat(parts);
  }

  /** The walk's bytes as they come, chunk by chunk. */
  async *chunks(): AsyncGenerator<Buffer> {
    const fd = this.fd;
    for (;;) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const n = await new Promise<number>((resolve, reject) =>
        readCb(fd, buf, 0, CHUNK, null, (err, got) => (err ? reject(err) : resolve(got))),
      ).catch(readError);
      if (n === 0) return;
      yield buf.subarray(0, n);
    }
  }

  /** The same as {@link IterReader.chunks}. */
  [Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    return this.chunks();
  }

  /** The walk's text, line by line (without the '\n'; a last line without one is given too). */
  async *lines(): AsyncGenerator<string> {
    let rest = "";
    const decoder = new TextDecoder();
    for await (const chunk of this.chunks()) {
      rest += decoder.decode(chunk, { stream: true });
      let nl = rest.indexOf("\n");
      while (nl >= 0) {
        yield rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        nl = rest.indexOf("\n");
      }
    }
    rest += decoder.decode();
    if (rest.length > 0) yield rest;
  }

  /**
   * The walk as records of `size` bytes each (what a program writes with `bpf_seq_write` of a
   * struct). A walk whose length is not a multiple of `size` ends with an {@link InputError}.
   */
  async *records(size: number): AsyncGenerator<Buffer> {
    if (!Number.isSafeInteger(size) || size <= 0)
      throw new InputError(`a record size is a positive integer, got ${size}`);
    let rest: Buffer = Buffer.alloc(0);
    for await (const chunk of this.chunks()) {
      rest = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
      let at = 0;
      for (; at + size <= rest.length; at += size) yield rest.subarray(at, at + size);
      rest = rest.subarray(at);
    }
    if (rest.length > 0)
      throw new InputError(
        `the iterator wrote ${rest.length} bytes after its last whole ${size}-byte record`,
      );
  }

  /** The walk as a Node `Readable` of Buffers (for pipes). */
  stream(): Readable {
    return Readable.from(this.chunks(), { objectMode: false });
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /** Closes the descriptor; a second call does nothing. */
  close(): void {
    this.#fd.close();
  }

  /** The same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Attaches an iterator program (loaded with {@link iterTarget}) with BPF_LINK_CREATE
 * (BPF_TRACE_ITER): `map` for map element iterators, `cgroup` for the cgroup iterator, `task` to
 * walk one process's threads. Read walks with {@link IterLink.open} or {@link IterLink.read}.
 *
 * @example
 * ```ts
 * using program = loadAssembled(source, iterTarget("task")).program;
 * using iter = attachIter(program);
 * for await (const line of iter.open().lines()) console.log(line);
 * ```
 */
export function attachIter(program: Program, options: IterOptions = {}): IterLink {
  const fd = programFd(program, ["tracing"], "attachIter", ' (load it with iterTarget("task") and friends)');
  if (program.expectedAttachType !== undefined && program.expectedAttachType !== "trace_iter")
    throw new InputError(
      `attachIter needs a tracing program loaded with expectedAttachType "trace_iter" (iterTarget(...) gives it), this one was loaded for '${program.expectedAttachType}'`,
    );
  if (options === null || typeof options !== "object")
    throw new InputError("attachIter's options are an object");
  const { info, owned } = linkInfo(options);
  try {
    const link = linkCreate(
      { progFd: fd, target: 0, attachType: attachTypeNumber("trace_iter"), extra: { kind: "iter", info } },
      {
        what: "of an iterator program",
        privilege: "perfmon",
        details: {
          hint:
            options.map === undefined && options.cgroup === undefined
              ? "the kernel refused the iterator: a bpf_map_elem iterator needs { map }, a cgroup one { cgroup }"
              : "the kernel refused the iterator: does the map's type fit the target (bpf_map_elem walks hash and array maps, sockmap walks sockmaps)?",
        },
      },
    );
    return new IterLink(adoptLink(link));
  } finally {
    if (owned !== undefined) closeRaw(owned);
  }
}
