/** Programs and helpers shared by the link tests. */
import dgram from "node:dgram";
import { once } from "node:events";
import { u32, u64 } from "../../src/codec/index.js";
import { asm } from "../../src/isa/template.js";
import { BpfMap } from "../../src/map/map.js";
import { Program, type ProgramSpec } from "../../src/program/program.js";
import { socketFd } from "../../src/socket/socket.js";
import { recvFrom } from "../../src/sys/socket.js";

/** A one-slot array map of u64: the counter the programs below add to. */
export function counter(): BpfMap<typeof u32, typeof u64> {
  return BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 1, name: "link_count" });
}

/** The instructions of a program that adds 1 to `map[0]` when this process (its tgid) runs it, and returns 0. */
export function countThisProcess(map: BpfMap<typeof u32, typeof u64>) {
  return asm`
    call bpf_get_current_pid_tgid
    r0 >>= 32
    if r0 != ${process.pid} goto out
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r2 = r10
    r2 += -4
    r1 = ${map}
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
  out:
    r0 = 0
    exit
  `;
}

/** Loads a pid-counting program of `type` (with extra spec fields). */
export function loadCounter(
  map: BpfMap<typeof u32, typeof u64>,
  type: string,
  extra: Partial<ProgramSpec> = {},
): Program {
  return Program.load({ type, instructions: countThisProcess(map), ...extra });
}

/**
 * A packet program (xdp or sched_cls) that counts IPv4 UDP packets to `port` into `map[0]` and
 * returns `hit` for them and `miss` for every other packet. The packet starts at its Ethernet
 * header (lo's is 14 zero bytes with type 0x0800) and the IPv4 header has no options.
 */
export function udpPortCounter(
  type: "xdp" | "sched_cls",
  map: BpfMap<typeof u32, typeof u64>,
  port: number,
  hit: number,
  miss: number,
): Program {
  const load =
    type === "xdp"
      ? "r2 = *(u32 *)(r1 + 0)\n r3 = *(u32 *)(r1 + 4)" // xdp_md data, data_end
      : "r2 = *(u32 *)(r1 + 76)\n r3 = *(u32 *)(r1 + 80)"; // __sk_buff data, data_end
  const portBe = ((port & 0xff) << 8) | (port >> 8);
  return Program.load({
    type,
    instructions: asm`
      ${load}
      r4 = r2
      r4 += 42
      if r4 > r3 goto miss
      r4 = *(u16 *)(r2 + 12)  // EtherType, big-endian 0x0800
      if r4 != 8 goto miss
      r4 = *(u8 *)(r2 + 14)   // version 4, IHL 5
      if r4 != 0x45 goto miss
      r4 = *(u8 *)(r2 + 23)   // protocol
      if r4 != 17 goto miss
      r4 = *(u16 *)(r2 + 36)  // UDP destination port
      if r4 != ${portBe} goto miss
      r1 = 0
      *(u32 *)(r10 - 4) = r1
      r2 = r10
      r2 += -4
      r1 = ${map}
      call bpf_map_lookup_elem
      if r0 == 0 goto hit
      r1 = 1
      lock *(u64 *)(r0 + 0) += r1
    hit:
      r0 = ${hit}
      exit
    miss:
      r0 = ${miss}
      exit
    `,
  });
}

/** A UDP socket on 127.0.0.1 that records what arrives. */
export class Receiver implements AsyncDisposable {
  readonly socket = dgram.createSocket("udp4");
  readonly received: string[] = [];
  #waiters: (() => void)[] = [];

  static async open(): Promise<Receiver> {
    const r = new Receiver();
    r.socket.on("message", (m: Buffer) => {
      r.received.push(m.toString());
      for (const w of r.#waiters.splice(0)) w();
    });
    r.socket.bind(0, "127.0.0.1");
    await once(r.socket, "listening");
    return r;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Resolves once `n` datagrams in all have arrived. */
  async until(n: number): Promise<void> {
    while (this.received.length < n) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** Whatever is waiting in the socket's queue that Node has not read yet (read without blocking). */
  pending(): Buffer | undefined {
    return recvFrom(socketFd(this.socket));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.socket.close();
  }
}

/** Sends one datagram to 127.0.0.1:`port` and waits until the kernel took it. */
export async function sendTo(client: dgram.Socket, port: number, text: string): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    client.send(text, port, "127.0.0.1", (e) => (e ? reject(e) : resolve())),
  );
}

/** The counter's value. */
export function count(map: BpfMap<typeof u32, typeof u64>): bigint {
  const v = map.get(0);
  if (v === undefined) throw new Error("an array map always has slot 0");
  return v;
}
