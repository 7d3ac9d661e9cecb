/**
 * The TypeScript programs of the twin tests and their C twins (each C program written to do what
 * the TypeScript does, the way a C author would): test/lang/twins.test.ts runs them side by side,
 * test/lang/size.test.ts compares their sizes.
 */

/** A TypeScript program and its C twin, written for this project. */
export interface Twin {
  /** the exported TS program and the C section name */
  readonly name: string;
  readonly type: "xdp" | "sched_cls";
  readonly ts: string;
  readonly c: string;
  /** the C program's function and section, when they are not `name` and the type */
  readonly section?: string;
}

const HEADER = `#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
`;

/** The twins. Each C program is written to do what the TypeScript does, the way a C author would. */
export const TWINS: readonly Twin[] = [
  {
    name: "protocols",
    type: "xdp",
    ts: `
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
`,
    c: `${HEADER}
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
`,
  },
  {
    // examples/ts-protocols.ts
    name: "count",
    type: "xdp",
    ts: `
import { ETH_P_IP, map, program, u32, u64, XDP_PASS } from "rawbpf";
const protocols = map("percpu_array", { key: u32, value: u64, maxEntries: 256 });
export const count = program("xdp", (ctx) => {
  const ethType = ctx.be16(12);
  if (ethType === null || ethType !== ETH_P_IP) return XDP_PASS;
  const proto = ctx.u8(23);
  if (proto === null) return XDP_PASS;
  const slot = protocols.lookup(proto);
  if (slot !== null) slot.value += 1;
  return XDP_PASS;
});
`,
    c: `${HEADER}
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 256); } protocols SEC(".maps");
SEC("xdp") int count(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  if (data + 14 > end) return XDP_PASS;
  if (__builtin_bswap16(*(__u16 *)(data + 12)) != 0x0800) return XDP_PASS;
  if (data + 24 > end) return XDP_PASS;
  __u32 p = *(__u8 *)(data + 23);
  __u64 *slot = bpf_map_lookup_elem(&protocols, &p);
  if (slot) *slot += 1;
  return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`,
  },
  {
    name: "classify",
    type: "sched_cls",
    ts: `
import { map, program, u32, TC_ACT_OK, TC_ACT_SHOT } from "rawbpf";
const marks = map("hash", { key: u32, value: u32, maxEntries: 64 });
export const classify = program("sched_cls", (ctx) => {
  if (ctx.protocol !== 0x0008) return TC_ACT_OK;
  const len = ctx.len;
  const m = marks.lookup(ctx.ifindex);
  if (m === null) return len > 1000 ? TC_ACT_SHOT : TC_ACT_OK;
  ctx.mark = m.value;
  return TC_ACT_OK;
});
`,
    c: `${HEADER}
struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u32); __uint(max_entries, 64); } marks SEC(".maps");
SEC("tc") int classify(struct __sk_buff *ctx) {
  if (ctx->protocol != 0x0008) return TC_ACT_OK;
  __u32 len = ctx->len;
  __u32 ifindex = ctx->ifindex;
  __u32 *m = bpf_map_lookup_elem(&marks, &ifindex);
  if (!m) return len > 1000 ? TC_ACT_SHOT : TC_ACT_OK;
  ctx->mark = *m;
  return TC_ACT_OK;
}
char LICENSE[] SEC("license") = "GPL";
`,
    section: "tc",
  },
  {
    name: "sum",
    type: "xdp",
    ts: `
import { map, program, u32, u64, XDP_PASS, XDP_DROP } from "rawbpf";
const sums = map("array", { key: u32, value: u64, maxEntries: 1 });
export const sum = program("xdp", (ctx) => {
  let total: u64 = 0;
  for (let i: u32 = 0; i < 8; i++) {
    const b = ctx.u8(i);
    if (b === null) break;
    total += b;
  }
  const s = sums.lookup(0);
  if (s !== null) s.value = total;
  return total > 1000 ? XDP_DROP : XDP_PASS;
});
`,
    c: `${HEADER}
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 1); } sums SEC(".maps");
SEC("xdp") int sum(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  __u64 total = 0;
  for (__u32 i = 0; i < 8; i++) {
    if (data + i + 1 > end) break;
    total += *(__u8 *)(data + i);
  }
  __u32 k = 0;
  __u64 *s = bpf_map_lookup_elem(&sums, &k);
  if (s) *s = total;
  return total > 1000 ? XDP_DROP : XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`,
  },
  {
    name: "flows",
    type: "xdp",
    ts: `
import { map, program, u32, u64, XDP_PASS, XDP_DROP, atomicAdd } from "rawbpf";
const buckets = map("array", { key: u32, value: u64, maxEntries: 64 });
function mix(a: u32, b: u32): u32 {
  return (a * 31) ^ b;
}
export const flows = program("xdp", (ctx) => {
  const src = ctx.be32(26);
  if (src === null) return XDP_PASS;
  const dst = ctx.be32(30);
  if (dst === null) return XDP_PASS;
  const k = mix(src, dst) % 64;
  const c = buckets.lookup(k);
  if (c === null) return XDP_DROP;
  atomicAdd(c.value, 1);
  return XDP_PASS;
});
`,
    c: `${HEADER}
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 64); } buckets SEC(".maps");
__attribute__((noinline, section("xdp"))) static __u32 mix(__u32 a, __u32 b) { return (a * 31) ^ b; }
SEC("xdp") int flows(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  if (data + 30 > end) return XDP_PASS;
  __u32 src = __builtin_bswap32(*(__u32 *)(data + 26));
  if (data + 34 > end) return XDP_PASS;
  __u32 dst = __builtin_bswap32(*(__u32 *)(data + 30));
  __u32 k = mix(src, dst) % 64;
  __u64 *c = bpf_map_lookup_elem(&buckets, &k);
  if (!c) return XDP_DROP;
  __sync_fetch_and_add(c, 1);
  return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`,
  },
  {
    name: "verdict",
    type: "xdp",
    ts: `
import { program, XDP_PASS, XDP_DROP, XDP_TX, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP } from "rawbpf";
export const verdict = program("xdp", (ctx) => {
  const proto = ctx.u8(23);
  if (proto === null) return XDP_PASS;
  switch (proto) {
    case IPPROTO_TCP:
      return XDP_PASS;
    case IPPROTO_UDP: {
      const port = ctx.be16(36);
      if (port === null) return XDP_DROP;
      return port === 53 ? XDP_PASS : XDP_DROP;
    }
    case IPPROTO_ICMP:
      return XDP_TX;
    default:
      return XDP_DROP;
  }
});
`,
    c: `${HEADER}
SEC("xdp") int verdict(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  if (data + 24 > end) return XDP_PASS;
  switch (*(__u8 *)(data + 23)) {
  case 6: return XDP_PASS;
  case 17:
    if (data + 38 > end) return XDP_DROP;
    return __builtin_bswap16(*(__u16 *)(data + 36)) == 53 ? XDP_PASS : XDP_DROP;
  case 1: return XDP_TX;
  default: return XDP_DROP;
  }
}
char LICENSE[] SEC("license") = "GPL";
`,
  },
];
