/** Reading part of an open file in full: what every reader of ELF files here needs. */
import { readSync } from "node:fs";

/**
 * Reads into `into` from the open file `fd` at `offset`, until `into` is full or the file ends
 * (a read may return less than asked, as one from /proc or a pipe does).
 * @returns how many bytes were read: fewer than `into.length` only at the file's end
 */
export function readFullyAt(fd: number, into: Uint8Array, offset: number): number {
  let got = 0;
  for (let n = 1; got < into.length && n > 0; got += n)
    n = readSync(fd, into, got, into.length - got, offset + got);
  return got;
}
