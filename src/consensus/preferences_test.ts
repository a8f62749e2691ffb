import assert from "node:assert/strict";
import { DagConsensus } from "./dag_consensus.ts";
import type { Decision, PreferenceRecord, TxInput } from "./types.ts";

// k 4, alpha 3, beta 3.
const params = { k: 4, alphaPreference: 3, alphaConfidence: 3, beta: 3 };
const tx = (id: string, conflictKey: string): TxInput => ({ id, conflictKey, deps: [] });
const forB = [["vB"], ["vB"], ["vB"], []];

/** Two vertices carrying rivals a and b (conflict key k), and an uncontested c: k starts on its lowest carrier, a@vA. */
function contest(): DagConsensus {
  const dag = new DagConsensus(params);
  dag.add({ id: "vA", parents: [], txs: [tx("a", "k")] });
  dag.add({ id: "vB", parents: [], txs: [tx("b", "k")] });
  dag.add({ id: "vC", parents: [], txs: [tx("c", "other")] });
  assert.equal(dag.preferenceOf("k"), "a");
  return dag;
}

function accepted(ds: readonly Decision[]): string[] {
  return ds.filter((d) => d.status === "accepted").map((d) => `${d.kind}:${d.id}`);
}

Deno.test("a contested set's preference that a poll moved is recorded once; a restarted instance adopts it", () => {
  const dag = contest();
  dag.recordPoll(forB);
  assert.equal(dag.preferenceOf("k"), "b");
  const records = dag.takePreferenceChanges();
  assert.deepEqual(records, [{ conflictKey: "k", member: "b@vB" }], "only the contested set (not vC's)");
  assert.deepEqual(dag.takePreferenceChanges(), [], "taken");
  dag.recordPoll([["vB"], ["vA"], [], []]);
  assert.deepEqual(dag.takePreferenceChanges(), [], "unchanged: nothing new to record");

  // A restart without the record starts on a again: the vote it gave before the crash is forgotten.
  const forgot = contest();
  assert.deepEqual(forgot.preferredFrontier().includes("vA"), true);
  const restarted = contest();
  assert.equal(restarted.restorePreferences(records), 1);
  assert.equal(restarted.preferenceOf("k"), "b");
  assert.deepEqual(restarted.preferredFrontier(), ["vB", "vC"]);
  restarted.recordPoll([["vB"], ["vA"], [], []]);
  assert.deepEqual(restarted.takePreferenceChanges(), [], "a restored preference is not recorded again");
});

Deno.test("a decided set's record is dropped (member null); records naming an unknown or dead member are not adopted", () => {
  const dag = contest();
  dag.recordPoll(forB);
  dag.takePreferenceChanges();
  const decisions: Decision[] = [];
  for (let i = 0; i < params.beta; i++) decisions.push(...dag.recordPoll(forB));
  assert.ok(accepted(decisions).includes("tx:b"));
  assert.deepEqual(dag.takePreferenceChanges(), [{ conflictKey: "k", member: null }]);

  const restarted = contest();
  const stale: PreferenceRecord[] = [
    { conflictKey: "k", member: "z@vZ" },
    { conflictKey: "gone", member: "q@vQ" },
    { conflictKey: "k", member: null },
  ];
  assert.equal(restarted.restorePreferences(stale), 0);
  assert.equal(restarted.preferenceOf("k"), "a");
  // At the next poll the stored rows are set right: k's to what it prefers, one of a set not processing here dropped.
  restarted.recordPoll([[], [], [], []]);
  assert.deepEqual(restarted.takePreferenceChanges(), [
    { conflictKey: "k", member: "a@vA" },
    { conflictKey: "gone", member: null },
  ]);
});
