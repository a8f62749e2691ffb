import assert from "node:assert/strict";
import { DagConsensus } from "./dag_consensus.ts";
import { ConsensusError, type Decision, RestoreError, type TxInput } from "./types.ts";

// k 4, alpha 3: three of four responders must support a member.
const params = { k: 4, alphaPreference: 3, alphaConfidence: 3, beta: 3 };

function tx(id: string, conflictKey = `acct-${id}:0`, deps: string[] = []): TxInput {
  return { id, conflictKey, deps };
}

function accepted(decisions: readonly Decision[]): string[] {
  return decisions.filter((d) => d.status === "accepted").map((d) => `${d.kind}:${d.id}`);
}

function rejected(decisions: readonly Decision[]): string[] {
  return decisions.filter((d) => d.status === "rejected").map((d) => `${d.kind}:${d.id}`);
}

function pollTimes(dag: DagConsensus, votes: string[][], n: number): Decision[] {
  const out: Decision[] = [];
  for (let i = 0; i < n; i++) out.push(...dag.recordPoll(votes));
  return out;
}

Deno.test("a virtuous transaction is accepted after beta successful polls", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "v1", parents: [], txs: [tx("t1")] });
  assert.ok(dag.isVirtuous("t1"));
  assert.deepEqual(dag.preferredFrontier(), ["v1"]);
  const votes = [["v1"], ["v1"], ["v1"], []];
  assert.deepEqual(pollTimes(dag, votes, 2), []);
  const decisions = dag.recordPoll(votes);
  assert.deepEqual(accepted(decisions), ["tx:t1", "vertex:v1"]);
  assert.equal(decisions[0].rounds, 3);
  assert.equal(dag.processing(), false);
  assert.deepEqual(dag.preferredFrontier(), ["v1"]);
});

Deno.test("a vote for a vertex is a vote for its ancestors (chits are transitive)", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "v1", parents: [], txs: [tx("t1")] });
  dag.add({ id: "v2", parents: ["v1"], txs: [tx("t2")] });
  assert.deepEqual(dag.preferredFrontier(), ["v2"]);
  const d = pollTimes(dag, [["v2"], ["v2"], ["v2"]], 3);
  assert.deepEqual(accepted(d), ["tx:t1", "vertex:v1", "tx:t2", "vertex:v2"]);
});

Deno.test("an unsuccessful poll resets confidence, so acceptance needs beta consecutive successes", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "v1", parents: [], txs: [tx("t1")] });
  pollTimes(dag, [["v1"], ["v1"], ["v1"]], 2);
  dag.recordPoll([["v1"], ["v1"], []]); // 2 < alpha
  assert.equal(dag.confidence("t1"), 0);
  assert.deepEqual(pollTimes(dag, [["v1"], ["v1"], ["v1"]], 2), []);
  assert.deepEqual(accepted(dag.recordPoll([["v1"], ["v1"], ["v1"]])), ["tx:t1", "vertex:v1"]);
});

Deno.test("the winner of a conflict set is accepted and the loser rejected with its descendants", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "va", parents: [], txs: [tx("a", "alice:0")] });
  dag.add({ id: "vb", parents: [], txs: [tx("b", "alice:0")] });
  dag.add({ id: "vb2", parents: ["vb"], txs: [tx("c")] });
  assert.equal(dag.isVirtuous("a"), false);
  assert.deepEqual(dag.conflictSet("alice:0"), ["a", "b"]);
  // First seen is preferred: vb and its child are not strongly preferred.
  assert.deepEqual(dag.preferredFrontier(), ["va"]);
  const d = pollTimes(dag, [["vb2"], ["vb2"], ["vb2"], ["va"]], 3);
  assert.deepEqual(accepted(d).sort(), ["tx:b", "tx:c", "vertex:vb", "vertex:vb2"]);
  assert.deepEqual(rejected(d), ["tx:a", "vertex:va"]);
  assert.equal(dag.txStatus("a"), "rejected");
});

