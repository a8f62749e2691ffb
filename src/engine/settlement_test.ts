import assert from "node:assert/strict";
import type { Cut, Decision, TxInput } from "../consensus/mod.ts";
import type { CutPosition } from "../dag/coverage.ts";
import { createReferenceCodec } from "./reference_codec.ts";
import { Engine, type SettlementConfig } from "./engine.ts";
import { MemoryDecisionStore } from "./memory_store.ts";
import type { Sender, SignedVertex, Signer, Verifier, Vote } from "./types.ts";

// Test doubles, as in engine_test.ts. The "signature" is a keyed checksum: a
// stand-in for ML-DSA-87 that only the named validator's test signer produces.
const VALIDATORS = ["a", "b", "c", "d"];
const PARAMS = { k: 4, alphaPreference: 3, alphaConfidence: 3, beta: 2 };
const SETTLEMENT: SettlementConfig = { intervalMs: 100, verticesMax: 100, lagMs: 50 };

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

/** Conflict keys of every transaction the tests made (the store's settledView asks for them). */
const KEYS = new Map<string, string>();

function tx(id: string, conflictKey = `${id}:0`): TxInput {
  KEYS.set(id, conflictKey);
  return { id, conflictKey, deps: [] };
}

type Sent =
  | { kind: "vertices"; to: string; vertices: readonly SignedVertex[] }
  | { kind: "get"; to: string; ids: readonly string[] }
  | { kind: "query"; to: string; requestId: number; frontier: readonly string[] }
  | { kind: "votes"; to: string; vote: Vote }
  | { kind: "frontier"; to: string; frontier: readonly string[] };

interface HarnessOptions {
  /** Shared by the engines of one node across a restart. */
  store?: MemoryDecisionStore;
  archive?: Map<string, SignedVertex>;
  settlement?: Partial<SettlementConfig>;
  issueParentsMax?: number;
  nowMs?: number;
}

/** Engine "a" with settlement, a clock the test sets, and a log of what it reported, in order. */
function harness(opts: HarnessOptions = {}) {
  const sent: Sent[] = [];
  const sender: Sender = {
    sendVertices: (to, vertices) => sent.push({ kind: "vertices", to, vertices }),
    sendGetVertices: (to, ids) => sent.push({ kind: "get", to, ids }),
    sendQuery: (to, requestId, frontier) => sent.push({ kind: "query", to, requestId, frontier }),
    sendVotes: (to, vote) => sent.push({ kind: "votes", to, vote }),
    sendFrontier: (to, frontier) => sent.push({ kind: "frontier", to, frontier }),
  };
  const store = opts.store ?? new MemoryDecisionStore();
  const archive = opts.archive ?? new Map<string, SignedVertex>();
  /** `decision:kind:id:status` and `cut:seq`, in the order the engine told them. */
  const events: string[] = [];
  const cuts: Cut[] = [];
  const clock = { now: opts.nowMs ?? 0 };
  const storedBefore = new Set(store.log().map((d) => d.id));
  const engine = new Engine(
    {
      params: PARAMS,
      validators: VALIDATORS,
      pollsOutstandingMax: 1,
      issueParentsMax: opts.issueParentsMax,
      settlement: { ...SETTLEMENT, ...opts.settlement },
    },
    {
      sender,
      clock: { nowMs: () => clock.now },
      rng: { nextInt: () => 0 }, // samples the sorted validators in order
      store,
      signer: signer("a"),
      verifier,
      codec: createReferenceCodec(signer("a"), verifier, hasher),
      settled: store.settledView((t) => KEYS.get(t)),
      archive: { put: (v) => void archive.set(v.id, v), get: (id) => archive.get(id) },
      onDecisions: (ds) => {
        for (const d of ds) events.push(`decision:${d.kind}:${d.id}:${d.status}`);
      },
      onCut: (cut) => {
        assert.deepEqual(store.cuts().at(-1), cut, "recorded before onCut");
        for (const v of cut.vertices) {
          assert.equal(store.status("vertex", v), "accepted");
          // Accepted in this run (not before a restart): reported before its cut.
          if (!storedBefore.has(v)) {
            assert.ok(events.includes(`decision:vertex:${v}:accepted`), `vertex ${v} reported before its cut`);
          }
        }
        events.push(`cut:${cut.seq}`);
        cuts.push(cut);
      },
    },
  );
  return { engine, sent, store, archive, events, cuts, clock, answered: { count: 0 } };
}

type Harness = ReturnType<typeof harness>;

