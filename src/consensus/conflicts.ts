import type { Parameters } from "./parameters.ts";
import { Snowball } from "./snowball.ts";

/**
 * One conflict set: every transaction seen with one conflict key, with one
 * Snowball instance choosing among the members that are still alive.
 *
 * Invariants:
 * - `accepted` is null or a member; once set, every other member is dead.
 * - the Snowball, when present, prefers a live member; a member that dies
 *   while preferred (a dependency of it was rejected) causes a fresh Snowball
 *   over the remaining live members, so the set can still decide. That is
 *   safe: acceptance needs the dead member's dependencies accepted, which no
 *   honest node will ever see, so no honest node accepted it either.
 */
/** What `accepted()` returns for a set whose winner was settled and is no longer held in memory. */
export const SETTLED_WINNER = "(settled)";

export class ConflictSet {
  readonly key: string;
  readonly #params: Parameters;
  readonly #members = new Set<string>();
  /** Every transaction whose carriers joined, even once those carriers are forgotten. */
  readonly #txs = new Set<string>();
  readonly #dead = new Set<string>();
  #snowball: Snowball | null = null;
  #accepted: string | null = null;

  constructor(params: Parameters, key: string) {
    this.#params = params;
    this.key = key;
  }

  /** Members ever seen, sorted. */
  members(): string[] {
    return [...this.#members].sort();
  }

  size(): number {
    return this.#members.size;
  }

  accepted(): string | null {
    return this.#accepted;
  }

  /** True while the set has a live member and nothing accepted. */
  processing(): boolean {
    return this.#accepted === null && this.#snowball !== null;
  }

  /** Adds a member. A member added after acceptance is dead on arrival. */
  add(txId: string): void {
    if (this.#members.has(txId)) return;
    this.#members.add(txId);
    if (this.#accepted !== null) {
      this.#dead.add(txId);
      return;
    }
    if (this.#snowball === null) this.#snowball = new Snowball(this.#params, txId);
    else this.#snowball.add(txId);
  }

  /** The live member this node votes for, or null if none. */
  preference(): string | null {
    if (this.#accepted === SETTLED_WINNER) return null;
    if (this.#accepted !== null) return this.#accepted;
    return this.#snowball?.preference() ?? null;
  }

  /** The finalized live choice, if Snowball has finalized. */
  finalized(): string | null {
    if (this.#accepted !== null || this.#snowball === null) return null;
    return this.#snowball.finalized() ? this.#snowball.preference() : null;
  }

  confidence(): number {
    return this.#snowball?.confidence() ?? 0;
  }

  /**
   * Records one poll: `votes` maps members to the number of responders that
   * supported them (each responder supports at most one member).
   */
  recordPoll(votes: ReadonlyMap<string, number> | undefined): void {
    const snowball = this.#snowball;
    if (snowball === null || this.#accepted !== null) return;
    let best: string | null = null;
    let bestCount = 0;
    if (votes !== undefined) {
      for (const [txId, count] of [...votes].sort((a, b) => a[0] < b[0] ? -1 : 1)) {
        if (count > bestCount) {
          best = txId;
          bestCount = count;
        }
      }
    }
    if (best === null || bestCount < this.#params.alphaPreference) {
      snowball.recordUnsuccessfulPoll();
    } else {
      snowball.recordPoll(bestCount, best);
      this.#restartIfPreferenceDead();
    }
  }

  /** Marks `txId` accepted; returns the other live members, now rejected. */
  accept(txId: string): string[] {
    this.#accepted = txId;
    this.#snowball = null;
    const losers: string[] = [];
    for (const member of this.members()) {
      if (member !== txId && !this.#dead.has(member)) {
        this.#dead.add(member);
        losers.push(member);
      }
    }
    return losers;
  }

  /**
   * Marks the set decided by a winner that is settled and no longer held
   * (`accepted()` is {@linkcode SETTLED_WINNER}): every member is dead.
   */
  settle(): void {
    this.#accepted = SETTLED_WINNER;
    this.#snowball = null;
    for (const m of this.#members) this.#dead.add(m);
  }

  /** Records that `txId` belongs to this set (its carriers are its members). */
  addTx(txId: string): void {
    this.#txs.add(txId);
  }

  /** Transactions ever carried in this set and not forgotten, sorted. */
  txIds(): string[] {
    return [...this.#txs].sort();
  }

  forgetTx(txId: string): void {
    this.#txs.delete(txId);
  }

  /** Drops a dead or accepted member that is no longer held anywhere (its vertex was settled). */
  forget(member: string): void {
    this.#members.delete(member);
    this.#dead.delete(member);
  }

  /** Marks `txId` dead because it was rejected for a reason of its own. */
  kill(txId: string): void {
    if (this.#dead.has(txId)) return;
    this.#dead.add(txId);
    this.#restartIfPreferenceDead();
  }

  #restartIfPreferenceDead(): void {
    const snowball = this.#snowball;
    if (snowball === null || !this.#dead.has(snowball.preference())) return;
    const live = this.members().filter((m) => !this.#dead.has(m));
    if (live.length === 0) {
      this.#snowball = null;
      return;
    }
    // Restart from the live member with the most successful polls so far.
    let initial = live[0];
    for (const m of live) if (snowball.strength(m) > snowball.strength(initial)) initial = m;
    const fresh = new Snowball(this.#params, initial);
    for (const m of live) fresh.add(m);
    this.#snowball = fresh;
  }
}
