/**
 * Test support: a minimal bpf() edge used by the verifier tests to make the real kernel emit real
 * verifier logs. It exists because the catalog's proof must come from this kernel, and the tests
 * must run before (and independently of) the project's own loader. Tests only; never imported by src.
 */
import koffi from "koffi";

const libc = koffi.load("libc.so.6");
const syscall = libc.func("long syscall(long number, int cmd, void *attr, unsigned int size)");
const closeFd = libc.func("int close(int fd)");
const SYS_BPF = 321; // x86_64

enum Cmd {
  MAP_CREATE = 0,
  MAP_UPDATE_ELEM = 2,
  PROG_LOAD = 5,
  BTF_LOAD = 18,
  MAP_FREEZE = 22,
}

function bpf(cmd: Cmd, attr: Buffer): { ret: number; errno: number } {
  const ret = Number(syscall(SYS_BPF, cmd, attr, attr.length));
  return { ret, errno: ret < 0 ? koffi.errno() : 0 };
}

const addr = (b: Buffer | null | undefined): bigint => (b && b.length > 0 ? BigInt(koffi.address(b)) : 0n);

/** One raw instruction slot, little-endian. */
export function raw(code: number, dst = 0, src = 0, off = 0, imm = 0): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(code, 0);
  b.writeUInt8((dst & 0xf) | ((src & 0xf) << 4), 1);
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm | 0, 4);
  return b;
}

/** Concatenate instruction slots. */
export function prog(...slots: Buffer[]): Buffer {
  return Buffer.concat(slots);
}

export interface LoadOptions {
  type: number;
  insns: Buffer;
  license?: string;
  logLevel?: number;
  expectedAttachType?: number;
  attachBtfId?: number;
  btfFd?: number;
  funcInfo?: Buffer;
  funcInfoCnt?: number;
  lineInfo?: Buffer;
  lineInfoCnt?: number;
  flags?: number;
  name?: string;
}

export interface LoadResult {
  fd: number;
  errno: number;
  log: string;
}

/** BPF_PROG_LOAD with a log buffer; closes the program if it loads. */
export function loadProgram(o: LoadOptions): LoadResult {
  const license = Buffer.from(`${o.license ?? "GPL"}\0`);
  const log = Buffer.alloc(1 << 22);
  const attr = Buffer.alloc(152);
  attr.writeUInt32LE(o.type, 0);
  attr.writeUInt32LE(o.insns.length / 8, 4);
  attr.writeBigUInt64LE(addr(o.insns), 8);
  attr.writeBigUInt64LE(addr(license), 16);
  attr.writeUInt32LE(o.logLevel ?? 2, 24);
  attr.writeUInt32LE(log.length, 28);
  attr.writeBigUInt64LE(addr(log), 32);
  attr.writeUInt32LE(o.flags ?? 0, 44);
  if (o.name) attr.write(o.name.slice(0, 15), 48, "latin1");
  attr.writeUInt32LE(o.expectedAttachType ?? 0, 68);
  attr.writeUInt32LE(o.btfFd ?? 0, 72);
  if (o.funcInfo) {
    attr.writeUInt32LE(8, 76);
    attr.writeBigUInt64LE(addr(o.funcInfo), 80);
    attr.writeUInt32LE(o.funcInfoCnt ?? o.funcInfo.length / 8, 88);
  }
  if (o.lineInfo) {
    attr.writeUInt32LE(16, 92);
    attr.writeBigUInt64LE(addr(o.lineInfo), 96);
    attr.writeUInt32LE(o.lineInfoCnt ?? o.lineInfo.length / 16, 104);
  }
  attr.writeUInt32LE(o.attachBtfId ?? 0, 108);
  const { ret, errno } = bpf(Cmd.PROG_LOAD, attr);
  const end = log.indexOf(0);
  const text = log.toString("latin1", 0, end < 0 ? log.length : end);
  if (ret >= 0) closeFd(ret);
  return { fd: ret, errno, log: text };
}

/** BPF_MAP_CREATE; returns the fd (caller closes with {@link close}). */
export function createMap(
  type: number,
  keySize: number,
  valueSize: number,
  maxEntries: number,
  flags = 0,
): number {
  const attr = Buffer.alloc(72);
  attr.writeUInt32LE(type, 0);
  attr.writeUInt32LE(keySize, 4);
  attr.writeUInt32LE(valueSize, 8);
  attr.writeUInt32LE(maxEntries, 12);
  attr.writeUInt32LE(flags, 16);
  const { ret, errno } = bpf(Cmd.MAP_CREATE, attr);
  if (ret < 0) throw new Error(`map create failed: errno ${errno}`);
  return ret;
}

