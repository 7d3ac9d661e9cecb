/**
 * Attaching USDT probes: one uprobe per site of `provider:name` in a binary (through
 * {@link attachUprobe}, semaphore included), each with a BPF cookie that is the index of its
 * argument spec record in a spec map the program reads (`usdtArg`). Sites with the same argument
 * specs share a record.
 */
import { closeSync, openSync } from "node:fs";
import { type AnyCodec, bytes } from "../codec/index.js";
import { nearestName } from "../elf/names.js";
import { UnreadableBinaryError } from "../link/errors.js";
import type { Link } from "../link/link.js";
import { attachUprobe, attachUprobeMulti, checkBinary, checkPid } from "../link/uprobe.js";
import { BpfMap } from "../map/map.js";
import type { Program } from "../program/program.js";
import { InputError } from "../sys/error.js";
import { readFullyAt } from "../sys/read.js";
import { encodeUsdtSpec, USDT_SPEC_SIZE } from "./args.js";
import { UsdtProbeNotFoundError, UsdtSpecsFullError } from "./errors.js";
import { readUsdtProbes, type UsdtProbe } from "./notes.js";

/** The map's name (what asm text refers to) and its default number of spec records. */
const SPEC_MAP_NAME = "usdt_specs";
const DEFAULT_SPECS = 256;

/** A spec map: an array of spec records (libbpf's `__bpf_usdt_specs` layout), whatever its codecs. */
export type UsdtSpecMap = BpfMap<AnyCodec, AnyCodec>;

/** Options of {@link usdtSpecMap}. */
export interface UsdtSpecMapOptions {
  /** how many distinct argument specs the map holds at once (default 256, libbpf's too) */
  maxEntries?: number;
  /** the map's name (default "usdt_specs") */
  name?: string;
}

/**
 * Creates the array map of argument spec records that `usdtArg` reads and {@link attachUsdt}
 * fills: create it before loading the program, which refers to it.
 */
export function usdtSpecMap(
  options: UsdtSpecMapOptions = {},
): BpfMap<ReturnType<typeof bytes>, ReturnType<typeof bytes>> {
  return BpfMap.create({
    type: "array",
    key: bytes(4),
    value: bytes(USDT_SPEC_SIZE),
    maxEntries: options.maxEntries ?? DEFAULT_SPECS,
    name: options.name ?? SPEC_MAP_NAME,
  });
}

/**
 * The USDT probes of an ELF executable or shared library (its `.note.stapsdt`): provider, name,
 * file offset, semaphore and argument specs of every site. Reads only the headers and the notes.
 * @throws UnreadableBinaryError, ElfFormatError, UsdtArgError
 */
export function listUsdtProbes(binary: string): UsdtProbe[] {
  const { path, size } = checkBinary(binary);
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new UnreadableBinaryError(path, `it cannot be read (${(e as NodeJS.ErrnoException).code})`);
  }
  const from = fd;
  try {
    return readUsdtProbes(
      size,
      (into, offset) => {
        readFullyAt(from, into, offset);
      },
      path,
    );
  } finally {
    closeSync(from);
  }
}

/** Options of {@link attachUsdt}. */
export interface UsdtOptions {
  /** the executable or shared library whose probe it is */
  binary: string;
  /** the probe's provider (`DTRACE_PROBE2(provider, name, ...)`) */
  provider: string;
  /** the probe's name */
  name: string;
  /** only in this process (by default every process that runs the binary, now or later) */
  pid?: number;
  /**
   * the spec map the program reads its arguments through (made by {@link usdtSpecMap}, or a clang
   * object's `__bpf_usdt_specs`); without it the program gets no arguments (its cookie is then 0)
   */
  specs?: UsdtSpecMap;
  /** a 64-bit value of the user's kept in each spec record (libbpf's `bpf_usdt_cookie`) */
  cookie?: bigint | number;
}

/** Which spec ids of each spec map are in use (shared by every attachment to it). */
const used = new WeakMap<object, Set<number>>();

/**
 * A USDT probe attached: one uprobe link per site (or one uprobe_multi link for them all, for a
 * program loaded with `expectedAttachType: "trace_uprobe_multi"`), and the spec records they use. `close()`
 * detaches them all (the kernel takes back the semaphores) and frees the records.
 */
export class UsdtAttachment implements Disposable {
  /** the sites, as the binary's notes give them */
  readonly probes: readonly UsdtProbe[];
  /** one uprobe link per site, in the order of `probes`; or one uprobe_multi link */
  readonly links: readonly Link[];
  readonly #ids: readonly number[];
  readonly #specs: object | undefined;
  #closed = false;

  /** @internal */
  constructor(probes: UsdtProbe[], links: Link[], ids: number[], specs: object | undefined) {
    this.probes = probes;
    this.links = links;
    this.#ids = ids;
    this.#specs = specs;
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Detaches every site and frees their spec records; a second call does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.links) l.close();
    const set = this.#specs === undefined ? undefined : used.get(this.#specs);
    for (const id of this.#ids) set?.delete(id);
  }

