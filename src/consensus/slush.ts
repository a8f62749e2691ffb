/**
 * Slush: the memoryless base of the Snowball family. A node holds one
 * preferred choice and adopts whichever choice a successful poll (at least
 * alphaPreference supporting responses out of k) returned. It never decides;
 * {@linkcode Snowflake} adds the decision rule on top.
 */
export class Slush {
  #preference: string;

  constructor(initialChoice: string) {
    this.#preference = initialChoice;
  }

  preference(): string {
    return this.#preference;
  }

  /** A poll returned at least alphaPreference votes for `choice`. */
  recordSuccessfulPoll(choice: string): void {
    this.#preference = choice;
  }
}
