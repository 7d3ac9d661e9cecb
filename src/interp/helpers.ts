/**
 * The helpers the interpreter emulates, fed by the settable environment (env.ts). A helper that
 * is not here stops the run with its name (HelperError). Arguments arrive as low/high words.
 */
import { HELPERS } from "../isa/helpers.js";
import type { Instruction } from "../isa/insn.js";
import { FUNC_HI, MAP_HI } from "./compile.js";
import { live, nextRandom } from "./env.js";
import { HelperError } from "./errors.js";
import { E2BIG, EINVAL, ENOENT, MemoryMap, objectByFd, type RingSlot, type RingState } from "./maps.js";
import {
  address,
  at,
  bytesAt,
  CTX_ID,
  LO_BASE,
  lastView,
  PACKET_ID,
  pointer,
  regionAt,
  regionIdOf,
  regionOf,
  regions,
  T,
} from "./memory.js";
import { helperTable, kfuncNames, kfuncTable, R, setHelperNamer } from "./runtime.js";

const EFAULT = 14;
const EAGAIN = 11;

const byId = new Map<number, string>();
for (const h of HELPERS) byId.set(h.id, h.name);
setHelperNamer((id) => byId.get(id) ?? `helper #${id}`);
const idOf = new Map<string, number>();
for (const h of HELPERS) idOf.set(h.name, h.id);

function insnAt(pc: number): Instruction | undefined {
  return R.prog.bySlot[pc];
}

function fail(pc: number, id: string, why: string): never {
  throw new HelperError(pc, insnAt(pc), id, why);
}

function mapArg(pc: number, name: string, l: number, h: number): MemoryMap {
  const m = h === MAP_HI ? objectByFd(l) : undefined;
  if (!(m instanceof MemoryMap))
    return fail(pc, name, "its first argument is not a map (load it with ld_imm64 of a map)");
  return m;
}

function ok(v: number): number {
  T[0] = v < 0 ? -1 : 0;
  return v | 0;
}

/** a 64-bit number from a helper: low word returned, high word in T[0] */
function ret64(v: bigint): number {
  const u = BigInt.asUintN(64, v);
  T[0] = Number(u >> 32n) | 0;
  return Number(u & 0xffffffffn) | 0;
}

function valuePointer(m: MemoryMap, v: Uint8Array): number {
  // the region's name is made only with the region (once a run), not on every lookup
  return pointer(regionIdOf(v) ?? regionOf(v, `value of ${m.label}`, m.progWritable), 0);
}

function def(name: string, f: (pc: number, ...a: number[]) => number): void {
  const id = idOf.get(name);
  if (id === undefined) throw new Error(`no helper named ${name}`);
  helperTable[id] = f as never;
}

function lookup(pc: number, ml: number, mh: number, kl: number, kh: number): number {
  const m = mapArg(pc, "bpf_map_lookup_elem", ml, mh);
  if (m.isArray) {
    // the index straight from memory (no key view)
    const o = at(kh, kl, 0, 4, false, pc);
    const v = m.lookupIndex(lastView().getUint32(o, true), live.env.cpu);
    return v === undefined ? ok(0) : valuePointer(m, v);
  }
  const key = bytesAt(kh, kl, m.keySize, false, pc);
  if (m.type === "array_of_maps" || m.type === "hash_of_maps") {
    const fd = m.lookupFd(key);
    if (fd === undefined) return ok(0);
    T[0] = MAP_HI;
    return fd;
  }
  if (m.holdsFds || m.isQueue || m.type === "ringbuf")
    return fail(pc, "bpf_map_lookup_elem", `a program cannot look up elements of a ${m.type} map`);
  const v = m.lookup(key, live.env.cpu);
  if (v === undefined) return ok(0);
  return valuePointer(m, v);
}

