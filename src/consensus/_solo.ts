/**
 * One tally for the conflict sets a vertex brought in alone.
 *
 * A set created by a vertex's arrival, with that vertex's carrier as its
 * only member, is voted for by exactly the responders whose frontier has
 * that vertex in its processing ancestry: a poll gives every such set of
 * the vertex the same count, and they all started from nothing at the same
 * poll. So their Snowballs would stay equal, poll after poll, and one
 * {@linkcode SoloGroup} per vertex keeps that state for all of them: a poll
 * costs one tally per vertex instead of one per transaction (at saturation,
 * thousands of sets are processing and each is polled at least beta times).
 *
 * A set leaves its group, with the group's state as its own Snowball's,
 * the moment it stops being alike: a second member (a rival transaction or
 * a second carrier), a rejection, an acceptance, settlement
 * ({@linkcode ConflictSet}). Until then the set answers preference,
 * finalized, confidence and stalled from the group.
 */
import type { Parameters } from "./parameters.ts";

export class SoloGroup {
  /** Carriers whose set still follows this group. */
  readonly carriers = new Set<string>();
  /** What each of those sets' Snowball would hold for its one member. */
  strength = 0;
  confidence = 0;
  /** Polls in a row without alphaPreference supporters (ConflictSet's failedInRow). */
  failedInRow = 0;
  /** No transaction of these carriers has a dependency. */
  depsFree = true;
  readonly #params: Parameters;

  constructor(params: Parameters) {
    this.#params = params;
  }

  get finalized(): boolean {
    return this.confidence >= this.#params.beta;
  }

  /**
   * One poll in which `count` responders supported the vertex (so each of
   * its solo carriers): exactly what ConflictSet.recordPoll does to a set
   * whose one member got `count` votes.
   */
  recordPoll(count: number): void {
    const { alphaPreference, alphaConfidence } = this.#params;
    if (count < alphaPreference) {
      if (!this.finalized) this.confidence = 0;
      this.failedInRow++;
      return;
    }
    this.failedInRow = 0;
    if (this.finalized) return;
    this.strength++;
    this.confidence = count >= alphaConfidence ? this.confidence + 1 : 0;
  }
}