function vote(from: string, querier: string, requestId: number, frontier: string[]): Vote {
  return { querier, requestId, responder: from, frontier };
}

function vertexAt(author: string, parents: string[], txId: string, timestampMs: number): SignedVertex {
  const body = { author, parents, txs: [tx(txId)], timestampMs };
  return createReferenceCodec(signer(author), verifier, hasher).build(body);
}

const queries = (sent: Sent[]) => sent.filter((m): m is Extract<Sent, { kind: "query" }> => m.kind === "query");

/** Every query not answered yet gets `frontier` from its validator, `rounds` times over. */
function pollWith(h: Harness, frontier: string[], rounds: number): void {
  for (let round = 0; round < rounds; round++) {
    const all = queries(h.sent);
    const unanswered = all.slice(h.answered.count);
    h.answered.count = all.length;
    for (const q of unanswered) h.engine.onVotes(q.to, vote(q.to, "a", q.requestId, frontier));
    h.engine.onGossipTick(); // restarts polling after a poll that made no progress
  }
}

/** Polls with `ids` as every peer's frontier until they are all accepted. */
function accept(h: Harness, ids: string[]): void {
  for (let i = 0; i < 20 && ids.some((id) => h.engine.consensus.vertexStatus(id) !== "accepted"); i++) {
    pollWith(h, ids, 1);
  }
  for (const id of ids) assert.equal(h.engine.consensus.vertexStatus(id), "accepted", id);
}

function tickAt(h: Harness, nowMs: number): void {
  h.clock.now = nowMs;
  h.engine.onGossipTick();
}

/**
 * Two cuts closed by engine a: f1 (a's, 10) and f2 (b's, 20) make cut 1 at 100 with frontier
 * [f1, f2]; x (c's, 150, on f1) and y (d's, 160, on f2) make cut 2 at 200 with frontier [x, y].
 */
function twoCuts(opts: HarnessOptions = {}) {
  const h = harness({ nowMs: 10, ...opts });
  const f1 = h.engine.issue([tx("t1")]);
  const f2 = vertexAt("b", [], "t2", 20);
  h.engine.onVertices("b", [f2]);
  accept(h, [f1.id, f2.id]);
  tickAt(h, 150);
  assert.equal(h.cuts.length, 1);
  const x = vertexAt("c", [f1.id], "tx", 150);
  const y = vertexAt("d", [f2.id], "ty", 160);
  h.engine.onVertices("c", [x, y]);
  accept(h, [x.id, y.id]);
  tickAt(h, 250);
  assert.equal(h.cuts.length, 2);
  return { h, f1, f2, x, y };
}

const sorted = (...ids: string[]) => [...ids].sort();

Deno.test("Engine closes a cut only once its clock is lagMs past the boundary", () => {
  const h = harness({ nowMs: 10 });
  const v = h.engine.issue([tx("t1")]);
  assert.equal(v.timestampMs, 10);
  accept(h, [v.id]);
  tickAt(h, 149);
  assert.deepEqual(h.store.cuts(), []);
  assert.equal(h.engine.consensus.vertexStatus(v.id), "accepted");
  tickAt(h, 150);
  assert.deepEqual(h.store.cuts().map((c) => [c.seq, c.boundaryMs, c.vertices]), [[1, 100, [v.id]]]);
  assert.equal(h.engine.stats.cutsClosed, 1);
  assert.deepEqual(h.engine.settlement(), {
    seq: 1,
    position: { boundaryMs: 100, frontier: [v.id] },
    blocked: null,
  });
});

Deno.test("Engine closes cuts at multiples of intervalMs, in order, skipping empty intervals", () => {
  const h = harness({ nowMs: 10 });
  const v1 = h.engine.issue([tx("t1")]);
  accept(h, [v1.id]);
  tickAt(h, 150);
  // Nothing in (100, 300): the next vertex is at 355.
  h.clock.now = 355;
  const v2 = h.engine.issue([tx("t2")]);
  accept(h, [v2.id]);
  tickAt(h, 449);
  assert.equal(h.store.cuts().length, 1, "400 is not 50 ms past yet");
  tickAt(h, 450);
  // Two more vertices, then a clock far ahead: two cuts in one tick, in order.
  h.clock.now = 460;
  const v3 = h.engine.issue([tx("t3")]);
  accept(h, [v3.id]);
  h.clock.now = 520;
  const v4 = h.engine.issue([tx("t4")]);
  accept(h, [v4.id]);
  tickAt(h, 700);
  assert.deepEqual(h.store.cuts().map((c) => [c.seq, c.prevBoundaryMs, c.boundaryMs, c.vertices]), [
    [1, 0, 100, [v1.id]],
    [2, 100, 400, [v2.id]],
    [3, 400, 500, [v3.id]],
    [4, 500, 600, [v4.id]],
  ]);
  assert.deepEqual(h.cuts, h.store.cuts(), "onCut saw the cuts the store holds, in the same order");
  assert.deepEqual(h.events.filter((e) => e.startsWith("cut:")), ["cut:1", "cut:2", "cut:3", "cut:4"]);
  assert.equal(h.engine.stats.cutsClosed, 4);
  // A tick with nothing new closes nothing.
  tickAt(h, 900);
  assert.equal(h.store.cuts().length, 4);
});

