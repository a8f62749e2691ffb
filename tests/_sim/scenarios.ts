/** The simulation scenarios of tests/consensus_sim_test.ts, by name, shared with tests/_sim/sweep.ts. */
import type { ScenarioOptions } from "./scenario.ts";

/**
 * Settlement in the simulation: cuts closed 3 s late (longer than any partition here), so boundaries at least
 * twice that apart (src/consensus/cut.ts).
 */
export const SIM_SETTLEMENT = { intervalMs: 6_000, verticesMax: 64, lagMs: 3_000 };

export const SCENARIOS: Readonly<Record<string, Omit<ScenarioOptions, "seed">>> = {
  /** 4 validators, 1 Byzantine with every attack. */
  default: { validators: 4, byzantine: 1 },
  /**
   * The Byzantine validator only withholds votes. 20 s: a contest that stalls for good (an honest validator accepted
   * the side the other two do not prefer) is left after 3 × beta failed polls, about 6 s of polls that wait for the
   * silent validator's timeout, and the virtuous transactions above it are carried again (src/consensus/_doom.ts).
   */
  withhold: { validators: 4, byzantine: 1, attacks: ["withhold"], deadlineMs: 20_000 },
  /** An honest validator crashes and restarts from its store. */
  crash: { validators: 4, byzantine: 1, crash: {} },
  /** Settlement: cuts and checkpoints. */
  settlement: { validators: 4, byzantine: 1, settlement: SIM_SETTLEMENT, deadlineMs: 40_000 },
};