def("bpf_map_lookup_elem", (pc, ml, mh, kl, kh) => lookup(pc, ml!, mh!, kl!, kh!));
def("bpf_map_update_elem", (pc, ml, mh, kl, kh, vl, vh, fl) => {
  const m = mapArg(pc, "bpf_map_update_elem", ml!, mh!);
  const key = bytesAt(kh!, kl!, m.keySize, false, pc);
  if (m.holdsFds) return fail(pc, "bpf_map_update_elem", `a program cannot update a ${m.type} map`);
  const value = bytesAt(vh!, vl!, m.valueSize, false, pc);
  return ok(m.updateFromProgram(key, value, fl! >>> 0, live.env.cpu));
});
def("bpf_map_delete_elem", (pc, ml, mh, kl, kh) => {
  const m = mapArg(pc, "bpf_map_delete_elem", ml!, mh!);
  return ok(m.delete(bytesAt(kh!, kl!, m.keySize, false, pc)));
});
def("bpf_map_push_elem", (pc, ml, mh, vl, vh, fl) => {
  const m = mapArg(pc, "bpf_map_push_elem", ml!, mh!);
  return ok(m.push(bytesAt(vh!, vl!, m.valueSize, false, pc), fl! >>> 0));
});
def("bpf_map_pop_elem", (pc, ml, mh, vl, vh) => {
  const m = mapArg(pc, "bpf_map_pop_elem", ml!, mh!);
  return ok(m.pop(bytesAt(vh!, vl!, m.valueSize, true, pc)));
});
def("bpf_map_peek_elem", (pc, ml, mh, vl, vh) => {
  const m = mapArg(pc, "bpf_map_peek_elem", ml!, mh!);
  return ok(m.peek(bytesAt(vh!, vl!, m.valueSize, true, pc)));
});

def("bpf_ktime_get_ns", () => {
  const t = live.now;
  live.now += live.env.timeStepNs;
  return ret64(t);
});
for (const n of ["bpf_ktime_get_boot_ns", "bpf_ktime_get_coarse_ns", "bpf_ktime_get_tai_ns"])
  if (idOf.has(n)) def(n, helperTable[idOf.get("bpf_ktime_get_ns")!] as never);
def("bpf_get_prandom_u32", () => {
  T[0] = 0;
  return nextRandom() | 0;
});
def("bpf_get_smp_processor_id", () => {
  T[0] = 0;
  return live.env.cpu | 0;
});
def("bpf_get_current_pid_tgid", () => {
  T[0] = live.env.tgid | 0;
  return live.env.pid | 0;
});
def("bpf_get_current_task", () => ret64(BigInt(live.env.task)));
def("bpf_get_current_uid_gid", () => {
  T[0] = live.env.gid | 0;
  return live.env.uid | 0;
});
def("bpf_get_current_comm", (pc, bl, bh, sz) => {
  const size = sz! >>> 0;
  const buf = bytesAt(bh!, bl!, size, true, pc);
  buf.fill(0);
  const name = new TextEncoder().encode(live.env.comm).subarray(0, Math.min(15, Math.max(0, size - 1)));
  buf.set(name);
  return ok(0);
});

/** memory the test gave (or any region of the run) at a 64-bit address */
function probeBytes(addr: bigint, size: number): Uint8Array | undefined {
  const hi = Number(addr >> 32n) | 0;
  const lo = Number(addr & 0xffffffffn) | 0;
  const r = regionAt(hi);
  if (r !== undefined) {
    const o = (lo >>> 0) - LO_BASE;
    if (o >= r.start && o + size <= r.end) return r.bytes.subarray(o, o + size);
    return undefined;
  }
  for (const m of live.env.memory) {
    const o = Number(addr - m.address);
    if (addr >= m.address && o + size <= m.bytes.byteLength) return m.bytes.subarray(o, o + size);
  }
  return undefined;
}
function probeRead(pc: number, dl: number, dh: number, sz: number, sl: number, sh: number): number {
  const size = sz >>> 0;
  const dst = bytesAt(dh, dl, size, true, pc);
  const src = probeBytes(address(sh, sl), size);
  if (src === undefined) {
    dst.fill(0);
    return ok(-EFAULT);
  }
  dst.set(src);
  return ok(0);
}
function probeReadStr(pc: number, dl: number, dh: number, sz: number, sl: number, sh: number): number {
  const size = sz >>> 0;
  const dst = bytesAt(dh, dl, size, true, pc);
  if (size === 0) return ok(0);
  const a = address(sh, sl);
  for (let i = 0; i < size - 1; i++) {
    const b = probeBytes(a + BigInt(i), 1);
    if (b === undefined) {
      dst.fill(0);
      return ok(-EFAULT);
    }
    dst[i] = b[0]!;
    if (b[0] === 0) return ok(i + 1);
  }
  dst[size - 1] = 0;
  return ok(size);
}
for (const n of ["bpf_probe_read", "bpf_probe_read_user", "bpf_probe_read_kernel"])
  def(n, (pc, a, b, c, _d, e, f) => probeRead(pc, a!, b!, c!, e!, f!));
