/** The native edge: everything that talks to the kernel goes through here. */
export * from "./bpf.js";
export * from "./btf.js";
export * from "./caps.js";
export * from "./errno.js";
export * from "./error.js";
export * from "./fd.js";
export * from "./layout.js";
export * from "./link.js";
export * from "./map.js";
export * from "./obj.js";
export * from "./perf.js";
export * from "./prog.js";
export * from "./ringbuf.js";
export * from "./socket.js";