Deno.test("snowball moves a node to the side the network prefers", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "va", parents: [], txs: [tx("a", "alice:0")] });
  dag.add({ id: "vb", parents: [], txs: [tx("b", "alice:0")] });
  assert.deepEqual(dag.preferredFrontier(), ["va"]);
  dag.recordPoll([["vb"], ["vb"], ["vb"], ["va"]]);
  assert.deepEqual(dag.preferredFrontier(), ["vb"]);
});

Deno.test("a responder supporting both sides of a conflict has its vote voided", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "va", parents: [], txs: [tx("a", "alice:0")] });
  dag.add({ id: "vb", parents: [], txs: [tx("b", "alice:0")] });
  // Two honest for a plus one double voter: 2 < alpha, unsuccessful.
  dag.recordPoll([["va"], ["va"], ["va", "vb"]]);
  assert.equal(dag.confidence("a"), 0);
  assert.equal(dag.equivocatingVotes(), 1);
});

Deno.test("rejection cascades to transactions depending on a rejected transaction", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "va", parents: [], txs: [tx("a", "alice:0")] });
  dag.add({ id: "vb", parents: [], txs: [tx("b", "alice:0")] });
  dag.add({ id: "vc", parents: ["va"], txs: [tx("c", "alice:1", ["a"])] });
  dag.add({ id: "vd", parents: [], txs: [tx("d", "bob:0", ["c"])] });
  const d = pollTimes(dag, [["vb"], ["vb"], ["vb"]], 3);
  assert.deepEqual(rejected(d).sort(), ["tx:a", "tx:c", "tx:d", "vertex:va", "vertex:vc", "vertex:vd"]);
  // A transaction arriving later that depends on a rejected one is rejected at once.
  const late = dag.add({ id: "ve", parents: ["vb"], txs: [tx("e", "carol:0", ["d"])] });
  assert.deepEqual(rejected(late), ["tx:e", "vertex:ve"]);
});

Deno.test("a transaction waits for its dependencies before acceptance", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "v2", parents: [], txs: [tx("t2", "alice:1", ["t1"])] });
  // t1 unknown: t2 is not preferred, so nobody honest votes for v2.
  assert.deepEqual(dag.preferredFrontier(), []);
  pollTimes(dag, [["v2"], ["v2"], ["v2"]], 5);
  assert.equal(dag.txStatus("t2"), "processing");
  dag.add({ id: "v1", parents: [], txs: [tx("t1", "alice:0")] });
  const d = pollTimes(dag, [["v1", "v2"], ["v1", "v2"], ["v1", "v2"]], 3);
  assert.deepEqual(accepted(d).filter((x) => x.startsWith("tx")), ["tx:t1", "tx:t2"]);
});

Deno.test("a conflicting transaction arriving after acceptance is rejected on arrival", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "va", parents: [], txs: [tx("a", "alice:0")] });
  pollTimes(dag, [["va"], ["va"], ["va"]], 3);
  const d = dag.add({ id: "vb", parents: ["va"], txs: [tx("b", "alice:0")] });
  assert.deepEqual(rejected(d), ["tx:b", "vertex:vb"]);
});

Deno.test("orphanedTxs() lists live transactions whose vertices were all rejected", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "va", parents: [], txs: [tx("a", "alice:0")] });
  dag.add({ id: "vb", parents: [], txs: [tx("b", "alice:0")] });
  dag.add({ id: "vx", parents: ["va"], txs: [tx("x")] });
  pollTimes(dag, [["vb"], ["vb"], ["vb"]], 3);
  assert.equal(dag.vertexStatus("vx"), "rejected");
  assert.deepEqual(dag.orphanedTxs(), [{ id: "x", conflictKey: "acct-x:0", deps: [] }]);
  dag.add({ id: "vx2", parents: ["vb"], txs: [tx("x")] });
  assert.deepEqual(dag.orphanedTxs(), []);
  const d = pollTimes(dag, [["vx2"], ["vx2"], ["vx2"]], 3);
  assert.deepEqual(accepted(d), ["tx:x", "vertex:vx2"]);
});

