/**
 * The explanation catalog: verifier messages (formats of Linux 6.x `kernel/bpf/verifier.c`) with the
 * rule in plain words, why the kernel enforces it, and how to fix it with rawbpf. Every entry is
 * proved by a test program that makes the running kernel print the message.
 */

/** One explained verifier message. */
export interface CatalogEntry {
  /** a stable identifier, e.g. `"null-pointer-dereference"` */
  readonly id: string;
  /** matches the kernel's message line */
  readonly pattern: RegExp;
  /** a one-line explanation, from the match */
  readonly summary: (m: RegExpExecArray) => string;
  /** the rule, in plain words */
  readonly rule: string;
  /** why the kernel enforces it */
  readonly why: string;
  /** how to fix it with rawbpf */
  readonly fix: string;
  /** the registers the message is about */
  readonly registers?: (m: RegExpExecArray) => number[];
  /** an instruction index the message names itself (`unreachable insn 7`) */
  readonly insn?: (m: RegExpExecArray) => number;
  /** the problem is the program's shape, found before any instruction is simulated */
  readonly structural?: boolean;
  /** applies only when this holds for the failing instruction's text (e.g. only at `exit`) */
  readonly when?: (insnText: string | undefined) => boolean;
}

const reg =
  (group: number) =>
  (m: RegExpExecArray): number[] =>
    m[group] !== undefined ? [Number(m[group])] : [];
const num = (group: number) => (m: RegExpExecArray) => Number(m[group]);

const NULL_TYPES = /_or_null|^ptr_$/;

