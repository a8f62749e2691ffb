/**
 * A vote names at most VOTE_FRONTIER_MAX tips. One Byzantine author making
 * many vertices whose ids sort low (empty ones are cheap) must not crowd the
 * tips that decide open conflicts out of honest votes.
 */
import assert from "node:assert/strict";
import { DagConsensus, VOTE_FRONTIER_MAX } from "./dag_consensus.ts";
import type { TxInput } from "./types.ts";

const params = { k: 4, alphaPreference: 3, alphaConfidence: 3, beta: 3 };

function tx(id: string): TxInput {
  return { id, conflictKey: `acct-${id}:0`, deps: [] };
}

/** Ids that sort before any honest one ("0…" < "f…"), as a few hundred signing attempts give real ids. */
function lowIds(n: number, prefix = "00"): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, "0")}`);
}

/** Polls with every honest responder voting this node's own frontier, until `txId` is decided or `max` polls. */
function pollUntilDecided(dag: DagConsensus, txId: string, max: number): number {
  for (let i = 1; i <= max; i++) {
    const mine = dag.preferredFrontier();
    dag.recordPoll([mine, mine, mine, []]);
    if (dag.txStatus(txId) !== "processing") return i;
  }
  return Infinity;
}

Deno.test("vote room: 64 accepted empty vertices with low ids do not crowd out an honest transaction", () => {
  const dag = new DagConsensus(params);
  const byzantine = lowIds(VOTE_FRONTIER_MAX);
  for (const id of byzantine) dag.add({ id, parents: [], txs: [], author: "byz" });
  for (let i = 0; i < params.beta; i++) dag.recordPoll([byzantine, byzantine, byzantine, []]);
  for (const id of byzantine) assert.equal(dag.vertexStatus(id), "accepted");
  dag.add({ id: "f-honest", parents: [], txs: [tx("t1")], author: "honest" });
  assert.ok(dag.preferredFrontier().includes("f-honest"), "the honest tip is in the vote");
  assert.equal(pollUntilDecided(dag, "t1", 20), params.beta);
  assert.equal(dag.txStatus("t1"), "accepted");
});

Deno.test("vote room: 64 processing empty vertices with low ids do not crowd out an honest transaction", () => {
  const dag = new DagConsensus(params);
  for (const id of lowIds(VOTE_FRONTIER_MAX)) dag.add({ id, parents: [], txs: [], author: "byz" });
  dag.add({ id: "f-honest", parents: [], txs: [tx("t1")], author: "honest" });
  assert.equal(dag.preferredFrontier().length, VOTE_FRONTIER_MAX);
  assert.ok(dag.preferredFrontier().includes("f-honest"));
  assert.ok(pollUntilDecided(dag, "t1", 20) <= params.beta);
});

Deno.test("vote room: an author with many transaction tips gets a fair share, not all of it", () => {
  const dag = new DagConsensus(params);
  const byzantine = lowIds(200);
  byzantine.forEach((id, i) => dag.add({ id, parents: [], txs: [tx(`b${i}`)], author: "byz" }));
  const honest = ["a1", "a2", "a3"].flatMap((author) =>
    [0, 1, 2, 3, 4].map((i) => {
      const id = `f-${author}-${i}`;
      dag.add({ id, parents: [], txs: [tx(`${author}-${i}`)], author });
      return id;
    })
  );
  const vote = dag.preferredFrontier();
  assert.equal(vote.length, VOTE_FRONTIER_MAX);
  for (const id of honest) assert.ok(vote.includes(id), `${id} is in the vote`);
  assert.equal(vote.filter((id) => id.startsWith("00")).length, VOTE_FRONTIER_MAX - honest.length);
  assert.deepEqual(vote, [...vote].sort(), "sorted");
});

Deno.test("vote room: a vote is cut at its first VOTE_FRONTIER_MAX ids in the voter's order, not re-sorted", () => {
  const dag = new DagConsensus(params);
  dag.add({ id: "f-honest", parents: [], txs: [tx("t1")], author: "honest" });
  // A vote listing 64 unknown low ids after the honest tip still supports it.
  const vote = ["f-honest", ...lowIds(VOTE_FRONTIER_MAX)];
  for (let i = 0; i < params.beta; i++) dag.recordPoll([vote, vote, vote, []]);
  assert.equal(dag.txStatus("t1"), "accepted");
});
