import type { Parameters } from "./parameters.ts";
import type { SoloGroup } from "./_solo.ts";
import { Snowball } from "./snowball.ts";

/**
 * One conflict set: every transaction seen with one conflict key, with one
 * Snowball instance choosing among the members that are still alive.
 *
 * Invariants:
 * - `accepted` is null or a member; once set, every other member is dead.
 * - while it follows a {@linkcode SoloGroup} (one member, alive, nothing
 *   accepted), it has no Snowball of its own: the group's state is its one
 *   member's, and it takes that state as its own Snowball before anything
 *   could make it differ from the group's other sets.
 * - the Snowball, when present, prefers a live member; a member that dies
 *   while preferred (a dependency of it was rejected) causes a fresh Snowball
 *   over the remaining live members, so the set can still decide. That is
 *   safe: acceptance needs the dead member's dependencies accepted, which no
 *   honest node will ever see, so no honest node accepted it either.
 */
/** What `accepted()` returns for a set whose winner was settled and is no longer held in memory. */
export const SETTLED_WINNER = "(settled)";

/**
 * Failed polls in a row, each led by the same member, before a set adopts
 * that member (see {@linkcode ConflictSet.recordPoll}): beta, so a stall is
 * broken no sooner than a decision could be made, and long enough (with
 * polls waiting for their timeout) that an honest validator's vote is not
 * missing from all of them under the timing the network is assumed to meet.
 */
export function stalledPollsToAdopt(params: Parameters): number {
  return params.beta;
}

/**
 * Failed polls in a row (no member had alphaPreference supporters) after
 * which a contest of two or more transactions counts as stalled (see
 * {@linkcode ConflictSet.stalled} and src/consensus/_doom.ts): 3 × beta.
 * Shorter waits also caught contests that were about to resolve, and the
 * virtuous transactions carried again above them then had two carriers, a
 * contest of their own (beta: 4 liveness failures in 12,000 seeds of the
 * withhold scenario, where 3 × beta had none).
 */
export function stalledPollsToStall(params: Parameters): number {
  return 3 * params.beta;
}

export class ConflictSet {
  readonly key: string;
  readonly #params: Parameters;
  readonly #members = new Set<string>();
  /** Every transaction whose carriers joined, even once those carriers are forgotten. */
  readonly #txs = new Set<string>();
  readonly #dead = new Set<string>();
  #snowball: Snowball | null = null;
  /** The shared tally this set follows instead of a Snowball of its own, and its one member (see SoloGroup). */
  #group: SoloGroup | null = null;
  #solo = "";
  #accepted: string | null = null;
  /** The member recent polls favoured over the preference, and by how much (see recordPoll). */
  #favourite: string | null = null;
  #favourCount = 0;
  /** Members doomed now (see shun). */
  readonly #shunned = new Set<string>();
  /** Polls in a row in which no member had alphaPreference supporters. */
  #failedInRow = 0;
  /** Times a stall was broken by adopting the plurality (see recordPoll). */
  stallsBroken = 0;
  /** Times a preference stuck below a stalled contest moved to another carrier of its transaction (see shun). */
  stuckMoved = 0;

  constructor(params: Parameters, key: string) {
    this.#params = params;
    this.key = key;
  }

  /** Members ever seen, sorted. */
  members(): string[] {
    return [...this.#members].sort();
  }

  /** Members ever seen, in no particular order (for a caller that needs no order: no copy, no sort). */
  unorderedMembers(): ReadonlySet<string> {
    return this.#members;
  }

  size(): number {
    return this.#members.size;
  }

  accepted(): string | null {
    return this.#accepted;
  }

  /** True while the set has a live member and nothing accepted. */
  processing(): boolean {
    return this.#accepted === null && (this.#snowball !== null || this.#group !== null);
  }

  /** True while the set follows a {@linkcode SoloGroup}: its polls are the group's. */
  grouped(): boolean {
    return this.#group !== null;
  }

  /**
   * Adds the first member, which follows `group` (its vertex's shared tally)
   * instead of a Snowball of its own. Only for a set with no member yet and
   * nothing accepted.
   */
  addSolo(member: string, group: SoloGroup): void {
    if (this.#members.size > 0 || this.#accepted !== null) {
      throw new Error(`Consensus invariant broken: set ${this.key} is not new, it cannot follow a vertex's tally`);
    }
    this.#members.add(member);
    this.#solo = member;
    this.#group = group;
    group.carriers.add(member);
  }

  /** Stops following the group, for a set that is decided now (no Snowball needed). */
  #detach(): void {
    this.#group?.carriers.delete(this.#solo);
    this.#group = null;
  }

