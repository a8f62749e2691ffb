import type { Parameters } from "./parameters.ts";
import { Slush } from "./slush.ts";

/**
 * Snowflake: Slush plus a confidence counter. Confidence counts consecutive
 * polls in which the current Slush preference received at least
 * alphaConfidence votes; any other outcome resets it. When confidence
 * reaches beta the instance is finalized and never changes again.
 *
 * Outcomes of `recordPoll(count, choice)`, where `choice` is the choice with
 * the most votes and `count` its number of votes:
 * - count < alphaPreference: unsuccessful poll, confidence = 0.
 * - alphaPreference <= count < alphaConfidence: preference = choice,
 *   confidence = 0 (strong enough to steer, too weak to count).
 * - count >= alphaConfidence: confidence + 1 if choice was already preferred,
 *   else preference = choice and confidence = 1.
 */
export class Snowflake {
  readonly #params: Parameters;
  readonly #slush: Slush;
  // Invariant: 0 <= #confidence <= beta; #finalized iff #confidence reached beta.
  #confidence = 0;
  #finalized = false;

  /**
   * `confidence` > 0 resumes an instance whose consecutive confident polls
   * for `initialChoice` were counted elsewhere (a shared tally, _solo.ts);
   * beta or more is finalized.
   */
  constructor(params: Parameters, initialChoice: string, confidence = 0) {
    this.#params = params;
    this.#slush = new Slush(initialChoice);
    if (!Number.isInteger(confidence) || confidence < 0) {
      throw new RangeError(`confidence must be a non-negative integer, got ${confidence}`);
    }
    this.#confidence = Math.min(confidence, params.beta);
    this.#finalized = confidence >= params.beta;
  }

  preference(): string {
    return this.#slush.preference();
  }

  confidence(): number {
    return this.#confidence;
  }

  finalized(): boolean {
    return this.#finalized;
  }

  recordPoll(count: number, choice: string): void {
    if (this.#finalized) return;
    if (count < this.#params.alphaPreference) {
      this.recordUnsuccessfulPoll();
      return;
    }
    if (count < this.#params.alphaConfidence) {
      this.#confidence = 0;
      this.#slush.recordSuccessfulPoll(choice);
      return;
    }
    this.#confidence = this.#slush.preference() === choice ? this.#confidence + 1 : 1;
    this.#slush.recordSuccessfulPoll(choice);
    if (this.#confidence >= this.#params.beta) this.#finalized = true;
  }

  recordUnsuccessfulPoll(): void {
    if (this.#finalized) return;
    this.#confidence = 0;
  }
}
