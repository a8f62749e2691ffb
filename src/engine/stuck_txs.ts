import type { TxInput } from "../consensus/mod.ts";

/**
 * Orphaned transactions (every carrier rejected, doomed or stuck above a
 * stalled contest: DagConsensus.orphanedTxs) waiting to be issued again on
 * clean parents: at once by the node that carried one, by the others after
 * 3 × the grace period (the carrier's author may be gone). Only orphans: a
 * transaction whose carrier is undecided otherwise waits for it, since a
 * second live carrier would compete with the first.
 */
export class StuckTxs {
  /** Stuck tx id -> when this node first saw it stuck; only current orphans. */
  readonly #since = new Map<string, number>();
  readonly #graceMs: number;

  constructor(graceMs: number) {
    this.#graceMs = graceMs;
  }

  /**
   * The orphans whose wait is over at `nowMs` (forgotten here once returned);
   * `carriedHere` says whether this node authored one of a transaction's carriers.
   */
  due(orphans: readonly TxInput[], nowMs: number, carriedHere: (txId: string) => boolean): TxInput[] {
    const stuck = new Map<string, TxInput>(orphans.map((t) => [t.id, t]));
    for (const id of [...this.#since.keys()]) if (!stuck.has(id)) this.#since.delete(id);
    const due: TxInput[] = [];
    for (const [id, tx] of stuck) {
      const since = this.#since.get(id) ?? nowMs;
      this.#since.set(id, since);
      if (nowMs - since < (carriedHere(id) ? 0 : 3 * this.#graceMs)) continue;
      this.#since.delete(id);
      due.push(tx);
    }
    return due;
  }
}