Deno.test("a rejected dependency restarts a conflict set that had finalized on its dependent", () => {
  const dag = new DagConsensus({ ...params, beta: 2 });
  dag.add({ id: "va", parents: [], txs: [tx("a", "alice:0")] });
  dag.add({ id: "vb", parents: [], txs: [tx("b", "alice:0")] });
  dag.add({ id: "vc1", parents: [], txs: [tx("c1", "alice:1", ["a"])] });
  dag.add({ id: "vc2", parents: [], txs: [tx("c2", "alice:1", ["b"])] });
  // alice:1 finalizes on c1, but c1 must wait for a, which is undecided.
  pollTimes(dag, [["vc1"], ["vc1"], ["vc1"]], 2);
  assert.equal(dag.txStatus("c1"), "processing");
  // The network settles alice:0 on b: a is rejected, so c1 is.
  const d1 = pollTimes(dag, [["vb"], ["vb"], ["vb"]], 2);
  assert.deepEqual(rejected(d1).filter((x) => x.startsWith("tx")).sort(), ["tx:a", "tx:c1"]);
  // alice:1 decides again among its live members.
  const d2 = pollTimes(dag, [["vc2"], ["vc2"], ["vc2"]], 2);
  assert.deepEqual(accepted(d2), ["tx:c2", "vertex:vc2"]);
});

Deno.test("add() refuses unknown parents, duplicate conflict keys and altered copies", () => {
  const dag = new DagConsensus(params);
  assert.throws(() => dag.add({ id: "v", parents: ["nope"], txs: [] }), ConsensusError);
  assert.throws(
    () => dag.add({ id: "v", parents: [], txs: [tx("a", "k"), tx("b", "k")] }),
    ConsensusError,
  );
  dag.add({ id: "v1", parents: [], txs: [tx("a", "k")] });
  assert.throws(() => dag.add({ id: "v2", parents: [], txs: [tx("a", "other")] }), ConsensusError);
  assert.equal(dag.hasVertex("v2"), false);
});

Deno.test("the same calls in the same order give the same decisions", () => {
  const run = () => {
    const dag = new DagConsensus(params);
    const out: Decision[] = [];
    out.push(...dag.add({ id: "va", parents: [], txs: [tx("a", "k:0")] }));
    out.push(...dag.add({ id: "vb", parents: [], txs: [tx("b", "k:0")] }));
    out.push(...dag.add({ id: "vc", parents: ["va", "vb"], txs: [tx("c")] }));
    out.push(...pollTimes(dag, [["vb"], ["vb"], ["vc", "va"], ["va"]], 6));
    return out;
  };
  assert.deepEqual(run(), run());
});

Deno.test("virtuousFrontier() keeps new vertices off contested transactions", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "v1", parents: [], txs: [tx("t1")] });
  dag.add({ id: "va", parents: ["v1"], txs: [tx("a", "alice:0")] });
  assert.deepEqual(dag.virtuousFrontier(), ["va"]);
  dag.add({ id: "vb", parents: ["v1"], txs: [tx("b", "alice:0")] });
  // alice:0 is now contested: neither side is clean.
  assert.deepEqual(dag.virtuousFrontier(), ["v1"]);
  assert.deepEqual(dag.preferredFrontier(), ["va"]);
});

