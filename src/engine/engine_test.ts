import assert from "node:assert/strict";
import type { Decision } from "../consensus/mod.ts";
import { vertexBodyBytes, vertexSigningBytes, voteSigningBytes } from "./encoding.ts";
import { Engine } from "./engine.ts";
import { MemoryDecisionStore } from "./memory_store.ts";
import type { Sender, SignedVertex, SignedVote, Signer, Verifier } from "./types.ts";

// Test doubles. The "signature" is a keyed checksum: a stand-in for ML-DSA-87
// that only the named validator's test signer produces. Not cryptography.
const VALIDATORS = ["a", "b", "c", "d"];
const PARAMS = { k: 4, alphaPreference: 3, alphaConfidence: 3, beta: 2 };

function checksum(key: string, message: Uint8Array): Uint8Array {
  let h = 0x811c9dc5;
  for (const ch of key) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  for (const b of message) h = Math.imul(h ^ b, 0x01000193);
  return new Uint8Array([h >>> 24, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff]);
}

function signer(id: string): Signer {
  return { validatorId: id, sign: (m) => checksum(id, m) };
}

const verifier: Verifier = {
  isValidator: (id) => VALIDATORS.includes(id),
  verify: (id, m, sig) => checksum(id, m).every((b, i) => sig[i] === b) && sig.length === 4,
};

const hasher = {
  idOf: (bytes: Uint8Array) =>
    [...checksum("id", bytes), ...checksum("id2", bytes)].map((b) => b.toString(16).padStart(2, "0")).join(""),
};

type Sent =
  | { kind: "vertices"; to: string; vertices: readonly SignedVertex[] }
  | { kind: "get"; to: string; ids: readonly string[] }
  | { kind: "query"; to: string; requestId: number; frontier: readonly string[] }
  | { kind: "votes"; to: string; vote: SignedVote }
  | { kind: "frontier"; to: string; frontier: readonly string[] };

function harness(id = "a") {
  const sent: Sent[] = [];
  const sender: Sender = {
    sendVertices: (to, vertices) => sent.push({ kind: "vertices", to, vertices }),
    sendGetVertices: (to, ids) => sent.push({ kind: "get", to, ids }),
    sendQuery: (to, requestId, frontier) => sent.push({ kind: "query", to, requestId, frontier }),
    sendVotes: (to, vote) => sent.push({ kind: "votes", to, vote }),
    sendFrontier: (to, frontier) => sent.push({ kind: "frontier", to, frontier }),
  };
  const store = new MemoryDecisionStore();
  const reported: Decision[] = [];
  let now = 1_000;
  const engine = new Engine(
    { params: PARAMS, validators: VALIDATORS, pollsOutstandingMax: 1 },
    {
      sender,
      clock: { nowMs: () => now },
      rng: { nextInt: () => 0 }, // samples the sorted validators in order
      store,
      signer: signer(id),
      verifier,
      hasher,
      onDecisions: (ds) => {
        for (const d of ds) assert.equal(store.status(d.kind, d.id), d.status, "stored before reported");
        reported.push(...ds);
      },
    },
  );
  return { engine, sent, store, reported, tick: (ms: number) => (now += ms) };
}

function vote(from: string, querier: string, requestId: number, frontier: string[]): SignedVote {
  const unsigned = { querier, requestId, responder: from, frontier };
  return { ...unsigned, signature: signer(from).sign(voteSigningBytes(unsigned)) };
}

function vertex(author: string, parents: string[], txId: string, key = `${txId}:0`): SignedVertex {
  const body = { author, parents, txs: [{ id: txId, conflictKey: key, deps: [] }], timestampMs: 5 };
  const id = hasher.idOf(vertexBodyBytes(body));
  return { ...body, id, signature: signer(author).sign(vertexSigningBytes(id)) };
}

const queries = (sent: Sent[]) => sent.filter((m): m is Extract<Sent, { kind: "query" }> => m.kind === "query");

Deno.test("Engine refuses to start outside the genesis set", () => {
  assert.throws(() => harness("z"), /not in the genesis set/);
});

Deno.test("issue() gossips the signed vertex to every other validator and polls k of them", () => {
  const { engine, sent } = harness();
  const v = engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  assert.ok(verifier.verify("a", vertexSigningBytes(v.id), v.signature));
  assert.equal(hasher.idOf(vertexBodyBytes(v)), v.id);
  assert.deepEqual(sent.filter((m) => m.kind === "vertices").map((m) => m.to), ["b", "c", "d"]);
  assert.deepEqual(queries(sent).map((q) => q.to), ["b", "c", "d"]); // a answers itself
  assert.deepEqual(queries(sent)[0].frontier, [v.id]);
});

Deno.test("recorded votes accept the transaction after beta polls, stored before reported", () => {
  const { engine, sent, store, reported } = harness();
  const v = engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  for (let round = 0; round < PARAMS.beta; round++) {
    const polled = queries(sent).slice(-3);
    for (const q of polled) engine.onVotes(q.to, vote(q.to, "a", q.requestId, [v.id]));
  }
  assert.deepEqual(store.accepted("tx"), ["t1"]);
  assert.deepEqual(reported.map((d) => `${d.kind}:${d.id}:${d.status}`), [`tx:t1:accepted`, `vertex:${v.id}:accepted`]);
  assert.equal(engine.consensus.processing(), false);
});

