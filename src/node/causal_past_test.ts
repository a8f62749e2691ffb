import assert from "node:assert/strict";
import { MemoryStorage } from "../storage/mod.ts";
import { CausalPast } from "./causal_past.ts";

function put(s: MemoryStorage, id: string, parents: string[], timestampMs: number, carries: string[] = []): void {
  s.putVertex({
    id,
    bytes: new Uint8Array([1]),
    author: "aa".repeat(32),
    round: 1n,
    parents,
    receivedAtMs: 0,
    timestampMs,
  });
  for (const key of carries) {
    s.putTransaction({ id: `tx-${key}`, bytes: new Uint8Array([2]), conflictKey: key, vertex: id, receivedAtMs: 0 });
  }
}

function setup(boundaryMs = 0) {
  const s = new MemoryStorage();
  // g1 <- g2 <- g3, and a side branch s1 beside g2; K is carried by g1 and s1, L only by s1.
  put(s, "g1", [], 100, ["K"]);
  put(s, "g2", ["g1"], 110);
  put(s, "s1", ["g1"], 105, ["K", "L"]);
  put(s, "g3", ["g2"], 120);
  let boundary = boundaryMs;
  const past = new CausalPast({
    storage: s,
    requiredBoundaryMs: () => boundary,
    isAccepted: (v) => s.getDecision(v)?.status === "accepted",
  });
  return { s, past, setBoundary: (b: number) => (boundary = b) };
}

Deno.test("CausalPast: a carrier among the parents or reached by walking up from them", () => {
  const { past } = setup();
  assert.equal(past.of(["s1"]).carriedInPast("L"), true);
  assert.equal(past.of(["g3"]).carriedInPast("K"), true, "g1 is g3's grandparent");
  assert.equal(past.of(["g3"]).carriedInPast("L"), false, "s1 is on a side branch");
  assert.equal(past.of(["g3"]).carriedInPast("nothing"), false);
  // One query serves several keys, walking once.
  const q = past.of(["g3", "s1"]);
  assert.equal(q.carriedInPast("L"), true);
  assert.equal(q.carriedInPast("K"), true);
});

Deno.test("CausalPast: below the required boundary an accepted carrier counts without a walk, a rejected one never", () => {
  const { s, past } = setup(200);
  s.putDecision({ id: "s1", subject: "vertex", status: "accepted", decidedAtMs: 1 });
  s.putDecision({ id: "g1", subject: "vertex", status: "rejected", decidedAtMs: 1 });
  // Every new vertex descends from the whole cut below the boundary (coverage), so accepted s1 is in its past.
  assert.equal(past.of(["g3"]).carriedInPast("L"), true);
  // K: g1 was rejected, s1 accepted: s1 answers.
  assert.equal(past.of(["g3"]).carriedInPast("K"), true);
  s.putTransaction({ id: "tx-M", bytes: new Uint8Array([2]), conflictKey: "M", vertex: "g1", receivedAtMs: 0 });
  assert.equal(past.of(["g3"]).carriedInPast("M"), false, "only on a rejected vertex below the boundary");
});

Deno.test("CausalPast: the walk never goes below the candidate's timestamp", () => {
  const { s, past } = setup();
  // A long chain above g3; the carrier of Z is newer than everything but the tip's parent.
  let prev = "g3";
  for (let i = 0; i < 50; i++) {
    put(s, `c${i}`, [prev], 200 + i);
    prev = `c${i}`;
  }
  put(s, "z", ["c48"], 300, ["Z"]);
  put(s, "tip", ["c49", "z"], 301);
  assert.equal(past.of(["tip"]).carriedInPast("Z"), true);
  assert.equal(past.of(["c49"]).carriedInPast("Z"), false);
});

Deno.test("CausalPast.forgetBelow() drops remembered links older than a boundary; they are read from storage again", () => {
  const storage = new MemoryStorage();
  const past = new CausalPast({ storage, requiredBoundaryMs: () => 0, isAccepted: () => false });
  past.remember("a".repeat(64), [], 100);
  past.remember("b".repeat(64), ["a".repeat(64)], 200);
  past.forgetBelow(150);
  assert.equal(past.cached, 1);
  // Not stored, not cached: unknown.
  assert.equal(past.links("a".repeat(64)), null);
  assert.deepEqual(past.links("b".repeat(64)), { parents: ["a".repeat(64)], timestampMs: 200 });
});

Deno.test("CausalPast: on a node that synced, a key with no accepted carrier stored counts when the ledger used its nonce", () => {
  const s = new MemoryStorage();
  put(s, "g1", [], 100);
  put(s, "g2", ["g1"], 110, ["R"]); // a rival carrier of R, never accepted
  const used = new Set(["S", "R"]);
  const past = new CausalPast({
    storage: s,
    requiredBoundaryMs: () => 0,
    isAccepted: (v) => s.getDecision(v)?.status === "accepted",
    settledBeforeHistory: (key) => used.has(key),
  });
  assert.equal(past.of(["g2"]).carriedInPast("S"), true, "carried below the checkpoint this node synced from");
  assert.equal(past.of(["g1"]).carriedInPast("R"), true, "the stored carrier is not accepted: the ledger answers");
  assert.equal(past.of(["g2"]).carriedInPast("T"), false, "a nonce the ledger has not used");
  s.putDecision({ id: "g2", subject: "vertex", status: "accepted", decidedAtMs: 1 });
  assert.equal(past.of(["g1"]).carriedInPast("R"), false, "an accepted carrier is stored: only the walk answers");
  // A node with the whole history never asks the ledger.
  const { past: full } = setup();
  assert.equal(full.of(["g3"]).carriedInPast("nothing"), false);
});

Deno.test("CausalPast: the questions about one vertex share one walk, each going on below where the last one stopped", () => {
  const s = new MemoryStorage();
  const past = new CausalPast({ storage: s, requiredBoundaryMs: () => 0, isAccepted: () => false });
  // r <- a1 <- a2 and r <- b1 <- b2; s1 on r is beside both; the vertex asked about has parents a2 and b2.
  put(s, "r", [], 100, ["R"]);
  put(s, "a1", ["r"], 110, ["A"]);
  put(s, "b1", ["r"], 112, ["B"]);
  put(s, "s1", ["r"], 111, ["S"]);
  put(s, "a2", ["a1"], 120);
  put(s, "b2", ["b1"], 121);
  const q = past.of(["a2", "b2"]);
  assert.equal(q.carriedInPast("B"), true);
  assert.equal(q.carriedInPast("A"), true, "lower, on the other branch");
  assert.equal(q.carriedInPast("S"), false, "a side branch, below both");
  assert.equal(q.carriedInPast("R"), true, "the root, below everything asked before");
  assert.equal(q.carriedInPast("A"), true, "asked again");
});
