/** Helpers the examples share: running one alone, and printing. */
import { pathToFileURL } from "node:url";

/** Where an example prints: one line at a time. */
export type Log = (line: string) => void;

/** Runs `run` when the file `url` is the script node was started with (`node --import tsx examples/hello.ts`). */
export function runIfMain(url: string, run: (log: Log) => Promise<unknown> | unknown): void {
  const script = process.argv[1];
  if (script === undefined || pathToFileURL(script).href !== url) return;
  Promise.resolve()
    .then(() => run((line) => console.log(line)))
    .catch((e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exitCode = 1;
    });
}

/** A byte string as it would be read: printable ASCII as is, the rest escaped. */
export function show(bytes: Uint8Array): string {
  return JSON.stringify(Buffer.from(bytes).toString("latin1"));
}