for (const n of ["bpf_probe_read_str", "bpf_probe_read_user_str", "bpf_probe_read_kernel_str"])
  def(n, (pc, a, b, c, _d, e, f) => probeReadStr(pc, a!, b!, c!, e!, f!));

function cString(pc: number, l: number, h: number, max: number): string {
  let s = "";
  for (let i = 0; i < max; i++) {
    const b = bytesAt(h, l + i, 1, false, pc)[0]!;
    if (b === 0) break;
    s += String.fromCharCode(b);
  }
  return s;
}

def("bpf_trace_printk", (pc, fl, fh, sz, _s, a1l, a1h, a2l, a2h, a3l, a3h) => {
  const fmt = new TextDecoder().decode(bytesAt(fh!, fl!, sz! >>> 0, false, pc)).replace(/\0.*$/s, "");
  const args = [
    [a1l!, a1h!],
    [a2l!, a2h!],
    [a3l!, a3h!],
  ];
  let k = 0;
  const line = fmt.replace(/%(l{0,2})([dixusp%c])/g, (_m, len: string, c: string) => {
    if (c === "%") return "%";
    const [l, h] = args[k++] ?? [0, 0];
    const u = len === "" ? BigInt(l! >>> 0) : (BigInt(h! >>> 0) << 32n) | BigInt(l! >>> 0);
    switch (c) {
      case "d":
      case "i":
        return (len === "" ? BigInt(l! | 0) : BigInt.asIntN(64, u)).toString();
      case "u":
        return u.toString();
      case "x":
        return u.toString(16);
      case "p":
        return `0x${u.toString(16)}`;
      case "c":
        return String.fromCharCode(l! & 0xff);
      default:
        return cString(pc, l!, h!, 256);
    }
  });
  live.printed.push(line);
  live.env.printk?.(line);
  return ok(line.length + 1);
});

def("bpf_strncmp", (pc, s1l, s1h, sz, _z, s2l, s2h) => {
  const n = sz! >>> 0;
  const a = bytesAt(s1h!, s1l!, n, false, pc);
  for (let i = 0; i < n; i++) {
    const c2 = bytesAt(s2h!, s2l! + i, 1, false, pc)[0]!;
    const c1 = a[i]!;
    if (c1 !== c2) return ok(c1 < c2 ? -1 : 1);
    if (c1 === 0) break;
  }
  return ok(0);
});

def("bpf_loop", (pc, nr, _nh, fl, fh, cl, ch, flags) => {
  const n = nr! >>> 0;
  if (fh !== FUNC_HI) return fail(pc, "bpf_loop", "its callback is not a function pointer (ld_imm64 src=4)");
  if (flags !== 0) return ok(-EINVAL);
  if (n > 1 << 23) return ok(-E2BIG);
  const prog = R.prog;
  const depth = R.depth + 1;
  for (let i = 0; i < n; i++) {
    const r = prog.fn(fl!, depth, i, 0, cl!, ch!, 0, 0, 0, 0, 0, 0);
    R.prog = prog;
    if (r !== 0) return ok(i + 1);
  }
  return ok(n);
});

def("bpf_for_each_map_elem", (pc, ml, mh, fl, fh, cl, ch, flags) => {
  const m = mapArg(pc, "bpf_for_each_map_elem", ml!, mh!);
  if (fh !== FUNC_HI) return fail(pc, "bpf_for_each_map_elem", "its callback is not a function pointer");
  if (flags !== 0) return ok(-EINVAL);
  const prog = R.prog;
  const depth = R.depth + 1;
  const key = new Uint8Array(m.keySize);
  let prev: Uint8Array | undefined;
  let count = 0;
  const mp = ml!;
  while (m.nextKey(prev, key) === 0) {
    const k = key.slice();
    prev = k;
    const v = m.lookup(k, live.env.cpu);
    if (v === undefined) continue;
    count++;
    const kid = regionOf(k, `key of ${m.label}`, false);
    const kl = pointer(kid, 0);
    const kh = T[0];
    const vl = valuePointer(m, v);
    const vh = T[0];
    const r = prog.fn(fl!, depth, mp, MAP_HI, kl, kh, vl, vh, cl!, ch!, 0, 0);
    R.prog = prog;
    if (r !== 0) break;
  }
  return ok(count);
});

