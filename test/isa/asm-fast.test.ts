/**
 * The kernel dialect's fast path (src/isa/asm/fast.ts) against the general path (lexer, parser,
 * validation): on valid lines in every spelling, and on garbage made from near misses, both must
 * give the same program (instructions, line info, bytes) or the same errors, word for word.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { assembleSource, encodeAssembled } from "../../src/isa/asm/assemble.js";
import { AsmErrors, type AsmProgram } from "../../src/isa/asm/index.js";
import { disassemble } from "../../src/isa/disasm.js";
import { encode } from "../../src/isa/encode.js";
import { arbitraryInstruction, arbitraryProgram } from "./arbitrary.js";

type Outcome = { ok: true; program: AsmProgram; bytes: Buffer } | { ok: false; message: string };

function run(source: string, fast: boolean): Outcome {
  try {
    const program = assembleSource(source, { file: "t.s", dialect: "kernel" }, fast);
    return { ok: true, program, bytes: Buffer.from(encodeAssembled(program)) };
  } catch (e) {
    if (!(e instanceof AsmErrors)) throw e;
    return { ok: false, message: e.message };
  }
}

/** Both paths give the same outcome (deepStrictEqual tells -0 from 0). */
function same(source: string): void {
  const fast = run(source, true);
  const general = run(source, false);
  if (!general.ok || !fast.ok) {
    assert.deepEqual(
      fast.ok ? "assembled" : fast.message,
      general.ok ? "assembled" : general.message,
      JSON.stringify(source),
    );
    return;
  }
  assert.deepEqual(fast.bytes, general.bytes, JSON.stringify(source));
  assert.deepStrictEqual(fast.program.insns, general.program.insns, JSON.stringify(source));
  assert.deepStrictEqual(fast.program.lineInfo, general.program.lineInfo, JSON.stringify(source));
  assert.deepStrictEqual(fast.program.functions, general.program.functions, JSON.stringify(source));
}

/** Blanks the lexer skips, comments, and line ends. */
const blank = fc.constantFrom("", "", " ", "  ", "\t", " \t", "\r");
const comment = fc.constantFrom("", "", "", " # note", "; x", "// y", "#", " ;");
const lineEnd = fc.constantFrom("\n", "\n", "\r\n");

/** A line's text spread over tokens with random blanks between them (where the lexer allows). */
function respaced(line: string, blanks: string[]): string {
  // split before and after punctuation and at blanks; rejoin with the given blanks
  const parts =
    line
      .trim()
      .match(/0x[0-9a-f]+|[A-Za-z0-9_.$#]+|s(?:>>=|<=|>=|<|>|\/=|%=)|<<=|>>=|[=!<>+\-*/%&|^]=|\S/g) ?? [];
  let out = "";
  for (let k = 0; k < parts.length; k++) {
    out += parts[k];
    const b = blanks[k % blanks.length] ?? " ";
    // a separator is needed between two word-like tokens
    const next = parts[k + 1];
    const wordy = (x: string | undefined) => x !== undefined && /^[A-Za-z0-9_.$]/.test(x);
    out += b === "" && wordy(parts[k]) && wordy(next) ? " " : b;
  }
  return out;
}

const validLine = fc
  .tuple(arbitraryInstruction, fc.array(blank, { minLength: 1, maxLength: 6 }), blank, comment)
  .map(([i, blanks, lead, note]) => {
    const text = disassemble(encode([i]), { labels: false, helperNames: false }).trim();
    return lead + respaced(text, blanks) + note;
  });

test("valid instructions in any spacing, with comments and CRLF: the same program both ways", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(validLine, lineEnd), { minLength: 1, maxLength: 20 }), (lines) => {
      same(lines.map(([l, e]) => l + e).join(""));
    }),
    { numRuns: 400 },
  );
});

test("whole disassembled programs (labels, helper names, calls): the same program both ways", () => {
  fc.assert(
    fc.property(arbitraryProgram, fc.boolean(), fc.boolean(), (insns, labels, helperNames) => {
      same(disassemble(encode(insns), { labels, helperNames }));
    }),
    { numRuns: 300 },
  );
});