Deno.test("Engine waits while a vertex below the boundary is undecided and says why", () => {
  const h = harness({ nowMs: 10 });
  const u = vertexAt("b", [], "tu", 20);
  h.engine.onVertices("b", [u]);
  tickAt(h, 150);
  assert.deepEqual(h.store.cuts(), []);
  assert.deepEqual(h.engine.settlement().blocked, { boundaryMs: 100, blockers: 1, sinceMs: 150 });
  tickAt(h, 300);
  assert.deepEqual(h.engine.settlement().blocked, { boundaryMs: 100, blockers: 1, sinceMs: 150 }, "since the first");
  accept(h, [u.id]);
  assert.deepEqual(h.store.cuts().map((c) => c.vertices), [[u.id]]);
  assert.equal(h.engine.settlement().blocked, null);
});

Deno.test("Engine records each cut before onCut, after reporting the decisions it settles", () => {
  const h = harness({ nowMs: 10 });
  const v = h.engine.issue([tx("t1")]);
  accept(h, [v.id]);
  tickAt(h, 150);
  // onCut itself asserts the store held the cut and the vertex was reported; here the order of everything.
  assert.deepEqual(h.events, ["decision:tx:t1:accepted", `decision:vertex:${v.id}:accepted`, "cut:1"]);
  assert.deepEqual(h.store.cuts()[0].txIds, ["t1"]);
});

Deno.test("onCertifiedCut() rejects undecided vertices below its boundary that its frontier does not hold", () => {
  const h = harness({ nowMs: 10 });
  const va = vertexAt("b", [], "A", 20);
  const vb = vertexAt("c", [], "B", 30);
  const vc = vertexAt("d", [va.id], "C", 40);
  const above = vertexAt("b", [], "D", 150);
  h.engine.onVertices("b", [va, vb, vc, above]);
  h.clock.now = 150;
  const abandoned = h.engine.onCertifiedCut({ boundaryMs: 100, frontier: [vc.id] }, "b");
  assert.equal(abandoned, 1);
  assert.equal(h.engine.stats.verticesAbandoned, 1);
  assert.equal(h.engine.consensus.vertexStatus(vb.id), "rejected");
  assert.ok(h.events.includes(`decision:vertex:${vb.id}:rejected`));
  assert.equal(h.store.status("vertex", vb.id), "rejected");
  // Its transaction is an orphan, to be issued again; it was not rejected.
  assert.equal(h.engine.consensus.txStatus("B"), "processing");
  assert.deepEqual(h.engine.consensus.orphanedTxs().map((t) => t.id), ["B"]);
  // The frontier's ancestors and what lies above the boundary are untouched.
  for (const v of [va, vc, above]) assert.equal(h.engine.consensus.vertexStatus(v.id), "processing");
  // Once they are accepted this node closes the certified cut.
  accept(h, [vc.id]);
  tickAt(h, 160);
  assert.deepEqual(h.store.cuts().map((c) => [c.boundaryMs, c.vertices, c.frontier]), [
    [100, [va.id, vc.id], [vc.id]],
  ]);
});

Deno.test("onCertifiedCut() does nothing while its frontier is unknown, and fetches it from the peer", () => {
  const h = harness({ nowMs: 10 });
  const vb = vertexAt("c", [], "B", 30);
  h.engine.onVertices("c", [vb]);
  const unknown = "ee".repeat(8);
  const before = h.sent.length;
  assert.equal(h.engine.onCertifiedCut({ boundaryMs: 100, frontier: [unknown] }, "b"), 0);
  assert.equal(h.engine.consensus.vertexStatus(vb.id), "processing");
  assert.equal(h.engine.stats.verticesAbandoned, 0);
  assert.deepEqual(h.sent.slice(before), [{ kind: "get", to: "b", ids: [unknown] }]);
  // Without a peer to ask, nothing is sent.
  const other = harness({ nowMs: 10 });
  assert.equal(other.engine.onCertifiedCut({ boundaryMs: 100, frontier: [unknown] }), 0);
  assert.deepEqual(other.sent, []);
});