Deno.test("one transaction in two concurrent vertices: one carrier wins, the other vertex is rejected", () => {
  const dag = new DagConsensus(params);
  // A client sent t to two nodes at once; each carried it with a transaction of its own.
  dag.add({ id: "v1", parents: [], txs: [tx("t"), tx("x")] });
  dag.add({ id: "v2", parents: [], txs: [tx("t"), tx("y")] });
  assert.equal(dag.isVirtuous("t"), false);
  assert.deepEqual(dag.conflictSet("acct-t:0"), ["t"]);
  assert.deepEqual(dag.verticesOf("t"), ["v1", "v2"]);
  // Both carriers are new: every node prefers the lowest carrier id, whatever it saw first.
  assert.deepEqual(dag.preferredFrontier(), ["v1"]);
  assert.equal(dag.preferredVertexOf("acct-t:0"), "v1");
  const d = pollTimes(dag, [["v1"], ["v1"], ["v1"], ["v2"]], 3);
  assert.deepEqual(decided(d), ["tx:t:accepted", "tx:x:accepted", "vertex:v1:accepted", "vertex:v2:rejected"]);
  assert.equal(dag.txStatus("t"), "accepted");
  // y lost only its vertex: it is an orphan, to be carried again, not a rejected transaction.
  assert.equal(dag.txStatus("y"), "processing");
  assert.deepEqual(dag.orphanedTxs().map((t) => t.id), ["y"]);
  // A late carrier of the accepted transaction is rejected on arrival, with all it carries.
  const late = dag.add({ id: "v3", parents: [], txs: [tx("t"), tx("z")] });
  assert.deepEqual(decided(late), ["vertex:v3:rejected"]);
  assert.deepEqual(dag.orphanedTxs().map((t) => t.id), ["y", "z"]);
});

Deno.test("the lowest carrier is preferred whatever order the carriers arrived in", () => {
  const forward = new DagConsensus(params);
  forward.add({ id: "v1", parents: [], txs: [tx("t")] });
  forward.add({ id: "v2", parents: [], txs: [tx("t")] });
  const backward = new DagConsensus(params);
  backward.add({ id: "v2", parents: [], txs: [tx("t")] });
  backward.add({ id: "v1", parents: [], txs: [tx("t")] });
  assert.deepEqual(forward.preferredFrontier(), ["v1"]);
  assert.deepEqual(backward.preferredFrontier(), ["v1"]);
  // Once a side won a poll, a newcomer does not take the preference, however low its id.
  const won = new DagConsensus(params);
  won.add({ id: "v2", parents: [], txs: [tx("t")] });
  won.recordPoll([["v2"], ["v2"], ["v2"]]);
  won.add({ id: "v1", parents: [], txs: [tx("t")] });
  assert.deepEqual(won.preferredFrontier(), ["v2"]);
});

Deno.test("a vertex carrying a transaction its undecided ancestor carries is rejected on arrival", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "v1", parents: [], txs: [tx("t")] });
  dag.add({ id: "v2", parents: ["v1"], txs: [tx("u")] });
  const d = dag.add({ id: "v3", parents: ["v2"], txs: [tx("t"), tx("w")] });
  assert.deepEqual(decided(d), ["vertex:v3:rejected"]);
  assert.deepEqual(dag.preferredFrontier(), ["v2"]);
  const later = pollTimes(dag, [["v2"], ["v2"], ["v2"]], 3);
  assert.deepEqual(decided(later).filter((x) => x.startsWith("tx")), ["tx:t:accepted", "tx:u:accepted"]);
});

Deno.test("a vertex on top of its own rival is rejected on arrival; virtuousFrontier(txs) keeps issuers off it", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "v0", parents: [], txs: [tx("t0")] });
  dag.add({ id: "va", parents: ["v0"], txs: [tx("a", "alice:0")] });
  dag.add({ id: "vx", parents: ["va"], txs: [tx("x")] });
  // Where an issuer of a double spend of alice:0 may go: not on va or anything above it.
  assert.deepEqual(dag.virtuousFrontier(), ["vx"]);
  assert.deepEqual(dag.virtuousFrontier([tx("b", "alice:0")]), ["v0"]);
  // Built on the first spend, it could never be strongly preferred.
  assert.deepEqual(decided(dag.add({ id: "vb", parents: ["vx"], txs: [tx("b", "alice:0")] })), [
    "vertex:vb:rejected",
  ]);
  assert.equal(dag.txStatus("b"), "processing", "b itself is not decided: only that vertex is");
  dag.add({ id: "vb2", parents: ["v0"], txs: [tx("b", "alice:0")] });
  assert.equal(dag.vertexStatus("vb2"), "processing");
});