def("bpf_tail_call", (pc, cl, ch, ml, mh, il) => {
  const m = mapArg(pc, "bpf_tail_call", ml!, mh!);
  if (m.type !== "prog_array") return fail(pc, "bpf_tail_call", `the map is a ${m.type}, not a prog_array`);
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, il! >>> 0, true);
  const fd = il! >>> 0 < m.maxEntries ? m.lookupFd(key) : undefined;
  const target = fd === undefined ? undefined : (objectByFd(fd) as typeof R.prog | undefined);
  if (target === undefined || R.tailCount >= 33) return ok(-ENOENT);
  R.tailCount++;
  const saved = R.prog;
  R.prog = target;
  const r0 = target.fn(0, R.depth, cl!, ch!, 0, 0, 0, 0, 0, 0, 0, 0);
  const hi = T[0];
  R.prog = saved;
  R.tail = true;
  T[0] = hi;
  return r0;
});

// ring buffers
const records = new Map<Uint8Array, { ring: RingState; rec: RingSlot }>();
def("bpf_ringbuf_output", (pc, ml, mh, dl, dh, sz, _z, flags) => {
  const m = mapArg(pc, "bpf_ringbuf_output", ml!, mh!);
  if (m.ring === undefined) return fail(pc, "bpf_ringbuf_output", `the map is a ${m.type}, not a ringbuf`);
  if ((flags! & ~3) !== 0) return ok(-EINVAL);
  const data = bytesAt(dh!, dl!, sz! >>> 0, false, pc);
  const rec = m.ring.reserve(data.byteLength);
  if (rec === undefined) return ok(-EAGAIN);
  rec.data.set(data);
  rec.state = 1;
  return ok(0);
});
def("bpf_ringbuf_reserve", (pc, ml, mh, sz, _z, flags) => {
  const m = mapArg(pc, "bpf_ringbuf_reserve", ml!, mh!);
  if (m.ring === undefined) return fail(pc, "bpf_ringbuf_reserve", `the map is a ${m.type}, not a ringbuf`);
  if (flags !== 0) return ok(0);
  const rec = m.ring.reserve(sz! >>> 0);
  if (rec === undefined) return ok(0);
  records.set(rec.data, { ring: m.ring, rec });
  return pointer(regionOf(rec.data, `ring buffer record of ${m.label}`, true), 0);
});
function finish(name: string, state: number) {
  return (pc: number, dl?: number, dh?: number): number => {
    const r = regionAt(dh!);
    const o = (dl! >>> 0) - LO_BASE;
    const entry = r === undefined ? undefined : records.get(r.bytes);
    if (entry === undefined || o !== 0 || entry.rec.state !== 0)
      return fail(pc, name, "its argument is not a record from bpf_ringbuf_reserve that is still open");
    entry.rec.state = state;
    records.delete(r!.bytes);
    T[0] = 0;
    return 0;
  };
}
def("bpf_ringbuf_submit", finish("bpf_ringbuf_submit", 1));
def("bpf_ringbuf_discard", finish("bpf_ringbuf_discard", 2));
def("bpf_ringbuf_query", (pc, ml, mh, fl) => {
  const m = mapArg(pc, "bpf_ringbuf_query", ml!, mh!);
  const ring = m.ring;
  if (ring === undefined) return fail(pc, "bpf_ringbuf_query", `the map is a ${m.type}, not a ringbuf`);
  switch (fl! >>> 0) {
    case 0:
      return ret64(BigInt(ring.pending));
    case 1:
      return ret64(BigInt(ring.size));
    case 2:
      return ret64(BigInt(ring.consumer));
    case 3:
      return ret64(BigInt(ring.producer));
  }
  return ok(0);
});

