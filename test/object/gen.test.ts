/**
 * `rawbpf gen types`: the module generated for globals.c type-checks with tsc in a user's file
 * that uses it the way the README shows (typed constants, maps, variables, programs; wrong uses
 * are compile errors), and that file runs against the kernel with the values the program made.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli/main.js";
import { codecOf } from "../../src/object/index.js";
import { parseObject } from "../../src/object/spec.js";
import { needsRoot } from "../support/privilege.js";
import { BUILD_DIR, compileFixture, EXAMPLES } from "./compile.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

const USER = `
import { Globals } from "./globals.js";

const obj = await Globals.load({ constants: { threshold: 10, scale: 5n } });
const r = obj.programs.count_packets.testRun({ data: new Uint8Array(64) });
const count: bigint | undefined = obj.maps.counts.get(50); // skb->len: 64 bytes less the Ethernet header
obj.maps.pairs.get(new Uint8Array(4));
const threshold: number = obj.variables.threshold;
const greeting: string = obj.variables.greeting;
const hits: bigint = obj.variables.hits;
obj.variables.seen = [9, 8, 7, 6];
if (process.env.NEVER) {
  // @ts-expect-error a .rodata variable has no setter (and at run time, none either)
  obj.variables.threshold = 3;
  // @ts-expect-error keys of counts are numbers
  obj.maps.counts.get("x");
  // @ts-expect-error no such constant
  void (() => Globals.load({ constants: { nope: 1 } }));
  // @ts-expect-error no such program
  void obj.programs.nope;
}
console.log(JSON.stringify({
  retval: r.retval,
  count: String(count),
  threshold,
  greeting,
  hits: String(hits),
  seen: obj.variables.seen,
}));
obj.close();
`;

test("gen types: the generated module type-checks in a user's file, wrong uses do not, and it runs", (t) => {
  const path = compileFixture("globals");
  const dir = mkdtempSync(join(BUILD_DIR, "gen-"));
  const out: string[] = [];
  const io = { stdout: (s: string) => void out.push(s), stderr: (s: string) => void out.push(s) };
  return main(
    ["gen", "types", path, "-o", join(dir, "globals.ts"), "--import", join(ROOT, "src", "index.js")],
    io as never,
  ).then((status) => {
    assert.equal(status, 0, out.join(""));
    assert.match(readFileSync(join(dir, "globals.ts"), "utf8"), /export class Globals implements Disposable/);
    writeFileSync(join(dir, "user.ts"), USER);
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2023",
          lib: ["ES2023", "ESNext.Disposable"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [join(ROOT, "node_modules", "@types")],
        },
        files: ["user.ts", join(ROOT, "src", "webassembly.d.ts")],
      }),
    );
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }');
    const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const checked = (() => {
      try {
        return execFileSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
      } catch (e) {
        return `tsc failed: ${(e as { stdout?: string }).stdout ?? e}`;
      }
    })();
    assert.equal(checked, "", "tsc accepts the user's file (and every @ts-expect-error is an error)");
    // a wrong use the expect-errors do not cover fails to compile
    writeFileSync(join(dir, "user.ts"), `${USER}\nconst wrong: string = obj.variables.hits;\n`);
    assert.throws(
      () => execFileSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { encoding: "utf8" }),
      (e: unknown) => /TS2322.*bigint.*string/s.test(String((e as { stdout?: string }).stdout)),
    );
    writeFileSync(join(dir, "user.ts"), USER);
    if (!needsRoot(t)) return;
    const ran = execFileSync(process.execPath, ["--import", "tsx", join(dir, "user.ts")], {
      cwd: ROOT,
      encoding: "utf8",
    });
    const got = JSON.parse(ran) as Record<string, unknown>;
    // count_packets: skb->len 50 (64 bytes less the Ethernet header) > threshold 10: twice(50) + seen[50 & 3] + add_scaled(50)
    assert.deepEqual(got, {
      retval: 2 * 50 + 3 + 50 * 5 + 10,
      count: "1",
      threshold: 10,
      greeting: "hello",
      hits: String(10n + BigInt("e".charCodeAt(0))),
      seen: [9, 8, 7, 6],
    });
  });
});

test("codecs from BTF: structs laid out as C, arrays, signed and unsigned ints", () => {
  const spec = parseObject(readFileSync(compileFixture("opensnoop.bpf", [], EXAMPLES)), {
    file: "opensnoop.bpf.o",
  });
  const btf = spec.btfModel;
  assert.ok(btf, "the fixture has BTF");
  const used = new Set<string>();
  const ctx = btf.findId("sys_enter", "struct");
  assert.ok(ctx !== undefined, "struct sys_enter");
  assert.equal(codecOf(btf, ctx, used), "struct({ common: u64, id: i64, args: array(u64, 6) })");
  assert.deepEqual([...used].sort(), ["array", "i64", "struct", "u64"]);
});