Deno.test("a transaction on contested ancestry waits for the contest: accepted with its side or orphaned", () => {
  const build = () => {
    const dag = new DagConsensus(params);
    dag.add({ id: "va", parents: [], txs: [tx("a", "alice:0")] });
    dag.add({ id: "vx", parents: ["va"], txs: [tx("x")] });
    dag.add({ id: "vb", parents: [], txs: [tx("b", "alice:0")] });
    return dag;
  };
  const wins = build();
  assert.deepEqual(wins.virtuousFrontier(), []);
  const d1 = pollTimes(wins, [["vx"], ["vx"], ["vx"]], 3);
  assert.deepEqual(decided(d1).sort(), [
    "tx:a:accepted",
    "tx:b:rejected",
    "tx:x:accepted",
    "vertex:va:accepted",
    "vertex:vb:rejected",
    "vertex:vx:accepted",
  ]);
  const loses = build();
  const d2 = pollTimes(loses, [["vb"], ["vb"], ["vb"]], 3);
  assert.deepEqual(decided(d2).filter((x) => x.startsWith("tx")).sort(), ["tx:a:rejected", "tx:b:accepted"]);
  assert.deepEqual(loses.orphanedTxs().map((t) => t.id), ["x"]);
  // Carried again on the winning side, it is decided like any virtuous transaction.
  loses.add({ id: "vx2", parents: ["vb"], txs: [tx("x")] });
  assert.deepEqual(decided(pollTimes(loses, [["vx2"], ["vx2"], ["vx2"]], 3)), [
    "tx:x:accepted",
    "vertex:vx2:accepted",
  ]);
});

Deno.test("pollSettled() is true only when more votes cannot change the outcome", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "v1", parents: [], txs: [tx("t1")] });
  assert.equal(dag.pollSettled([["v1"], ["v1"]], 2), false);
  assert.equal(dag.pollSettled([["v1"], ["v1"], ["v1"]], 1), true); // alphaConfidence reached
  assert.equal(dag.pollSettled([["v1"], []], 1), true); // 1 + 1 < alphaPreference
  assert.equal(dag.pollSettled([["v1"]], 2), false); // 1 + 2 could reach alphaPreference
  assert.equal(dag.pollSettled([[], []], 2), true); // 0 + 2 cannot
});

Deno.test("pollSettled() counts each member of a conflict set apart, and an equivocating vote for none", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "va", parents: [], txs: [tx("a", "acct:1")] });
  dag.add({ id: "vb", parents: [], txs: [tx("b", "acct:1")] });
  dag.add({ id: "vc", parents: [], txs: [tx("c")] });
  // c has 3 of 3 (settled), but the set {a, b}: a 2 and b 1; 1 vote pending could make a 3.
  assert.equal(dag.pollSettled([["va", "vc"], ["va", "vc"], ["vb", "vc"]], 1), false);
  // Split 1 and 1 with 1 pending: neither can reach 3; c alone keeps nothing open.
  assert.equal(dag.pollSettled([["va", "vc"], ["vb", "vc"], ["vc"]], 1), true);
  // A vote for both a and b supports neither: a has 1, and 1 + 1 pending < 3.
  assert.equal(dag.pollSettled([["va", "vb", "vc"], ["va", "vc"], ["vc"]], 1), true);
  // Without the equivocation, a would have 2, and 2 + 1 pending could reach 3.
  assert.equal(dag.pollSettled([["va", "vc"], ["va", "vc"], ["vc"]], 1), false);
  // Three for a: settled whatever the last vote says.
  assert.equal(dag.pollSettled([["va", "vc"], ["va", "vc"], ["va", "vc"]], 1), true);
});

