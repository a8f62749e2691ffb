import type { Parameters } from "./parameters.ts";
import { Snowflake } from "./snowflake.ts";

/**
 * Snowball: Snowflake plus memory. Each choice keeps a strength, the number
 * of polls in which it received at least alphaPreference votes; the
 * preference is the strongest choice, and it only moves to another choice
 * whose strength is strictly greater (ties keep the current preference), so
 * one lucky poll cannot flip a node that has seen many polls the other way.
 * Before any choice has won a poll the preference is the lowest choice.
 *
 * Finality is the embedded Snowflake's: beta consecutive confident polls for
 * the same choice. Once finalized, the preference is the Snowflake's choice
 * (with low probability the strongest choice and the Snowflake choice differ
 * at that moment; the Snowflake's consecutive run is what was decided).
 *
 * Works for any number of choices; a conflict set of one transaction is
 * simply a Snowball with one choice. Choices are opaque strings.
 */
export class Snowball {
  readonly #params: Parameters;
  readonly #snowflake: Snowflake;
  // Invariant: every known choice has an entry; #preference is a key of it.
  readonly #strength = new Map<string, number>();
  #preference: string;

  /**
   * `resumed` gives the state one choice reached in polls counted elsewhere
   * (a shared tally, _solo.ts): its strength and its Snowflake's confidence.
   */
  constructor(params: Parameters, initialChoice: string, resumed?: { strength: number; confidence: number }) {
    this.#params = params;
    this.#snowflake = new Snowflake(params, initialChoice, resumed?.confidence ?? 0);
    this.#strength.set(initialChoice, resumed?.strength ?? 0);
    this.#preference = initialChoice;
  }

  /**
   * Adds a choice. A no-op for known choices. While no choice has won a
   * poll, the preference is the lowest choice, whatever the order in which
   * the choices arrived, so nodes that heard of them in different orders
   * start out agreeing.
   */
  add(choice: string): void {
    if (this.#strength.has(choice)) return;
    this.#strength.set(choice, 0);
    if (!this.finalized() && this.strength(this.#preference) === 0 && choice < this.#preference) {
      this.#preference = choice;
    }
  }

  has(choice: string): boolean {
    return this.#strength.has(choice);
  }

  /** The known choices, sorted. */
  choices(): string[] {
    return [...this.#strength.keys()].sort();
  }

  preference(): string {
    return this.#snowflake.finalized() ? this.#snowflake.preference() : this.#preference;
  }

  finalized(): boolean {
    return this.#snowflake.finalized();
  }

  /** Consecutive confident polls so far for the Snowflake preference. */
  confidence(): number {
    return this.#snowflake.confidence();
  }

  /** Polls in which `choice` received at least alphaPreference votes. */
  strength(choice: string): number {
    return this.#strength.get(choice) ?? 0;
  }

  /**
   * Records a poll in which `choice` received `count` votes, the most of any
   * choice. Unknown choices are added first.
   */
  recordPoll(count: number, choice: string): void {
    if (this.finalized()) return;
    this.add(choice);
    if (count >= this.#params.alphaPreference) {
      const strength = this.strength(choice) + 1;
      this.#strength.set(choice, strength);
      if (strength > this.strength(this.#preference)) this.#preference = choice;
    }
    this.#snowflake.recordPoll(count, choice);
  }

  /** A poll in which no choice received alphaPreference votes. */
  recordUnsuccessfulPoll(): void {
    this.#snowflake.recordUnsuccessfulPoll();
  }

  /**
   * Breaks a stall: makes `choice` the preference and gives it the strength
   * of the strongest choice, so it is again a strongest choice (ties keep
   * the preference) and the next successful poll for another choice moves
   * the preference back. Confidence is untouched (a stall already reset it);
   * a finalized instance ignores it. When this is allowed is the caller's
   * rule (ConflictSet.recordPoll in conflicts.ts): finality still needs beta
   * consecutive confident polls.
   */
  adopt(choice: string): void {
    if (this.finalized()) return;
    this.add(choice);
    const strongest = Math.max(...this.#strength.values());
    this.#strength.set(choice, strongest);
    this.#preference = choice;
  }
}
