/**
 * Concurrent sets for the exchange ledger (wasm/LEDGER.md, "Order
 * independence"): the applied vertices whose effects the core must subtract
 * to see a carrier's causal past.
 *
 * Only vertices whose transactions changed state ("fact vertices": the core
 * keeps a journal entry only for those) matter; naming others is a no-op. For
 * every applied vertex V still held, this keeps its application sequence
 * number and conc(V), the fact vertices concurrent to V when V was applied.
 * Every ancestor of a vertex is applied before it, so for a carrier C with
 * parents P1..Pk:
 *
 *   conc(C) = ∩ over i of ( conc(Pi) ∪ { fact vertices applied after Pi } )
 *
 * (a fact vertex applied before Pi and not concurrent to Pi is an ancestor of
 * Pi, hence of C; one applied after Pi, or concurrent to it, is an ancestor of
 * C only through another parent, and the intersection removes it). A genesis
 * vertex (no parents) is concurrent to everything held. The cost is
 * O(smallest candidate set × parents), not a walk over the DAG.
 *
 * Settlement drops the records of a whole cut at once (`dropBelow`), two cuts
 * after it closed (the ledger keeps the last cut's journal). A parent whose
 * record was dropped contributes every held fact vertex: a held one applied
 * before it and not concurrent to it would be its ancestor, hence in a cut at
 * least as old, hence dropped too. Pure and bounded by what is held.
 */

/** What one applied vertex left behind for its descendants' concurrent sets. */
interface AppliedVertex {
  /** Position in this node's application order. */
  readonly seq: number;
  /** Fact vertices concurrent to it when it was applied (hex, ascending). */
  readonly concurrent: readonly string[];
  /** Whether its transactions changed state (the core holds a journal entry for it). */
  readonly facts: boolean;
  readonly timestampMs: number;
}

export class ConcurrencyIndex {
  #applied = new Map<string, AppliedVertex>();
  /** Fact vertices in application order, with their sequence numbers (ascending). */
  #factIds: string[] = [];
  #factSeqs: number[] = [];
  #nextSeq = 0;

  /** Applied vertices held. */
  get size(): number {
    return this.#applied.size;
  }

  /** Fact vertices held (the core's journal holds no more than these). */
  get factCount(): number {
    return this.#factIds.length;
  }

  has(id: string): boolean {
    return this.#applied.has(id);
  }

  /** The concurrent set recorded for `id` (hex, ascending), if held. */
  concurrentOf(id: string): readonly string[] | undefined {
    return this.#applied.get(id)?.concurrent;
  }

  /**
   * conc(C) from its parents' records (hex, ascending). A parent without a
   * record must be settled and dropped: `dropped(p)` says so, and the call
   * throws with the missing parent otherwise (nothing was recorded then).
   */
  concurrentTo(parents: readonly string[], dropped: (parent: string) => boolean): string[] {
    const records: AppliedVertex[] = [];
    for (const p of parents) {
      const r = this.#applied.get(p);
      if (r !== undefined) records.push(r);
      else if (!dropped(p)) throw new MissingParentError(p);
    }
    if (records.length === 0) return [...this.#factIds].sort();
    // Start from the parent with the fewest candidates, then keep what every other parent also has.
    const candidates = (r: AppliedVertex) => r.concurrent.length + this.#factIds.length - this.#factsUpTo(r.seq);
    records.sort((a, b) => candidates(a) - candidates(b));
    const [first, ...rest] = records;
    const start = [...first.concurrent, ...this.#factIds.slice(this.#factsUpTo(first.seq))];
    const sets = rest.map((r) => ({ seq: r.seq, concurrent: new Set(r.concurrent) }));
    const out = start.filter((f) => {
      // A recorded set may name a vertex dropped since: settled, it is nobody's concurrent any more.
      const seq = this.#applied.get(f)?.seq;
      return seq !== undefined && sets.every((s) => seq > s.seq || s.concurrent.has(f));
    });
    return out.sort();
  }

  /** Records an applied vertex. */
  add(id: string, concurrent: readonly string[], facts: boolean, timestampMs: number): void {
    const seq = this.#nextSeq++;
    this.#applied.set(id, { seq, concurrent, facts, timestampMs });
    if (facts) {
      this.#factIds.push(id);
      this.#factSeqs.push(seq);
    }
  }

  /** Ids of held vertices with a timestamp at or above `timestampMs`. */
  idsFrom(timestampMs: number): string[] {
    const out: string[] = [];
    for (const [id, r] of this.#applied) if (r.timestampMs >= timestampMs) out.push(id);
    return out;
  }

  /** Forgets the vertices with a timestamp below `timestampMs`; returns their ids. */
  dropBelow(timestampMs: number): string[] {
    const dropped: string[] = [];
    for (const [id, r] of this.#applied) {
      if (r.timestampMs < timestampMs) dropped.push(id);
    }
    if (dropped.length === 0) return dropped;
    const gone = new Set(dropped);
    for (const id of dropped) this.#applied.delete(id);
    const keep = this.#factIds.map((id, i) => [id, this.#factSeqs[i]] as const).filter(([id]) => !gone.has(id));
    this.#factIds = keep.map(([id]) => id);
    this.#factSeqs = keep.map(([, seq]) => seq);
    return dropped;
  }

  /** Forgets everything. */
  clear(): void {
    this.#applied = new Map();
    this.#factIds = [];
    this.#factSeqs = [];
    this.#nextSeq = 0;
  }

  /** How many fact vertices have seq <= `seq` (binary search). */
  #factsUpTo(seq: number): number {
    let lo = 0;
    let hi = this.#factSeqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#factSeqs[mid] <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** A parent that was neither applied nor settled: the caller broke an ordering promise. */
export class MissingParentError extends Error {
  readonly parent: string;
  constructor(parent: string) {
    super(`parent ${parent} was never applied`);
    this.name = "MissingParentError";
    this.parent = parent;
  }
}