Deno.test("lastPollSuccesses() counts conflict sets a poll moved", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "v1", parents: [], txs: [tx("t1")] });
  dag.recordPoll([["v1"], ["v1"], ["v1"]]);
  assert.equal(dag.lastPollSuccesses(), 1);
  dag.recordPoll([["v1"], []]);
  assert.equal(dag.lastPollSuccesses(), 0);
});

/** Decisions as `kind:id:status`, in order. */
function decided(decisions: readonly Decision[]): string[] {
  return decisions.map((d) => `${d.kind}:${d.id}:${d.status}`);
}

function decision(kind: Decision["kind"], id: string, status: Decision["status"]): Decision {
  return { kind, id, status, rounds: 0 };
}

/** va carries a, vb carries b (a conflicts with b), vc sits on vb, vd carries d, virtuous. */
function contested(): DagConsensus {
  const dag = new DagConsensus(params);
  dag.add({ id: "va", parents: [], txs: [tx("a", "alice:0")] });
  dag.add({ id: "vb", parents: [], txs: [tx("b", "alice:0")] });
  dag.add({ id: "vc", parents: ["vb"], txs: [tx("c")] });
  dag.add({ id: "vd", parents: [], txs: [tx("d")] });
  return dag;
}

Deno.test("restoreDecisions() keeps a rejected rival rejected whatever later polls say", () => {
  const dag = contested();
  const restored = dag.restoreDecisions([
    decision("tx", "a", "accepted"),
    decision("vertex", "va", "accepted"),
    decision("tx", "b", "rejected"),
    decision("vertex", "vb", "rejected"),
    decision("vertex", "vc", "rejected"),
  ]);
  assert.deepEqual(restored, []);
  assert.equal(dag.txStatus("a"), "accepted");
  assert.equal(dag.txStatus("b"), "rejected");
  assert.equal(dag.preferenceOf("alice:0"), "a");
  // Every responder votes for b's side, many times over.
  const later = pollTimes(dag, [["vc"], ["vc"], ["vc"], ["vc"]], 3 * params.beta);
  assert.deepEqual(decided(later).filter((d) => d.startsWith("tx:b") || d.startsWith("vertex:vb")), []);
  assert.equal(dag.txStatus("b"), "rejected");
  // A newcomer to the decided set is rejected on arrival.
  assert.deepEqual(decided(dag.add({ id: "vb2", parents: [], txs: [tx("b2", "alice:0")] })), [
    "tx:b2:rejected",
    "vertex:vb2:rejected",
  ]);
});

Deno.test("restoreDecisions() leaves undecided transactions to polls, which decide them as usual", () => {
  const dag = contested();
  dag.restoreDecisions([decision("tx", "d", "accepted"), decision("vertex", "vd", "accepted")]);
  assert.equal(dag.processing(), true);
  assert.deepEqual(dag.undecided(), { vertices: ["va", "vb", "vc"], txs: ["a", "b", "c"] });
  const later = pollTimes(dag, [["vc"], ["vc"], ["vc"], ["va"]], params.beta + 1);
  assert.deepEqual(decided(later).sort(), [
    "tx:a:rejected",
    "tx:b:accepted",
    "tx:c:accepted",
    "vertex:va:rejected",
    "vertex:vb:accepted",
    "vertex:vc:accepted",
  ]);
  assert.equal(dag.processing(), false);
});

Deno.test("restoreDecisions() returns only the consequences that were not given", () => {
  const dag = contested();
  // A store holding va's acceptance but not the rest of its batch.
  const restored = dag.restoreDecisions([decision("vertex", "va", "accepted")]);
  assert.deepEqual(decided(restored), [
    "tx:a:accepted",
    "tx:b:rejected",
    "vertex:vb:rejected",
    "vertex:vc:rejected",
  ]);
  assert.ok(restored.every((d) => d.rounds === 0));
});

