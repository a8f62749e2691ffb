/**
 * The sets a vertex brings in alone are polled through one shared tally per
 * vertex (_solo.ts). That must change what a poll costs, never what it
 * decides: here every seeded history is fed to a DagConsensus with the
 * groups and to one without (each set polled on its own), and after every
 * step both must say the same thing.
 */
import assert from "node:assert/strict";
import { DagConsensus } from "./dag_consensus.ts";
import type { Parameters } from "./parameters.ts";
import type { TxInput } from "./types.ts";
import { SimRng } from "../../tests/_sim/rng.ts";

const PARAMS: readonly Parameters[] = [
  { k: 4, alphaPreference: 3, alphaConfidence: 3, beta: 3 },
  // Between alphaPreference and alphaConfidence a poll steers without counting.
  { k: 5, alphaPreference: 3, alphaConfidence: 4, beta: 4 },
];

/** What one instance says after a step; both instances must say the same. */
function observe(dag: DagConsensus, txs: readonly TxInput[]) {
  return {
    processing: dag.processing(),
    undecided: dag.undecided(),
    preferred: dag.preferredFrontier(),
    virtuous: dag.virtuousFrontier(),
    orphaned: dag.orphanedTxs(),
    successes: dag.lastPollSuccesses(),
    equivocating: dag.equivocatingVotes(),
    txs: txs.map((t) => [t.id, dag.txStatus(t.id), dag.confidence(t.id), dag.preferenceOf(t.conflictKey)]),
  };
}

/** Runs one seeded history on both instances, comparing after every step; returns how many decisions it made. */
function compareHistory(seed: number, params: Parameters, steps: number): number {
  const rng = new SimRng(seed);
  const grouped = new DagConsensus(params);
  const reference = new DagConsensus(params, { soloGroups: false });
  const vertices: string[] = [];
  const txs: TxInput[] = [];
  let decided = 0;
  let nextTx = 0;
  for (let step = 0; step < steps; step++) {
    const where = `seed ${seed}, step ${step}`;
    if (vertices.length === 0 || rng.chance(0.35)) {
      const id = `v${step}`;
      const parents = new Set<string>();
      if (vertices.length > 0 && rng.chance(0.5)) {
        for (const p of reference.virtuousFrontier().slice(0, 3)) parents.add(p);
      }
      const recent = vertices.slice(-8);
      for (let i = rng.between(0, 2); i > 0 && recent.length > 0; i--) parents.add(rng.pick(recent));
      const carried: TxInput[] = [];
      const keys = new Set<string>();
      for (let i = rng.between(0, 4); i > 0; i--) {
        const roll = rng.nextFloat();
        let t: TxInput;
        if (roll < 0.1 && txs.length > 0) {
          t = { id: `t${nextTx++}`, conflictKey: rng.pick(txs).conflictKey, deps: [] }; // a rival
        } else if (roll < 0.2 && txs.length > 0) {
          t = rng.pick(txs); // carried again
        } else if (roll < 0.3 && txs.length > 0) {
          const n = nextTx++;
          t = { id: `t${n}`, conflictKey: `k${n}`, deps: [rng.pick(txs).id] };
        } else {
          const n = nextTx++;
          t = { id: `t${n}`, conflictKey: `k${n}`, deps: [] };
        }
        if (keys.has(t.conflictKey) || carried.some((c) => c.id === t.id)) continue;
        keys.add(t.conflictKey);
        carried.push(t);
      }
      const vertex = { id, parents: [...parents].sort(), txs: carried };
      let a: unknown, b: unknown;
      try {
        a = grouped.add(vertex);
      } catch (e) {
        a = `throws ${(e as Error).message}`;
      }
      try {
        b = reference.add(vertex);
      } catch (e) {
        b = `throws ${(e as Error).message}`;
      }
      assert.deepEqual(a, b, `add at ${where}`);
      if (typeof b !== "string") {
        vertices.push(id);
        for (const t of carried) if (!txs.some((k) => k.id === t.id)) txs.push(t);
        decided += (b as unknown[]).length;
      }
    } else {
      const votes: string[][] = [];
      for (let r = rng.between(0, params.k); r > 0; r--) {
        const roll = rng.nextFloat();
        if (roll < 0.65) votes.push(reference.preferredFrontier());
        else if (roll < 0.9) votes.push([rng.pick(vertices), rng.pick(vertices)]);
        else votes.push([]);
      }
      const pending = rng.between(0, params.k - votes.length);
      assert.equal(grouped.pollSettled(votes, pending), reference.pollSettled(votes, pending), `settled at ${where}`);
      const a = grouped.recordPoll(votes);
      const b = reference.recordPoll(votes);
      assert.deepEqual(a, b, `poll at ${where}`);
      decided += b.length;
    }
    assert.deepEqual(observe(grouped, txs), observe(reference, txs), `state at ${where}`);
  }
  return decided;
}

Deno.test("a vertex's shared tally decides exactly what one tally per set decides", () => {
  let decided = 0;
  for (const params of PARAMS) {
    for (let seed = 1; seed <= 150; seed++) decided += compareHistory(seed, params, 120);
  }
  // The histories decide things (the comparison is not between two idle instances).
  assert.ok(decided > 1000, `only ${decided} decisions`);
});

Deno.test("a set that gets a rival leaves its vertex's tally with the polls it had", () => {
  const params = PARAMS[0];
  const dag = new DagConsensus(params);
  dag.add({
    id: "v1",
    parents: [],
    txs: [{ id: "t1", conflictKey: "k1", deps: [] }, { id: "t2", conflictKey: "k2", deps: [] }],
  });
  dag.recordPoll([["v1"], ["v1"], ["v1"]]);
  dag.recordPoll([["v1"], ["v1"], ["v1"]]);
  assert.equal(dag.confidence("t1"), 2);
  // A rival of t1 arrives: k1 is polled on its own from now on, from confidence 2.
  dag.add({ id: "v2", parents: [], txs: [{ id: "t1b", conflictKey: "k1", deps: [] }] });
  assert.equal(dag.confidence("t1"), 2);
  assert.equal(dag.confidence("t2"), 2);
  const decisions = dag.recordPoll([["v1"], ["v1"], ["v1"]]);
  assert.deepEqual(
    decisions.filter((d) => d.status === "accepted").map((d) => d.id),
    ["t1", "t2", "v1"],
  );
  assert.deepEqual(decisions.filter((d) => d.status === "rejected").map((d) => d.id), ["t1b", "v2"]);
});
