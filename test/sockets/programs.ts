/**
 * What the socket tests share, in their own process and in the child processes of
 * `runInNetns` (which import this file by URL, `${TESTS}programs.ts`): a program that counts its
 * runs before doing its work, and a UDP server and client on 127.0.0.1.
 */
import dgram from "node:dgram";
import { once } from "node:events";
import type { AsmProgram } from "../../src/isa/asm/program.js";
import { type AsmValue, asm, type NamedMap } from "../../src/isa/template.js";

/**
 * A tag for `asm` that puts a counter in front of the program: its context is kept in r6, one is
 * added to `count[slot]` (an array map of u64), then the tagged text runs.
 *
 * ```ts
 * countThen(count)`r0 = 2 // TC_ACT_SHOT
 *   exit`
 * ```
 */
export function countThen(count: NamedMap, slot = 0) {
  return (strings: TemplateStringsArray, ...values: AsmValue[]): AsmProgram => {
    const head = `
      r6 = r1
      r1 = ${slot}
      *(u32 *)(r10 - 4) = r1
      r2 = r10
      r2 += -4
      r1 = `;
    const counted = `
      call bpf_map_lookup_elem
      if r0 == 0 goto counted
      r1 = 1
      lock *(u64 *)(r0 + 0) += r1
    counted:
    `;
    const parts = [head, counted + strings[0], ...strings.slice(1)];
    return asm(Object.assign(parts, { raw: parts }), count, ...values);
  };
}

/** A UDP server on 127.0.0.1 with what it received, and a client that sends to it. */
export interface UdpPair {
  /** the datagrams the server received, as text, in order */
  readonly got: string[];
  /** sends `text` from the client to the server */
  send(text: string): Promise<void>;
  /** waits until `n` datagrams arrived, or 5 s passed (the caller's assert then says what came) */
  settle(n: number): Promise<void>;
  close(): void;
}

/** Opens a {@link UdpPair}. */
export async function udpPair(): Promise<UdpPair> {
  const server = dgram.createSocket("udp4");
  server.bind(0, "127.0.0.1");
  await once(server, "listening");
  const got: string[] = [];
  server.on("message", (m) => got.push(String(m)));
  const client = dgram.createSocket("udp4");
  const port = server.address().port;
  return {
    got,
    send: (text) => new Promise<void>((r) => client.send(text, port, "127.0.0.1", () => r())),
    async settle(n) {
      const end = Date.now() + 5000;
      while (got.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    },
    close() {
      client.close();
      server.close();
    },
  };
}
