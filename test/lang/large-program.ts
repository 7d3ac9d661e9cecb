/**
 * A generated TypeScript program with one large function: a switch of `cases` cases, each counting
 * into an array map and answering XDP_DROP or XDP_PASS (about 5,200 instructions after the optimizer
 * at 400 cases). Shared by test/lang/large.test.ts and bench/compile.bench.ts.
 */
export function largeSwitch(cases: number): string {
  const body = Array.from(
    { length: cases },
    (_, i) =>
      `    case ${i * 3 + 1}: { const c = counts.lookup(${i}); if (c !== null) atomicAdd(c.value, 1); return port === ${i} ? XDP_DROP : XDP_PASS; }`,
  ).join("\n");
  return `import { atomicAdd, map, program, u32, u64, XDP_DROP, XDP_PASS } from "rawbpf";
const counts = map("array", { key: u32, value: u64, maxEntries: ${cases} });
export const large = program("xdp", (ctx) => {
  const proto = ctx.u8(23);
  if (proto === null) return XDP_PASS;
  const port = ctx.be16(36);
  if (port === null) return XDP_PASS;
  switch (proto) {
${body}
    default: return XDP_PASS;
  }
});
`;
}