/** The catalog, most specific entries first. */
export const CATALOG: readonly CatalogEntry[] = [
  {
    id: "null-pointer-dereference",
    pattern: /^R(\d+) invalid mem access '(\w*or_null\w*)'/,
    summary: (m) => `R${m[1]} may be NULL here (${m[2]}): check it against 0 before using it`,
    rule: "A pointer a helper may return as NULL (a map lookup, a ringbuf reservation, a socket lookup) must be compared with 0 before it is dereferenced.",
    why: "The helper returns NULL when the element does not exist; a load through NULL in the kernel would fault, so the verifier only lets you use the pointer on the path where it is known to be non-NULL.",
    fix: 'Right after the call, branch away when the pointer is 0: `if r0 == 0 goto out` in assembly, or `jeq(R0, 0, "out")` with the builder, and only dereference on the fall-through path.',
    registers: reg(1),
  },
  {
    id: "invalid-mem-access",
    pattern: /^R(\d+) invalid mem access '(\w+)'/,
    summary: (m) =>
      m[2] === "scalar"
        ? `R${m[1]} holds a plain number, not a pointer, and the program dereferences it`
        : `R${m[1]} is a ${m[2]}, which cannot be dereferenced this way`,
    rule: "Only registers the verifier knows to be valid pointers (to the stack, the context, a map value, a packet...) can be used as the base of a load or store. A number (`scalar`) is never a pointer, even if it holds an address.",
    why: "Reading or writing through an arbitrary number would let a program touch any kernel memory. The verifier tracks where each pointer comes from and refuses the rest.",
    fix: "Load from a register that holds a real pointer: keep the pointer a helper returned (not a copy that went through arithmetic that turned it into a number), or read kernel memory with the `probe_read_kernel` helper. Check the register's state below: the verifier says what it holds.",
    registers: reg(1),
  },
  {
    id: "wrong-argument-type",
    pattern: /^R(\d+) type=(\S+) expected=(.+)$/,
    summary: (m) => `helper argument R${m[1]} is a ${m[2]} but the helper wants ${m[3]}`,
    rule: "Each helper declares what every argument register must hold; the call is checked against that prototype.",
    why: "Helpers run in the kernel and trust their arguments: a context pointer passed where a map is expected would be read as a `struct bpf_map`.",
    fix: "Set the argument registers (R1..R5) right before the call: a map with `ldMapFd(R1, map)` (`r1 = map[name]`), a key/value pointer as `r2 = r10; r2 += -8` after writing the bytes there. Registers R1-R5 are clobbered by every call, so set them again after each one.",
    registers: reg(1),
  },
  {
    id: "unbounded-memory-access",
    pattern: /^R(\d+) unbounded memory access/,
    summary: (m) => `the offset added to R${m[1]} has no upper bound the verifier can prove`,
    rule: "A variable offset into a map value or other memory region must have an upper bound that keeps the access inside the region.",
    why: "Without a bound, the index could point anywhere after the value; the verifier must prove every access stays in bounds.",
    fix: "Bound the index before adding it: `if r1 > 7 goto out` (or `r1 &= 7`) so the verifier knows its maximum, then add it to the pointer.",
    registers: reg(1),
  },
  {
    id: "negative-min-value",
    pattern: /^R(\d+) min value is negative/,
    summary: (m) => `the offset added to R${m[1]} may be negative`,
    rule: "A variable offset into memory must be known to be non-negative (or not go below the start of the region).",
    why: "A negative index would read before the start of the map value or buffer, into other kernel memory.",
    fix: "Use an unsigned index, or check `if r1 s< 0 goto out` before the access; comparisons teach the verifier the bounds.",
    registers: reg(1),
  },
  {
    id: "min-value-out-of-range",
    pattern: /^R(\d+) min value is outside of the allowed memory range/,
    summary: (m) => `the smallest offset R${m[1]} may have is outside the memory region`,
    rule: "The whole range of offsets a pointer may have must be inside the region it points into.",
    why: "The verifier checks the smallest and largest possible address of every access.",
    fix: "Bound the offset with comparisons so both ends stay inside the region.",
    registers: reg(1),
  },
  {
    id: "map-value-out-of-bounds",
    pattern: /^invalid access to map value, value_size=(\d+) off=(-?\d+) size=(\d+)/,
    summary: (m) => `access of ${m[3]} bytes at offset ${m[2]} falls outside the ${m[1]}-byte map value`,
    rule: "Loads and stores through a map value pointer must stay within the map's value size.",
    why: "The value is a fixed-size kernel allocation; anything past it belongs to something else.",
    fix: "Fix the offset or size of the access, or create the map with a larger `valueSize`. When the offset is variable, bound it with a comparison first.",
  },
  {
    id: "packet-out-of-bounds",
    pattern: /^invalid access to packet, off=(-?\d+) size=(\d+), R(\d+)\(id=\d+,off=-?\d+,r=(\d+)\)/,
    summary: (m) =>
      `reading ${m[2]} bytes at offset ${m[1]} of the packet through R${m[3]}, but only ${m[4]} bytes were checked against data_end`,
    rule: "Before reading packet bytes, the program must compare the pointer plus the length with `data_end`; only the checked range can be accessed.",
    why: "A packet's length is known only at run time; reading past `data_end` would read beyond the buffer.",
    fix: "Compute the end of what you read and compare it with data_end: `r3 = r2; r3 += 14; if r3 > r4 goto drop` (R4 = ctx->data_end), then read through R2.",
    registers: reg(3),
  },
  {
    id: "pointer-math-unbounded",
    pattern: /^math between (\w+) pointer and register with unbounded min value is not allowed/,
    summary: (m) => `adding a number with no known lower bound to a ${m[1]} pointer`,
    rule: "Arithmetic on a pointer is allowed only with numbers whose range the verifier knows.",
    why: "An unbounded number could move the pointer anywhere, so every later access through it would be unverifiable.",
    fix: "Bound the number first (`r1 &= 0xff`, or `if r1 > 64 goto out` together with an unsigned type), then add it to the pointer.",
  },
  {
    id: "back-edge",
    pattern: /^back-edge from insn (\d+) to (\d+)/,
    summary: (m) => `a jump from instruction ${m[1]} back to ${m[2]} makes a loop, and loops need CAP_BPF`,
    rule: "Without CAP_BPF the program must be a directed acyclic graph: no jump may go backwards.",
    why: "Loops must be proved to terminate. The kernel only runs that (expensive) analysis for privileged loaders.",
    fix: "Load with CAP_BPF (and bounded loops then work), unroll the loop, or use the `bpf_loop` helper.",
    insn: num(1),
    structural: true,
  },
  {
    id: "infinite-loop",
    pattern: /^infinite loop detected at insn (\d+)/,
    summary: (m) => `the verifier came back to instruction ${m[1]} in the same state: this loop never ends`,
    rule: "Every loop must make progress: reaching the same instruction with an identical state means it can run forever.",
    why: "A program that never returns would hang the CPU it runs on.",
    fix: "Make the loop variable change on every iteration and test it against a bound (`r1 += 1; if r1 < 100 goto loop`), or use `bpf_loop`/`may_goto`.",
    insn: num(1),
  },
  {
    id: "program-too-complex",
    pattern: /^BPF program is too large\. Processed (\d+) insn/,
    summary: (m) => `the verifier gave up after simulating ${m[1]} instructions (limit 1,000,000)`,
    rule: "The verifier simulates every path; the total number of simulated instructions is capped at one million.",
    why: "The cap keeps loading time bounded. Long loops and many branches multiply the paths.",
    fix: "Shorten loops (smaller bounds), use `bpf_loop` for long iterations, split work into subprograms or tail calls, and reduce branches that create distinct states.",
  },
  {
    id: "uninitialized-stack-read",
    pattern: /^invalid (?:indirect )?read from stack R(\d+) off[= ](-?\d+)(?:\+\d+)? size[= ](\d+)/,
    summary: (m) => `R${m[1]} points at ${m[3]} stack bytes at ${m[2]} that were never written`,
    rule: "Stack memory must be written before it is read (or passed to a helper) when the loader lacks CAP_PERFMON.",
    why: "Uninitialised stack holds whatever the previous kernel code left there: reading it could leak kernel data to an unprivileged program.",
    fix: "Store to the bytes first (`*(u64 *)(r10 -8) = 0`) before passing their address, or load with CAP_PERFMON.",
    registers: reg(1),
  },
  {
    id: "return-value-unset",
    pattern: /^R0 !read_ok/,
    when: (asm) => asm === undefined || asm === "exit",
    summary: () => "the program exits without setting R0, its return value",
    rule: "R0 holds the return value; it must be written before `exit` (and after the last helper call, which sets it).",
    why: "The kernel acts on the return value (drop or pass a packet, allow or deny); an unset register would be garbage.",
    fix: "Put `r0 = 0` (or the value you mean: `mov(R0, 2)` for XDP_PASS) before `exit`.",
    registers: () => [0],
  },
  {
    id: "uninitialized-register",
    pattern: /^R(\d+) !read_ok/,
    summary: (m) => `R${m[1]} is read before anything was written to it`,
    rule: "A register must be written before it is read. Calls clobber R1-R5: after a call only R0 (the result) and R6-R9 are readable.",
    why: "An uninitialised register holds garbage left by the kernel, possibly a kernel address.",
    fix: "Assign the register before use; keep values needed after a call in R6-R9 (callee-saved), not in R1-R5.",
    registers: reg(1),
  },
  {
    id: "unreachable-insn",
    pattern: /^unreachable insn (\d+)/,
    summary: (m) => `instruction ${m[1]} can never run`,
    rule: "Every instruction must be reachable from the start of the program or of a subprogram.",
    why: "Dead code is often a mistake in jump offsets; refusing it keeps programs analysable.",
    fix: "Remove the dead instructions or fix the jump that should reach them. With the builder, labels compute offsets for you.",
    insn: num(1),
    structural: true,
  },
  {
    id: "jump-out-of-range",
    pattern: /^jump out of range from insn (\d+) to (-?\d+)/,
    summary: (m) => `instruction ${m[1]} jumps to ${m[2]}, outside the program`,
    rule: "Every jump target must be an instruction of the same program.",
    why: "Jumping outside the program would execute arbitrary memory.",
    fix: "Fix the jump offset (it counts from the next instruction, in 8-byte slots; ld_imm64 takes two). Use labels with the builder or the assembler to avoid counting.",
    insn: num(1),
    structural: true,
  },
  {
    id: "missing-func-info",
    pattern: /^missing btf func_info/,
    summary: () => "taking a function's address (for a callback) needs BTF func_info",
    rule: "A `ld_imm64` of a function (src=4, a callback for `bpf_loop`, `for_each_map_elem`, timers) is only allowed when the program has BTF func_info describing its functions.",
    why: "The verifier checks the callback's prototype and linkage, which only BTF provides.",
    fix: "Let rawbpf emit func_info: define the callback as a builder function and load the built program (rawbpf emits BTF for multi-function programs), or pass `btf` and `funcInfo` to `Program.load`.",
    structural: true,
  },
  {
    id: "callback-not-static",
    pattern: /^callback function not static/,
    summary: () => "a callback function is declared global in BTF; callbacks must be static",
    rule: "A function used as a callback must have static linkage in its BTF FUNC record.",
    why: "Global functions are verified once, independently of their callers; a callback's arguments depend on the helper that calls it.",
    fix: "Give the callback static linkage (BTF_FUNC_STATIC, 0) in the func_info's FUNC type; with the builder mark it as a callback function.",
    structural: true,
  },
  {
    id: "not-readonly-map",
    pattern: /^R(\d+) does not point to a readonly map/,
    summary: (m) => `R${m[1]} must point into a read-only (frozen) map, e.g. for a constant string`,
    rule: "Arguments declared as constant strings (the format of `bpf_snprintf`, the second string of `bpf_strncmp`) must point into a map the program can only read, and which is frozen.",
    why: "The verifier reads the string at load time; only a frozen, program-read-only map guarantees it will not change afterwards.",
    fix: "Create the map with the BPF_F_RDONLY_PROG flag, write the string, freeze it (`map.freeze()`), then pass `ldMapValue(R3, map, offset)`.",
    registers: reg(1),
  },
  {
    id: "string-not-terminated",
    pattern: /^string is not zero-terminated/,
    summary: () => "the constant string argument has no NUL byte inside the map value",
    rule: "A constant string argument must end with a zero byte within the map value.",
    why: "The kernel reads the string up to its terminator; without one it would run past the value.",
    fix: "Write a trailing `\\0` into the read-only map value (make the value one byte larger) before freezing the map.",
  },
  {
    id: "unreleased-reference",
    pattern: /^Unreleased reference id=(\d+) alloc_insn=(\d+)/,
    summary: (m) => `the reference acquired at instruction ${m[2]} is never released on this path`,
    rule: "Every acquired reference (a ringbuf reservation, a socket from `sk_lookup_*`, a kptr) must be released (submit/discard, `sk_release`...) on every path before exit.",
    why: "An unreleased reference leaks kernel memory or keeps an object alive forever.",
    fix: "On every path after the acquiring call (including error paths), call the matching release helper: `ringbuf_submit` or `ringbuf_discard`, `sk_release`. Check for NULL first: NULL needs no release.",
    insn: num(2),
  },
  {
    id: "helper-not-allowed-here",
    pattern: /^helper call is not allowed in probe/,
    summary: () => "this helper may not be called from the function or hook this program attaches to",
    rule: "Some helpers (such as `bpf_d_path`) are allowed only for certain attach points, listed in the kernel.",
    why: "Calling them from arbitrary functions could deadlock or touch objects in an inconsistent state.",
    fix: "Attach to a function on the helper's allow list (for `bpf_d_path`: e.g. `security_file_open` via LSM or fentry on allowed functions), or get the data another way.",
  },
  {
    id: "unknown-helper",
    pattern: /^(?:invalid func|unknown func) (\S+)#(-?\d+)/,
    summary: (m) => `helper number ${m[2]} does not exist in this kernel`,
    rule: "A call's immediate must be the number of a helper this kernel has.",
    why: "The helper table is indexed by that number.",
    fix: 'Call helpers by name (`call("map_lookup_elem")`, `call bpf_map_lookup_elem`) so rawbpf fills the number from its helper table, and check that the kernel is new enough for the helper.',
  },
  {
    id: "helper-not-for-program-type",
    pattern: /^program of this type cannot use helper (\S+)#(\d+)/,
    summary: (m) => `${m[1]} is not available to this program type`,
    rule: "Each program type has its own set of helpers.",
    why: "Helpers depend on the context they run in (a packet helper needs a packet, a tracing helper needs a task).",
    fix: "Use a program type that offers the helper (`bpftool feature probe` lists them), or a different helper.",
  },
  {
    id: "gpl-only-helper",
    pattern: /^cannot call GPL-restricted function from non-GPL compatible program/,
    summary: () => "this helper is only for GPL-compatible programs",
    rule: "Helpers marked gpl_only may be called only by programs whose license is GPL-compatible.",
    why: "Those helpers expose kernel internals that the kernel's license reserves to GPL code.",
    fix: 'Load with `license: "GPL"` (or "Dual MIT/GPL" etc.) if your program\'s license allows it.',
  },
  {
    id: "frame-pointer-read-only",
    pattern: /^frame pointer is read only/,
    summary: () => "the program writes R10, the frame pointer",
    rule: "R10 is the read-only frame pointer.",
    why: "Stack accesses are checked relative to R10; changing it would break every stack check.",
    fix: "Copy it first and change the copy: `r2 = r10; r2 += -8`.",
    registers: () => [10],
  },
  {
    id: "stack-out-of-bounds",
    pattern: /^invalid (?:write to|read from|indirect access to) stack R(\d+) off=(-?\d+) size=(\d+)/,
    summary: (m) => `stack access of ${m[3]} bytes at ${m[2]} is outside the 512-byte stack`,
    rule: "Stack accesses must be within [-512, 0) relative to R10.",
    why: "Each program has at most 512 bytes of stack; beyond it is other kernel memory.",
    fix: "Use offsets from -512 to -1 relative to R10; keep large data in a per-CPU array map instead of the stack.",
    registers: reg(1),
  },
  {
    id: "misaligned-stack-access",
    pattern: /^misaligned stack access off (\S+) size (\d+)/,
    summary: (m) => `a ${m[2]}-byte stack access at ${m[1]} is not aligned to ${m[2]} bytes`,
    rule: "Stack accesses must be naturally aligned (8-byte accesses at multiples of 8).",
    why: "The verifier tracks the stack in 8-byte slots; misaligned accesses would straddle them.",
    fix: "Align the offset: an 8-byte store at -8, -16..., a 4-byte one at a multiple of 4.",
  },
  {
    id: "invalid-context-access",
    pattern: /^invalid bpf_context access off=(-?\d+) size=(\d+)/,
    summary: (m) => `the context has no field the program may access at offset ${m[1]} (size ${m[2]})`,
    rule: "Only certain fields of the context (`struct __sk_buff`, `struct xdp_md`...) can be accessed, each with its own size and permissions.",
    why: "The context is rewritten into accesses to the real kernel structure; only the mapped fields exist.",
    fix: 'Check the offset and size against the context struct for this program type (`rawbpf btf dump` shows `struct __sk_buff`); read 4-byte fields with `ldx("w", ...)`.',
  },
  {
    id: "modified-context-pointer",
    pattern: /^dereference of modified ctx ptr R(\d+) off=(-?\d+) disallowed/,
    summary: (m) =>
      `R${m[1]} is the context pointer moved by ${m[2]}; the context must be accessed through the original pointer`,
    rule: "Context fields are read as `*(size *)(ctx + constant)`: the pointer itself must not be changed.",
    why: "The kernel rewrites context accesses by their constant offset; a moved pointer hides it.",
    fix: "Do not add to R1; put the offset in the load instead: `r0 = *(u32 *)(r1 +4)`.",
    registers: reg(1),
  },
  {
    id: "division-by-zero",
    pattern: /^div by zero/,
    summary: () => "division or modulo by the constant 0",
    rule: "Dividing by an immediate zero is refused.",
    why: "It is always a bug (division by a register that is zero at run time gives 0 instead).",
    fix: "Use a non-zero divisor.",
  },
  {
    id: "last-insn-not-exit",
    pattern: /^last insn is not an exit or jmp/,
    summary: () => "the program can run off its end: the last instruction must be `exit` or a jump",
    rule: "The last instruction of the program (and of each subprogram) must be `exit` or an unconditional jump.",
    why: "Falling off the end would execute whatever memory follows.",
    fix: "End with `exit()` (with R0 set).",
    structural: true,
  },
  {
    id: "invalid-opcode",
    pattern: /^(?:unknown opcode ([0-9a-f]+)|invalid BPF_\w+ opcode ([0-9a-fx]+))/,
    summary: (m) => `0x${m[1] ?? m[2]} is not an instruction this kernel knows`,
    rule: "Every opcode must be a valid eBPF instruction for this kernel.",
    why: "Unknown opcodes cannot be verified or JIT-compiled.",
    fix: "Build instructions with the builder or the assembler rather than raw bytes; `rawbpf disasm` shows what the bytes decode to.",
    structural: true,
  },
  {
    id: "map-pointer-arithmetic",
    pattern: /^R(\d+) pointer arithmetic on (\w+) prohibited/,
    summary: (m) => `R${m[1]} is a ${m[2]}: arithmetic on it is not allowed`,
    rule: "Some pointer types (map pointers, socket pointers, pointers that may be NULL) cannot be moved with arithmetic.",
    why: "They point at kernel objects the program may only hand to helpers, not index.",
    fix: "Pass the pointer as is; to reach a map's data call `map_lookup_elem` and do arithmetic on the value pointer it returns (after the NULL check).",
    registers: reg(1),
  },
  {
    id: "bad-return-value",
    pattern: /^At program exit the register R0 (?:has|is) (.+?) should have been in (.+)$/,
    summary: (m) => `the program may return ${m[1]}, but this program type must return a value in ${m[2]}`,
    rule: "Some program types accept only certain return values (cgroup programs: 0 or 1; LSM: 0 or a negative errno).",
    why: "The kernel interprets the return value as a verdict; anything else is meaningless.",
    fix: "Set R0 to one of the allowed values before every `exit`.",
    registers: () => [0],
  },
  {
    id: "reserved-fields",
    pattern: /^(BPF_\w+) uses reserved fields/,
    summary: (m) => `a ${m[1]} instruction has non-zero bits in fields that must be zero`,
    rule: "Fields an instruction does not use (registers, offset, immediate) must be zero.",
    why: "They are reserved for future encodings.",
    fix: "Encode the instruction with the builder or assembler; `rawbpf disasm` shows which field is set.",
    structural: true,
  },
  {
    id: "sleeping-helper",
    pattern: /^helper call might sleep in a non-sleepable prog/,
    summary: () => "this helper may sleep, and this program runs where sleeping is not allowed",
    rule: "Helpers that may sleep (copy_from_user, d_path on some paths...) need a sleepable program.",
    why: "Most programs run in atomic context (interrupts, locks held) where sleeping would deadlock.",
    fix: "Load the program as sleepable (flag BPF_F_SLEEPABLE, for fentry/lsm/uprobe types that allow it) or use the non-sleeping variant (`probe_read_user`).",
  },
  {
    id: "call-stack-too-deep",
    pattern: /^the call stack of (\d+) frames is too deep/,
    summary: (m) => `bpf-to-bpf calls nest ${m[1]} deep; the limit is 8 frames`,
    rule: "Calls between BPF functions may nest at most 8 frames.",
    why: "Each frame uses kernel stack; the depth is bounded to keep the total small.",
    fix: "Flatten the call chain (inline small functions), or use tail calls.",
  },
  {
    id: "combined-stack-too-large",
    pattern: /^combined stack size of (\d+) calls is (\d+)\. Too large/,
    summary: (m) => `${m[1]} nested functions use ${m[2]} bytes of stack together; the limit is 512`,
    rule: "The stack of all frames on a call chain together must fit in 512 bytes.",
    why: "BPF runs on the kernel's own small stack.",
    fix: "Use less stack in the nested functions, or move buffers to a per-CPU array map.",
  },
  {
    id: "variable-context-access",
    pattern: /^variable ctx access var_off=(\(.+?\)) disallowed/,
    summary: (m) => `the context is accessed at a variable offset ${m[1]}`,
    rule: "Context fields must be accessed at constant offsets.",
    why: "The kernel rewrites each context access by its offset at load time.",
    fix: "Read the fields at constant offsets and choose between them with branches.",
  },
  {
    id: "kfunc-not-allowed",
    pattern: /^calling kernel function (\S+) is not allowed/,
    summary: (m) => `the kernel function ${m[1]} is not available to this program type`,
    rule: "Each kfunc is registered for specific program types.",
    why: "kfuncs assume a context (a task, a cgroup, a packet) the program type provides.",
    fix: "Use a program type the kfunc is registered for, or another kfunc.",
  },
  {
    id: "invalid-map-fd",
    pattern: /^fd (-?\d+) is not pointing to valid bpf_map/,
    summary: (m) => `the ld_imm64 refers to descriptor ${m[1]}, which is not a map`,
    rule: "A map reference (`ld_imm64` with src=1) must hold the descriptor of a map open in this process.",
    why: "The kernel replaces the descriptor with the map's address at load time.",
    fix: "Refer to maps by name in the builder or assembler and pass `maps` to `Program.load`; keep the map open until the program is loaded.",
  },
  {
    id: "invalid-ld-imm64",
    pattern: /^invalid (?:BPF_LD_IMM|bpf_ld_imm64) insn/i,
    summary: () => "a 64-bit immediate load (ld_imm64) is malformed: its second slot is missing or wrong",
    rule: "`ld_imm64` takes two 8-byte slots; the second must have opcode 0 and zero registers and offset.",
    why: "The two slots form one instruction; a broken pair cannot be decoded.",
    fix: "Emit it with `ldImm64`/`ldMapFd` (builder) or `r1 = 0x... ll` (assembler); never split the two slots with a jump target.",
    structural: true,
  },
];

/** Looks up an entry by id. */
export function catalogEntry(id: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.id === id);
}

/** True when the type name is one the verifier uses for a pointer that may be NULL. */
export function mayBeNull(type: string): boolean {
  return NULL_TYPES.test(type);
}
