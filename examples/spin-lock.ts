/**
 * spin-lock: a map whose value type is described by BTF. The value is
 * `struct hit_counter { struct bpf_spin_lock lock; unsigned int hits; unsigned long long bytes; }`;
 * the kernel finds the lock in it only through the map's BTF (btf_fd, btf_key_type_id,
 * btf_value_type_id at creation). A tc program (socket filters may not take spin locks) takes the
 * lock with bpf_spin_lock, counts the packet and its length, and releases it with bpf_spin_unlock.
 * It runs on a few packets with BPF_PROG_TEST_RUN; user space then stores a value with BPF_F_LOCK
 * (copied in under the lock); and rawbpf dumps the map as objects with field names, using the
 * map's BTF read back from the kernel.
 *
 * Run alone: `node --import tsx examples/spin-lock.ts`
 */
import {
  add,
  BpfMap,
  BtfBuilder,
  type BtfValue,
  call,
  exit,
  jeq,
  ldMapFd,
  ldx,
  loadBtf,
  mov,
  Program,
  ProgramBuilder,
  ProgramRejectedError,
  R0,
  R1,
  R2,
  R6,
  R7,
  R8,
  R10,
  st,
  stx,
} from "../src/index.js";
import { type Log, runIfMain } from "./main.js";

/** The packet sizes the program is run on. */
export const PACKETS = [64, 100, 1500];

/** Byte offsets in `struct hit_counter`. */
const HITS = 4;
const BYTES = 8;
/** Its size. */
export const VALUE_SIZE = 16;

/** What the demo saw. */
export interface SpinLockResult {
  /** the BTF type ids of the key and the value */
  keyTypeId: number;
  valueTypeId: number;
  /** the verifier's message for the same program on a map without BTF */
  withoutBtf: string;
  /** the dump after the test runs */
  afterRuns: BtfValue;
  /** the value stored from user space with BPF_F_LOCK */
  stored: { hits: number; bytes: bigint };
  /** the dump after that store and one more run of `extra` bytes */
  afterStore: BtfValue;
  extra: number;
  /** the raw value read back with BPF_F_LOCK (under the lock) after that */
  locked: { hits: number; bytes: bigint };
}

/** The BTF of the map: `int` key, `struct hit_counter` value. */
export function hitCounterBtf(): { blob: Uint8Array; keyTypeId: number; valueTypeId: number } {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const u32 = b.int("unsigned int", 4);
  const u64 = b.int("unsigned long long", 8);
  const lock = b.struct("bpf_spin_lock", [{ name: "val", type: u32 }]);
  const counter = b.struct("hit_counter", [
    { name: "lock", type: lock },
    { name: "hits", type: u32 },
    { name: "bytes", type: u64 },
  ]);
  return { blob: b.build(), keyTypeId: int, valueTypeId: counter };
}

/**
 * `count_hits`: `v = bpf_map_lookup_elem(&map, &zero); if (v) { bpf_spin_lock(&v->lock);
 * v->hits++; v->bytes += skb->len; bpf_spin_unlock(&v->lock); } return 0;`
 */
export function buildCountHits(map: { readonly name: string; readonly fd: number }) {
  const b = new ProgramBuilder("count_hits");
  b.emit(
    ldx("w", R8, R1, 0), // r8 = skb->len (struct __sk_buff starts with len)
    st("w", R10, -4, 0), // key 0
    mov(R2, R10),
    add(R2, -4),
    ldMapFd(R1, map),
    call("bpf_map_lookup_elem"),
    jeq(R0, 0, "out"),
    mov(R7, R0), // r7 = the value
    mov(R1, R7), // &v->lock (offset 0)
    call("bpf_spin_lock"),
    ldx("w", R6, R7, HITS),
    add(R6, 1),
    stx("w", R7, HITS, R6),
    ldx("dw", R6, R7, BYTES),
    add(R6, R8),
    stx("dw", R7, BYTES, R6),
    mov(R1, R7),
    call("bpf_spin_unlock"),
  );
  b.label("out").emit(mov(R0, 0), exit());
  return b.build();
}

export async function run(log: Log, packets: readonly number[] = PACKETS): Promise<SpinLockResult> {
  const { blob, keyTypeId, valueTypeId } = hitCounterBtf();
  let map: BpfMap;
  {
    using btf = loadBtf(blob).fd;
    map = BpfMap.create({
      type: "array",
      name: "hit_counter",
      keySize: 4,
      valueSize: VALUE_SIZE,
      maxEntries: 1,
      btfFd: btf.value,
      btfKeyTypeId: keyTypeId,
      btfValueTypeId: valueTypeId,
    });
  } // the map holds its own reference to the BTF
  using _map = map;
  log(
    `created array map 'hit_counter' with BTF (id ${map.info().btfId}): key type [${keyTypeId}] int, ` +
      `value type [${valueTypeId}] struct hit_counter { struct bpf_spin_lock lock; unsigned int hits; unsigned long long bytes; }`,
  );

  const withoutBtf = refusedWithoutBtf();
  log(`the same program on a map made without BTF: the kernel refuses, "${withoutBtf}"`);

  using program = Program.load({ type: "sched_cls", name: "count_hits", instructions: buildCountHits(map) });
  for (const size of packets) program.testRun({ data: Buffer.alloc(size) });
  const afterRuns = map.dump()[0]!.value;
  log(`ran 'count_hits' (tc) on packets of ${packets.join(", ")} bytes; rawbpf's dump with the map's BTF:`);
  log(`  ${JSON.stringify(afterRuns, bigints)}`);

  const stored = { hits: 1000, bytes: 1_000_000n };
  const value = Buffer.alloc(VALUE_SIZE);
  value.writeUInt32LE(stored.hits, HITS);
  value.writeBigUInt64LE(stored.bytes, BYTES);
  map.set(Buffer.alloc(4), value, "BPF_F_LOCK");
  const extra = 42;
  program.testRun({ data: Buffer.alloc(extra) });
  const afterStore = map.dump({ lookupFlags: 4 })[0]!.value;
  const raw = map.get(Buffer.alloc(4), "BPF_F_LOCK")!;
  const locked = { hits: raw.readUInt32LE(HITS), bytes: raw.readBigUInt64LE(BYTES) };
  log(
    `stored {hits: ${stored.hits}, bytes: ${stored.bytes}} from user space with BPF_F_LOCK ` +
      `(under the lock, the lock word left alone), then ran once more on ${extra} bytes:`,
  );
  log(`  ${JSON.stringify(afterStore, bigints)}`);
  log(`read back with BPF_F_LOCK: hits ${locked.hits}, bytes ${locked.bytes}`);
  return { keyTypeId, valueTypeId, withoutBtf, afterRuns, stored, afterStore, extra, locked };
}

/** Loads the program against a map of the same shape without BTF: the verdict of the refusal. */
function refusedWithoutBtf(): string {
  using plain = BpfMap.create({
    type: "array",
    name: "no_btf",
    keySize: 4,
    valueSize: VALUE_SIZE,
    maxEntries: 1,
  });
  try {
    Program.load({ type: "sched_cls", instructions: buildCountHits(plain) }).close();
  } catch (e) {
    if (!(e instanceof ProgramRejectedError) || !e.explanation) throw e;
    return e.explanation.message;
  }
  throw new Error("the kernel took a bpf_spin_lock in a map without BTF: this kernel behaves differently");
}

function bigints(_key: string, v: unknown): unknown {
  return typeof v === "bigint" ? Number(v) : v;
}

runIfMain(import.meta.url, (log) => run(log));
