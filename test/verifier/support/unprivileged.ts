/**
 * Test support: run a child with no privilege at all (uid 65534, no capabilities, no groups) that
 * may still call bpf(). Some verifier messages (back-edges) only reach a loader without CAP_BPF.
 *
 * Where `kernel.unprivileged_bpf_disabled` is 2 such a child gets EPERM before the verifier runs,
 * so root opens a short window: the value is set to 0 just before the child starts and put back as
 * soon as it ends — in a `finally`, again from a signal listener, and by a watchdog process should
 * this one be killed outright. A lock file serialises windows between test processes, and records
 * the value to restore so that a later run repairs what a crashed one left. The value 1 is sticky
 * (the kernel refuses to lower it), so then nothing is changed and the caller is told why.
 */
import { type ChildProcess, type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";

const SYSCTL = "/proc/sys/kernel/unprivileged_bpf_disabled";
const LOCK = "/tmp/rawbpf-unprivileged-bpf.lock";
/** How long the child may run before it is killed (the longest the window stays open). */
const CHILD_TIMEOUT_MS = 20_000;
/** When the watchdog restores the value if this process has not done it (it died). */
const WATCHDOG_MS = CHILD_TIMEOUT_MS + 10_000;
const LOCK_WAIT_MS = 60_000;
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;

/** The setpriv arguments that drop everything: nobody's uid and gid, no groups, no capabilities. */
export const NOBODY = [
  "--reuid=65534",
  "--regid=65534",
  "--clear-groups",
  "--inh-caps=-all",
  "--bounding-set=-all",
];

/** What {@link runUnprivileged} did: the child's result, or why it could not run. */
export type UnprivilegedRun = { child: SpawnSyncReturns<string> } | { skip: string };

const readValue = (): number => Number.parseInt(readFileSync(SYSCTL, "latin1"), 10);
const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Date.now();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The value a window must restore, while it is open (undefined: none open in this process). */
let openWindow: number | undefined;

function restore(): void {
  if (openWindow === undefined) return;
  writeFileSync(SYSCTL, String(openWindow));
  openWindow = undefined;
}

/**
 * A signal that came during the window: put the value back, then let the signal do what it would
 * have done. The listeners stay for the life of the process: a signal that arrives while the event
 * loop is blocked in spawnSync is only delivered to JavaScript on a later turn of the loop (after
 * the window has closed), and a listener removed before then would swallow it.
 */
function onSignal(signal: NodeJS.Signals): void {
  for (const s of SIGNALS) process.off(s, onSignal);
  listening = false;
  restore();
  // nobody else listens: the default action (the process ends by this signal)
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

let listening = false;
function listen(): void {
  if (listening) return;
  listening = true;
  for (const s of SIGNALS) process.on(s, onSignal);
}

/** Takes the lock file; repairs what a holder that died left behind. */
function lock(): number {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(LOCK, "wx", 0o600);
      writeSync(fd, JSON.stringify({ pid: process.pid }));
      return fd;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let held: { pid?: number; restore?: number; watchdog?: number } = {};
    try {
      held = JSON.parse(readFileSync(LOCK, "utf8") || "{}");
    } catch {
      // being written: look again
    }
    const abandoned = held.pid === undefined && Date.now() - mtimeOf(LOCK) > 5_000; // died before writing
    if (abandoned || (typeof held.pid === "number" && !alive(held.pid))) {
      if (typeof held.restore === "number") writeFileSync(SYSCTL, String(held.restore));
      if (typeof held.watchdog === "number") stopWatchdog(held.watchdog);
      rmSync(LOCK, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${LOCK} is held by process ${held.pid} for over a minute`);
    sleep(50);
  }
}

/** Ends the watchdog a run that died left behind (if that pid is still a watchdog of ours). */
function stopWatchdog(pid: number): void {
  let cmdline = "";
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "latin1");
  } catch {
    return; // already gone
  }
  if (cmdline.includes(SYSCTL)) process.kill(pid, "SIGKILL");
}

/** Whether process `pid` has ended (is gone, or a zombie waiting to be reaped). */
function ended(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true;
  }
}

/**
 * Kills the watchdog and waits until it has ended. Its end sends this process SIGCHLD, and a
 * signal that arrives while the kernel verifies a program makes the load fail with EAGAIN: it must
 * come now, not during the next case's load.
 */
function stop(dog: ChildProcess): void {
  if (dog.pid === undefined) return;
  dog.kill("SIGKILL");
  for (let i = 0; i < 2000 && !ended(dog.pid); i++) sleep(1);
}

/** A separate process that puts the value back if this one dies with the window open. */
function watchdog(value: number): ChildProcess {
  const code = `setTimeout(() => require("node:fs").writeFileSync(${JSON.stringify(SYSCTL)}, ${JSON.stringify(String(value))}), ${WATCHDOG_MS})`;
  const child = spawn(process.execPath, ["-e", code], { detached: true, stdio: "ignore" });
  child.on("error", () => {}); // a backstop only: the finally below is what restores the value
  child.unref();
  return child;
}

/**
 * Runs `command args` under `setpriv` {@link NOBODY} with unprivileged bpf() allowed for the time
 * the child runs. Needs root when the kernel disallows unprivileged bpf() with the value 2.
 */
export function runUnprivileged(command: string, args: readonly string[], cwd: string): UnprivilegedRun {
  if (process.getuid?.() !== 0) return { skip: "opening unprivileged bpf() for a child needs root" };
  const fd = lock();
  let dog: ChildProcess | undefined;
  try {
    const before = readValue();
    if (before === 1)
      return {
        skip: "kernel.unprivileged_bpf_disabled is 1, which the kernel does not let anyone lower until reboot: a process without CAP_BPF cannot load programs here",
      };
    if (before !== 0) {
      dog = watchdog(before);
      writeFileSync(LOCK, JSON.stringify({ pid: process.pid, restore: before, watchdog: dog.pid }));
      listen();
      try {
        writeFileSync(SYSCTL, "0");
      } catch (e) {
        throw new Error(
          `cannot allow unprivileged bpf() for the child: writing 0 to ${SYSCTL} failed (${(e as Error).message}); is /proc/sys read-only here?`,
        );
      }
      openWindow = before;
    }
    let child: SpawnSyncReturns<string>;
    try {
      // the child dies with this process, so it cannot outlive a window closed by the watchdog
      child = spawnSync("setpriv", [...NOBODY, "--pdeathsig=SIGKILL", "--", command, ...args], {
        encoding: "utf8",
        cwd,
        timeout: CHILD_TIMEOUT_MS,
        killSignal: "SIGKILL",
      });
    } finally {
      restore();
    }
    const now = readValue();
    if (now !== before) throw new Error(`${SYSCTL} is ${now} after the window, not ${before} as it was`);
    return { child };
  } finally {
    if (dog) stop(dog);
    closeSync(fd);
    rmSync(LOCK, { force: true });
  }
}
