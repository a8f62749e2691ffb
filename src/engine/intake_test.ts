import assert from "node:assert/strict";
import { VertexIntake } from "./intake.ts";
import type { SignedVertex } from "./types.ts";

function vertex(id: string, parents: string[], timestampMs = 1_000): SignedVertex {
  return { id, author: "a", parents, txs: [], timestampMs, signature: new Uint8Array() };
}

/** An intake over a set of known ids and a manual clock, recording what it asks whom. */
function setup(o: { pendingMax?: number; retryMs?: number; graceMs?: number } = {}) {
  const known = new Set<string>(["g"]);
  const asked: [string, string[]][] = [];
  const clock = { now: 0 };
  const intake = new VertexIntake({
    selfId: "me",
    known: (id) => known.has(id),
    sendGetVertices: (to, ids) => asked.push([to, [...ids]]),
    nowMs: () => clock.now,
  }, { pendingMax: o.pendingMax ?? 8, fetchRetryMs: o.retryMs ?? 500, fetchGraceMs: o.graceMs ?? 100 });
  return { intake, known, asked, clock };
}

Deno.test("VertexIntake.release(): held vertices go out once their parents are known, parents first", () => {
  const { intake, known, asked } = setup();
  // c waits for b, b for a, a for g (known): they arrive children first.
  for (const v of [vertex("c", ["b"]), vertex("b", ["a"]), vertex("a", ["g"])]) assert.ok(intake.hold(v));
  const admitted: string[] = [];
  intake.release("p", (v) => {
    admitted.push(v.id);
    known.add(v.id);
  });
  assert.deepEqual(admitted, ["a", "b", "c"]);
  assert.equal(intake.size, 0);
  assert.deepEqual(asked, [], "nothing missing, nothing asked");
});

Deno.test("VertexIntake.release(): a vertex whose admission is refused stays out; the missing parents are asked of the sender", () => {
  const { intake, asked } = setup();
  intake.hold(vertex("x", ["g"]));
  intake.hold(vertex("y", ["m1", "m2"]));
  const admitted: string[] = [];
  intake.release("p", (v) => admitted.push(v.id)); // x admitted but never becomes known
  assert.deepEqual(admitted, ["x"]);
  assert.ok(!intake.has("x") && intake.has("y"));
  assert.deepEqual(asked, [["p", ["m1", "m2"]]]);
  intake.release("q", () => assert.fail("y still waits"));
  assert.deepEqual(asked.length, 1, "asked again only after the retry time");
});

Deno.test("VertexIntake.hold(): at most pendingMax vertices; dropBelow() frees those below a cut", () => {
  const { intake } = setup({ pendingMax: 2 });
  assert.ok(intake.hold(vertex("old", ["m"], 10)));
  assert.ok(intake.hold(vertex("new", ["m"], 2_000)));
  assert.ok(!intake.hold(vertex("more", ["m"])), "full");
  assert.equal(intake.size, 2);
  intake.dropBelow(1_000);
  assert.ok(!intake.has("old") && intake.has("new"));
  assert.ok(intake.hold(vertex("more", ["m"])));
});

Deno.test("VertexIntake.named(): unknown ids are asked of the peer after the grace; a held one's missing parents at once", () => {
  const { intake, asked, clock } = setup({ graceMs: 100 });
  intake.hold(vertex("h", ["m"]));
  intake.named("p", ["g", "h", "u"]);
  assert.deepEqual(asked, [["p", ["m"]]], "g is known, h held: only h's missing parent, at once");
  clock.now = 99;
  intake.requestNamedDue();
  assert.equal(asked.length, 1, "u is within its grace");
  clock.now = 100;
  intake.requestNamedDue();
  assert.deepEqual(asked[1], ["p", ["u"]], "asked of the peer that named it");
  intake.named("me", ["v"]);
  clock.now = 1_000;
  intake.requestNamedDue();
  assert.equal(asked.length, 2, "this node never asks itself");
});

Deno.test("VertexIntake.request(): paced by the retry time, never of itself; arrived() ends the wait", () => {
  const { intake, asked, clock } = setup({ retryMs: 500 });
  intake.request("p", ["a", "b"]);
  intake.request("q", ["a", "b"]);
  assert.deepEqual(asked, [["p", ["a", "b"]]]);
  intake.request("me", ["c"]);
  assert.equal(asked.length, 1);
  intake.arrived("a");
  clock.now = 500;
  intake.request("q", ["b"]);
  assert.deepEqual(asked[1], ["q", ["b"]]);
});
