import assert from "node:assert/strict";
import { carriedOffsets, embeddedAt } from "./embedded.ts";

const b = (...xs: number[]) => new Uint8Array(xs);

Deno.test("embeddedAt finds the first whole occurrence at or after `from`, or -1", () => {
  const container = b(1, 2, 1, 2, 3, 1, 2, 3);
  assert.equal(embeddedAt(container, b(1, 2, 3)), 2);
  assert.equal(embeddedAt(container, b(1, 2, 3), 3), 5);
  assert.equal(embeddedAt(container, b(1, 2, 3), 6), -1);
  assert.equal(embeddedAt(container, b(2, 3, 1, 2, 3, 4)), -1, "runs past the end");
  assert.equal(embeddedAt(container, b(9)), -1);
  assert.equal(embeddedAt(container, b()), -1, "an empty part has no place");
  assert.equal(embeddedAt(b(), b(1)), -1);
});

Deno.test("carriedOffsets places each transaction after the one before it, so repeats get their own place", () => {
  // A length prefix before each part, as a vertex has.
  const vertex = b(0xee, 0xee, 3, 7, 8, 9, 3, 7, 8, 9, 2, 5, 6);
  assert.deepEqual(carriedOffsets(vertex, [b(7, 8, 9), b(7, 8, 9), b(5, 6)]), [3, 7, 11]);
  // One not found stays -1 (stored whole) and does not move the search.
  assert.deepEqual(carriedOffsets(vertex, [b(7, 8, 9), b(4, 4), b(5, 6)]), [3, -1, 11]);
  assert.deepEqual(carriedOffsets(vertex, []), []);
});

Deno.test("carriedOffsets places a view of the vertex's own bytes where it lies, without searching", () => {
  const memory = b(9, 0xee, 3, 7, 8, 9, 3, 7, 8, 9, 9);
  const vertex = memory.subarray(1, 10);
  // The second view is the later copy: a search from the start would find the first.
  assert.deepEqual(carriedOffsets(vertex, [memory.subarray(7, 10), memory.subarray(3, 6)]), [6, 2]);
  // A view reaching outside the vertex, or of other memory, is searched for.
  assert.deepEqual(carriedOffsets(vertex, [memory.subarray(9, 11)]), [-1]);
  assert.deepEqual(carriedOffsets(vertex, [b(7, 8, 9)]), [2]);
});
