/**
 * Seeded simulation of QR-Avalanche: N engines over a simulated network and
 * clock, with delays, drops, reordering, partitions that heal, and Byzantine
 * validators (equivocating vertices, votes for both sides, votes steering
 * each node away from its preference, withheld votes, votes of garbage ids,
 * impersonated and replayed votes, malformed vertices), and an honest validator that
 * crashes and restarts from what it stored (Engine.restore).
 *
 * Every run checks, on every decision, that no two honest nodes accept
 * conflicting transactions and that the decision was stored before it was
 * reported; and after the network heals, that every honest node accepts
 * every virtuous transaction. Full liveness (every honest node decides
 * everything, contested conflicts included, and all accept the same set) is
 * required at 100 validators; at 4 validators it is measured, because a
 * Byzantine validator that always votes for the minority of an honest 2-1
 * split holds every poll at a 2-2 tie, which no rule that keeps safety may
 * break (wasm/LEDGER.md, "Breaking a stalled split"). Avalanche promises
 * liveness to virtuous transactions only; safety is never traded.
 *
 * Each run covers fixed seed ranges and the regression seeds, and a fresh
 * range drawn at random (its base is printed). A failing run prints its seed.
 * Reproduce one with
 *   deno run --allow-env tests/_sim/sweep.ts <scenario> <seed> 1
 * or replay a whole fresh range with QUDAG_SIM_SEED=<base>, and add the seed
 * to REGRESSION_SEEDS once fixed. Explore many seeds with tests/_sim/sweep.ts.
 */
import assert from "node:assert/strict";
import { runScenario, type ScenarioOptions, type ScenarioResult } from "./_sim/scenario.ts";
import { SCENARIOS } from "./_sim/scenarios.ts";
import { mlDsaCrypto } from "./_sim/mldsa_crypto.ts";

/** Seeds that once failed (4 validators, 1 Byzantine), by scenario (tests/_sim/scenarios.ts), with what they caught. */
const REGRESSION_SEEDS: readonly { scenario: string; seeds: readonly number[]; caught: string }[] = [
  {
    scenario: "default",
    seeds: [1, 5],
    caught: "honest transactions built on a contested double spend stalled (now: clean parents, re-issue)",
  },
  { scenario: "default", seeds: [41, 67], caught: "a lost request for a pending vertex's parent was never retried" },
  { scenario: "default", seeds: [213], caught: "a losing double spend, rejected on arrival, never reached some nodes" },
  {
    scenario: "withhold",
    seeds: [2078, 2120, 2321, 2380, 2450, 2618, 2704, 2707, 2754, 2842, 2856, 2871, 3025, 3166, 3274, 3295, 3470],
    caught: "an honest 2-1 split with a silent validator never resolved; virtuous transactions below it waited",
  },
  {
    scenario: "default",
    seeds: [2528, 3020],
    caught: "an honest 2-1 split never resolved (polls cut short were counted against the majority)",
  },
  {
    scenario: "default",
    seeds: [3060],
    caught: "a finalized winner waited for a transaction carried only below the loser (now: doomed carriers)",
  },
  { scenario: "crash", seeds: [2528, 2916, 3060], caught: "the same stalls, with a crash and restart" },
  { scenario: "settlement", seeds: [2528, 3020, 3060], caught: "the same stalls, with settlement" },
  {
    scenario: "default",
    seeds: [323497437],
    caught: "an orphan carried again on a vertex that waited for it through a dependency (a cycle no poll ends)",
  },
  { scenario: "crash", seeds: [323497437, 400000318], caught: "the same cycle, with a crash and restart" },
  { scenario: "settlement", seeds: [323497437], caught: "the same cycle, with settlement" },
  {
    scenario: "withhold",
    seeds: [222767351],
    caught: "a virtuous transaction above a contest an honest validator accepted while the other two preferred its " +
      "rival waited with that contest for good (now: carried again once the contest stalled)",
  },
  {
    scenario: "crash",
    seeds: [935680277],
    caught: "a validator that restarted forgot which side of a contest it preferred; with the Byzantine validator " +
      "keeping the 2-1 split tied, the contest and a virtuous transaction above it waited for good (now: contested " +
      "preferences are stored and restored)",
  },
  {
    scenario: "withhold",
    seeds: [400000846],
    caught:
      "a vote naming a vertex still being fetched supported nothing and reset a confidence at 19 (now: held polls)",
  },
];

