import assert from "node:assert/strict";
import type { Decision } from "../consensus/mod.ts";
import { createReferenceCodec, vertexBodyBytes, vertexSigningBytes } from "./reference_codec.ts";
import { Engine } from "./engine.ts";
import { MemoryDecisionStore } from "./memory_store.ts";
import { RestoreError } from "../consensus/mod.ts";
import type { Sender, SignedVertex, Signer, Verifier, VertexCodec, Vote } from "./types.ts";

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
  | { kind: "votes"; to: string; vote: Vote }
  | { kind: "frontier"; to: string; frontier: readonly string[] };

interface HarnessOptions {
  codec?: VertexCodec;
  /** Shared by the engines of one node across a restart. */
  store?: MemoryDecisionStore;
  firstRequestId?: number;
  /** 0 unless given: most tests here check what is asked for, and when, without the grace for named vertices. */
  fetchGraceMs?: number;
}

function harness(id = "a", opts: HarnessOptions = {}) {
  const sent: Sent[] = [];
  const sender: Sender = {
    sendVertices: (to, vertices) => sent.push({ kind: "vertices", to, vertices }),
    sendGetVertices: (to, ids) => sent.push({ kind: "get", to, ids }),
    sendQuery: (to, requestId, frontier) => sent.push({ kind: "query", to, requestId, frontier }),
    sendVotes: (to, vote) => sent.push({ kind: "votes", to, vote }),
    sendFrontier: (to, frontier) => sent.push({ kind: "frontier", to, frontier }),
  };
  const store = opts.store ?? new MemoryDecisionStore();
  const reported: Decision[] = [];
  let now = 1_000;
  const engine = new Engine(
    {
      params: PARAMS,
      validators: VALIDATORS,
      pollsOutstandingMax: 1,
      firstRequestId: opts.firstRequestId,
      fetchGraceMs: opts.fetchGraceMs ?? 0,
    },
    {
      sender,
      clock: { nowMs: () => now },
      rng: { nextInt: () => 0 }, // samples the sorted validators in order
      store,
      signer: signer(id),
      verifier,
      codec: opts.codec ?? createReferenceCodec(signer(id), verifier, hasher),
      onDecisions: (ds) => {
        for (const d of ds) assert.equal(store.status(d.kind, d.id), d.status, "stored before reported");
        reported.push(...ds);
      },
    },
  );
  return { engine, sent, store, reported, answered: { count: 0 }, tick: (ms: number) => (now += ms) };
}

function vote(from: string, querier: string, requestId: number, frontier: string[]): Vote {
  return { querier, requestId, responder: from, frontier };
}

