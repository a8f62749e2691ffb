import assert from "node:assert/strict";
import { OrphanBuffer } from "./orphans.ts";

const b = (n: number) => new Uint8Array(n);

Deno.test("OrphanBuffer.arrived() releases a vertex once every missing parent has arrived", () => {
  const o = new OrphanBuffer();
  o.add("v", b(10), ["p1", "p2"], 0);
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
  const o = new OrphanBuffer({ countMax: 2, bytesMax: 1_000, ageMaxMs: 1_000 });
  assert.deepEqual(o.add("a", b(1), ["x"], 0), []);
  assert.deepEqual(o.add("b", b(1), ["x"], 1), []);
  assert.deepEqual(o.add("c", b(1), ["y"], 2), [{ id: "a", reason: "orphan_evicted" }]);
  assert.deepEqual(o.arrived("x").map((r) => r.id), ["b"]);
});

Deno.test("OrphanBuffer.add() keeps the byte total under its limit", () => {
  const o = new OrphanBuffer({ countMax: 100, bytesMax: 25, ageMaxMs: 1_000 });
  o.add("a", b(10), ["x"], 0);
  o.add("b", b(10), ["x"], 0);
  const dropped = o.add("c", b(10), ["x"], 0);
  assert.deepEqual(dropped, [{ id: "a", reason: "orphan_evicted" }]);
  assert.equal(o.bytes, 20);
  assert.deepEqual(o.add("huge", b(26), ["x"], 0).map((d) => d.id), ["b", "c", "huge"]);
  assert.equal(o.size, 0);
});

Deno.test("OrphanBuffer.expire() drops entries older than the age limit", () => {
  const o = new OrphanBuffer({ countMax: 10, bytesMax: 1_000, ageMaxMs: 100 });
  o.add("a", b(1), ["x"], 0);
  o.add("b", b(1), ["x"], 50);
  assert.deepEqual(o.expire(120), [{ id: "a", reason: "orphan_expired" }]);
  assert.equal(o.has("b"), true);
});

Deno.test("OrphanBuffer.discardDependents() removes what waits on a rejected parent", () => {
  const o = new OrphanBuffer();
  o.add("a", b(1), ["bad", "ok"], 0);
  o.add("b", b(1), ["ok"], 0);
  assert.deepEqual(o.discardDependents("bad"), ["a"]);
  assert.deepEqual(o.arrived("ok").map((r) => r.id), ["b"]);
});
