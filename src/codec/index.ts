/** Typed key/value codecs. */
export { type ArrayCodec, array } from "./array.js";
export { type BytesCodec, bytes, cstring } from "./bytes.js";
export { type AnyCodec, asBuffer, type Codec, decode, encode, type In, type Out } from "./codec.js";
export { bool, f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, u64n } from "./int.js";
export { type Fields, type StructCodec, type StructIn, type StructOut, struct } from "./struct.js";