function vertex(author: string, parents: string[], txId: string, key = `${txId}:0`): SignedVertex {
  const body = { author, parents, txs: [{ id: txId, conflictKey: key, deps: [] }], timestampMs: 5 };
  return createReferenceCodec(signer(author), verifier, hasher).build(body);
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

Deno.test("onQuery() answers the querier with its request id, this validator as responder and its frontier", () => {
  const { engine, sent } = harness();
  const v = engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  engine.onQuery("b", 42, []);
  const answer = sent.find((m): m is Extract<Sent, { kind: "votes" }> => m.kind === "votes")!;
  assert.equal(answer.to, "b");
  assert.deepEqual(answer.vote, { querier: "b", requestId: 42, responder: "a", frontier: [v.id] });
});

Deno.test("onVotes(): a vote counts only from its responder, for an open query of ours to it, once", () => {
  const { engine, sent } = harness();
  const v = engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  const [qb, qc, qd] = queries(sent);
  // Forged / attributed to another validator: d sends a vote naming b as its responder.
  engine.onVotes("d", vote("b", "a", qb.requestId, [v.id]));
  engine.onVotes("d", { ...vote("d", "a", qb.requestId, [v.id]), responder: "c" });
  assert.equal(engine.stats.wrongSenderVotes, 2);
  // Replayed into another query: b's vote for a request id that is not open.
  engine.onVotes("b", vote("b", "a", qb.requestId + 100, [v.id]));
  // Unsolicited: for this request but addressed to another querier.
  engine.onVotes("b", vote("b", "c", qb.requestId, [v.id]));
  assert.equal(engine.stats.unexpectedVotes, 2);
  assert.equal(engine.stats.votesAccepted, 0);
  // The genuine votes count, each once.
  engine.onVotes("b", vote("b", "a", qb.requestId, [v.id]));
  engine.onVotes("b", vote("b", "a", qb.requestId, [v.id]));
  assert.equal(engine.stats.votesAccepted, 1);
  assert.equal(engine.stats.unexpectedVotes, 3, "the same vote again");
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

Deno.test("a vote naming a vertex not yet known is counted once that vertex arrives", () => {
  const { engine, sent, store, tick } = harness();
  const v = engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  const w = vertex("b", [v.id], "t2"); // b and c already hold w, a does not
  const [qb, qc, qd] = queries(sent);
  tick(100);
  engine.onVotes("b", vote("b", "a", qb.requestId, [w.id]));
  engine.onVotes("c", vote("c", "a", qc.requestId, [w.id]));
  engine.onVotes("d", vote("d", "a", qd.requestId, [v.id]));
  // Known now: a and d support t1, 2 < alpha 3. Counted now, the poll would fail; it is held instead.
  assert.equal(engine.consensus.polls(), 0);
  assert.equal(engine.stats.pollsHeld, 1);
  assert.deepEqual([engine.pollsHeld(), engine.pollsOutstanding()], [1, 0]);
  assert.deepEqual(sent.filter((m) => m.kind === "get").map((m) => m.kind === "get" && m.ids), [[w.id]]);
  tick(150); // w arrives 150 ms later: within twice the 100 ms the poll took
  engine.onVertices("b", [w]);
  // w descends from v: all four votes support t1.
  assert.equal(engine.consensus.polls(), 1);
  assert.ok(engine.consensus.lastPollSuccesses() > 0);
  assert.equal(engine.pollsHeld(), 0);
  for (const q of queries(sent).slice(3)) engine.onVotes(q.to, vote(q.to, "a", q.requestId, [w.id]));
  assert.ok(store.accepted("tx").includes("t1"), "beta = 2 successful polls in a row");
  assert.equal(engine.stats.heldPollsExpired, 0);
});

Deno.test("a held poll whose named ids do not begin to arrive is counted as its votes stand", () => {
  const { engine, sent, tick } = harness();
  const v = engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  const [qb, qc, qd] = queries(sent);
  const garbage = ["e1".repeat(8), "e2".repeat(8)];
  tick(100); // the answers take 100 ms
  engine.onVotes("b", vote("b", "a", qb.requestId, [garbage[0]]));
  engine.onVotes("c", vote("c", "a", qc.requestId, [garbage[1]]));
  // d's answer could not change the result (1 + 1 < alpha), but b's and c's might once their vertices are known.
  assert.equal(engine.stats.pollsHeld, 1);
  engine.onVotes("d", vote("d", "a", qd.requestId, [v.id]));
  engine.onQueryFailed("d", qd.requestId);
  assert.equal(engine.stats.lateVotes, 1, "a held poll takes no more votes");
  assert.equal(engine.stats.queriesFailed, 0);
  const asked = sent.filter((m) => m.kind === "get").flatMap((m) => m.kind === "get" ? [`${m.to}:${m.ids}`] : []);
  assert.deepEqual(asked, [`b:${garbage[0]}`, `c:${garbage[1]}`], "each voter is asked for what it named");
  tick(199);
  engine.onGossipTick();
  assert.equal(engine.consensus.polls(), 0, "held for twice the 100 ms the poll took to settle");
  assert.equal(engine.stats.pollsStarted, 2, "a held poll leaves its slot to a new one");
  tick(1);
  engine.onGossipTick();
  assert.equal(engine.stats.heldPollsExpired, 1);
  assert.equal(engine.consensus.polls(), 1);
  assert.equal(engine.consensus.lastPollSuccesses(), 0, "unknown ids support nothing");
});

Deno.test("no poll is held longer than fetchGraceMs + 2 × fetchRetryMs (here 0 + 2 × 500 ms), even for a vertex that arrived without its parents", () => {
  const { engine, sent, tick } = harness();
  engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  const lost = vertex("b", [], "t0"); // never served
  const x = vertex("b", [lost.id], "t2");
  const [qb, qc] = queries(sent);
  tick(100);
  engine.onVotes("b", vote("b", "a", qb.requestId, [x.id]));
  engine.onVotes("c", vote("c", "a", qc.requestId, [x.id]));
  engine.onVertices("b", [x]); // checked, waits for its parent
  assert.equal(engine.stats.pollsHeld, 1);
  tick(998);
  engine.onGossipTick();
  assert.equal(engine.pollsHeld(), 1);
  tick(2);
  engine.onGossipTick();
  assert.deepEqual([engine.pollsHeld(), engine.stats.heldPollsExpired, engine.consensus.polls()], [0, 1, 1]);
});

Deno.test("at most pollsOutstandingMax polls are held; a settled poll beyond is counted at once", () => {
  const { engine, sent, tick } = harness(); // pollsOutstandingMax 1
  engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  tick(100);
  for (const q of queries(sent).slice(0, 2)) engine.onVotes(q.to, vote(q.to, "a", q.requestId, ["e1".repeat(8)]));
  assert.equal(engine.pollsHeld(), 1);
  engine.onGossipTick(); // the first poll is still held (its wait is 200 ms); a second one starts
  const second = queries(sent).slice(3);
  assert.equal(second.length, 3);
  for (const q of second.slice(0, 2)) engine.onVotes(q.to, vote(q.to, "a", q.requestId, ["e2".repeat(8)]));
  assert.deepEqual([engine.pollsHeld(), engine.stats.pollsHeld, engine.consensus.polls()], [1, 1, 1]);
});

Deno.test("a poll is not held when votes naming unknown ids could not change its result", () => {
  const { engine, sent } = harness();
  const v = engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  const [qb, qc, qd] = queries(sent);
  engine.onVotes("b", vote("b", "a", qb.requestId, ["e1".repeat(8)]));
  engine.onVotes("c", vote("c", "a", qc.requestId, [v.id]));
  engine.onVotes("d", vote("d", "a", qd.requestId, [v.id])); // a, c, d: alpha 3 without b
  assert.equal(engine.consensus.polls(), 1);
  assert.equal(engine.stats.pollsHeld, 0);
});

Deno.test("a transaction's unknown dependency is asked for by id, and a peer answers with its carriers", () => {
  const a = harness("a");
  const b = harness("b");
  const carrier = b.engine.issue([{ id: "t0", conflictKey: "alice:0", deps: [] }]);
  // c carries t1, which depends on t0, outside t0's carrier's ancestry; a never received that carrier.
  const body = { author: "c", parents: [], txs: [{ id: "t1", conflictKey: "alice:1", deps: ["t0"] }], timestampMs: 5 };
  const dependent = createReferenceCodec(signer("c"), verifier, hasher).build(body);
  a.engine.onVertices("c", [dependent]);
  a.engine.onGossipTick(); // gossips with b (the test rng picks the first peer)
  const asked = a.sent.filter((m): m is Extract<Sent, { kind: "get" }> => m.kind === "get");
  assert.deepEqual(asked.map((m) => [m.to, m.ids]), [["b", ["t0"]]]);
  b.sent.length = 0;
  b.engine.onGetVertices("a", ["t0"]);
  const served = b.sent.filter((m): m is Extract<Sent, { kind: "vertices" }> => m.kind === "vertices");
  assert.deepEqual(served.map((m) => [m.to, m.vertices.map((v) => v.id)]), [["a", [carrier.id]]]);
  a.engine.onVertices("b", served[0].vertices);
  assert.equal(a.engine.consensus.txStatus("t0"), "processing");
  a.sent.length = 0;
  a.engine.onGossipTick();
  assert.equal(a.sent.filter((m) => m.kind === "get").length, 0, "nothing left to ask for");
});

Deno.test("a vertex only named by votes is asked for once fetchGraceMs passed; one that arrives by then never", () => {
  const { engine, sent, tick } = harness("a", { fetchGraceMs: 300 });
  const v = engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  const w = vertex("b", [v.id], "t2"); // arrives in time
  const lost = vertex("c", [v.id], "t3"); // never sent by its author
  const gets = () => sent.flatMap((m) => m.kind === "get" ? [`${m.to}:${m.ids.join(",")}`] : []);
  const [qb, qc] = queries(sent);
  tick(100);
  engine.onVotes("b", vote("b", "a", qb.requestId, [w.id]));
  engine.onVotes("c", vote("c", "a", qc.requestId, [lost.id]));
  assert.equal(engine.pollsHeld(), 1);
  assert.deepEqual(gets(), [], "nothing asked for within the grace");
  tick(200);
  engine.onVertices("b", [w]); // its author's send
  tick(99);
  engine.onGossipTick();
  assert.deepEqual(gets(), [], "299 ms after they were named");
  tick(1);
  engine.onGossipTick();
  assert.deepEqual(gets(), [`c:${lost.id}`], "only the one still missing, of the voter that named it");
  tick(499);
  engine.onFrontier("d", [lost.id], false);
  assert.equal(gets().length, 1, "named again: asked again only after fetchRetryMs");
  tick(1);
  engine.onFrontier("d", [lost.id], false);
  assert.deepEqual(gets(), [`c:${lost.id}`, `d:${lost.id}`]);
});

Deno.test("a vertex that arrived without its parents has them asked for at once, whatever fetchGraceMs", () => {
  const { engine, sent } = harness("a", { fetchGraceMs: 300 });
  const parent = vertex("b", [], "t0");
  const child = vertex("b", [parent.id], "t1");
  engine.onVertices("b", [child]);
  assert.deepEqual(sent.flatMap((m) => m.kind === "get" ? [m.ids] : []), [[parent.id]]);
});

Deno.test("onGossipTick() swaps frontiers with one peer; onFrontier() fetches what it lacks", () => {
  const { engine, sent } = harness();
  engine.onGossipTick();
  assert.deepEqual(sent.map((m) => m.kind), ["frontier"]);
  engine.onFrontier("b", ["ff".repeat(8)], true);
  assert.deepEqual(sent.slice(1).map((m) => m.kind), ["get", "frontier"]);
});

Deno.test("issue() gossips and serves what the codec built, its payload included", () => {
  const reference = createReferenceCodec(signer("a"), verifier, hasher);
  const codec: VertexCodec = {
    build: (body) => ({ ...reference.build(body), payload: new Uint8Array([1, 2, 3]) }),
    check: (v) => reference.check(v),
  };
  const { engine, sent } = harness("a", { codec });
  const v = engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  assert.deepEqual(v.payload, new Uint8Array([1, 2, 3]));
  const gossiped = sent.find((m): m is Extract<Sent, { kind: "vertices" }> => m.kind === "vertices")!;
  assert.equal(gossiped.vertices[0], v);
  engine.onGetVertices("b", [v.id]);
  const served = sent.filter((m): m is Extract<Sent, { kind: "vertices" }> => m.kind === "vertices").at(-1)!;
  assert.deepEqual(served, { kind: "vertices", to: "b", vertices: [v] });
});

Deno.test("issue() issues nothing when the codec's build() throws", () => {
  const codec: VertexCodec = {
    build: () => {
      throw new Error("no bytes for transaction t1");
    },
    check: () => "ok",
  };
  const { engine, sent } = harness("a", { codec });
  assert.throws(() => engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]), /no bytes for transaction t1/);
  assert.deepEqual(sent, []);
  assert.equal(engine.consensus.txStatus("t1"), undefined);
  assert.equal(engine.stats.verticesIssued, 0);
});

Deno.test("onVertices() counts the codec's bad_id as invalid and bad_signature as a bad signature", () => {
  const verdicts = new Map<string, "ok" | "bad_id" | "bad_signature">();
  const seen: SignedVertex[] = [];
  const codec: VertexCodec = {
    build: () => {
      throw new Error("not used");
    },
    check: (v) => {
      seen.push(v);
      return verdicts.get(v.id) ?? "ok";
    },
  };
  const { engine } = harness("a", { codec });
  const withPayload = (v: SignedVertex) => ({ ...v, payload: new Uint8Array([9]) });
  const wrongId = withPayload(vertex("b", [], "t1"));
  const forged = withPayload(vertex("c", [], "t2"));
  const good = withPayload(vertex("d", [], "t3"));
  verdicts.set(wrongId.id, "bad_id");
  verdicts.set(forged.id, "bad_signature");
  engine.onVertices("b", [wrongId, forged, good]);
  assert.equal(engine.stats.invalidVertices, 1);
  assert.equal(engine.stats.badSignature, 1);
  assert.deepEqual(seen.map((v) => v.payload), [new Uint8Array([9]), new Uint8Array([9]), new Uint8Array([9])]);
  assert.equal(engine.consensus.hasVertex(wrongId.id), false);
  assert.equal(engine.consensus.hasVertex(forged.id), false);
  assert.equal(engine.vertex(good.id), good);
});

function decision(kind: Decision["kind"], id: string, status: Decision["status"]): Decision {
  return { kind, id, status, rounds: 0 };
}

/** Every query not answered yet gets `frontier` from its validator, `rounds` times over. */
function pollWith(h: ReturnType<typeof harness>, frontier: string[], rounds: number): void {
  for (let round = 0; round < rounds; round++) {
    const all = queries(h.sent);
    const unanswered = all.slice(h.answered.count);
    h.answered.count = all.length;
    for (const q of unanswered) h.engine.onVotes(q.to, vote(q.to, "a", q.requestId, frontier));
    h.engine.onGossipTick(); // restarts polling after a poll that made no progress
  }
}

/** A stored history: A (alice:0) accepted in va, its double spend B rejected with vb and vc on top; vd undecided. */
function history() {
  const va = vertex("b", [], "A", "alice:0");
  const vb = vertex("c", [], "B", "alice:0");
  const vc = vertex("c", [vb.id], "C");
  const vd = vertex("d", [], "D");
  const decisions = [
    decision("tx", "A", "accepted"),
    decision("tx", "B", "rejected"),
    decision("vertex", vb.id, "rejected"),
    decision("vertex", vc.id, "rejected"),
    decision("vertex", va.id, "accepted"),
  ];
  return { va, vb, vc, vd, vertices: [va, vb, vc, vd], decisions };
}

Deno.test("restore() keeps an accepted transaction's rival rejected even if every vote prefers the rival", () => {
  const { vb, vc, vertices, decisions } = history();
  const store = new MemoryDecisionStore();
  store.record(decisions); // what the node's database held at the crash
  const h = harness("a", { store });
  h.engine.restore(vertices, decisions);
  assert.equal(h.engine.consensus.txStatus("A"), "accepted");
  assert.equal(h.engine.consensus.txStatus("B"), "rejected");
  h.engine.onGossipTick();
  pollWith(h, [vc.id, vb.id], 4 * PARAMS.beta);
  assert.ok(h.engine.consensus.polls() >= PARAMS.beta);
  assert.equal(h.engine.consensus.txStatus("B"), "rejected");
  assert.equal(h.store.status("tx", "B"), "rejected");
  assert.ok(!h.reported.some((d) => d.id === "B" || d.id === vb.id));
  assert.equal(h.store.log().filter((d) => d.id === "B").length, 1, "recorded once, before the crash");
  // A new double spend of alice:0 is rejected on arrival.
  const late = vertex("b", [], "B2", "alice:0");
  h.engine.onVertices("b", [late]);
  assert.equal(h.engine.consensus.txStatus("B2"), "rejected");
});

Deno.test("restore() leaves undecided transactions to polls, which decide them as usual", () => {
  const h = harness();
  const { vd, vertices, decisions } = history();
  h.engine.restore(vertices, decisions);
  assert.equal(h.engine.consensus.txStatus("D"), "processing");
  assert.deepEqual(h.sent, [], "restore() sends nothing");
  h.engine.onGossipTick();
  pollWith(h, [vd.id], PARAMS.beta);
  assert.equal(h.engine.consensus.txStatus("D"), "accepted");
  assert.deepEqual(h.reported.map((d) => `${d.kind}:${d.id}:${d.status}`), [
    "tx:D:accepted",
    `vertex:${vd.id}:accepted`,
  ]);
});

Deno.test("restore() neither stores nor reports the restored decisions, only consequences missing from the store", () => {
  const h = harness();
  const { va, vb, vc, vertices, decisions } = history();
  h.engine.restore(vertices, decisions);
  assert.deepEqual(h.reported, []);
  assert.deepEqual(h.store.log(), []);
  // A store holding va's acceptance but not the rest of its batch.
  const partial = harness();
  partial.engine.restore(vertices, [decision("vertex", va.id, "accepted")]);
  const expected = [
    "tx:A:accepted",
    "tx:B:rejected",
    `vertex:${vb.id}:rejected`,
    `vertex:${vc.id}:rejected`,
  ];
  assert.deepEqual(partial.reported.map((d) => `${d.kind}:${d.id}:${d.status}`), expected);
  assert.deepEqual(partial.store.log().map((d) => `${d.kind}:${d.id}:${d.status}`), expected);
});

Deno.test("restore() after a real run: the restarted engine agrees with the one it replaces", () => {
  const store = new MemoryDecisionStore();
  const before = harness("a", { store });
  const v = before.engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  pollWith(before, [v.id], PARAMS.beta);
  before.engine.onVertices("b", [vertex("b", [v.id], "t2")]); // undecided at the crash
  const stored = store.log().length;
  assert.equal(stored, 2);
  const after = harness("a", { store });
  after.engine.restore(before.engine.vertices(), store.log());
  assert.equal(store.log().length, stored);
  assert.equal(after.engine.consensus.txStatus("t1"), "accepted");
  assert.equal(after.engine.consensus.txStatus("t2"), "processing");
  assert.deepEqual(after.engine.consensus.preferredFrontier(), before.engine.consensus.preferredFrontier());
  assert.deepEqual(after.engine.vertices(), before.engine.vertices());
});

Deno.test("restore() holds a vertex whose parent comes later, and drops what onVertices() would", () => {
  const h = harness();
  const parent = vertex("b", [], "t1");
  const child = vertex("c", [parent.id], "t2");
  const outsider = vertex("z", [], "t3");
  h.engine.restore([child, outsider, parent], []);
  assert.equal(h.engine.consensus.hasVertex(child.id), true);
  assert.equal(h.engine.stats.unknownValidator, 1);
  assert.equal(h.engine.consensus.hasVertex(outsider.id), false);
});

Deno.test("restore() needs a fresh engine and known ids", () => {
  const { vertices, decisions } = history();
  const used = harness();
  used.engine.onGossipTick();
  assert.throws(() => used.engine.restore(vertices, decisions), RestoreError);
  const twice = harness();
  twice.engine.restore(vertices, decisions);
  assert.throws(() => twice.engine.restore([], []), /restored already; use a new one/);
  assert.throws(
    () => harness().engine.restore(vertices.slice(0, 2), decisions),
    /vertex [0-9a-f]+ was decided rejected but is in no restored vertex/,
  );
  assert.throws(() => harness().engine.restore(vertices, [decision("tx", "nope", "accepted")]), RestoreError);
});

Deno.test("firstRequestId sets the first poll's request id; ids wrap within u32", () => {
  const h = harness("a", { firstRequestId: 0xffff_ffff });
  const v = h.engine.issue([{ id: "t1", conflictKey: "alice:0", deps: [] }]);
  pollWith(h, [v.id], 1);
  assert.deepEqual([...new Set(queries(h.sent).map((q) => q.requestId))], [0xffff_ffff, 1]);
  assert.throws(() => harness("a", { firstRequestId: 0 }), /firstRequestId is 0, expected 1\.\.4294967295/);
});