/** A fresh seed range each run: base from QUDAG_SIM_SEED, else drawn at random (printed, to replay). */
const FRESH_BASE = Number(
  Deno.env.get("QUDAG_SIM_SEED") ?? 1_000_000 + crypto.getRandomValues(new Uint32Array(1))[0] % 1_000_000_000,
);
/** Fresh seeds per scenario and run. */
const FRESH_SEEDS = Number(Deno.env.get("QUDAG_SIM_FRESH_SEEDS") ?? 500);

const BASE_SEED = Number(Deno.env.get("QUDAG_SIM_BASE_SEED") ?? 1);
/** Seeds per run for 4 validators with 1 Byzantine. */
const SEEDS_4 = Number(Deno.env.get("QUDAG_SIM_SEEDS") ?? 1_000);
/** Seeds per run for 100 validators with 10 Byzantine: each costs seconds, not milliseconds. */
const SEEDS_100 = Number(Deno.env.get("QUDAG_SIM_SEEDS_100") ?? 3);

/**
 * Runs the seeds, prints each failure with its seed, and returns all results. A cycle of waits closed by concurrent
 * issuers (tests/_sim/wait_cycle.ts: the node cannot build one, the bare engine can) fails a run unless
 * `allowWaitCycles`: fixed and regression seeds never have one, so a new one there is a change of behaviour.
 */
