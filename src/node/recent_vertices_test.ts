import assert from "node:assert/strict";
import type { VertexInfo } from "../core/mod.ts";
import { RecentVertices } from "./recent_vertices.ts";

const info = (n: number) => ({ n }) as unknown as VertexInfo;

Deno.test("RecentVertices keeps the newest within its byte budget and drops the oldest first", () => {
  const recent = new RecentVertices(100);
  recent.put("a", info(1), 40);
  recent.put("b", info(2), 40);
  assert.equal(recent.get("a"), recent.get("a"));
  assert.deepEqual(recent.size, 2);
  recent.put("c", info(3), 40);
  assert.deepEqual(recent.get("a"), undefined);
  assert.deepEqual(recent.get("b"), info(2));
  assert.deepEqual(recent.get("c"), info(3));
  assert.deepEqual(recent.bytes, 80);
});

Deno.test("RecentVertices refuses an entry larger than the budget and keeps the first decode of an id", () => {
  const recent = new RecentVertices(100);
  recent.put("big", info(1), 101);
  assert.deepEqual(recent.size, 0);
  const first = info(2);
  recent.put("x", first, 10);
  recent.put("x", info(3), 10);
  assert.equal(recent.get("x"), first);
  assert.deepEqual(recent.bytes, 10);
});

Deno.test("RecentVertices.take() hands out an entry once and frees its bytes", () => {
  const recent = new RecentVertices(100);
  recent.put("a", info(1), 40);
  recent.put("b", info(2), 30);
  assert.deepEqual(recent.take("a"), info(1));
  assert.equal(recent.take("a"), undefined);
  assert.equal(recent.get("a"), undefined);
  assert.deepEqual([recent.size, recent.bytes], [1, 30]);
  // The freed budget is room for new entries: nothing older is dropped for them.
  recent.put("c", info(3), 70);
  assert.deepEqual(recent.get("b"), info(2));
});

Deno.test("RecentVertices.forgetBelow() drops the vertices stamped before a boundary and frees their bytes", () => {
  const stamped = (ms: number) => ({ vertex: { timestampMs: BigInt(ms) } }) as unknown as VertexInfo;
  const recent = new RecentVertices(1_000);
  recent.put("old", stamped(100), 10);
  recent.put("edge", stamped(200), 20);
  recent.put("new", stamped(300), 30);
  recent.forgetBelow(200);
  assert.equal(recent.get("old"), undefined);
  assert.ok(recent.get("edge") !== undefined && recent.get("new") !== undefined);
  assert.deepEqual([recent.size, recent.bytes], [2, 50]);
});
