import assert from "node:assert/strict";
import type { Cut, CutPlan } from "./cut.ts";
import { DagConsensus, type SettledView } from "./dag_consensus.ts";
import { ConsensusError, type Decision, type TxInput, type VertexInput } from "./types.ts";

// k 4, alpha 3: three of four responders must support a member.
const params = { k: 4, alphaPreference: 3, alphaConfidence: 3, beta: 3 };

function tx(id: string, conflictKey = `acct-${id}:0`, deps: string[] = []): TxInput {
  return { id, conflictKey, deps };
}

function vx(id: string, timestampMs: number, parents: string[], txs: TxInput[] = []): VertexInput {
  return { id, parents, txs, timestampMs };
}

/** Decisions as `kind:id:status`, in order. */
function decided(decisions: readonly Decision[]): string[] {
  return decisions.map((d) => `${d.kind}:${d.id}:${d.status}`);
}

/**
 * What a node's database knows once consensus dropped settled vertices: the
 * settled vertices and transactions (with their conflict keys) and every
 * rejected transaction. Fed by {@linkcode Node}, as the engine feeds its store.
 */
class Settled implements SettledView {
  readonly vertices = new Set<string>();
  readonly txKeys = new Map<string, string>();
  readonly rejected = new Set<string>();

  isSettled(id: string): boolean {
    return this.vertices.has(id);
  }

  txStatus(id: string): "accepted" | "rejected" | undefined {
    return this.txKeys.has(id) ? "accepted" : this.rejected.has(id) ? "rejected" : undefined;
  }

  winner(conflictKey: string): string | null {
    for (const [t, k] of this.txKeys) if (k === conflictKey) return t;
    return null;
  }
}

/** A DagConsensus whose decisions and cuts reach a {@linkcode Settled} view, as the engine's store would. */
class Node {
  readonly view = new Settled();
  readonly dag: DagConsensus;
  readonly log: Decision[] = [];

  constructor(options: { position?: { boundaryMs: number; frontier: string[] }; seq?: number } = {}) {
    this.dag = new DagConsensus(params, { settled: this.view, ...options });
  }

  add(v: VertexInput): Decision[] {
    return this.#record(this.dag.add(v));
  }

  poll(votes: string[][], times = 1): Decision[] {
    const out: Decision[] = [];
    for (let i = 0; i < times; i++) out.push(...this.dag.recordPoll(votes));
    return this.#record(out);
  }

  abandon(ids: string[]): Decision[] {
    return this.#record(this.dag.abandon(ids));
  }

  /** Plans and applies the cut at `boundaryMs`, recording it first (as the engine does). */
  settle(boundaryMs: number, verticesMax = 100): Cut {
    const plan = this.dag.planCut(boundaryMs, verticesMax);
    assert.equal(plan.kind, "cut", `expected a cut at ${boundaryMs}: ${JSON.stringify(plan)}`);
    const p = plan as Extract<CutPlan, { kind: "cut" }>;
    const cut = this.dag.cutOf(p);
    for (const v of cut.vertices) this.view.vertices.add(v);
    for (const t of cut.txIds) this.view.txKeys.set(t, this.dag.txInfo(t)!.conflictKey);
    assert.deepEqual(this.dag.applyCut(p), cut, "applyCut() closes the cut cutOf() described");
    return cut;
  }

  #record(ds: Decision[]): Decision[] {
    for (const d of ds) if (d.kind === "tx" && d.status === "rejected") this.view.rejected.add(d.id);
    this.log.push(...ds);
    return ds;
  }
}

/** v1 (10) <- v2 (20) and w (30) accepted; v3 (150) on v2 and w, undecided. */
function settledOnce(): { node: Node; cut: Cut } {
  const node = new Node();
  node.add(vx("v1", 10, [], [tx("t1")]));
  node.add(vx("v2", 20, ["v1"], [tx("t2")]));
  node.add(vx("w", 30, [], [tx("tw")]));
  node.add(vx("v3", 150, ["v2", "w"], [tx("t3")]));
  node.poll([["v2", "w"], ["v2", "w"], ["v2", "w"]], params.beta);
  assert.deepEqual(node.dag.undecided(), { vertices: ["v3"], txs: ["t3"] });
  return { node, cut: node.settle(100) };
}