Deno.test("restoreDecisions() refuses unknown ids, contradictions and a consensus that has polled", () => {
  assert.throws(() => contested().restoreDecisions([decision("tx", "zz", "accepted")]), RestoreError);
  assert.throws(
    () => contested().restoreDecisions([decision("vertex", "zz", "rejected")]),
    /vertex zz .* no restored vertex/,
  );
  assert.throws(
    () => contested().restoreDecisions([decision("tx", "a", "accepted"), decision("tx", "b", "accepted")]),
    /a and b were both accepted, and both have conflict key alice:0/,
  );
  assert.throws(
    () => contested().restoreDecisions([decision("tx", "a", "accepted"), decision("tx", "a", "rejected")]),
    /tx a was decided both accepted and rejected/,
  );
  assert.throws(
    () => contested().restoreDecisions([decision("tx", "a", "accepted")]),
    /tx a was decided accepted, but no vertex carrying it was/,
  );
  assert.throws(
    () => contested().restoreDecisions([decision("vertex", "va", "accepted"), decision("vertex", "vb", "accepted")]),
    /vertex vb was decided accepted, but the other decisions reject it/,
  );
  const spendsB = contested();
  spendsB.add({ id: "ve", parents: ["vb"], txs: [tx("e", "bob:0", ["b"])] });
  assert.throws(
    () => spendsB.restoreDecisions([decision("vertex", "va", "accepted"), decision("vertex", "ve", "accepted")]),
    /vertex ve was decided accepted, but the other decisions reject it/,
  );
  assert.deepEqual(
    decided(contested().restoreDecisions([decision("vertex", "vd", "accepted")])),
    ["tx:d:accepted"],
    "an accepted vertex brings its transactions",
  );
  const withDep = new DagConsensus(params);
  withDep.add({ id: "v1", parents: [], txs: [tx("t1")] });
  withDep.add({ id: "v2", parents: [], txs: [tx("t2", "k2:0", ["t1"])] });
  assert.throws(() => withDep.restoreDecisions([decision("vertex", "v2", "accepted")]), /its dependency t1 is not/);
  const withParent = new DagConsensus(params);
  withParent.add({ id: "v1", parents: [], txs: [tx("t1")] });
  withParent.add({ id: "v2", parents: ["v1"], txs: [tx("t2")] });
  assert.throws(() => withParent.restoreDecisions([decision("vertex", "v2", "accepted")]), /its parent v1 is not/);
  const twice = new DagConsensus(params);
  twice.add({ id: "v1", parents: [], txs: [tx("t")] });
  twice.add({ id: "v2", parents: [], txs: [tx("t")] });
  assert.throws(
    () => twice.restoreDecisions([decision("vertex", "v1", "accepted"), decision("vertex", "v2", "accepted")]),
    /vertex v2 was decided accepted, but the other decisions reject it/,
  );
  const polled = contested();
  polled.recordPoll([]);
  assert.throws(() => polled.restoreDecisions([]), /1 polls were recorded already/);
});

