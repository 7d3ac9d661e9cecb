/** Reading the errors a test expects. */
import assert from "node:assert/strict";
import { InputError } from "../../src/sys/error.js";

/** The message of the InputError `f` throws; fails the test if it throws anything else or nothing. */
export function inputMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof InputError, `an InputError, got ${String(e)}`);
    return e.message;
  }
  assert.fail("no InputError");
}
