/** Test helpers for the key store and the keyring: a cheap KDF, a temporary directory, a refusal check. */
import assert from "node:assert/strict";
import { KeyError, type KeyErrorCode } from "./mod.ts";

/** scrypt at 2^10: fast enough for tests, never for real keys. */
export const FAST_KDF = { log2N: 10, r: 8, p: 1 };

/** Runs `fn` in a fresh temporary directory, removed afterwards. */
export async function withDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "qudag_keys_test_" });
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Asserts that `p` (a promise, or a function to call) fails with a KeyError of `code`; returns it. */
export async function rejectsWith(p: Promise<unknown> | (() => unknown), code: KeyErrorCode): Promise<KeyError> {
  let caught: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof KeyError, `expected KeyError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}