Deno.test("onQuery() answers with a vote signed over querier, request id, responder and frontier", () => {
  const { engine, sent } = harness();
  const v = engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  engine.onQuery("b", 42, []);
  const answer = sent.find((m): m is Extract<Sent, { kind: "votes" }> => m.kind === "votes")!;
  assert.equal(answer.to, "b");
  assert.deepEqual(answer.vote.frontier, [v.id]);
  assert.equal(answer.vote.requestId, 42);
  assert.ok(verifier.verify("a", voteSigningBytes(answer.vote), answer.vote.signature));
  // The same vote claimed for another request or another querier no longer verifies.
  assert.equal(verifier.verify("a", voteSigningBytes({ ...answer.vote, requestId: 43 }), answer.vote.signature), false);
  assert.equal(verifier.verify("a", voteSigningBytes({ ...answer.vote, querier: "c" }), answer.vote.signature), false);
});

Deno.test("onVotes() refuses forged, replayed and unsolicited votes, and still counts the genuine one", () => {
  const { engine, sent } = harness();
  const v = engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  const [qb, qc, qd] = queries(sent);
  // Forged: claims b, signed by d.
  const forged = { ...vote("d", "a", qb.requestId, [v.id]), responder: "b" };
  engine.onVotes("d", forged);
  assert.equal(engine.stats.badSignature, 1);
  // Replayed: b's genuine vote for another request id.
  engine.onVotes("d", vote("b", "a", qb.requestId + 100, [v.id]));
  // Unsolicited: for this request but addressed to another querier.
  engine.onVotes("b", vote("b", "c", qb.requestId, [v.id]));
  assert.equal(engine.stats.unexpectedVotes, 2);
  // Garbage signature of the right responder.
  engine.onVotes("b", { ...vote("b", "a", qb.requestId, [v.id]), signature: new Uint8Array(4) });
  assert.equal(engine.stats.badSignature, 2);
  // The genuine votes still count.
  engine.onVotes("b", vote("b", "a", qb.requestId, [v.id]));
  engine.onVotes("c", vote("c", "a", qc.requestId, [v.id]));
  assert.equal(engine.stats.votesAccepted, 2);
  assert.equal(engine.consensus.polls(), 1); // self + b + c reached alpha: the poll ended early
  engine.onVotes("d", vote("d", "a", qd.requestId, [v.id]));
  assert.equal(engine.stats.lateVotes, 1);
});

Deno.test("onVotes() refuses votes from validators outside the genesis set", () => {
  const { engine, sent } = harness();
  engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  const q = queries(sent)[0];
  engine.onVotes("z", vote("z", "a", q.requestId, []));
  assert.equal(engine.stats.unexpectedVotes + engine.stats.unknownValidator, 1);
  assert.equal(engine.stats.votesAccepted, 0);
});

Deno.test("onVertices() refuses a wrong id, a bad signature and an unknown author", () => {
  const { engine } = harness();
  const good = vertex("b", [], "t1");
  engine.onVertices("b", [{ ...good, id: "00".repeat(8) }]);
  engine.onVertices("b", [{ ...good, signature: new Uint8Array(4) }]);
  engine.onVertices("z", [vertex("z", [], "t2")]);
  assert.equal(engine.stats.invalidVertices, 1);
  assert.equal(engine.stats.badSignature, 1);
  assert.equal(engine.stats.unknownValidator, 1);
  assert.equal(engine.consensus.hasVertex(good.id), false);
  engine.onVertices("b", [good]);
  assert.equal(engine.consensus.hasVertex(good.id), true);
});

Deno.test("onVertices() holds a vertex with unknown parents and fetches them from the sender", () => {
  const { engine, sent } = harness();
  const parent = vertex("b", [], "t1");
  const child = vertex("c", [parent.id], "t2");
  engine.onVertices("c", [child]);
  assert.equal(engine.consensus.hasVertex(child.id), false);
  assert.deepEqual(sent.filter((m) => m.kind === "get"), [{ kind: "get", to: "c", ids: [parent.id] }]);
  engine.onVertices("c", [parent]);
  assert.equal(engine.consensus.hasVertex(parent.id), true);
  assert.equal(engine.consensus.hasVertex(child.id), true);
});

Deno.test("onQueryFailed() ends a poll once no pending answer could change it", () => {
  const { engine, sent } = harness();
  engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  const [qb, qc, qd] = queries(sent);
  engine.onQueryFailed("b", qb.requestId);
  assert.equal(engine.consensus.polls(), 0);
  engine.onQueryFailed("c", qc.requestId); // now at most 2 of 4 votes: alpha 3 is out of reach
  assert.equal(engine.consensus.polls(), 1);
  engine.onQueryFailed("d", qd.requestId); // late: ignored
  assert.equal(engine.stats.queriesFailed, 2);
});

Deno.test("a poll ends early when every conflict set already has alphaConfidence votes", () => {
  const { engine, sent } = harness();
  const v = engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  const [qb, qc] = queries(sent);
  engine.onVotes("b", vote("b", "a", qb.requestId, [v.id]));
  assert.equal(engine.consensus.polls(), 0);
  engine.onVotes("c", vote("c", "a", qc.requestId, [v.id])); // self + b + c = 3 = alpha
  assert.equal(engine.consensus.polls(), 1);
});

Deno.test("onGossipTick() swaps frontiers with one peer; onFrontier() fetches what it lacks", () => {
  const { engine, sent } = harness();
  engine.onGossipTick();
  assert.deepEqual(sent.map((m) => m.kind), ["frontier"]);
  engine.onFrontier("b", ["ff".repeat(8)], true);
  assert.deepEqual(sent.slice(1).map((m) => m.kind), ["get", "frontier"]);
});