Deno.test("onCertifiedCut() ignores a cut at or below the node's own", () => {
  const h = harness({ nowMs: 10 });
  const v = h.engine.issue([tx("t1")]);
  accept(h, [v.id]);
  tickAt(h, 150);
  assert.equal(h.engine.settlement().position.boundaryMs, 100);
  const unknown = "ee".repeat(8);
  const before = h.sent.length;
  assert.equal(h.engine.onCertifiedCut({ boundaryMs: 100, frontier: [unknown] }, "b"), 0);
  assert.equal(h.engine.onCertifiedCut({ boundaryMs: 50, frontier: [unknown] }, "b"), 0);
  assert.deepEqual(h.sent.slice(before), [], "not even a fetch of its frontier");
  // One above it is taken up.
  assert.equal(h.engine.onCertifiedCut({ boundaryMs: 200, frontier: [unknown] }, "b"), 0);
  assert.deepEqual(h.sent.slice(before), [{ kind: "get", to: "b", ids: [unknown] }]);
});

Deno.test("issue() names a settled frontier vertex that none of its chosen tips descends from", () => {
  const h = harness({ nowMs: 10, issueParentsMax: 1 });
  const f1 = h.engine.issue([tx("t1")]);
  const f2 = vertexAt("b", [], "t2", 20);
  h.engine.onVertices("b", [f2]);
  accept(h, [f1.id, f2.id]);
  tickAt(h, 150);
  assert.deepEqual(h.engine.settlement().position.frontier, sorted(f1.id, f2.id));
  const x = vertexAt("c", [f1.id], "tx", 150);
  const y = vertexAt("d", [f2.id], "ty", 160);
  h.engine.onVertices("c", [x, y]);
  accept(h, [x.id, y.id]);
  h.clock.now = 170;
  // Room for one tip, the oldest (x); f2 is no tip (y sits on it) but x does not descend from it.
  const z = h.engine.issue([tx("tz")]);
  assert.deepEqual(z.parents, [x.id, f2.id]);
  assert.equal(z.timestampMs, 170);
  // The next one takes y, the oldest tip left, and f1 with it.
  const w = h.engine.issue([tx("tw")]);
  assert.deepEqual(w.parents, [y.id, f1.id]);

  // With room for every tip, nothing is added.
  const roomy = harness({ nowMs: 10 });
  const g1 = roomy.engine.issue([tx("u1")]);
  const g2 = vertexAt("b", [], "u2", 20);
  roomy.engine.onVertices("b", [g2]);
  accept(roomy, [g1.id, g2.id]);
  tickAt(roomy, 150);
  const gx = vertexAt("c", [g1.id], "ux", 150);
  const gy = vertexAt("d", [g2.id], "uy", 160);
  roomy.engine.onVertices("c", [gx, gy]);
  accept(roomy, [gx.id, gy.id]);
  roomy.clock.now = 170;
  assert.deepEqual(roomy.engine.issue([tx("uz")]).parents, [gx.id, gy.id]);
});

Deno.test("issue() never stamps a vertex below the settled cut, whatever the clock says", () => {
  const h = harness({ nowMs: 10 });
  const v = h.engine.issue([tx("t1")]);
  accept(h, [v.id]);
  tickAt(h, 150);
  h.clock.now = 40; // a clock stepped back
  const late = h.engine.issue([tx("t2")]);
  assert.equal(late.timestampMs, 100);
  assert.equal(h.engine.consensus.vertexStatus(late.id), "processing");
});

