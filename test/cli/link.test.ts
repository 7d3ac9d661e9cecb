import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { asm } from "../../src/isa/template.js";
import { attachRawTracepoint, attachXdp } from "../../src/link/index.js";
import { Program } from "../../src/program/program.js";
import { needsRoot } from "../support/privilege.js";

test("rawbpf link list / show: the kernel's links with their programs and hooks, as bpftool sees them", async (t) => {
  if (!needsRoot(t)) return;
  using xdp = Program.load({ type: "xdp", instructions: asm`r0 = 2; exit` });
  using onLo = attachXdp(xdp, "lo", { mode: "generic" });
  using rawtp = Program.load({ type: "raw_tracepoint", instructions: asm`r0 = 0; exit` });
  using onEnter = attachRawTracepoint(rawtp, "sys_enter", { cookie: 5 });
  const ids = [onLo.info().id, onEnter.info().id];

  const list = captureIo();
  assert.equal(await main(["link", "list", "--json"], list), 0, list.err);
  const listed = JSON.parse(list.out) as { id: number; type: string; programId: number }[];
  for (const id of ids) {
    const mine = listed.find((l) => l.id === id);
    assert.ok(mine, `link ${id} is listed`);
    const theirs = JSON.parse(
      execFileSync("bpftool", ["-j", "link", "show", "id", String(id)], { encoding: "utf8" }),
    );
    assert.equal(mine.programId, theirs.prog_id);
    assert.equal(mine.type, theirs.type);
  }
  assert.deepEqual(
    listed.find((l) => l.id === ids[1]),
    { id: ids[1], programId: rawtp.info().id, type: "raw_tracepoint", tracepoint: "sys_enter", cookie: 5 },
  );

  const text = captureIo();
  assert.equal(await main(["link", "list"], text), 0);
  assert.match(text.out, new RegExp(`^${ids[0]}: xdp  prog ${xdp.info().id}  ifindex 1  mode generic$`, "m"));
  assert.match(
    text.out,
    new RegExp(`^${ids[1]}: raw_tracepoint  prog ${rawtp.info().id}  tracepoint sys_enter  cookie 5$`, "m"),
  );

  const show = captureIo();
  assert.equal(await main(["link", "show", String(ids[0]), "--json"], show), 0);
  assert.deepEqual(JSON.parse(show.out), {
    id: ids[0],
    programId: xdp.info().id,
    type: "xdp",
    ifindex: 1,
    mode: "generic",
  });

  onLo.close();
  const gone = captureIo();
  assert.equal(await main(["link", "show", String(ids[0])], gone), 1);
  assert.match(gone.err, new RegExp(`no link with id ${ids[0]}`));
});

test("rawbpf link: usage errors", async () => {
  for (const argv of [
    ["link"],
    ["link", "frob"],
    ["link", "show"],
    ["link", "show", "x"],
    ["link", "list", "extra"],
  ]) {
    const io = captureIo();
    assert.equal(await main(argv, io), 2, argv.join(" "));
    assert.match(io.err, /rawbpf link: .*\(rawbpf link --help\)/);
  }
  const help = captureIo();
  assert.equal(await main(["link", "--help"], help), 0);
  assert.match(help.out, /usage: rawbpf link list/);
});
