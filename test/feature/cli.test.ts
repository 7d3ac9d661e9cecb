/** `rawbpf feature`: plain output like bpftool's, --json matching the API, --help, usage errors. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { run } from "../../src/cli/feature.js";
import { captureIo, UsageError } from "../../src/cli/io.js";
import { probeAll } from "../../src/feature/all.js";
import { needsRoot } from "../support/privilege.js";
import { needsSetpriv, srcModule, withCapabilities } from "../support/setpriv.js";

test("rawbpf feature --json: the report of probeAll, as JSON", async (t) => {
  if (!needsRoot(t)) return;
  const io = captureIo();
  assert.equal(await run(["--json"], io), 0);
  assert.equal(io.err, "");
  assert.deepEqual(JSON.parse(io.out), probeAll());
});

test("rawbpf feature: one line per program and map type, then the helpers per program type", async (t) => {
  if (!needsRoot(t)) return;
  const io = captureIo();
  assert.equal(await run([], io), 0);
  const report = probeAll();
  const out = io.out;
  for (const [name, a] of Object.entries(report.programTypes)) {
    const word = a === true ? "is available" : a === false ? "is NOT available" : "is UNKNOWN: ";
    assert.ok(out.includes(`eBPF program_type ${name} ${word}`), `program type ${name}`);
  }
  for (const [name, a] of Object.entries(report.mapTypes)) {
    // "unknown" where the kernel's answer does not tell (arena refused with EPERM, say): the reason is printed
    const line =
      a === "unknown"
        ? `eBPF map_type ${name} is UNKNOWN: ${report.unknown[`map_type ${name}`]}\n`
        : `eBPF map_type ${name} ${a ? "is available" : "is NOT available"}\n`;
    assert.ok(out.includes(line), `map ${name}: ${line}`);
  }
  // each helper list, in order, under its header
  for (const [name, list] of Object.entries(report.helpers)) {
    const header = `eBPF helpers supported for program type ${name}:\n`;
    const at = out.indexOf(header);
    assert.ok(at >= 0, `helpers header of ${name}`);
    const section = out.slice(at + header.length).split(/\n(?!\t)/)[0]!;
    if (list === "unknown") assert.match(section, /^\tUnknown: /, name);
    else if (list.length === 0) assert.equal(section, "\tProgram type not supported", name);
    else assert.equal(section, list.map((h) => `\t- ${h}`).join("\n"), name);
  }
  assert.match(out, /^Scanning eBPF program types\.\.\.$/m);
  assert.match(
    out,
    /^Not probed \(.*--full.*\): bpf_trace_printk, bpf_probe_write_user, bpf_trace_vprintk$/m,
  );
});

test("rawbpf feature --help, and usage errors", async () => {
  const help = captureIo();
  assert.equal(await run(["--help"], help), 0);
  assert.match(help.out, /^usage: rawbpf feature \[--json\] \[--full\]/);
  await assert.rejects(run(["probe"], captureIo()), UsageError);
  await assert.rejects(run(["--frob"], captureIo()), UsageError);
  await assert.rejects(run(["--json=yes"], captureIo()), UsageError);
});

test("rawbpf feature with too few capabilities: without CAP_BPF it refuses (exit 1); without CAP_PERFMON and CAP_NET_ADMIN it says so and names them in each UNKNOWN", (t) => {
  if (!needsRoot(t) || !needsSetpriv(t)) return;
  const code = `
import { main } from ${srcModule("cli/main.ts")};
process.exitCode = await main(["feature"]);
`;
  const none = withCapabilities([], code);
  assert.equal(none.status, 1, none.stderr);
  assert.equal(none.stdout, "", "no report of unknowns");
  assert.match(none.stderr, /^rawbpf feature: probing needs CAP_BPF .*run as root, or grant CAP_BPF\n$/);

  const bpf = withCapabilities(["bpf"], code);
  assert.equal(bpf.status, 0, bpf.stderr);
  assert.match(bpf.stderr, /^rawbpf feature: this process lacks CAP_PERFMON and CAP_NET_ADMIN/);
  assert.match(bpf.stdout, /^eBPF program_type kprobe is UNKNOWN: .*this process lacks CAP_PERFMON/m);
  assert.match(bpf.stdout, /^eBPF program_type xdp is UNKNOWN: .*this process lacks CAP_NET_ADMIN/m);
  assert.match(bpf.stdout, /^eBPF program_type socket_filter is available$/m);
  for (const line of bpf.stdout.split("\n").filter((l) => /EPERM/.test(l)))
    assert.match(line, /lacks CAP_|has the capabilities it needs/, `each EPERM says why: ${line}`);
});