Deno.test("a received vertex below the settled cut, or missing part of the required frontier, is stale and not added", () => {
  const { h, x, y } = twoCuts();
  assert.deepEqual(h.engine.settlement().position, { boundaryMs: 200, frontier: sorted(x.id, y.id) });
  const old = vertexAt("b", [x.id, y.id], "old", 150);
  const onX = vertexAt("b", [x.id], "onX", 250); // misses f2, which cut 1's frontier holds
  const good = vertexAt("b", [x.id, y.id], "good", 250);
  h.engine.onVertices("b", [old, onX, good]);
  assert.equal(h.engine.stats.staleVertices, 2);
  assert.equal(h.engine.consensus.hasVertex(old.id), false);
  assert.equal(h.engine.consensus.hasVertex(onX.id), false);
  assert.equal(h.engine.vertex(onX.id), undefined);
  assert.equal(h.engine.consensus.txStatus("onX"), undefined);
  assert.equal(h.engine.consensus.vertexStatus(good.id), "processing");
  // A child of a refused vertex never gets in either.
  h.engine.onVertices("b", [vertexAt("b", [onX.id, good.id], "orphanChild", 260)]);
  assert.equal(h.engine.consensus.txStatus("orphanChild"), undefined);
});

Deno.test("settled vertices go to the archive and onGetVertices() serves them from there", () => {
  const archive = new Map<string, SignedVertex>();
  const h = harness({ nowMs: 10, archive });
  const f1 = h.engine.issue([tx("t1")]);
  const f2 = vertexAt("b", [], "t2", 20);
  h.engine.onVertices("b", [f2]);
  accept(h, [f1.id, f2.id]);
  tickAt(h, 150);
  assert.deepEqual([...archive.keys()], [], "the frontier stays in memory");
  const x = vertexAt("c", [f1.id, f2.id], "tx", 150);
  h.engine.onVertices("c", [x]);
  accept(h, [x.id]);
  tickAt(h, 250);
  assert.deepEqual([...archive.keys()].sort(), sorted(f1.id, f2.id));
  assert.equal(archive.get(f2.id), f2, "the signed vertex as received");
  assert.equal(h.engine.vertex(f1.id), undefined);
  assert.deepEqual(h.engine.vertices().map((v) => v.id), [x.id]);
  const before = h.sent.length;
  h.engine.onGetVertices("d", [f2.id, x.id, "ee".repeat(8)]);
  assert.deepEqual(h.sent.slice(before), [{ kind: "vertices", to: "d", vertices: [f2, x] }]);
});

/** Engine a after twoCuts(), then `done` (210) accepted and `pending` (220) undecided above cut 2: its crash. */
function crashed() {
  const { h, f1, f2, x, y } = twoCuts();
  const done = vertexAt("b", [x.id, y.id], "done", 210);
  h.engine.onVertices("b", [done]);
  accept(h, [done.id]);
  const pending = vertexAt("c", [done.id], "pending", 220);
  h.engine.onVertices("c", [pending]);
  const held = h.engine.vertices();
  assert.deepEqual(held.map((v) => v.id).sort(), sorted(x.id, y.id, done.id, pending.id));
  // The new engine's store holds what the old one recorded.
  const store = new MemoryDecisionStore();
  for (const c of h.store.cuts()) store.recordCut(c);
  store.record(h.store.log());
  const [prev, last] = h.store.cuts();
  const position = (c: Cut): CutPosition => ({ boundaryMs: c.boundaryMs, frontier: c.frontier });
  const restarted = harness({
    store,
    archive: h.archive,
    nowMs: 260,
    settlement: { position: position(last), seq: last.seq, previous: position(prev) },
  });
  return { h, f1, f2, x, y, done, pending, held, store, restarted, last: position(last) };
}