Deno.test("applyCut() drops settled vertices from memory and keeps the frontier as accepted stubs", () => {
  const node = new Node();
  node.add(vx("v1", 10, [], [tx("t1")]));
  node.add(vx("v2", 20, ["v1"], [tx("t2")]));
  node.add(vx("w", 30, [], [tx("tw")]));
  node.add(vx("v3", 150, ["v2", "w"], [tx("t3")]));
  node.poll([["v2", "w"], ["v2", "w"], ["v2", "w"]], params.beta);
  assert.deepEqual(node.dag.size, { vertices: 4, txs: 4, carriers: 4, sets: 4 });
  const cut = node.settle(100);
  assert.deepEqual(cut, {
    seq: 1,
    boundaryMs: 100,
    prevBoundaryMs: 0,
    vertices: ["v1", "v2", "w"],
    txIds: ["t1", "t2", "tw"],
    frontier: ["v2", "w"],
    snapshotSafe: true,
  });
  assert.deepEqual(node.dag.size, { vertices: 3, txs: 1, carriers: 1, sets: 1 });
  assert.deepEqual(node.dag.position, { boundaryMs: 100, frontier: ["v2", "w"] });
  assert.equal(node.dag.cutSeq, 1);
  // v1 left memory; the frontier stays, accepted and without its transactions.
  assert.equal(node.dag.vertexStatus("v1"), undefined);
  assert.equal(node.dag.txStatus("t1"), undefined);
  assert.equal(node.dag.vertexStatus("v2"), "accepted");
  assert.deepEqual(node.dag.vertexInfo("w")?.txIds, []);
  assert.equal(node.dag.txStatus("t2"), undefined);
  // The next plan does not offer the stubs again.
  assert.deepEqual(node.dag.planCut(200, 100), {
    kind: "blocked",
    boundaryMs: 200,
    blockers: [
      { id: "v3", timestampMs: 150, status: "processing", why: "undecided_below" },
    ],
  });
});

Deno.test("hasVertex() answers for dropped settled vertices through the SettledView", () => {
  const { node } = settledOnce();
  for (const id of ["v1", "v2", "w", "v3"]) assert.equal(node.dag.hasVertex(id), true, id);
  assert.equal(node.dag.hasVertex("never"), false);
  // Without a view nothing answers for what was dropped.
  const blind = new DagConsensus(params);
  blind.add(vx("a", 10, [], [tx("ta")]));
  blind.add(vx("b", 20, ["a"], [tx("tb")]));
  blind.recordPoll([["b"], ["b"], ["b"]]);
  blind.recordPoll([["b"], ["b"], ["b"]]);
  blind.recordPoll([["b"], ["b"], ["b"]]);
  const plan = blind.planCut(100, 100);
  assert.equal(plan.kind, "cut");
  blind.applyCut(plan as Extract<CutPlan, { kind: "cut" }>);
  assert.equal(blind.hasVertex("a"), false);
  assert.equal(blind.hasVertex("b"), true, "the frontier stub is held");
});

Deno.test("applyCut() leaves a processing vertex above the cut as it was, confidence included", () => {
  const node = new Node();
  node.add(vx("v1", 10, [], [tx("t1")]));
  node.add(vx("v3", 150, ["v1"], [tx("t3")]));
  node.poll([["v1"], ["v1"], ["v1"]], params.beta);
  node.poll([["v3"], ["v3"], ["v3"]], params.beta - 1);
  assert.equal(node.dag.confidence("t3"), params.beta - 1);
  node.settle(100);
  assert.equal(node.dag.vertexStatus("v3"), "processing");
  assert.equal(node.dag.confidence("t3"), params.beta - 1);
  assert.deepEqual(node.dag.preferredFrontier(), ["v3"]);
  assert.deepEqual(decided(node.poll([["v3"], ["v3"], ["v3"]])), ["tx:t3:accepted", "vertex:v3:accepted"]);
});

Deno.test("a new vertex naming a frontier stub, or a dropped settled vertex, is accepted as usual", () => {
  const { node } = settledOnce();
  node.poll([["v3"], ["v3"], ["v3"]], params.beta);
  node.add(vx("onStub", 160, ["v2"], [tx("s")]));
  assert.deepEqual(node.dag.preferredFrontier(), ["onStub", "v3"]);
  assert.deepEqual(decided(node.poll([["onStub"], ["onStub"], ["onStub"]], params.beta)), [
    "tx:s:accepted",
    "vertex:onStub:accepted",
  ]);
  // v1 left memory: as a parent it counts as accepted.
  node.add(vx("onDropped", 170, ["v1"], [tx("d")]));
  assert.equal(node.dag.parentsOf("onDropped")?.[0], "v1");
  assert.deepEqual(decided(node.poll([["onDropped"], ["onDropped"], ["onDropped"]], params.beta)), [
    "tx:d:accepted",
    "vertex:onDropped:accepted",
  ]);
});

