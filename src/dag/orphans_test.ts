import assert from "node:assert/strict";
import { OrphanBuffer } from "./orphans.ts";

const b = (n: number) => new Uint8Array(n);

Deno.test("OrphanBuffer.arrived() releases a vertex once every missing parent has arrived", () => {
  const o = new OrphanBuffer();
  o.add("v", b(10), ["p1", "p2"], 0, "v0");
  assert.deepEqual(o.wanted(), ["p1", "p2"]);
  assert.deepEqual(o.arrived("p1"), []);
  assert.equal(o.size, 1);
  const ready = o.arrived("p2");
  assert.deepEqual(ready.map((r) => r.id), ["v"]);
  assert.equal(o.size, 0);
  assert.equal(o.bytes, 0);
  assert.deepEqual(o.wanted(), []);
});

Deno.test("OrphanBuffer.add() evicts the oldest entry when the count limit is reached, and reports it", () => {
  // One vertex per author, each within its share: the whole buffer's bound applies.
  const o = new OrphanBuffer({ countMax: 2, bytesMax: 1_000, ageMaxMs: 1_000 });
  assert.deepEqual(o.add("a", b(1), ["x"], 0, "a"), []);
  assert.deepEqual(o.add("b", b(1), ["x"], 1, "b"), []);
  assert.deepEqual(o.add("c", b(1), ["y"], 2, "c"), [{ id: "a", reason: "orphan_evicted" }]);
  assert.deepEqual(o.arrived("x").map((r) => r.id), ["b"]);
});

Deno.test("OrphanBuffer.add() keeps the byte total under its limit", () => {
  const o = new OrphanBuffer({ countMax: 100, bytesMax: 25, ageMaxMs: 1_000 });
  o.add("a", b(10), ["x"], 0, "a");
  o.add("b", b(10), ["x"], 0, "b");
  const dropped = o.add("c", b(10), ["x"], 0, "c");
  assert.deepEqual(dropped, [{ id: "a", reason: "orphan_evicted" }]);
  assert.equal(o.bytes, 20);
  // Larger than the whole buffer: refused, and nothing else is dropped for it.
  assert.deepEqual(o.add("huge", b(26), ["x"], 0, "huge"), [{ id: "huge", reason: "orphan_evicted" }]);
  assert.equal(o.size, 2);
});

Deno.test("OrphanBuffer.expire() drops entries older than the age limit", () => {
  const o = new OrphanBuffer({ countMax: 10, bytesMax: 1_000, ageMaxMs: 100 });
  o.add("a", b(1), ["x"], 0, "v0");
  o.add("b", b(1), ["x"], 50, "v0");
  assert.deepEqual(o.expire(120), [{ id: "a", reason: "orphan_expired" }]);
  assert.equal(o.has("b"), true);
});

Deno.test("OrphanBuffer.discardDependents() removes what waits on a rejected parent", () => {
  const o = new OrphanBuffer();
  o.add("a", b(1), ["bad", "ok"], 0, "v0");
  o.add("b", b(1), ["ok"], 0, "v0");
  assert.deepEqual(o.discardDependents("bad"), ["a"]);
  assert.deepEqual(o.arrived("ok").map((r) => r.id), ["b"]);
});

Deno.test("OrphanBuffer.add() gives each author a fair share: a flood evicts only the flooder's own", () => {
  // Four validators: each may hold 2 of the 8 places.
  const o = new OrphanBuffer({ countMax: 8, bytesMax: 1_000, ageMaxMs: 60_000 }, 4);
  assert.equal(o.authorCountMax, 2);
  o.add("honest1", b(10), ["p1"], 0, "honest");
  o.add("honest2", b(10), ["p2"], 1, "honest");
  o.add("other", b(10), ["p3"], 2, "other");
  const dropped: { id: string; reason: string }[] = [];
  for (let i = 0; i < 1_000; i++) dropped.push(...o.add(`junk${i}`, b(10), [`never${i}`], 3 + i, "byzantine"));
  // The honest orphans wait on; the flooder keeps its two newest.
  for (const id of ["honest1", "honest2", "other", "junk998", "junk999"]) assert.ok(o.has(id), id);
  assert.equal(o.size, 5);
  assert.equal(o.heldBy("byzantine"), 2);
  assert.equal(dropped.length, 998);
  assert.ok(dropped.every((d) => d.id.startsWith("junk") && d.reason === "orphan_author_share"));
  assert.deepEqual(o.arrived("p1").map((r) => r.id), ["honest1"]);
});

Deno.test("OrphanBuffer.add() bounds each author's bytes to its share; one vertex over it waits alone", () => {
  const o = new OrphanBuffer({ countMax: 100, bytesMax: 100, ageMaxMs: 60_000 }, 4);
  assert.equal(o.authorBytesMax, 25);
  o.add("h", b(20), ["x"], 0, "honest");
  assert.deepEqual(o.add("big1", b(20), ["y"], 1, "byzantine"), []);
  assert.deepEqual(o.add("big2", b(20), ["y"], 2, "byzantine"), [{ id: "big1", reason: "orphan_author_share" }]);
  // Larger than a share: it may wait, but alone.
  assert.deepEqual(o.add("huge", b(40), ["y"], 3, "byzantine"), [{ id: "big2", reason: "orphan_author_share" }]);
  assert.ok(o.has("h") && o.has("huge"));
  assert.equal(o.bytes, 60);
});

Deno.test("OrphanBuffer.add() past the whole buffer evicts the oldest of the author holding the most", () => {
  // More authors than the buffer was sized for: the shares overflow it, and the largest holder pays.
  const o = new OrphanBuffer({ countMax: 4, bytesMax: 1_000, ageMaxMs: 60_000 }, 2);
  o.add("a1", b(30), ["x"], 0, "a");
  o.add("b1", b(10), ["x"], 1, "b");
  o.add("b2", b(10), ["x"], 2, "b");
  o.add("c1", b(10), ["x"], 3, "c");
  assert.deepEqual(o.add("d1", b(10), ["x"], 4, "d"), [{ id: "a1", reason: "orphan_evicted" }]);
  assert.deepEqual(o.add("a2", b(50), ["x"], 5, "a"), [{ id: "b1", reason: "orphan_evicted" }]);
  assert.deepEqual(o.add("a3", b(5), ["x"], 6, "a"), [{ id: "a2", reason: "orphan_author_share" }]);
});

Deno.test("new OrphanBuffer() refuses an author count that is not a positive integer", () => {
  assert.throws(() => new OrphanBuffer(undefined, 0), RangeError);
  assert.throws(() => new OrphanBuffer(undefined, 2.5), RangeError);
});
