/**
 * C twins: a TypeScript program and the same program in C (clang-19 -target bpf -O2, compiled
 * here) run under BPF_PROG_TEST_RUN on the same fast-check packets, with identical return values
 * and map contents. The xlated sizes of both are printed (the 1.3x goal is measured, not
 * asserted).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BpfMap, Program, u32, u64 } from "../../src/index.js";
import { compile } from "../../src/lang/index.js";
import { needsRoot } from "../support/privilege.js";
import { clangPresent, clangSection } from "./clang.js";

const TS_PROTOCOLS = `
import { map, program, u32, u64, XDP_PASS, XDP_DROP, ETH_P_IP, IPPROTO_UDP, atomicAdd } from "rawbpf";
const counts = map("array", { key: u32, value: u64, maxEntries: 256 });
export const protocols = program("xdp", (ctx) => {
  const proto = ctx.be16(12);
  if (proto === null || proto !== ETH_P_IP) return XDP_PASS;
  const ipproto = ctx.u8(23);
  if (ipproto === null) return XDP_PASS;
  const c = counts.lookup(ipproto);
  if (c !== null) atomicAdd(c.value, 1);
  return ipproto === IPPROTO_UDP ? XDP_DROP : XDP_PASS;
});
`;

const C_PROTOCOLS = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 256); } counts SEC(".maps");
SEC("xdp") int protocols(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  if (data + 14 > end) return XDP_PASS;
  __u16 proto = __builtin_bswap16(*(__u16 *)(data + 12));
  if (proto != 0x0800) return XDP_PASS;
  if (data + 24 > end) return XDP_PASS;
  __u32 p = *(__u8 *)(data + 23);
  __u64 *c = bpf_map_lookup_elem(&counts, &p);
  if (c) __sync_fetch_and_add(c, 1);
  return p == 17 ? XDP_DROP : XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`;

test("packets per protocol: the TypeScript program and its C twin agree on every packet", (t) => {
  if (!needsRoot(t)) return;
  if (!clangPresent()) {
    if (process.env.CI === "true") throw new Error("clang-19 and llvm-objcopy-19 are needed");
    t.skip("clang-19 not installed");
    return;
  }
  const ts = compile(TS_PROTOCOLS, { file: "protocols.ts" }).programs[0]!;
  const c = clangSection(C_PROTOCOLS, "xdp");
  using tsCounts = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 256, name: "counts" });
  using cCounts = BpfMap.create({ type: "array", key: u32, value: u64, maxEntries: 256, name: "counts" });
  using tsProg = Program.load({
    type: "xdp",
    name: "protocols",
    instructions: ts,
    maps: { counts: tsCounts },
  });
  using cProg = Program.load({ type: "xdp", name: "protocols", instructions: c, maps: { counts: cCounts } });
  t.diagnostic(
    `xlated: TypeScript ${tsProg.info().xlatedLength / 8} instructions, clang -O2 ${cProg.info().xlatedLength / 8}`,
  );
  const packet = fc
    .tuple(
      fc.uint8Array({ minLength: 0, maxLength: 40 }),
      fc.boolean(),
      fc.constantFrom(1, 6, 17, 47, 58, 132, 255),
    )
    .map(([bytes, ip, proto]) => {
      const b = Buffer.from(bytes);
      if (ip && b.length >= 14) b.writeUInt16BE(0x0800, 12);
      if (b.length >= 24 && ip) b[23] = proto;
      return b;
    });
  fc.assert(
    fc.property(fc.array(packet, { minLength: 1, maxLength: 20 }), (packets) => {
      for (const p of packets) {
        // test runs need at least an Ethernet header; shorter packets are padded by neither side
        const data = p.length >= 14 ? p : Buffer.concat([p, Buffer.alloc(14 - p.length)]);
        const a = tsProg.testRun({ data }).retval;
        const b = cProg.testRun({ data }).retval;
        assert.equal(a, b, `retval for ${data.toString("hex")}: TypeScript ${a}, C ${b}`);
      }
      for (let k = 0; k < 256; k++) assert.equal(tsCounts.get(k), cCounts.get(k), `counts[${k}]`);
    }),
    { numRuns: 25, seed: 7 },
  );
});
