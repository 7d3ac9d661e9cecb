/** BTF: the type model, builder, encoder, lazy decoder, printers, func/line info and loading. */
export { BtfBuilder, type MemberSpec } from "./builder.js";
export { type CFormatOptions, formatC, formatCBytes, formatCBytesOfBlob } from "./c.js";
export { Btf, type BtfHeader, type BtfParseOptions, POINTER_SIZE } from "./decode.js";
export { encodeBtf } from "./encode.js";
export { BtfError } from "./errors.js";
export {
  decodeFuncInfo,
  decodeLineInfo,
  encodeFuncInfo,
  encodeLineInfo,
  FUNC_INFO_SIZE,
  type FuncInfo,
  LINE_INFO_SIZE,
  type LineInfo,
  type ProgramBtf,
  type ProgramFunction,
  programBtf,
  type SourceLine,
} from "./ext.js";
export { formatJson } from "./json.js";
export { type KernelBtfObject, parseKernelBtf, readBtfById, vmlinuxBtf } from "./kernel.js";
export { Kind } from "./kinds.js";
export { BtfLoadError, type LoadedBtf, loadBtf } from "./load.js";
export { formatRaw, formatRawBytes, formatRawBytesOfBlob, rawType } from "./raw.js";
export { StringTable } from "./strings.js";
export type * from "./types.js";
export { type BtfValue, formatValue } from "./value.js";
