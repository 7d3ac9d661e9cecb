/**
 * rawbpf's WebAssembly for BTF, in AssemblyScript, compiled by scripts/build-wasm.mjs into
 * btf.wasm.ts beside this file. Its glue is src/btf/wasm.ts; its users are the C printer
 * (src/btf/c.ts, `rawbpf btf dump --format c`) and the raw lister (src/btf/raw.ts).
 *
 * Why WebAssembly: a command prints once per process. In JavaScript the C printer spent most of
 * a fresh process waiting for V8's optimising compiler and running slower code meanwhile
 * (vmlinux: ~65 ms cold against ~25 ms warm); V8 compiles WebAssembly in one quick pass (Liftoff)
 * at a function's first call, so this code runs at nearly full speed from the start.
 *
 * - memory.as.ts: the layout, the input, the index of the types, the errors;
 * - output.as.ts: writing the output;
 * - c.as.ts: the C printer;
 * - raw.as.ts: the raw lister.
 */

export { printC } from "./c.as";
export {
  begin,
  ERR_ARRAY_SIZE,
  ERR_BY_VALUE,
  ERR_CHAIN_LOOP,
  ERR_DECL_KIND,
  ERR_DECL_LOOP,
  ERR_MEMORY,
  ERR_REFERENCE,
  ERR_SIZE,
  ERR_STRING,
  ERR_TOO_BIG,
  ERR_TOO_DEEP,
  endId,
  errorA,
  errorB,
  errorCode,
  errorType,
  index,
  indexStop,
  setStrings,
  startOf,
  tablesAt,
} from "./memory.as";
export { outputAt } from "./output.as";
export { printRaw } from "./raw.as";
