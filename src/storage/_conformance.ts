/** What the conformance suite's files share: the target, the test wrapper and fixtures. */
import assert from "node:assert/strict";
import { type Storage, StorageError, type StorageErrorCode, type StoredVertex } from "./types.ts";

export interface ConformanceTarget {
  name: string;
  /** A fresh, empty store. */
  open(): Storage;
  /** Closes `s` and opens the same store again, so that persistence is checked too. */
  reopen?(s: Storage): Storage;
  /** After a test, with `s` closed: removes what `open()` made (a temporary directory). */
  dispose?(s: Storage): void;
}

export type StoreTest = (name: string, fn: (s: Storage) => void) => void;

/** Registers a Deno test that gets a fresh store and closes it afterwards. */
export function storeTest(target: ConformanceTarget): StoreTest {
  return (name, fn) =>
    Deno.test(`${target.name}: ${name}`, () => {
      const s = target.open();
      try {
        fn(s);
      } finally {
        s.close();
        target.dispose?.(s);
      }
    });
}

export const BASE_MS = 1_700_000_000_000;

export function vertex(id: string, parents: string[], round = 1n, timestampMs = BASE_MS): StoredVertex {
  return {
    id,
    bytes: new TextEncoder().encode(`vertex ${id}`),
    author: "aa".repeat(32),
    round,
    parents,
    receivedAtMs: BASE_MS,
    timestampMs,
  };
}

export function tx(id: string, conflictKey: string, vertex = "01") {
  return { id, bytes: new TextEncoder().encode(`tx ${id}`), conflictKey, vertex, receivedAtMs: 7 };
}

export function accept(s: Storage, id: string, subject: "tx" | "vertex" = "vertex"): void {
  s.putDecision({ id, subject, status: "accepted", decidedAtMs: 1 });
}

export function reject(s: Storage, id: string, subject: "tx" | "vertex" = "vertex"): void {
  s.putDecision({ id, subject, status: "rejected", decidedAtMs: 1 });
}

/** Asserts that fn throws StorageError with `code` and a message matching `message`. */
export function assertStorageError(fn: () => unknown, code: StorageErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StorageError, `expected StorageError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}
