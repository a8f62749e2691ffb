/**
 * QR-Avalanche at scale: runs the seeded simulation (tests/_sim) for 4, 20
 * and 100 validators, 10% of them Byzantine (1 of 4), for two workloads
 * (virtuous: no conflicting transactions; contested: plus one double spend
 * and one equivocating validator, which may stall when k >= validators, as
 * Avalanche promises liveness to virtuous transactions only), and prints decisions
 * per second (transaction decisions reported by honest engines per second of
 * wall-clock time: the cost of running consensus for all of them in this one
 * process) and rounds to acceptance (polls a node recorded between learning a
 * transaction and accepting it), p50/p99, plus simulated latency.
 *
 *   deno task bench:consensus            a table
 *   deno task bench:consensus -- --json  one JSON document
 *   deno task bench:consensus -- --quick fewer seeds
 *
 * Signatures are the simulation's fake scheme: ML-DSA-87 costs are measured
 * by bench:crypto, not here.
 */
import { runScenario, type ScenarioResult } from "../tests/_sim/scenario.ts";

interface Row {
  /** "virtuous": no conflicts issued; "contested": a double spend and an equivocating validator. */
  workload: "virtuous" | "contested";
  validators: number;
  byzantine: number;
  seeds: number;
  txDecisions: number;
  wallSeconds: number;
  decisionsPerSecond: number;
  roundsP50: number;
  roundsP99: number;
  latencyMsP50: number;
  latencyMsP99: number;
  messagesPerSeed: number;
  failedSeeds: number[];
  /** Runs that ended with a contested conflict still undecided somewhere. */
  stalledContestSeeds: number[];
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function measure(workload: Row["workload"], validators: number, byzantine: number, seeds: number): Row {
  const results: ScenarioResult[] = [];
  const start = performance.now();
  for (let seed = 1; seed <= seeds; seed++) {
    results.push(runScenario({
      seed,
      validators,
      byzantine,
      honestTxs: validators <= 4 ? 10 : 12,
      doubleSpends: workload === "contested" ? 1 : 0,
      equivocators: workload === "contested" ? 1 : 0,
      dropRate: 0.01,
      partition: false,
      healAtMs: 2_500,
      // A contested conflict may stall (Avalanche promises liveness to
      // virtuous transactions only); stop such runs early.
      deadlineMs: 20_000,
      gossipEveryMs: validators >= 50 ? 500 : 200,
      pollsOutstandingMax: validators >= 50 ? 2 : 4,
    }));
  }
  const wallSeconds = (performance.now() - start) / 1000;
  const rounds = results.flatMap((r) => r.rounds).sort((a, b) => a - b);
  const latencies = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const txDecisions = results.reduce((s, r) => s + r.txDecisions, 0);
  return {
    workload,
    validators,
    byzantine,
    seeds,
    txDecisions,
    wallSeconds: Number(wallSeconds.toFixed(2)),
    decisionsPerSecond: Math.round(txDecisions / wallSeconds),
    roundsP50: percentile(rounds, 50),
    roundsP99: percentile(rounds, 99),
    latencyMsP50: Math.round(percentile(latencies, 50)),
    latencyMsP99: Math.round(percentile(latencies, 99)),
    messagesPerSeed: Math.round(results.reduce((s, r) => s + r.messages, 0) / seeds),
    failedSeeds: results.filter((r) => !r.ok).map((r) => r.seed),
    stalledContestSeeds: results.filter((r) => r.contestedUndecided !== null).map((r) => r.seed),
  };
}

const json = Deno.args.includes("--json");
const quick = Deno.args.includes("--quick");
const plan: [number, number, number][] = quick
  ? [[4, 1, 20], [20, 2, 3], [100, 10, 1]]
  : [[4, 1, 200], [20, 2, 10], [100, 10, 3]];

const rows: Row[] = [];
for (const workload of ["virtuous", "contested"] as const) {
  for (const [validators, byzantine, seeds] of plan) {
    const row = measure(workload, validators, byzantine, seeds);
    rows.push(row);
    if (!json) {
      if (rows.length === 1) {
        console.log(
          "workload   validators  byzantine  seeds  tx decisions  wall s  decisions/s  rounds p50  rounds p99  latency p50 ms  latency p99 ms",
        );
      }
      console.log(
        [
          row.workload.padEnd(9),
          String(row.validators).padStart(10),
          String(row.byzantine).padStart(9),
          String(row.seeds).padStart(5),
          String(row.txDecisions).padStart(12),
          row.wallSeconds.toFixed(2).padStart(6),
          String(row.decisionsPerSecond).padStart(11),
          String(row.roundsP50).padStart(10),
          String(row.roundsP99).padStart(10),
          String(row.latencyMsP50).padStart(14),
          String(row.latencyMsP99).padStart(14),
        ].join("  ") + (row.failedSeeds.length > 0 ? `  FAILED seeds ${row.failedSeeds.join(",")}` : "") +
          (row.stalledContestSeeds.length > 0 ? `  (contest stalled in ${row.stalledContestSeeds.length} runs)` : ""),
      );
    }
  }
}
if (json) {
  console.log(JSON.stringify({ benchmark: "consensus", signatures: "simulation-fake", rows }, null, 2));
}
if (rows.some((r) => r.failedSeeds.length > 0)) Deno.exitCode = 1;