  /** The same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Attaches a `kprobe` program to every site of the USDT probe `provider:name` of `binary`: a
 * uprobe on each site's instruction, with the probe's semaphore (if it has one) counted up by the
 * kernel while attached so code guarded by `PROVIDER_NAME_ENABLED()` runs. With `specs`, each
 * site's argument specs are written into that map and the site's BPF cookie is the record's
 * index, which `usdtArg` reads.
 *
 * @example
 * ```ts
 * const specs = usdtSpecMap();
 * const program = Program.load({ type: "kprobe", instructions: usdtAsm(specs)`
 *   r6 = r1
 *   ${usdtArg(0, "r7")}
 *   ...` });
 * using probe = attachUsdt(program, { binary: "./server", provider: "app", name: "request", specs });
 * ```
 * @throws UsdtProbeNotFoundError (with a near name), UsdtArgError, UsdtSpecsFullError, and the
 *   errors of {@link attachUprobe}
 */
export function attachUsdt(program: Program, options: UsdtOptions): UsdtAttachment {
  if (options === null || typeof options !== "object")
    throw new InputError("attachUsdt takes { binary, provider, name, pid?, specs?, cookie? }");
  const { binary, provider, name, specs } = options;
  for (const [k, v] of [
    ["provider", provider],
    ["name", name],
  ] as const)
    if (typeof v !== "string" || v.length === 0)
      throw new InputError(`a USDT probe's ${k} is a non-empty string, got ${JSON.stringify(v)}`);
  checkPid(options.pid);
  const cookie = options.cookie ?? 0;
  if (
    !(typeof cookie === "bigint" || (typeof cookie === "number" && Number.isSafeInteger(cookie))) ||
    BigInt(cookie) < -(2n ** 63n) ||
    BigInt(cookie) >= 2n ** 64n
  )
    throw new InputError(`a USDT cookie is a 64-bit integer, got ${String(cookie)}`);
  if (specs !== undefined) {
    if (
      !(specs instanceof BpfMap) ||
      specs.type !== "array" ||
      specs.keySize !== 4 ||
      specs.valueSize !== USDT_SPEC_SIZE
    )
      throw new InputError(
        `a USDT spec map is an array map of ${USDT_SPEC_SIZE}-byte values with u32 keys (usdtSpecMap() makes one), got ${specs instanceof BpfMap ? `a ${specs.type} map of ${specs.keySize}-byte keys and ${specs.valueSize}-byte values` : String(specs)}`,
      );
  }
  const all = listUsdtProbes(binary);
  const path = checkBinary(binary).path;
  const probes = all.filter((p) => p.provider === provider && p.name === name);
  if (probes.length === 0) {
    const known = [...new Set(all.map((p) => `${p.provider}:${p.name}`))];
    throw new UsdtProbeNotFoundError(
      path,
      `${provider}:${name}`,
      known,
      nearestName(`${provider}:${name}`, known),
    );
  }
  // one spec record per distinct argument string
  const ids: number[] = [];
  const idOf = new Map<string, number>();
  if (specs !== undefined) {
    let set = used.get(specs);
    if (set === undefined) used.set(specs, (set = new Set()));
    const distinct = [...new Set(probes.map((p) => p.argString))];
    let next = 0;
    for (const text of distinct) {
      while (set.has(next) && next < specs.maxEntries) next++;
      if (next >= specs.maxEntries) {
        for (const id of ids) set.delete(id);
        throw new UsdtSpecsFullError(specs.maxEntries, distinct.length - ids.length);
      }
      set.add(next);
      ids.push(next);
      idOf.set(text, next);
    }
    const key = new Uint8Array(4);
    for (const p of probes) {
      const id = idOf.get(p.argString) as number;
      new DataView(key.buffer).setUint32(0, id, true);
      specs.set(key, encodeUsdtSpec(p.args, BigInt(cookie)));
    }
  }
  const links: Link[] = [];
  try {
    // a program loaded for uprobe_multi (as clang objects' usdt sections are): one link for every site
    if (program.expectedAttachType === "trace_uprobe_multi") {
      links.push(
        attachUprobeMulti(
          program,
          path,
          probes.map((p) => p.offset),
          {
            cookies: probes.map((p) => BigInt(idOf.get(p.argString) ?? 0)),
            semaphores: probes.map((p) => p.semaphoreOffset),
            ...(options.pid === undefined ? {} : { pid: options.pid }),
          },
        ),
      );
      return new UsdtAttachment(probes, links, ids, specs);
    }
    for (const p of probes) {
      links.push(
        attachUprobe(program, path, p.offset, {
          cookie: BigInt(idOf.get(p.argString) ?? 0),
          ...(options.pid === undefined ? {} : { pid: options.pid }),
          ...(p.semaphoreOffset === 0 ? {} : { semaphore: p.semaphoreOffset }),
        }),
      );
    }
  } catch (e) {
    for (const l of links) l.close();
    const set = specs === undefined ? undefined : used.get(specs);
    for (const id of ids) set?.delete(id);
    throw e;
  }
  return new UsdtAttachment(probes, links, ids, specs);
}