/** Words, numbers and operators of the kernel dialect, and near misses of them. */
/** The ALU assignment operators of the kernel dialect. */
const ALU_ASSIGN = ["+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "s>>=", "s/=", "s%="];

const vocabulary = [
  "r0",
  "r1",
  "r10",
  "r11",
  "w0",
  "w3",
  "w10",
  "w11",
  "r01",
  "r1.",
  "r1_",
  "r$",
  "R1",
  "%r1",
  "rr",
  "0",
  "1",
  "-1",
  "+7",
  "- 5",
  "0x10",
  "0X1f",
  "0x",
  "0xg",
  "08",
  "1a",
  "4294967295",
  "4294967296",
  "-2147483648",
  "-2147483649",
  "32767",
  "32768",
  "-32768",
  "-32769",
  "-0",
  "0xffffffffffffffff",
  "0x10000000000000000",
  "9007199254740993",
  "0x1fffffffffffff",
  "=",
  "==",
  "!=",
  ...ALU_ASSIGN,
  "<<",
  ">>",
  "<",
  ">",
  "<=",
  ">=",
  "s<",
  "s>",
  "s<=",
  "s>=",
  "&",
  "|",
  "^",
  "!",
  "+",
  "-",
  "*",
  "/",
  "(",
  ")",
  "[",
  "]",
  ",",
  ":",
  "#",
  "#1",
  ";",
  "//",
  '"',
  '"s"',
  "\t",
  "\r",
  "é",
  "u8",
  "u16",
  "u32",
  "u64",
  "s8",
  "s16",
  "s32",
  "s64",
  "u7",
  "*(u32 *)",
  "(s8)",
  "(u8)",
  "exit",
  "call",
  "callx",
  "goto",
  "gotol",
  "may_goto",
  "if",
  "lock",
  "skb",
  "ll",
  "pc",
  "kfunc",
  "bswap16",
  "bswap32",
  "bswap64",
  "bswap8",
  "be16",
  "be64",
  "le32",
  "le8",
  "addr_space_cast",
  "xchg_64",
  "xchg32_32",
  "cmpxchg_64",
  "cmpxchg32_32",
  "atomic_fetch_add",
  "atomic64_fetch_or",
  "atomic_fetch_and",
  "atomic64_fetch_xor",
  "atomic_xchg",
  "atomic64_cmpxchg",
  "atomic_fetch_sub",
  "load_acquire",
  "store_release",
  "map_fd",
  "map",
  "func",
  "btf_id",
  "label",
  "exit#1",
  "foo:",
  "12:",
  "(bf)",
  ".type",
  "\n",
];

/** A valid line with tokens replaced, inserted or removed: mostly near misses. */
const mutatedLine = fc
  .tuple(
    validLine,
    fc.array(
      fc.tuple(fc.nat(), fc.constantFrom("replace", "insert", "delete"), fc.constantFrom(...vocabulary)),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([line, edits]) => {
    const parts = line.split(/(\s+)/);
    for (const [at, kind, word] of edits) {
      const k = parts.length === 0 ? 0 : at % parts.length;
      if (kind === "replace") parts[k] = word;
      else if (kind === "insert") parts.splice(k, 0, word);
      else parts.splice(k, 1);
    }
    return parts.join("");
  });

/** A valid line with characters replaced, inserted or removed. */
const characters = ' \t\r()[]*=+-<>s&|^%/;#,:!.$_0123456789abcdefxlruw"';
const garbledLine = fc
  .tuple(
    validLine,
    fc.array(fc.tuple(fc.nat(), fc.nat({ max: 2 }), fc.nat({ max: characters.length - 1 })), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([line, edits]) => {
    let s = line;
    for (const [at, kind, c] of edits) {
      const k = s.length === 0 ? 0 : at % (s.length + 1);
      const ch = characters[c] as string;
      if (kind === 0) s = s.slice(0, k) + ch + s.slice(k + 1);
      else if (kind === 1) s = s.slice(0, k) + ch + s.slice(k);
      else s = s.slice(0, k) + s.slice(k + 1);
    }
    return s;
  });

/** Pieces of the instruction forms, valid ones and near misses, for {@link formLine}. */
const pieces: Record<string, readonly string[]> = {
  R: ["r0", "r1", "r5", "r10", "r11", "w0", "w1", "w5", "w10", "w11", "r01", "r99", "r"],
  S: ["u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "u7"],
  N: [
    "0",
    "1",
    "7",
    "-1",
    "-0",
    "+3",
    "0x7fff",
    "0x8000",
    "32767",
    "-32768",
    "-32769",
    "65535",
    "65536",
    "0x7fffffff",
    "0x80000000",
    "4294967295",
    "4294967296",
    "-2147483648",
    "-2147483649",
    "0xffffffffffffffff",
    "0x10000000000000000",
    "9007199254740993",
    "0x20000000000000",
    "1x",
  ],
  O: ["", " + 4", " - 4", "+0", "-0", " + 32767", " + 32768", " - 32768", " - 32769", " + -4", " 4", " + r1"],
  A: [...ALU_ASSIGN, "=", "==", "<<", "s>>", "+"],
  C: ["==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&", "=", "&=", ">>", "<<", "s>>", "!"],
  W: ["bswap16", "bswap32", "bswap64", "be16", "be32", "be64", "le16", "le32", "le64", "bswap8", "le8", "be"],
  X: ["xchg_64", "xchg32_32", "cmpxchg_64", "cmpxchg32_32", "xchg_32"],
  T: [
    "atomic_fetch_add",
    "atomic_fetch_or",
    "atomic_fetch_and",
    "atomic_fetch_xor",
    "atomic_xchg",
    "atomic_cmpxchg",
    "atomic64_fetch_add",
    "atomic64_xchg",
    "atomic64_cmpxchg",
    "atomic_fetch_sub",
    "atomic64_",
  ],
};
const forms = [
  "R = *(S *)(RO)",
  "*(S *)(RO) = R",
  "*(S *)(RO) = N",
  "R A R",
  "R A N",
  "R = R",
  "R = N",
  "R = N ll",
  "if R C R goto N",
  "if R C N goto N",
  "if R C N goto",
  "R = (S)R",
  "R = -R",
  "R = W R",
  "R = addr_space_cast(R, N, N)",
  "R = X(RO, R)",
  "R = X(RO, R, R)",
  "R = T((S *)(RO), R)",
  "R = T((S *)(RO), R, R)",
  "lock *(S *)(RO) A R",
  "R = *(S *)skb[N]",
  "R = *(S *)skb[RO]",
  "goto N",
  "gotol N",
  "may_goto N",
  "call N",
  "callx R",
  "exit",
];

/** A line of one of the forms, each piece picked among valid ones and near misses, respaced. */
const formLine = fc
  .tuple(
    fc.constantFrom(...forms),
    fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
    fc.array(blank, { minLength: 1, maxLength: 6 }),
    comment,
  )
  .map(([form, picks, blanks, note]) => {
    let k = 0;
    const text = form.replace(/[RSNOACWXT]/g, (p) => {
      const choices = pieces[p] as readonly string[];
      return choices[(picks[k++ % picks.length] as number) % choices.length] as string;
    });
    return respaced(text, blanks) + note;
  });

test("every form with each piece valid or a near miss: the same program or the same errors", () => {
  fc.assert(
    fc.property(fc.array(formLine, { minLength: 1, maxLength: 8 }), (lines) => {
      same(lines.join("\n"));
    }),
    { numRuns: 5000 },
  );
});

test("near misses (tokens replaced, inserted, removed): the same program or the same errors", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(validLine, mutatedLine), { minLength: 1, maxLength: 8 }), (lines) => {
      same(lines.join("\n"));
    }),
    { numRuns: 3000 },
  );
});