Deno.test("a late carrier of a settled transaction is rejected on arrival without reporting the transaction again", () => {
  const { node } = settledOnce();
  const d = node.add(vx("late", 160, ["v2"], [tx("t1"), tx("z")]));
  assert.deepEqual(decided(d), ["vertex:late:rejected"]);
  assert.equal(node.dag.txStatus("t1"), "accepted");
  assert.equal(node.log.filter((x) => x.id === "t1").length, 1, "t1 was reported once, when it was accepted");
  // What it carried besides is an orphan, to be carried again.
  assert.deepEqual(node.dag.orphanedTxs().map((t) => t.id), ["z"]);
  assert.equal(node.dag.txStatus("z"), "processing");
});

Deno.test("a rival of a settled transaction is rejected on arrival; the settled one is not reported again", () => {
  const { node } = settledOnce();
  const d = node.add(vx("rival", 160, ["v2"], [tx("r", "acct-t1:0")]));
  assert.deepEqual(decided(d), ["tx:r:rejected", "vertex:rival:rejected"]);
  assert.deepEqual(node.dag.preferredFrontier(), ["v3"], "nobody votes for it");
  // A vertex on top of the rival is rejected with it.
  assert.deepEqual(decided(node.add(vx("above", 170, ["rival"], [tx("u")]))), ["vertex:above:rejected"]);
  assert.ok(!node.log.some((x) => x.id === "t1" && x.status === "rejected"));
});

Deno.test("a processing orphan whose rival is accepted and settled is rejected, not left processing", () => {
  const node = new Node();
  node.add(vx("vp", 10, [], [tx("p", "bob:0")]));
  node.add(vx("vq", 10, [], [tx("q", "bob:0")]));
  node.add(vx("vx", 20, ["vp"], [tx("x", "carol:0")]));
  node.poll([["vq"], ["vq"], ["vq"]], params.beta);
  assert.equal(node.dag.vertexStatus("vx"), "rejected");
  assert.deepEqual(node.dag.orphanedTxs().map((t) => t.id), ["x"]);
  // vx leaves memory with the cut; x stays an orphan.
  node.settle(100);
  assert.equal(node.dag.vertexStatus("vx"), undefined);
  assert.deepEqual(node.dag.orphanedTxs().map((t) => t.id), ["x"]);
  // A rival of x, carried and accepted: x loses although none of its carriers is held any more.
  node.add(vx("vy", 150, ["vq"], [tx("y", "carol:0")]));
  const d = node.poll([["vy"], ["vy"], ["vy"]], params.beta);
  assert.deepEqual(decided(d).sort(), ["tx:x:rejected", "tx:y:accepted", "vertex:vy:accepted"]);
  assert.deepEqual(node.dag.orphanedTxs(), []);
  node.settle(200);
  assert.equal(node.dag.txStatus("x"), undefined, "dropped with its set");
  assert.deepEqual(node.dag.orphanedTxs(), []);
  // Carried again later: rejected on arrival, not reported again.
  assert.deepEqual(decided(node.add(vx("vx2", 250, ["vy"], [tx("x", "carol:0")]))), ["vertex:vx2:rejected"]);
  assert.equal(node.dag.txStatus("x"), "rejected");
  assert.deepEqual(node.dag.orphanedTxs(), []);
  assert.equal(node.log.filter((x) => x.id === "x").length, 1);
});

Deno.test("a dependency settled and dropped from memory counts as accepted for its dependent", () => {
  const { node } = settledOnce();
  assert.equal(node.dag.txStatus("t1"), undefined);
  node.add(vx("dep", 160, ["v2", "w"], [tx("needs-t1", "acct-n:0", ["t1"])]));
  // Preferred at once (its dependency is accepted), so this node votes for it.
  assert.ok(node.dag.preferredFrontier().includes("dep"));
  const d = node.poll([["dep"], ["dep"], ["dep"]], params.beta);
  assert.deepEqual(decided(d).filter((x) => x.includes("needs-t1") || x.includes("dep")), [
    "tx:needs-t1:accepted",
    "vertex:dep:accepted",
  ]);
  // A dependency unknown everywhere keeps its dependent waiting, view or not.
  node.add(vx("dep2", 170, ["v2"], [tx("needs-ghost", "acct-g:0", ["ghost"])]));
  node.poll([["dep2"], ["dep2"], ["dep2"]], params.beta);
  assert.equal(node.dag.txStatus("needs-ghost"), "processing");
});