def("bpf_perf_event_output", (pc, _cl, _ch, ml, mh, fl, fh, dl, dh, sz) => {
  const m = mapArg(pc, "bpf_perf_event_output", ml!, mh!);
  if (m.type !== "perf_event_array") return fail(pc, "bpf_perf_event_output", `the map is a ${m.type}`);
  if ((fh! & ~0) !== 0 && fh !== 0) return ok(-EINVAL);
  const index = fl! >>> 0 === 0xffffffff ? live.env.cpu : fl! >>> 0;
  if (index >= m.maxEntries) return ok(-E2BIG);
  const data = bytesAt(dh!, dl!, sz! >>> 0, false, pc);
  const ring = m.perfRings[index];
  // the kernel: no event stored at the index is -ENOENT; a full ring -ENOSPC (counted as lost)
  return ok(ring === undefined ? -ENOENT : ring.output(data));
});

def("bpf_skb_load_bytes", (pc, _cl, _ch, off, _oh, tl, th, len) => {
  const p = regions[PACKET_ID]!;
  const n = len! >>> 0;
  const to = bytesAt(th!, tl!, n, true, pc);
  const o = off! | 0;
  if (o < 0 || p.start + o + n > p.end) {
    to.fill(0);
    return ok(-EFAULT);
  }
  to.set(p.bytes.subarray(p.start + o, p.start + o + n));
  return ok(0);
});

/** room the kernel keeps before xdp data for struct xdp_frame */
const XDP_FRAME_SIZE = 40;
const ETH_HLEN = 14;
def("bpf_xdp_adjust_head", (pc, _cl, _ch, delta) => {
  const p = regions[PACKET_ID]!;
  const ctx = regions[CTX_ID]!;
  if (ctx.ptrs === null || R.prog.type !== "xdp")
    return fail(pc, "bpf_xdp_adjust_head", "only XDP programs have an xdp_md");
  const start = p.start + (delta! | 0);
  if (start < XDP_FRAME_SIZE || start > p.end - ETH_HLEN) return ok(-EINVAL);
  p.start = start;
  const lo = pointer(PACKET_ID, start);
  ctx.ptrs.set(0, [T[0], lo]);
  ctx.ptrs.set(8, [T[0], lo]);
  return ok(0);
});

// kfuncs: open-coded number iterators (struct bpf_iter_num { s64 __opaque[1] } on the stack)
export const KFUNCS: Record<string, (pc: number, ...a: number[]) => number> = {
  bpf_iter_num_new(pc, il, ih, start, _sh, end) {
    const it = bytesAt(ih!, il!, 8, true, pc);
    const v = new DataView(it.buffer, it.byteOffset, 8);
    const s = start! | 0;
    const e = end! | 0;
    if (s > e || e - s > 1 << 23) {
      v.setInt32(0, 0, true);
      v.setInt32(4, 0, true);
      return ok(s > e ? -EINVAL : -E2BIG);
    }
    // the kernel keeps cur = start - 1, end
    v.setInt32(0, s - 1, true);
    v.setInt32(4, e, true);
    return ok(0);
  },
  bpf_iter_num_next(pc, il, ih) {
    const it = bytesAt(ih!, il!, 8, true, pc);
    const v = new DataView(it.buffer, it.byteOffset, 8);
    const cur = v.getInt32(0, true) + 1;
    if (cur >= v.getInt32(4, true)) {
      v.setInt32(0, 0, true);
      v.setInt32(4, 0, true);
      return ok(0);
    }
    v.setInt32(0, cur, true);
    return pointer(regionOf(it, "bpf_iter_num state", false), 0);
  },
  bpf_iter_num_destroy(pc, il, ih) {
    bytesAt(ih!, il!, 8, true, pc).fill(0);
    return ok(0);
  },
};

/** The names of the kfuncs the interpreter emulates. */
export function emulatedKfuncs(): readonly string[] {
  return Object.keys(KFUNCS);
}

/** Registers the kfuncs the interpreter knows under the BTF ids a program's loader resolved. */
export function registerKfunc(id: number, name: string): void {
  kfuncNames.set(id, name);
  const f = KFUNCS[name];
  if (f !== undefined) kfuncTable.set(id, f as never);
}
