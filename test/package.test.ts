/**
 * The package as a user gets it: `npm pack`, the tarball installed in a fresh project (no link),
 * then the demos, the README's snippets, `import` and `require` with their types, and the
 * documentation `rawbpf asm --help` points to — all from node_modules/rawbpf, never from this tree.
 */
import assert from "node:assert/strict";
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { needsRoot } from "./support/privilege.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.error, undefined, `${what}: ${r.error}`);
  assert.equal(r.status, 0, `${what} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The README's fenced blocks of one language, in order. */
function readmeBlocks(lang: "ts" | "js"): string[] {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  return [...readme.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}

/** The `// [ ... ]` results a snippet shows beside its console.log calls. */
function shownResults(code: string): string[] {
  return [...code.matchAll(/console\.log\([^\n]*\/\/ (\[ .* \])$/gm)].map((m) => m[1]!);
}

test("npm pack → install in a fresh project → demos, snippets, import/require with types, docs", (t) => {
  if (!needsRoot(t)) return;
  const work = mkdtempSync(join(tmpdir(), "rawbpf-package-"));
  // the privileges demo runs children as another user, who must be able to read the project
  chmodSync(work, 0o755);
  try {
    // 1. pack: prepack builds dist/ for publishing
    const packed = JSON.parse(
      ok(
        spawnSync(npm, ["pack", "--json", "--pack-destination", work], {
          cwd: root,
          encoding: "utf8",
          maxBuffer: 64 << 20,
        }),
        "npm pack",
      ),
    )[0] as { filename: string; unpackedSize: number; files: { path: string }[] };
    const files = packed.files.map((f) => f.path);
    assert.ok(packed.unpackedSize < 5_000_000, `unpacked size ${packed.unpackedSize} B, goal under 5 MB`);
    for (const f of [
      "dist/src/index.js",
      "dist/cjs/index.cjs",
      "dist/cjs/index.d.cts",
      "docs/assembly.md",
      "dist/src/cli/main.cjs",
      "dist/src/cli/compile.cjs",
    ])
      assert.ok(files.includes(f), `${f} is not in the package: ${files.length} files`);
    assert.ok(!files.some((f) => f.startsWith("src/") || f.startsWith("test/")), "sources or tests packed");
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    for (const s of ["preinstall", "install", "postinstall", "prepare"])
      assert.equal(manifest.scripts[s], undefined, `package.json has an install script: ${s}`);

    // 2. install the tarball, as a copy, in a project of its own
    const project = join(work, "project");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "uses-rawbpf", private: true }));
    ok(
      spawnSync(
        npm,
        ["install", "--prefer-offline", "--no-audit", "--no-fund", join(work, packed.filename)],
        { cwd: project, encoding: "utf8" },
      ),
      "npm install of the tarball",
    );
    const installed = join(project, "node_modules", "rawbpf");
    assert.ok(!existsSync(join(installed, "src")), "the installed package has src/: a link, not a copy");

    // 3. every demo, through the package's bin
    const demo = ok(
      spawnSync(join(project, "node_modules", ".bin", "rawbpf"), ["demo"], {
        cwd: project,
        encoding: "utf8",
      }),
      "rawbpf demo",
    );
    const list = ok(
      spawnSync(join(project, "node_modules", ".bin", "rawbpf"), ["demo", "--help"], {
        cwd: project,
        encoding: "utf8",
      }),
      "rawbpf demo --help",
    );
    const names = [...list.matchAll(/^ {2}([a-z][a-z-]*) /gm)].map((m) => m[1]!);
    assert.ok(names.length >= 5, `demo --help lists no demos:\n${list}`);
    for (const name of names) assert.match(demo, new RegExp(`== ${name} ==`), `demo ${name} did not run`);

    // 4. the documentation `rawbpf asm --help` names is in the package
    const asmHelp = ok(
      spawnSync(join(project, "node_modules", ".bin", "rawbpf"), ["asm", "--help"], {
        cwd: project,
        encoding: "utf8",
      }),
      "rawbpf asm --help",
    );
    // named by where they are, so the link opens from any directory: inside the installed package
    const docs = [...asmHelp.matchAll(/\S*\bdocs\/[\w.-]+\.md\b/g)].map((m) => m[0]);
    assert.ok(docs.length > 0, `asm --help names no documentation:\n${asmHelp}`);
    for (const d of docs) {
      assert.ok(
        isAbsolute(d) && realpathSync(d).startsWith(realpathSync(installed)),
        `${d} is not the package's copy`,
      );
      assert.ok(existsSync(d), `${d} (from asm --help) is not shipped`);
    }

    // 4b. `rawbpf compile` (a bundle of its own, with Babel from the package's dependencies) from
    // the package prints what it prints in this tree
    const program = join(project, "count.ts");
    writeFileSync(
      program,
      'import { program, XDP_DROP, XDP_PASS } from "rawbpf";\nexport const p = program("xdp", (ctx) => {\n  const b = ctx.u8(0);\n  return b !== null && b === 7 ? XDP_DROP : XDP_PASS;\n});\n',
    );
    const compiled = ok(
      spawnSync(join(project, "node_modules", ".bin", "rawbpf"), ["compile", program, "--format", "json"], {
        cwd: project,
        encoding: "utf8",
      }),
      "rawbpf compile",
    );
    assert.equal(
      compiled,
      ok(
        spawnSync(
          process.execPath,
          [join(root, "bin", "rawbpf.js"), "compile", program, "--format", "json"],
          {
            encoding: "utf8",
          },
        ),
        "rawbpf compile in the tree",
      ),
    );

    // 5. import and require, at run time: require gets the CommonJS build (any Node 20)
    const esm = ok(
      spawnSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          'import * as r from "rawbpf"; console.log(typeof r.Program.load, import.meta.resolve("rawbpf"))',
        ],
        { cwd: project, encoding: "utf8" },
      ),
      "import",
    );
    assert.match(esm, /^function .*\/dist\/src\/index\.js$/m);
    const cjs = ok(
      spawnSync(
        process.execPath,
        ["-e", 'const r = require("rawbpf"); console.log(typeof r.Program.load, require.resolve("rawbpf"))'],
        { cwd: project, encoding: "utf8" },
      ),
      "require",
    );
    assert.match(cjs, /^function .*\/dist\/cjs\/index\.cjs$/m);

    // 6. the types of both: a wrong use must be an error, or the types are `any`
    const typed = `const program: Program | undefined = undefined;
const insn: Instruction = mov(R0, 1);
// @ts-expect-error: an instruction is not a number
const wrong: number = mov(R0, 1);
export { program, insn, wrong };
`;
    writeFileSync(
      join(project, "esm.mts"),
      `import { type Instruction, mov, Program, R0 } from "rawbpf";\n${typed}`,
    );
    writeFileSync(
      join(project, "cjs.cts"),
      `import rawbpf = require("rawbpf");\ntype Instruction = rawbpf.Instruction;\ntype Program = rawbpf.Program;\nconst { mov, R0 } = rawbpf;\n${typed}`,
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2023",
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ["node"],
          typeRoots: [join(root, "node_modules", "@types")],
        },
        files: ["esm.mts", "cjs.cts"],
      }),
    );
    ok(
      spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", project], {
        cwd: project,
        encoding: "utf8",
      }),
      "tsc on import and require of the package",
    );

    // 7. the README's snippets against the installed package: ts through tsx, js with plain node
    const tsx = pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
    const snippets = [
      ...readmeBlocks("ts").map((code) => ({ code, file: "snippet.mts", args: ["--import", tsx] })),
      ...readmeBlocks("js").map((code) => ({
        code,
        file: /\brequire\(/.test(code) ? "snippet.cjs" : "snippet.mjs",
        args: [],
      })),
    ];
    assert.ok(readmeBlocks("js").length >= 1, "the README has no plain-JavaScript snippet");
    for (const [i, s] of snippets.entries()) {
      // the "Programs from C" snippet imports the bindings `rawbpf gen types` writes for the shipped object
      if (s.code.includes('from "./opensnoop.js"'))
        ok(
          spawnSync(
            process.execPath,
            [
              join(project, "node_modules", "rawbpf", "bin", "rawbpf.js"),
              "gen",
              "types",
              join(project, "node_modules", "rawbpf", "examples", "opensnoop.bpf.o"),
              "-o",
              join(project, "opensnoop.ts"),
            ],
            { cwd: project, encoding: "utf8" },
          ),
          "rawbpf gen types on the shipped opensnoop.bpf.o",
        );
      writeFileSync(join(project, s.file), s.code);
      const out = ok(
        spawnSync(process.execPath, [...s.args, s.file], { cwd: project, encoding: "utf8" }),
        `README snippet ${i + 1} (${s.file}):\n${s.code}`,
      );
      for (const shown of shownResults(s.code)) assert.ok(out.includes(shown), `snippet ${i + 1}: ${out}`);
      rmSync(join(project, s.file));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("in a clone without dist/, bin/rawbpf.js runs the command line from src/ through tsx", () => {
  // a clone as `git clone && npm install` leaves it: the sources, no dist/ (nothing is built on install)
  const clone = mkdtempSync(join(tmpdir(), "rawbpf-clone-"));
  try {
    mkdirSync(join(clone, "bin"));
    for (const f of ["rawbpf.js", "package.json"]) copyFileSync(join(root, "bin", f), join(clone, "bin", f));
    for (const f of ["src", "examples", "scripts", "node_modules", "tsconfig.json", "package.json"])
      symlinkSync(join(root, f), join(clone, f));
    const asm = spawnSync(
      process.execPath,
      [join(clone, "bin", "rawbpf.js"), "asm", "-", "--format", "hex"],
      {
        input: "r0 = 4\nexit\n",
        encoding: "utf8",
      },
    );
    assert.equal(asm.status, 0, asm.stderr);
    // the kernel's encoding of r0 = 4; exit, as llvm-mc writes it
    assert.match(asm.stdout.replace(/\s+/g, ""), /^b7000000040000009500000000000000$/, asm.stdout);
  } finally {
    rmSync(clone, { recursive: true, force: true });
  }
});
