import assert from "node:assert/strict";
import { test } from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { u32 } from "../../src/codec/int.js";
import { asm } from "../../src/isa/template.js";
import { attachRawTracepoint } from "../../src/link/index.js";
import { BpfMap } from "../../src/map/map.js";
import { Program } from "../../src/program/program.js";
import { openFdCount, settledFdCount } from "../support/fds.js";
import { needsRoot } from "../support/privilege.js";

/**
 * Descriptors an inspection command might leave open: BPF objects, BTF, cgroup directories,
 * namespaces. Counted as they are (`settled`: after the collector closed what earlier code dropped),
 * so a descriptor left to the collector's backstop counts as a leak.
 */
function inspectionFds(settled: boolean): number {
  const count = settled ? settledFdCount : openFdCount;
  return count("anon_inode:bpf") + count("anon_inode:btf") + count("/sys/fs/cgroup") + count("net:[");
}

test("every inspection command, on good and on gone ids, leaves no descriptor open", async (t) => {
  if (!needsRoot(t)) return;
  using map = BpfMap.create({ type: "hash", key: u32, value: u32, maxEntries: 4, name: "insp_leak" });
  map.set(1, 2);
  using prog = Program.load({ type: "raw_tracepoint", name: "insp_leak", instructions: asm`r0 = 0; exit` });
  using _link = attachRawTracepoint(prog, "sys_enter");
  const gone = Program.load({ type: "socket_filter", instructions: asm`r0 = 0; exit` });
  const goneId = String(gone.info().id);
  gone.close();
  const goneMap = BpfMap.create({ type: "array", key: u32, value: u32, maxEntries: 1 });
  const goneMapId = String(goneMap.info().id);
  goneMap.close();
  const pid = String(prog.info().id);
  const mid = String(map.info().id);
  const commands = [
    ["prog", "list", "--json"],
    ["prog", "show", pid, "--json"],
    ["prog", "dump", "xlated", pid],
    ["prog", "dump", "jited", pid, "--json"],
    ["prog", "show", goneId],
    ["prog", "dump", "xlated", goneId],
    ["map", "list"],
    ["map", "dump", mid, "--json"],
    ["map", "lookup", mid, "1"],
    ["map", "lookup", mid, "7"],
    ["map", "update", mid, "3", "4"],
    ["map", "delete", mid, "3"],
    ["map", "dump", goneMapId],
    ["map", "update", goneMapId, "0", "0"],
    ["btf", "list", "--json"],
    ["btf", "show", "4294967295"],
    ["net", "list", "--json"],
    ["cgroup", "tree", "--json"],
    ["cgroup", "show", "/sys/fs/cgroup/no-such-cgroup"],
    ["perf", "list", "--links"],
  ];
  // once to load every module and fill every cache, then counted
  for (const argv of commands) await main(argv, captureIo());
  const before = inspectionFds(true);
  for (let round = 0; round < 3; round++)
    for (const argv of commands) {
      const io = captureIo();
      const status = await main(argv, io);
      assert.ok(status === 0 || status === 1, `${argv.join(" ")}: exit ${status} ${io.err}`);
    }
  assert.equal(inspectionFds(false), before, "as many BPF, BTF, cgroup and namespace descriptors as before");
});