function runSeeds(
  seeds: readonly number[],
  options: Omit<ScenarioOptions, "seed">,
  allowWaitCycles = false,
): ScenarioResult[] {
  const results = seeds.map((seed) => runScenario({ ...options, seed }));
  const failed = results.filter((r) => !r.ok || (!allowWaitCycles && r.waitCycle !== null));
  for (const r of failed) {
    console.error(
      `FAILED seed ${r.seed} (${options.validators} validators, ${options.byzantine} Byzantine): ${
        r.failure ?? r.waitCycle
      }`,
    );
  }
  assert.deepEqual(failed.map((r) => r.seed), [], `failing seeds: ${failed.map((r) => r.seed).join(", ")}`);
  return results;
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

function total(results: readonly ScenarioResult[], pick: (r: ScenarioResult) => number): number {
  return results.reduce((sum, r) => sum + pick(r), 0);
}

Deno.test("regression seeds stay safe and live (4 validators, 1 Byzantine)", () => {
  for (const { scenario, seeds } of REGRESSION_SEEDS) runSeeds(seeds, SCENARIOS[scenario]);
});

for (const scenario of Object.keys(SCENARIOS)) {
  Deno.test(`fresh seeds (${scenario}): never conflicting acceptance; virtuous transactions accepted everywhere`, () => {
    console.log(
      `fresh seeds ${FRESH_BASE}..${
        FRESH_BASE + FRESH_SEEDS - 1
      } (${scenario}); replay with QUDAG_SIM_SEED=${FRESH_BASE}`,
    );
    const results = runSeeds(range(FRESH_BASE, FRESH_SEEDS), SCENARIOS[scenario], true);
    // The documented stall of the bare engine (wasm/LEDGER.md, "What it leaves"): 1 seed in 3,000 of withhold
    // (159800000-159802999). Printed to replay; more than 1 % would be something else.
    const cycles = results.filter((r) => r.waitCycle !== null);
    for (const r of cycles) console.log(`${scenario}: ${r.waitCycle}`);
    assert.ok(cycles.length <= results.length * 0.01, `too many cycles of waits: ${cycles.length}`);
    const stalled = results.filter((r) => r.contestedUndecided !== null).map((r) => r.seed);
    if (stalled.length > 0) {
      console.log(`${scenario}: not fully decided at the deadline in seeds ${stalled.join(", ")}`);
    }
    // Measured on seeds 2000-3499: at most 0.8% (settlement, a cut not closed by the deadline); the bound keeps a
    // random range from failing by chance (more than 15 of 500 at a mean of 4 is below 1 in 10^5).
    assert.ok(stalled.length <= results.length * 0.03, `too many runs not fully decided: ${stalled.length}`);
  });
}

Deno.test(`${SEEDS_4} seeds: 4 validators, 1 Byzantine: never conflicting acceptance; virtuous transactions accepted everywhere after heal`, () => {
  const results = runSeeds(range(BASE_SEED, SEEDS_4), SCENARIOS.default);
  // The adversary really did its work: each kind of bad input was met and refused.
  const stats = (k: keyof ScenarioResult["stats"]) => total(results, (r) => r.stats[k]);
  assert.ok(stats("badSignature") > 0, "vertices with garbage signatures were refused");
  assert.ok(stats("wrongSenderVotes") > 0, "votes claiming another validator's name, and replayed ones, were refused");
  assert.ok(stats("unknownValidator") > 0, "vertices from outside the genesis set were refused");
  assert.ok(stats("invalidVertices") > 0, "vertices with a wrong id were refused");
  assert.ok(stats("queriesFailed") > 0, "withheld votes timed out");
  assert.ok(stats("txsReissued") > 0, "stuck transactions were re-issued");
  assert.ok(total(results, (r) => r.equivocatingVotes) > 0, "votes for both sides were voided");
  assert.ok(total(results, (r) => r.acceptedTxs) >= SEEDS_4 * 6, "every run accepted its virtuous transactions");
  const stalled = results.filter((r) => r.contestedUndecided !== null);
  console.log(
    `4 validators: contested conflicts decided everywhere in ${
      results.length - stalled.length
    }/${results.length} seeds` +
      (stalled.length > 0 ? `; stalled contested conflicts in seeds ${stalled.map((r) => r.seed).join(", ")}` : ""),
  );
  assert.ok(stalled.length <= results.length * 0.02, `too many stalled contested conflicts: ${stalled.length}`);
});

Deno.test(`${SEEDS_100} seeds: 100 validators, 10 Byzantine: never conflicting acceptance; everything decided, same set after heal`, () => {
  const results = runSeeds(range(BASE_SEED, SEEDS_100), {
    validators: 100,
    byzantine: 10,
    equivocators: 1,
    healAtMs: 2_500,
    dropRate: 0.02,
    gossipEveryMs: 500,
    pollsOutstandingMax: 2,
  });
  assert.ok(total(results, (r) => r.stats.badSignature) > 0);
  // With k 20 of 100 validators, sampling breaks every split: full liveness is required.
  assert.deepEqual(results.filter((r) => r.contestedUndecided !== null).map((r) => r.contestedUndecided), []);
});

Deno.test("a Byzantine validator that only withholds votes cannot break safety or stall virtuous transactions", () => {
  runSeeds(range(BASE_SEED, 300), SCENARIOS.withhold);
});

/** Seeds per run of the crash-and-restart scenario. */
const SEEDS_RESTART = Number(Deno.env.get("QUDAG_SIM_SEEDS_RESTART") ?? 200);

Deno.test(`${SEEDS_RESTART} seeds: crash and restart of an honest validator: restored decisions hold, never conflicting acceptance, virtuous transactions accepted everywhere`, () => {
  // The node restarts from its vertices and decisions only: Snowball state, polls and pending vertices are lost.
  const results = runSeeds(range(BASE_SEED, SEEDS_RESTART), SCENARIOS.crash);
  assert.equal(total(results, (r) => r.restarts), SEEDS_RESTART);
  assert.ok(total(results, (r) => r.restoredDecisions) > 0);
  assert.ok(total(results, (r) => r.acceptedTxs) >= SEEDS_RESTART * 6, "every run accepted its virtuous transactions");
  const stalled = results.filter((r) => r.contestedUndecided !== null);
  assert.ok(stalled.length <= results.length * 0.02, `too many stalled contested conflicts: ${stalled.length}`);
});

Deno.test("a validator restarted late, after it decided the double spend, keeps its decisions", () => {
  const results = runSeeds(range(BASE_SEED, 50), {
    validators: 4,
    byzantine: 1,
    crash: { atMs: 3_500, downMs: 300 },
  });
  assert.equal(total(results, (r) => r.restarts), 50);
  assert.ok(total(results, (r) => r.restoredDecisions) >= 50 * 3, "the restarted validators had decided much already");
});

Deno.test("a run is a pure function of its seed", () => {
  const once = runScenario({ seed: 7, validators: 4, byzantine: 1 });
  const twice = runScenario({ seed: 7, validators: 4, byzantine: 1 });
  assert.deepEqual(once, twice);
});

Deno.test("real ML-DSA-87: 4 validators, 1 Byzantine, signed vertices, votes refused unless from their responder", () => {
  const ids = ["v000", "v001", "v002", "v003"];
  const crypto = mlDsaCrypto(ids);
  assert.equal(crypto.publicKeyBytes, 2592);
  const result = runScenario({
    seed: 11,
    validators: 4,
    byzantine: 1,
    crypto,
    params: { k: 4, alphaPreference: 3, alphaConfidence: 3, beta: 3 },
    honestTxs: 2,
    doubleSpends: 0,
    equivocators: 0,
    attacks: ["garbage", "impersonate", "replay"],
    healAtMs: 300,
    dropRate: 0,
    partition: false,
    pollsOutstandingMax: 1,
    gossipEveryMs: 1_000,
  });
  assert.equal(result.failure, null);
  assert.equal(result.acceptedTxs, 2);
  assert.ok(result.stats.votesAccepted > 0, "genuine votes were counted");
  assert.ok(result.stats.wrongSenderVotes > 0, "impersonated and re-addressed votes were refused");
});

const SEEDS_SETTLE = Number(Deno.env.get("QUDAG_SIM_SEEDS_SETTLE") ?? 1_000);

Deno.test(`${SEEDS_SETTLE} seeds with settlement: no two statements certified for one sequence, every honest node closes the same cuts`, () => {
  const results = runSeeds(range(BASE_SEED, SEEDS_SETTLE), SCENARIOS.settlement);
  const cuts = total(results, (r) => r.cuts);
  const certified = total(results, (r) => r.certified);
  const mismatches = total(results, (r) => r.statementMismatches);
  console.log(`settlement: ${cuts} cuts closed, ${certified} certified, ${mismatches} honest statement mismatches`);
  assert.ok(cuts >= SEEDS_SETTLE, "every run closed cuts");
  assert.equal(mismatches, 0, "honest nodes closed different cuts for one sequence");
  // The last cut of a run may end before its certificate forms.
  assert.ok(certified >= cuts - SEEDS_SETTLE, "a certificate formed for (nearly) every cut the first node closed");
});

Deno.test("settlement under steady load: memory stays bounded while the DAG grows", () => {
  // 25 transactions a second for a minute of virtual time: the settled part leaves memory.
  const result = runScenario({
    seed: 5,
    validators: 4,
    byzantine: 1,
    settlement: { intervalMs: 2_000, verticesMax: 256, lagMs: 1_000 },
    load: { everyMs: 40, untilMs: 60_000 },
    honestTxs: 0,
    doubleSpends: 0,
    equivocators: 0,
    partition: false,
    dropRate: 0.01,
    delayMaxMs: 60,
    healAtMs: 60_000,
    deadlineMs: 120_000,
  });
  assert.equal(result.failure, null);
  assert.equal(result.acceptedTxs, 1_500);
  console.log(
    `steady load: ${result.verticesTotal} vertices issued, ${result.cuts} cuts; most held in memory: ${
      JSON.stringify(result.inMemoryMax)
    }`,
  );
  assert.ok(result.cuts >= 25, `cuts closed: ${result.cuts}`);
  assert.equal(result.statementMismatches, 0);
  // A peak over the whole run (seeds 1-12 peak at 190-440 of 1,500), so the bound leaves room for the attack mix.
  assert.ok(result.inMemoryMax.vertices < result.verticesTotal / 3, "settled vertices left memory");
  assert.ok(result.inMemoryMax.txs < result.verticesTotal / 3, "settled transactions left memory");
});
