import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { vmlinuxBtf } from "../../src/btf/kernel.js";
import { mapKernelBtfFile, RawbpfError, readKernelBtfFile } from "../../src/sys/index.js";

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
  assert.ok(
    Buffer.from(btf.bytes.buffer, btf.bytes.byteOffset, btf.bytes.length).equals(
      readFileSync("/sys/kernel/btf/vmlinux"),
    ),
    "vmlinuxBtf's bytes (mapped or read) are the file's",
  );
});

test("mapKernelBtfFile: vmlinux mapped where the kernel allows it (6.16+) holds the file's bytes; elsewhere undefined", () => {
  const [major, minor] = execFileSync("uname", ["-r"], { encoding: "utf8" }).split(".").map(Number) as [
    number,
    number,
  ];
  const mapped = mapKernelBtfFile("/sys/kernel/btf/vmlinux");
  if (major > 6 || (major === 6 && minor >= 16))
    assert.ok(mapped, `Linux ${major}.${minor} maps vmlinux BTF`);
  if (mapped) {
    const file = readFileSync("/sys/kernel/btf/vmlinux");
    assert.equal(mapped.length, file.length);
    assert.ok(
      Buffer.from(mapped.buffer, mapped.byteOffset, mapped.length).equals(file),
      "the mapping holds the file",
    );
  }
  assert.equal(mapKernelBtfFile("/sys/kernel/btf/rawbpf_no_such_module"), undefined);
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
