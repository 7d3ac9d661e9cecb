/**
 * The article's socket filter, built instruction by instruction: copy the start of each packet to
 * the stack with bpf_skb_load_bytes, slide a window over it, and compare each window with a
 * needle kept in a read-only, frozen array map using bpf_strncmp. A packet that contains the
 * needle is dropped (return 0); the rest pass whole (return -1, "keep every byte").
 *
 * `mistake` makes one of the three classic errors the verifier refuses (see verifier-says-no.ts).
 */
import {
  add,
  BpfMap,
  call,
  exit,
  type Instruction,
  jeq,
  jle,
  jne,
  ldMapValue,
  ldxw,
  mov,
  ProgramBuilder,
  R0,
  R1,
  R2,
  R3,
  R4,
  R6,
  R7,
  R10,
  st,
} from "../src/index.js";

/** How many bytes of each packet the filter looks at. */
export const WINDOW = 64;

/** A mistake the verifier catches. */
export type Mistake = "none" | "endless-loop" | "clobbered-register";

/**
 * Creates the needle map: an array of one entry, BPF_F_RDONLY_PROG (programs may only read it),
 * filled with the NUL-terminated needle, then frozen (nobody may write it again) — what
 * bpf_strncmp's third argument demands. `freeze: false` leaves it writable (a mistake).
 */
export function needleMap(needle: string, options: { freeze?: boolean } = {}): BpfMap {
  const bytes = Buffer.from(`${needle}\0`);
  const map = BpfMap.create({
    type: "array",
    keySize: 4,
    valueSize: bytes.length,
    maxEntries: 1,
    flags: ["BPF_F_RDONLY_PROG"],
    name: "needle",
  });
  map.set(Buffer.alloc(4), bytes);
  if (options.freeze !== false) map.freeze();
  return map;
}

/** The filter's instructions for a needle of `needleLength` bytes kept in `map`. */
export function needleFilter(map: BpfMap, needleLength: number, mistake: Mistake = "none"): Instruction[] {
  const b = new ProgramBuilder("drop_needle");
  b.emit(mov(R6, R1)); // r6 = skb (r1 is lost at the first call)
  for (let off = -WINDOW; off < 0; off += 8) b.emit(st("dw", R10, off, 0)); // zero the buffer
  b.emit(
    ldxw(R4, R6, 0), // r4 = skb->len
    jeq(R4, 0, "pass"),
    jle(R4, WINDOW, "copy"),
    mov(R4, WINDOW), // look at the first WINDOW bytes at most
  );
  b.label("copy").emit(
    mov(R1, R6),
    mov(R2, 0),
    mov(R3, R10),
    add(R3, -WINDOW),
    call("bpf_skb_load_bytes"), // bpf_skb_load_bytes(skb, 0, fp - WINDOW, r4)
    jne(R0, 0, "pass"),
    mov(R7, 0), // r7 = window start
  );
  if (mistake === "clobbered-register") b.emit(mov(R2, needleLength)); // set once: a call clobbers r1-r5
  b.label("loop").emit(mov(R1, R10), add(R1, -WINDOW), add(R1, R7));
  if (mistake !== "clobbered-register") b.emit(mov(R2, needleLength));
  b.emit(ldMapValue(R3, map), call("bpf_strncmp"), jeq(R0, 0, "drop"));
  if (mistake !== "endless-loop") b.emit(add(R7, 1)); // forgetting this makes the loop endless
  b.emit(jle(R7, WINDOW - needleLength, "loop"));
  b.label("pass").emit(mov(R0, -1), exit());
  b.label("drop").emit(mov(R0, 0), exit());
  return b.build().insns;
}
