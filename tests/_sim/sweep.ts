/**
 * Seed sweep of one simulation scenario, for exploring seeds beyond the test's:
 *   deno run --allow-env tests/_sim/sweep.ts <scenario> <from> <count>
 * Scenarios are the test's (tests/consensus_sim_test.ts): default, withhold, crash, settlement.
 * Prints each failing seed with its failure, each cycle of waits (tests/_sim/wait_cycle.ts), and a summary line.
 */
import { runScenario } from "./scenario.ts";
import { SCENARIOS } from "./scenarios.ts";

const [name = "default", fromText = "1", countText = "100"] = Deno.args;
const scenario = SCENARIOS[name];
if (scenario === undefined) {
  console.error(`unknown scenario ${name}; one of ${Object.keys(SCENARIOS).join(", ")}`);
  Deno.exit(2);
}
const from = Number(fromText);
const count = Number(countText);
const failed: number[] = [];
const stalled: number[] = [];
const cycles: number[] = [];
const started = performance.now();
for (let seed = from; seed < from + count; seed++) {
  const r = runScenario({ ...scenario, seed });
  if (!r.ok) {
    failed.push(seed);
    console.log(`FAILED ${name} ${r.failure}`);
  } else if (r.waitCycle !== null) {
    cycles.push(seed);
    console.log(`WAIT CYCLE ${name} ${r.waitCycle}`);
  } else if (r.contestedUndecided !== null) stalled.push(seed);
}
console.log(
  `${name} seeds ${from}..${from + count - 1}: ${failed.length} failed [${failed.join(",")}], ` +
    `${stalled.length} contested stalls [${stalled.join(",")}], ${cycles.length} cycles of waits [${
      cycles.join(",")
    }], ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