Deno.test("abandon() rejects undecided vertices with their descendants and orphans their transactions", () => {
  const node = new Node();
  node.add(vx("a", 10, [], [tx("ta")]));
  node.add(vx("b", 20, ["a"], [tx("tb")]));
  node.add(vx("c", 30, [], [tx("tc")]));
  node.add(vx("ok", 40, [], [tx("tok")]));
  node.poll([["ok"], ["ok"], ["ok"]], params.beta);
  const d = node.abandon(["a", "ok", "unknown"]);
  assert.deepEqual(decided(d).sort(), ["vertex:a:rejected", "vertex:b:rejected"]);
  assert.equal(node.dag.vertexStatus("ok"), "accepted", "an accepted vertex is not abandoned");
  assert.equal(node.dag.vertexStatus("c"), "processing");
  assert.deepEqual(node.dag.orphanedTxs().map((t) => t.id), ["ta", "tb"]);
  assert.equal(node.dag.txStatus("ta"), "processing");
  // Carried again, an orphan is decided as usual.
  node.add(vx("again", 50, ["ok"], [tx("ta")]));
  assert.deepEqual(decided(node.poll([["again"], ["again"], ["again"]], params.beta)).filter((x) => x.includes("ta")), [
    "tx:ta:accepted",
  ]);
  // Nothing undecided is left below 100 but c: abandoning it lets the cut close.
  assert.equal(node.dag.planCut(100, 100).kind, "blocked");
  node.abandon(["c"]);
  assert.equal(node.dag.planCut(100, 100).kind, "cut");
});

Deno.test("an empty vertex is accepted only after beta consecutive polls with alphaConfidence support", () => {
  const node = new Node();
  node.add(vx("e", 10, []));
  assert.deepEqual(node.dag.preferredFrontier(), ["e"]);
  assert.equal(node.dag.processing(), true);
  // Nobody votes for it: never accepted.
  assert.deepEqual(node.poll([[], [], [], []], 3 * params.beta), []);
  // Two supporters of four are fewer than alphaConfidence.
  assert.deepEqual(node.poll([["e"], ["e"], [], []], 3 * params.beta), []);
  // beta - 1 good polls, then a bad one: starts over.
  assert.deepEqual(node.poll([["e"], ["e"], ["e"]], params.beta - 1), []);
  assert.equal(node.dag.lastPollSuccesses(), 1);
  assert.deepEqual(node.poll([["e"], ["e"]]), []);
  assert.deepEqual(node.poll([["e"], ["e"], ["e"]], params.beta - 1), []);
  assert.deepEqual(decided(node.poll([["e"], ["e"], ["e"]])), ["vertex:e:accepted"]);
  assert.equal(node.dag.processing(), false);
});

Deno.test("an empty vertex is supported by votes for its descendants, and waits for its parents", () => {
  const node = new Node();
  node.add(vx("p", 10, [], [tx("tp")]));
  node.add(vx("e", 20, ["p"]));
  node.add(vx("child", 30, ["e"], [tx("tc")]));
  // Until p is accepted, e cannot be, however much support it has.
  node.poll([["child"], ["child"], ["child"]], params.beta);
  assert.deepEqual(node.dag.undecided().vertices, []);
  assert.deepEqual(
    node.log.filter((d) => d.kind === "vertex").map((d) => d.id),
    ["p", "e", "child"],
  );
  // pollSettled() waits for an empty vertex's votes too.
  const other = new Node();
  other.add(vx("e", 10, []));
  assert.equal(other.dag.pollSettled([["e"]], 2), false);
  assert.equal(other.dag.pollSettled([["e"], ["e"], ["e"]], 1), true);
});

Deno.test("applyCut() throws if a vertex below the boundary is undecided, and changes nothing", () => {
  const node = new Node();
  node.add(vx("v1", 10, [], [tx("t1")]));
  node.poll([["v1"], ["v1"], ["v1"]], params.beta);
  const plan = node.dag.planCut(100, 100);
  assert.equal(plan.kind, "cut");
  // A late vertex below the boundary arrives between planning and closing.
  node.add(vx("late", 50, ["v1"], [tx("t2")]));
  const size = node.dag.size;
  assert.throws(
    () => node.dag.applyCut(plan as Extract<CutPlan, { kind: "cut" }>),
    /Cannot settle: vertex late below the cut is undecided/,
  );
  assert.deepEqual(node.dag.size, size);
  assert.equal(node.dag.cutSeq, 0);
  assert.deepEqual(node.dag.position, { boundaryMs: 0, frontier: [] });
  assert.equal(node.dag.vertexStatus("v1"), "accepted");
});