/** BPF_MAP_UPDATE_ELEM. */
export function updateMap(fd: number, key: Buffer, value: Buffer): void {
  const attr = Buffer.alloc(32);
  attr.writeUInt32LE(fd, 0);
  attr.writeBigUInt64LE(addr(key), 8);
  attr.writeBigUInt64LE(addr(value), 16);
  const { ret, errno } = bpf(Cmd.MAP_UPDATE_ELEM, attr);
  if (ret < 0) throw new Error(`map update failed: errno ${errno}`);
}

/** BPF_MAP_FREEZE. */
export function freezeMap(fd: number): void {
  const attr = Buffer.alloc(8);
  attr.writeUInt32LE(fd, 0);
  const { ret, errno } = bpf(Cmd.MAP_FREEZE, attr);
  if (ret < 0) throw new Error(`map freeze failed: errno ${errno}`);
}

/** BPF_BTF_LOAD of a raw blob; returns the fd. */
export function loadBtf(blob: Buffer): number {
  const log = Buffer.alloc(65536);
  const attr = Buffer.alloc(40);
  attr.writeBigUInt64LE(addr(blob), 0);
  attr.writeBigUInt64LE(addr(log), 8);
  attr.writeUInt32LE(blob.length, 16);
  attr.writeUInt32LE(log.length, 20);
  attr.writeUInt32LE(1, 24);
  const { ret, errno } = bpf(Cmd.BTF_LOAD, attr);
  if (ret < 0)
    throw new Error(`btf load failed: errno ${errno}: ${log.toString("latin1", 0, log.indexOf(0))}`);
  return ret;
}

export function close(fd: number): void {
  closeFd(fd);
}

/**
 * A tiny raw BTF writer for tests: int, func_proto (no params or one int param), func, with
 * a string table. Enough for func_info / line_info.
 */
export class TinyBtf {
  private types: Buffer[] = [];
  private strs: string[] = [""];
  private strLen = 1;
  private count = 0;

  str(s: string): number {
    const off = this.strLen;
    this.strs.push(s);
    this.strLen += Buffer.byteLength(s) + 1;
    return off;
  }

  private push(nameOff: number, info: number, sizeOrType: number, extra?: Buffer): number {
    const b = Buffer.alloc(12);
    b.writeUInt32LE(nameOff, 0);
    b.writeUInt32LE(info >>> 0, 4);
    b.writeUInt32LE(sizeOrType, 8);
    this.types.push(extra ? Buffer.concat([b, extra]) : b);
    return ++this.count;
  }

  int(name: string, size = 4): number {
    const extra = Buffer.alloc(4);
    extra.writeUInt32LE((1 << 24) | (size * 8), 0); // signed, bits
    return this.push(this.str(name), 1 << 24, size, extra);
  }

  ptr(to: number): number {
    return this.push(0, 2 << 24, to);
  }

  proto(ret: number, params: Array<{ name: string; type: number }>): number {
    const extra = Buffer.alloc(8 * params.length);
    params.forEach((p, i) => {
      extra.writeUInt32LE(this.str(p.name), i * 8);
      extra.writeUInt32LE(p.type, i * 8 + 4);
    });
    return this.push(0, (13 << 24) | params.length, ret, extra);
  }

  /** linkage: 0 static, 1 global */
  func(name: string, proto: number, linkage: 0 | 1): number {
    return this.push(this.str(name), (12 << 24) | linkage, proto);
  }

  blob(): Buffer {
    const types = Buffer.concat(this.types);
    const strings = Buffer.from(`${this.strs.join("\0")}\0`, "latin1");
    const hdr = Buffer.alloc(24);
    hdr.writeUInt16LE(0xeb9f, 0);
    hdr.writeUInt8(1, 2);
    hdr.writeUInt8(0, 3);
    hdr.writeUInt32LE(24, 4);
    hdr.writeUInt32LE(0, 8);
    hdr.writeUInt32LE(types.length, 12);
    hdr.writeUInt32LE(types.length, 16);
    hdr.writeUInt32LE(strings.length, 20);
    return Buffer.concat([hdr, types, strings]);
  }
}

/** func_info records: (insn_off, type_id) pairs. */
export function funcInfo(...recs: Array<[number, number]>): Buffer {
  const b = Buffer.alloc(8 * recs.length);
  recs.forEach(([off, id], i) => {
    b.writeUInt32LE(off, i * 8);
    b.writeUInt32LE(id, i * 8 + 4);
  });
  return b;
}

/** line_info records: (insn_off, file_name_off, line_off, line, col). */
export function lineInfo(...recs: Array<[number, number, number, number, number]>): Buffer {
  const b = Buffer.alloc(16 * recs.length);
  recs.forEach(([off, file, line, ln, col], i) => {
    b.writeUInt32LE(off, i * 16);
    b.writeUInt32LE(file, i * 16 + 4);
    b.writeUInt32LE(line, i * 16 + 8);
    b.writeUInt32LE(((ln << 10) | (col & 0x3ff)) >>> 0, i * 16 + 12);
  });
  return b;
}