Deno.test("a finalized winner waiting for a transaction carried only below the loser: the transaction is carried again and all decide", () => {
  const dag = new DagConsensus(params);
  // vL carries the loser b; vH, below it, carries t0; vP carries t1, which depends on t0; vW, on vP, carries a.
  dag.add({ id: "vL", parents: [], txs: [tx("b", "dbl:0")] });
  dag.add({ id: "vH", parents: ["vL"], txs: [tx("t0", "acct0:0")] });
  dag.add({ id: "vP", parents: [], txs: [tx("t1", "acct0:1", ["t0"])] });
  dag.add({ id: "vW", parents: ["vP"], txs: [tx("a", "dbl:0")] });
  assert.deepEqual(dag.orphanedTxs(), []);
  const votes = [["vW"], ["vW"], ["vW"]];
  // a and t1 finalize, yet vW waits for vP, which waits for t0, whose only carrier waits for the loser.
  assert.deepEqual(accepted(pollTimes(dag, votes, 2 * params.beta)), []);
  assert.equal(dag.vertexStatus("vW"), "processing");
  // t0's carrier is doomed (below the loser of a finalized set): t0 is to be carried again.
  assert.deepEqual(dag.orphanedTxs().map((t) => t.id), ["t0"]);
  dag.add({ id: "vT", parents: [], txs: [tx("t0", "acct0:0")] });
  dag.recordPoll(votes);
  // The set of t0 prefers the new carrier over the doomed one.
  assert.equal(dag.preferredVertexOf("acct0:0"), "vT");
  const decisions = pollTimes(dag, [["vW", "vT"], ["vW", "vT"], ["vW", "vT"]], params.beta);
  assert.deepEqual(accepted(decisions), ["tx:t0", "vertex:vT", "tx:t1", "vertex:vP", "tx:a", "vertex:vW"]);
  assert.deepEqual(rejected(decisions).sort(), ["tx:b", "vertex:vH", "vertex:vL"]);
  assert.equal(dag.txStatus("t0"), "accepted");
  assert.equal(dag.processing(), false);
});

Deno.test("an orphan carried again keeps off vertices that wait for it through a dependency, so all decide", () => {
  // t0's first carrier vR sits on the loser b. t1 (in vA) depends on t0; u0 sits above vA; u1 (in vC) depends on u0;
  // vD sits on vC. vC and vD descend from no carrier of t0 or t1, yet they wait for t0: vC needs u0, whose only carrier
  // vB needs vA, which needs t0.
  const votes = [["vB", "vD"], ["vB", "vD"], ["vB", "vD"]];
  const build = () => {
    const dag = new DagConsensus(params);
    dag.add({ id: "vY", parents: [], txs: [tx("a", "dbl:0")] });
    dag.add({ id: "vX", parents: [], txs: [tx("b", "dbl:0")] });
    dag.add({ id: "vR", parents: ["vX"], txs: [tx("t0", "acct4:0")] });
    dag.add({ id: "vA", parents: ["vY"], txs: [tx("t1", "acct4:1", ["t0"])] });
    dag.add({ id: "vB", parents: ["vA"], txs: [tx("u0", "acct2:0")] });
    dag.add({ id: "vC", parents: [], txs: [tx("u1", "acct2:1", ["u0"])] });
    dag.add({ id: "vD", parents: ["vC"], txs: [tx("w", "acct0:1")] });
    assert.deepEqual(accepted(pollTimes(dag, votes, params.beta)), ["tx:a", "vertex:vY"]);
    assert.deepEqual(dag.orphanedTxs().map((t) => t.id), ["t0"]);
    return dag;
  };
  const withT = [["vB", "vD", "vT"], ["vB", "vD", "vT"], ["vB", "vD", "vT"]];
  // On vD, t0's new carrier would wait for vC, vC for u0, u0 for vA, and vA for t0: for good, on every node.
  const stuck = build();
  stuck.add({ id: "vT", parents: ["vD", "vY"], txs: [tx("t0", "acct4:0")] });
  assert.deepEqual(accepted(pollTimes(stuck, withT, 4 * params.beta)), []);
  assert.equal(stuck.txStatus("w"), "processing");

  const dag = build();
  const parents = dag.virtuousFrontier([tx("t0", "acct4:0")]);
  assert.deepEqual(parents, ["vY"]);
  dag.add({ id: "vT", parents, txs: [tx("t0", "acct4:0")] });
  assert.deepEqual(accepted(pollTimes(dag, withT, 2 * params.beta)), [
    "tx:t0",
    "vertex:vT",
    "tx:t1",
    "vertex:vA",
    "tx:u0",
    "vertex:vB",
    "tx:u1",
    "vertex:vC",
    "tx:w",
    "vertex:vD",
  ]);
  assert.equal(dag.processing(), false);
});
