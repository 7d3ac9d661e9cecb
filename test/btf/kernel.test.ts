import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { vmlinuxBtf } from "../../src/btf/kernel.js";
import { RawbpfError, readKernelBtfFile } from "../../src/sys/index.js";

test("vmlinuxBtf: the running kernel's BTF, every type bpftool lists, read and indexed once", () => {
  const btf = vmlinuxBtf();
  assert.equal(vmlinuxBtf(), btf);
  const raw = execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  const ids = raw.match(/^\[\d+\]/gm) ?? [];
  assert.equal(btf.typeCount, ids.length);
  assert.deepEqual(Buffer.from(readKernelBtfFile()), readFileSync("/sys/kernel/btf/vmlinux"));
});

test("readKernelBtfFile: BTF the kernel does not have is a RawbpfError naming the file", () => {
  assert.throws(
    () => readKernelBtfFile("rawbpf_no_such_module"),
    (e: unknown) =>
      e instanceof RawbpfError &&
      e.code === "ENOKERNELBTF" &&
      /cannot read \/sys\/kernel\/btf\/rawbpf_no_such_module \(ENOENT\): no module 'rawbpf_no_such_module' with BTF is loaded/.test(
        e.message,
      ),
  );
});