Deno.test("restore() from the last two cuts and the vertices held rebuilds a working engine", () => {
  const { h, f1, f2, x, y, done, pending, held, store, restarted: r, last } = crashed();
  // Decisions on the vertices held and on the transactions of those above the cut.
  const frontier = new Set(last.frontier);
  const ids = new Set(held.flatMap((v) => [v.id, ...(frontier.has(v.id) ? [] : v.txs.map((t) => t.id))]));
  const decisions: Decision[] = h.store.log().filter((d) => ids.has(d.id));
  assert.ok(decisions.some((d) => d.id === x.id) && decisions.some((d) => d.id === "done"));
  r.engine.restore(held, decisions);
  assert.deepEqual(r.engine.settlement(), { seq: 2, position: last, blocked: null });
  assert.equal(r.engine.consensus.vertexStatus(x.id), "accepted");
  assert.equal(r.engine.consensus.vertexStatus(y.id), "accepted");
  assert.equal(r.engine.consensus.vertexStatus(done.id), "accepted", "restored, not polled");
  assert.equal(r.engine.consensus.txStatus("done"), "accepted");
  assert.equal(r.engine.consensus.vertexStatus(pending.id), "processing");
  assert.equal(r.engine.consensus.hasVertex(f1.id), true, "settled, known through the store");
  assert.equal(r.events.length, 0, "nothing reported again");
  // Cut 2 holds again: nothing below it gets in. Cut 1's frontier is required again: on f1 and f2 is fine,
  // on f1 alone is not.
  r.engine.onVertices("b", [vertexAt("b", [x.id, y.id], "below", 199)]);
  assert.equal(r.engine.stats.staleVertices, 1);
  const onBoth = vertexAt("b", [f1.id, f2.id], "onBoth", 260);
  r.engine.onVertices("b", [onBoth, vertexAt("b", [f1.id], "onF1", 260)]);
  assert.equal(r.engine.stats.staleVertices, 2);
  assert.equal(r.engine.consensus.vertexStatus(onBoth.id), "processing");
  // Polls go on, and the next cut closes as seq 3.
  accept(r, [pending.id, onBoth.id]);
  tickAt(r, 350);
  assert.deepEqual(store.cuts().map((c) => [c.seq, c.boundaryMs, c.vertices]).at(-1), [
    3,
    300,
    [done.id, pending.id, onBoth.id],
  ]);
  assert.equal(r.engine.settlement().seq, 3);
  // A late carrier of a settled transaction is rejected on arrival, judged by the store.
  const late = vertexAt("c", [pending.id], "t1", 360);
  r.engine.onVertices("c", [late]);
  assert.equal(r.engine.consensus.vertexStatus(late.id), "rejected");
  assert.ok(!r.events.includes("decision:tx:t1:accepted"), "not reported again");
});

// Regression (fixed): a frontier vertex comes back as a settled stub (addSettled) without its transactions, so
// restoreDecisions() throws "tx … was decided accepted but is in no restored vertex" for the decisions on
// them, which a restart reads back with the vertex (tests/_sim/scenario.ts's crash path passes exactly
// these, and fails on 15 of 40 seeds with settlement on). Engine.restore() promises to take "every decision
// its store holds"; decisions on settled ids (known to the SettledView) should be passed over.
Deno.test("restore() takes the decisions on the vertices held and their transactions, the settled frontier's included", () => {
  const { h, x, y, done, pending, held, restarted: r, last } = crashed();
  const ids = new Set(held.flatMap((v) => [v.id, ...v.txs.map((t) => t.id)]));
  const decisions: Decision[] = h.store.log().filter((d) => ids.has(d.id));
  assert.ok(decisions.some((d) => d.id === "tx"), "x's transaction, settled by cut 2, is among them");
  r.engine.restore(held, decisions);
  assert.deepEqual(r.engine.settlement().position, last);
  assert.equal(r.engine.consensus.vertexStatus(x.id), "accepted");
  assert.equal(r.engine.consensus.vertexStatus(y.id), "accepted");
  assert.equal(r.engine.consensus.vertexStatus(done.id), "accepted");
  assert.equal(r.engine.consensus.vertexStatus(pending.id), "processing");
  assert.equal(r.events.length, 0, "nothing reported again");
});

// Regression (fixed): restore() holds the last cut's frontier vertices as stubs (addSettled) but never adds them to
// the engine's CoverageIndex, so it neither holds them nor counts them as required frontier bits. A vertex
// naming them, which every live node admits, is refused as stale by the restarted node (and so is anything
// above a restored vertex that reached the frontier through them): it holds a different DAG from then on.
Deno.test("restore(): a vertex on the restored frontier is admitted as it is by a node that never restarted", () => {
  const { h, x, y, done, held, restarted: r } = crashed();
  const heldIds = new Set(held.map((v) => v.id));
  r.engine.restore(held, h.store.log().filter((d) => d.kind === "vertex" && heldIds.has(d.id)));
  const onFrontier = vertexAt("b", [x.id, y.id], "onFrontier", 260);
  const onDone = vertexAt("c", [done.id], "onDone", 260);
  h.engine.onVertices("b", [onFrontier, onDone]);
  assert.equal(h.engine.stats.staleVertices, 0);
  assert.equal(h.engine.consensus.vertexStatus(onFrontier.id), "processing", "the live node admits it");
  assert.equal(h.engine.consensus.vertexStatus(onDone.id), "processing", "the live node admits it");
  r.engine.onVertices("b", [onFrontier, onDone]);
  assert.equal(r.engine.stats.staleVertices, 0);
  assert.equal(r.engine.consensus.vertexStatus(onFrontier.id), "processing");
  assert.equal(r.engine.consensus.vertexStatus(onDone.id), "processing");
});