test("garbled characters: the same program or the same errors", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(validLine, garbledLine), { minLength: 1, maxLength: 8 }), (lines) => {
      same(lines.join("\n"));
    }),
    { numRuns: 3000 },
  );
});

test("random text: the same program or the same errors", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom(...characters.split(""), "\n"), maxLength: 80 }),
      (text) => {
        same(text);
      },
    ),
    { numRuns: 2000 },
  );
});

test("hand-picked edges: the same program or the same errors", () => {
  for (const line of [
    "r1 = *(u8 *)(r2 - 0)",
    "goto -0",
    "r1 = -0",
    "r1 = -0 ll",
    "r1 = 0xffffffffffffffff ll",
    "r1 = 0x1ffffffffffffffff ll",
    "r1 = -0xffffffffffffffff ll",
    "r1 = 9007199254740993 ll",
    "r1 = 18446744073709551615 ll",
    "r1 = 5ll",
    "r1 = 5 ll#",
    "exit#1",
    "exit#",
    "exit # x",
    "r1 = r1.",
    "r1 s>>= 3",
    "r1 s>> 3",
    "if r1 s>> r2 goto +1",
    "if r1 << r2 goto +1",
    "if w1 > r2 goto +1",
    "w1 = (s32)w2",
    "r1 = (s32)r2",
    "w0 = *(u8 *)skb[5]",
    "r0 = *(u64 *)skb[5]",
    "r0 = *(s8 *)skb[5]",
    "r0 = *(u8 *)skb[w1 - 4]",
    "lock *(u8 *)(r1 + 0) += r2",
    "lock *(s32 *)(r1 + 0) += w2",
    "r1 = atomic_fetch_add((s32 *)(r2 + 0), r1)",
    "r0 = cmpxchg_64(r1 + 0, w0, r2)",
    "r0 = cmpxchg_64(r1 + 0, r2)",
    "w1 = addr_space_cast(w2, 1, 0)",
    "r1 = addr_space_cast(r2, 2, 0)",
    "r1 = addr_space_cast(r2, 65536, 1)",
    "*(u32 *)(r1 + 0) = w2",
    "*(s32 *)(r1 + 0) = 1",
    "callx w3",
    "call +5",
    "call pc+5",
    "r1 =- 5",
    "r1 = - r1",
    "r1 = -r2",
    "r1 -= -5",
    "r1 = + 5",
    "r1 += +5",
    "r1 = *(u8 *)(r1 + -5)",
    "r1 = *(u8 *)(r1 ++5)",
    "r1 = *(u8 *)(r1 5)",
    "r1 = *(u8*)(r1+5)",
    "r1=*(u8*)(r1+5)#c",
    "\tr1 = 1\r",
    "r1 = 1\r\r",
    "  ",
    "",
    "# only a comment",
    "r1 = é",
    "exit \u00ff",
    "r1 = (\u0100",
  ])
    same(`${line}\nexit\n`);
});
