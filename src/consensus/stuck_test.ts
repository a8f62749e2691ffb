/**
 * A virtuous transaction carried above a contest that stalls for good (an
 * honest validator accepted the side this node does not prefer, and the
 * fourth is silent): it is carried again on clean parents, its set moves to
 * the new carrier, and it is accepted while the contest stays undecided
 * (src/consensus/_doom.ts, stuckCarriers; found by the seeded simulation,
 * withhold seed 222767351).
 */
import assert from "node:assert/strict";
import { DagConsensus } from "./dag_consensus.ts";
import { stalledPollsToStall } from "./conflicts.ts";
import type { Decision, TxInput } from "./types.ts";

const params = { k: 4, alphaPreference: 3, alphaConfidence: 3, beta: 3 };

function tx(id: string, conflictKey: string, deps: string[] = []): TxInput {
  return { id, conflictKey, deps };
}

function pollTimes(dag: DagConsensus, votes: string[][], n: number): Decision[] {
  const out: Decision[] = [];
  for (let i = 0; i < n; i++) out.push(...dag.recordPoll(votes));
  return out;
}

const accepted = (ds: readonly Decision[]) => ds.filter((d) => d.status === "accepted").map((d) => `${d.kind}:${d.id}`);

/**
 * This node's view: the contest a (vX) / b (vY), this node and one other prefer a; the third honest validator accepted
 * b and built vS on it, carrying the virtuous t (and vS2 above, carrying t2, which depends on t); the fourth is silent.
 */
function stalledContest(): { dag: DagConsensus; votes: string[][] } {
  const dag = new DagConsensus(params);
  dag.add({ id: "vX", parents: [], txs: [tx("a", "dbl:0")] });
  dag.add({ id: "vY", parents: [], txs: [tx("b", "dbl:0")] });
  dag.add({ id: "vS", parents: ["vY"], txs: [tx("t", "acct0:0")] });
  dag.add({ id: "vS2", parents: ["vS"], txs: [tx("t2", "acct0:1", ["t"])] });
  assert.equal(dag.preferenceOf("dbl:0"), "a");
  return { dag, votes: [["vX"], ["vX"], ["vS2"]] };
}

Deno.test("a transaction above a contest that stalls for good is carried again, and accepted; the contest stays", () => {
  const { dag, votes } = stalledContest();
  // a has two supporters, b one: no poll succeeds, and none favours b (the plurality rule cannot move this node).
  assert.deepEqual(accepted(pollTimes(dag, votes, stalledPollsToStall(params) - 1)), []);
  assert.deepEqual(dag.orphanedTxs(), [], "not before the contest has stalled");
  dag.recordPoll(votes);
  assert.deepEqual(dag.orphanedTxs().map((t) => t.id), ["t", "t2"], "the contest's own members are not carried again");

  const parents = dag.virtuousFrontier([tx("t", "acct0:0")]);
  assert.deepEqual(parents, []);
  dag.add({ id: "vT", parents, txs: [tx("t", "acct0:0")] });
  dag.add({ id: "vT2", parents: ["vT"], txs: [tx("t2", "acct0:1", ["t"])] });
  dag.recordPoll(votes);
  assert.equal(dag.preferredVertexOf("acct0:0"), "vT", "the set of t moves to its new carrier");
  assert.equal(dag.preferredVertexOf("acct0:1"), "vT2");
  assert.equal(dag.preferredVertexOf("dbl:0"), "vX", "the contest's preference does not move");

  // The validator that accepted b adopts the new carriers by plurality (two supporters to its one) and votes for them.
  const after = [["vX", "vT2"], ["vX", "vT2"], ["vT2"]];
  assert.deepEqual(accepted(pollTimes(dag, after, params.beta)), ["tx:t", "vertex:vT", "tx:t2", "vertex:vT2"]);
  assert.equal(dag.txStatus("a"), "processing");
  assert.equal(dag.vertexStatus("vS"), "rejected", "the old carrier lost to the new one");
});

Deno.test("a transaction above a contest that is still being decided is not carried again", () => {
  const { dag } = stalledContest();
  // Polls that fail now and then succeed: the count of failed polls in a row starts again.
  for (let i = 0; i < 3; i++) {
    pollTimes(dag, [["vX"], ["vX"], ["vS2"]], stalledPollsToStall(params) - 1);
    dag.recordPoll([["vX"], ["vX"], ["vX"]]);
  }
  assert.deepEqual(dag.orphanedTxs(), []);
  assert.equal(dag.preferredVertexOf("acct0:0"), "vS");
});