Deno.test("cutOf() numbers cuts 1, 2, 3 and chains their boundaries", () => {
  const node = new Node();
  const cuts: Cut[] = [];
  let parent: string[] = [];
  for (const [i, ts] of [10, 150, 250].entries()) {
    const id = `v${i}`;
    node.add(vx(id, ts, parent, [tx(`t${i}`)]));
    node.poll([[id], [id], [id]], params.beta);
    const plan = node.dag.planCut((i + 1) * 100, 100) as Extract<CutPlan, { kind: "cut" }>;
    assert.equal(node.dag.cutOf(plan).seq, i + 1, "cutOf() changes nothing");
    assert.equal(node.dag.cutOf(plan).seq, i + 1);
    cuts.push(node.settle((i + 1) * 100));
    parent = [id];
  }
  assert.deepEqual(cuts.map((c) => [c.seq, c.prevBoundaryMs, c.boundaryMs, c.frontier]), [
    [1, 0, 100, ["v0"]],
    [2, 100, 200, ["v1"]],
    [3, 200, 300, ["v2"]],
  ]);
  // v0 left memory once v1 replaced it on the frontier.
  assert.deepEqual(node.dag.size.vertices, 1);
  // After a restart at cut 7, the next is 8.
  const restarted = new Node({ position: { boundaryMs: 300, frontier: ["v2"] }, seq: 7 });
  restarted.dag.addSettled({ id: "v2", parents: ["v1"], timestampMs: 250 });
  restarted.add(vx("v3", 350, ["v2"], [tx("t3")]));
  restarted.poll([["v3"], ["v3"], ["v3"]], params.beta);
  const next = restarted.settle(400);
  assert.equal(next.seq, 8);
  assert.equal(next.prevBoundaryMs, 300);
});

Deno.test("addSettled() holds a frontier vertex as an accepted stub new vertices may name; others are refused", () => {
  const node = new Node({ position: { boundaryMs: 100, frontier: ["f1", "f2"] }, seq: 1 });
  node.dag.addSettled({ id: "f1", parents: ["old"], timestampMs: 40 });
  node.dag.addSettled({ id: "f2", parents: [], timestampMs: 60 });
  assert.throws(() => node.dag.addSettled({ id: "old", parents: [] }), ConsensusError);
  assert.equal(node.dag.vertexStatus("f1"), "accepted");
  assert.deepEqual(node.dag.preferredFrontier(), ["f1", "f2"]);
  assert.deepEqual(node.dag.planCut(200, 100), { kind: "none", nextMs: null }, "stubs are not settled again");
  node.add(vx("n", 150, ["f1", "f2"], [tx("tn")]));
  assert.deepEqual(decided(node.poll([["n"], ["n"], ["n"]], params.beta)), ["tx:tn:accepted", "vertex:n:accepted"]);
  const cut = node.settle(200);
  assert.deepEqual(cut.vertices, ["n"]);
  assert.deepEqual(cut.frontier, ["n"]);
  assert.equal(node.dag.hasVertex("f1"), false, "the old stubs leave memory (this view never saw them settled)");
});

Deno.test("notReachedFrom() walks held vertices and stops at stubs", () => {
  const { node } = settledOnce();
  node.add(vx("x", 160, ["v3"], [tx("tx")]));
  assert.deepEqual(node.dag.notReachedFrom(["x"], ["v2", "w"]), []);
  assert.deepEqual(node.dag.notReachedFrom(["x"], ["v1"]), ["v1"], "v1 left memory: reached only when named");
  assert.deepEqual(node.dag.notReachedFrom(["v1"], ["v1", "w"]), ["w"]);
  assert.deepEqual(node.dag.notReachedFrom([], ["w", "v2"]), ["v2", "w"]);
});

// Regression (fixed): a late carrier or a rival of a settled transaction recreates its conflict set (settled, in
// #addTx), and no later cut deletes it: #dropCarrier deletes a set only when its accepted carrier is dropped,
// and such a set has none (SETTLED_WINNER). One empty set stays in memory per replayed conflict key, forever.
Deno.test("a cut drops the conflict sets that late carriers of settled transactions brought back", () => {
  const { node } = settledOnce();
  node.poll([["v3"], ["v3"], ["v3"]], params.beta);
  node.settle(200);
  const before = node.dag.size;
  node.add(vx("late", 250, ["v3"], [tx("t1")]));
  node.add(vx("rival", 260, ["v3"], [tx("r", "acct-t2:0")]));
  assert.equal(node.dag.vertexStatus("late"), "rejected");
  assert.equal(node.dag.vertexStatus("rival"), "rejected");
  node.add(vx("next", 270, ["v3"], [tx("n")]));
  node.poll([["next"], ["next"], ["next"]], params.beta);
  node.settle(300);
  // Everything those two brought in was decided and lies below the cut: nothing of it is held.
  assert.deepEqual(node.dag.size, before);
});