  /** Stops following the group: its state becomes this set's own Snowball's, as if it had been polled alone. */
  #leaveGroup(): void {
    const group = this.#group;
    if (group === null) return;
    this.#detach();
    this.#snowball = new Snowball(this.#params, this.#solo, {
      strength: group.strength,
      confidence: group.confidence,
    });
    this.#failedInRow = group.failedInRow;
  }

  /** Adds a member. A member added after acceptance is dead on arrival. */
  add(txId: string): void {
    if (this.#members.has(txId)) return;
    this.#leaveGroup();
    this.#members.add(txId);
    if (this.#accepted !== null) {
      this.#dead.add(txId);
      return;
    }
    if (this.#snowball === null) this.#snowball = new Snowball(this.#params, txId);
    else this.#snowball.add(txId);
  }

  /**
   * The live member this node votes for, or null if none. While the
   * Snowball's preference is doomed ({@linkcode shun}) and not finalized,
   * the strongest live member that is not doomed (the lowest of equals).
   */
  preference(): string | null {
    if (this.#accepted === SETTLED_WINNER) return null;
    if (this.#accepted !== null) return this.#accepted;
    // Its one member, doomed or not: there is no other to pass over to.
    if (this.#group !== null) return this.#solo;
    const snowball = this.#snowball;
    if (snowball === null) return null;
    const preferred = snowball.preference();
    if (!this.#shunned.has(preferred) || snowball.finalized()) return preferred;
    let best: string | null = null;
    for (const m of this.members()) {
      if (this.#dead.has(m) || this.#shunned.has(m)) continue;
      if (best === null || snowball.strength(m) > snowball.strength(best)) best = m;
    }
    return best ?? preferred;
  }

  /**
   * Sets the members that can no longer be accepted here while a rival set
   * waits (`doomed`, src/consensus/_doom.ts; it may name carriers of any
   * set). A preference that waits below a stalled contest (`stuck`, the same
   * file) and is not finalized moves to the strongest live member carrying
   * the same transaction (`txOf`) that is neither doomed nor stuck, and stays
   * there when the contest resolves: the same transaction wins either way,
   * this moves only which vertex carries it, and a validator that accepted
   * the contest's other side already votes for that new carrier.
   */
  shun(doomed: ReadonlySet<string>, stuck: ReadonlySet<string> = new Set(), txOf?: (member: string) => string): void {
    if (doomed.size > 0 || this.#shunned.size > 0) {
      this.#shunned.clear();
      for (const m of this.#members) if (doomed.has(m)) this.#shunned.add(m);
    }
    // One member: no other carrier of its transaction to move to.
    if (this.#group !== null) return;
    const snowball = this.#snowball;
    if (stuck.size === 0 || txOf === undefined || snowball === null || snowball.finalized()) return;
    const preferred = snowball.preference();
    if (this.#accepted !== null || !stuck.has(preferred)) return;
    const tx = txOf(preferred);
    let best: string | null = null;
    for (const m of this.members()) {
      if (this.#dead.has(m) || this.#shunned.has(m) || stuck.has(m) || txOf(m) !== tx) continue;
      if (best === null || snowball.strength(m) > snowball.strength(best)) best = m;
    }
    if (best === null) return;
    this.stuckMoved++;
    snowball.adopt(best);
  }

  /**
   * True when no member has had alphaPreference supporters in the last
   * {@linkcode stalledPollsToStall} polls in a row, and nothing is finalized
   * or accepted: a contest among its members (when they carry two or more
   * transactions) that the polls are not resolving.
   */
  stalled(): boolean {
    const group = this.#group;
    if (group !== null) return !group.finalized && group.failedInRow >= stalledPollsToStall(this.#params);
    return this.processing() && !this.#snowball!.finalized() &&
      this.#failedInRow >= stalledPollsToStall(this.#params);
  }

  /** The Snowball's own preference (before shun), or null once accepted or while it follows a group. */
  choice(): string | null {
    if (this.#accepted !== null || this.#group !== null) return null;
    return this.#snowball?.preference() ?? null;
  }

  /**
   * Makes `member` the Snowball's preference again after a restart (see
   * src/consensus/_preferences.ts). False when it cannot be: the set is
   * decided or finalized, or the member unknown or dead.
   */
  restoreChoice(member: string): boolean {
    if (this.#accepted !== null || !this.#members.has(member) || this.#dead.has(member)) return false;
    this.#leaveGroup();
    const snowball = this.#snowball;
    if (snowball === null || snowball.finalized()) return false;
    snowball.adopt(member);
    return true;
  }

  /** The finalized live choice, if Snowball has finalized. */
  finalized(): string | null {
    if (this.#group !== null) return this.#group.finalized ? this.#solo : null;
    if (this.#accepted !== null || this.#snowball === null) return null;
    return this.#snowball.finalized() ? this.#snowball.preference() : null;
  }

  confidence(): number {
    if (this.#group !== null) return this.#group.confidence;
    return this.#snowball?.confidence() ?? 0;
  }

  /**
   * Records one poll: `votes` maps members to the number of responders that
   * supported them (each responder supports at most one member).
   *
   * A stall breaks by plurality. A poll *favours* a member other than the
   * preference when that member has strictly more supporters than every
   * other member and at least k - alphaPreference + 1 (more than could ever
   * block a poll). Each poll favouring the same member adds one to a count,
   * each poll in which the preference has that many supporters takes two off
   * (other polls leave it; a new favourite starts again from one);
   * when the count reaches {@linkcode stalledPollsToAdopt} the Snowball
   * adopts that member. Without it, k 4 and alpha 3 with one silent
   * validator leave an honest 2-1 split unresolved for good. Why this keeps
   * safety: wasm/LEDGER.md, "Breaking a stalled split".
   */
  recordPoll(votes: ReadonlyMap<string, number> | undefined): void {
    // Polled on its own from now on (the graph polls a grouped set through its group).
    this.#leaveGroup();
    const snowball = this.#snowball;
    if (snowball === null || this.#accepted !== null) return;
    // The member with the most supporters (the lowest id of equals), and whether another has as many.
    let best: string | null = null;
    let bestCount = 0;
    let tied = false;
    if (votes !== undefined) {
      for (const [txId, count] of votes) {
        if (count > bestCount) {
          best = txId;
          bestCount = count;
          tied = false;
        } else if (count === bestCount) {
          tied = true;
          if (txId < best!) best = txId;
        }
      }
    }
    const preference = this.preference()!;
    if (best === null || bestCount < this.#params.alphaPreference) {
      snowball.recordUnsuccessfulPoll();
      this.#failedInRow++;
    } else {
      this.#failedInRow = 0;
      snowball.recordPoll(bestCount, best);
      this.#restartIfPreferenceDead();
    }
    this.#recordFavourite(tied ? null : best, bestCount, preference, votes?.get(preference) ?? 0);
  }

  /**
   * Counts a poll towards breaking a stall (see recordPoll): `leader` led it alone with `count` supporters;
   * `preference` was the preference, with `preferred` supporters.
   */
  #recordFavourite(leader: string | null, count: number, preference: string, preferred: number): void {
    const snowball = this.#snowball;
    if (snowball === null || this.#accepted !== null || snowball.finalized()) return;
    const { k, alphaPreference } = this.#params;
    const enough = k - alphaPreference + 1;
    const favours = leader !== null && leader !== preference && !this.#dead.has(leader) && count >= enough;
    if (!favours) {
      // A poll that counted too few votes to tell (one cut short once no member could reach alpha) is neutral.
      if (preferred < enough) return;
      this.#favourCount = Math.max(0, this.#favourCount - 2);
      if (this.#favourCount === 0) this.#favourite = null;
      return;
    }
    if (leader !== this.#favourite) {
      this.#favourite = leader;
      this.#favourCount = 0;
    }
    this.#favourCount++;
    if (this.#favourCount < stalledPollsToAdopt(this.#params)) return;
    this.#favourite = null;
    this.#favourCount = 0;
    if (snowball.preference() === leader) return;
    this.stallsBroken++;
    snowball.adopt(leader);
  }

  /** Marks `txId` accepted; returns the other live members, now rejected. */
  accept(txId: string): string[] {
    this.#detach();
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
    this.#detach();
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
    this.#leaveGroup();
    this.#members.delete(member);
    this.#dead.delete(member);
  }

  /** Marks `txId` dead because it was rejected for a reason of its own. */
  kill(txId: string): void {
    if (this.#dead.has(txId)) return;
    if (this.#group !== null) {
      // Its one member dies: no live member is left, so no Snowball either (as #restartIfPreferenceDead would end).
      if (txId === this.#solo) this.#detach();
      else this.#leaveGroup();
    }
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
