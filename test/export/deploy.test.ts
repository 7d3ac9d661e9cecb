/**
 * deploy/daemonset.yaml says which capabilities the exporter needs. No container runtime here, so
 * the test runs what the pod would run — its own ConfigMap's config, the files where the
 * Dockerfile puts them (/opt/rawbpf is this tree) — with exactly the capabilities the manifest
 * adds (setpriv: root's uid, nothing else in the bounding set), and then with each one taken away:
 * the kernel's answers show which are needed, and what the exporter says when one is missing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { needsRoot } from "../support/privilege.js";
import { needsSetpriv, runWithCapabilities } from "../support/setpriv.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

interface Manifest {
  kind: string;
  data?: Record<string, string>;
  spec?: {
    template: {
      spec: {
        containers: {
          securityContext: { privileged: boolean; capabilities: { drop: string[]; add: string[] } };
        }[];
      };
    };
  };
}

const docs = parseAllDocuments(readFileSync(join(root, "deploy/daemonset.yaml"), "utf8")).map(
  (d) => d.toJS() as Manifest,
);
const configMap = docs.find((d) => d.kind === "ConfigMap")!;
const container = docs.find((d) => d.kind === "DaemonSet")!.spec!.template.spec.containers[0]!;

function run(caps: readonly string[], config: string): { status: number | null; out: string; err: string } {
  const r = runWithCapabilities(caps, [
    process.execPath,
    join(root, "bin/rawbpf.js"),
    "export",
    config,
    "--check",
  ]);
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function sample(out: string, name: string): number {
  const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m").exec(out);
  assert.ok(m, `${name} in the output:\n${out.slice(0, 2000)}`);
  return Number(m[1]);
}

test("the DaemonSet's capabilities are enough for its own config, and each one is there for a reason", (t) => {
  if (!needsRoot(t) || !needsSetpriv(t)) return;
  const sc = container.securityContext;
  assert.equal(sc.privileged, false, "not a privileged container");
  assert.deepEqual(sc.capabilities.drop, ["ALL"], "everything else dropped");
  const caps = sc.capabilities.add;
  const dir = mkdtempSync(join(tmpdir(), "rawbpf-deploy-"));
  const pin = `/sys/fs/bpf/rawbpf-deploy-test-${process.pid}`;
  try {
    const text = configMap.data!["export.yaml"]!;
    assert.match(text, /\/opt\/rawbpf\//, "the config names files where the Dockerfile puts the package");
    const dockerfile = readFileSync(join(root, "deploy/Dockerfile"), "utf8");
    for (const [, file] of text.matchAll(/\/opt\/rawbpf\/(\S+)/g)) {
      const top = file!.split("/")[0]!;
      assert.match(
        dockerfile,
        new RegExp(`COPY .* \\./${top}\\b|COPY .*/${top} \\./${top}`),
        `the image has ${top}/`,
      );
    }
    const config = join(dir, "export.yaml");
    writeFileSync(config, text.replaceAll("/opt/rawbpf/", `${root}/`).replace(/pin: \S+/, `pin: ${pin}`));

    const all = run(caps, config);
    assert.equal(all.status, 0, `with ${caps.join(", ")}: ${all.err}`);
    assert.ok(sample(all.out, "rawbpf_program_run_count_total") > 0, "run counts on (CAP_SYS_ADMIN)");
    assert.match(all.out, /^rawbpf_syscalls_total\{syscall="\d+"\} [1-9]/m, "the map's counts");

    const without = (...gone: string[]) =>
      run(
        caps.filter((c) => !gone.includes(c)),
        config,
      );
    if (caps.includes("SYS_ADMIN")) {
      const r = without("SYS_ADMIN");
      assert.equal(r.status, 0, `without SYS_ADMIN the exporter still runs: ${r.err}`);
      assert.match(r.err, /run-time statistics are off .*needs CAP_SYS_ADMIN/, "and says which capability");
      assert.equal(sample(r.out, "rawbpf_program_run_count_total"), 0);
    }
    // CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON, so each is taken away with it
    const noBpf = without("BPF", "SYS_ADMIN");
    assert.equal(noBpf.status, 1, "no CAP_BPF: no maps");
    assert.match(noBpf.err, /programs\[0\].*EPERM \(needs CAP_BPF\)/);
    const noPerfmon = without("PERFMON", "SYS_ADMIN");
    assert.equal(noPerfmon.status, 1, "no CAP_PERFMON: no tracing program");
    assert.match(noPerfmon.err, /programs\[0\].*EPERM \(needs CAP_PERFMON\)/);
    // CAP_SYS_RESOURCE is for RLIMIT_MEMLOCK before Linux 5.11; later kernels charge the memory cgroup
    const [major = 0, minor = 0] = readFileSync("/proc/sys/kernel/osrelease", "utf8").split(".").map(Number);
    if (major > 5 || (major === 5 && minor >= 11))
      assert.equal(without("SYS_RESOURCE").status, 0, "memlock is not needed on this kernel");
  } finally {
    rmSync(pin, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
