/**
 * One section of an ELF64 object by name (`.BTF` of a clang object, for `rawbpf btf dump`). Pure
 * and bounds-checked: a damaged file is an InputError, never another exception. The object loader
 * (src/elf) will replace this small reader.
 */
import { InputError } from "../sys/error.js";

/** The bytes of section `name` of the ELF object `bytes`, or undefined when it has none. */
export function elfSection(bytes: Uint8Array, name: string, file: string): Uint8Array | undefined {
  const bad = (why: string) => new InputError(`${file} is a damaged or unsupported ELF object: ${why}`);
  if (bytes.length < 64) throw bad("shorter than an ELF header");
  if (bytes[4] !== 2) throw bad("not a 64-bit object (BPF objects are ELF64)");
  if (bytes[5] !== 1) throw bad("not little-endian (a bpfeb object?); only little-endian objects are read");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number) => {
    const v = view.getBigUint64(at, true);
    return v > BigInt(bytes.length) ? Number.POSITIVE_INFINITY : Number(v);
  };
  const shoff = u64(0x28);
  const shentsize = view.getUint16(0x3a, true);
  let shnum = view.getUint16(0x3c, true);
  let shstrndx = view.getUint16(0x3e, true);
  if (shoff === 0) return undefined;
  if (shentsize < 64 || shoff + 64 > bytes.length) throw bad("its section headers are outside the file");
  if (shnum === 0) shnum = Math.min(u64(shoff + 0x20), 1 << 20);
  if (shstrndx === 0xffff) shstrndx = view.getUint32(shoff + 0x28, true);
  if (shoff + shnum * shentsize > bytes.length) throw bad("its section headers are outside the file");
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    const offset = u64(at + 0x18);
    const size = u64(at + 0x20);
    const type = view.getUint32(at + 4, true);
    if (type !== 8 /* SHT_NOBITS */ && offset + size > bytes.length)
      throw bad(`section ${i} lies outside the file`);
    return { nameAt: view.getUint32(at, true), offset, size, type };
  };
  if (shstrndx >= shnum) throw bad("no section name table");
  const names = section(shstrndx);
  const want = new TextEncoder().encode(`${name}\0`);
  for (let i = 1; i < shnum; i++) {
    const s = section(i);
    const at = names.offset + s.nameAt;
    if (s.nameAt + want.length > names.size) continue;
    let same = true;
    for (let k = 0; k < want.length && same; k++) same = bytes[at + k] === want[k];
    if (same) return s.type === 8 ? new Uint8Array(0) : bytes.subarray(s.offset, s.offset + s.size);
  }
  return undefined;
}
