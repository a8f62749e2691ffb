/**
 * Whether a transaction with a given conflict key is carried in the causal
 * past of a vertex about to be placed (its parents are stored): the question
 * the order rule of src/dag/carried.ts asks. The answer depends only on the
 * vertex's ancestry, so every honest node gives the same one:
 *
 * - a carrier among the parents: yes;
 * - an accepted carrier below the boundary of the cut whose frontier every new
 *   vertex must descend from (src/dag/coverage.ts): yes, without looking;
 * - otherwise a walk up from the parents through the stored links, never
 *   below the candidate's timestamp (a vertex's timestamp is at least its
 *   parents', so nothing older leads to it);
 * - on a node whose history starts at a checkpoint it synced from, a key
 *   with no accepted carrier stored whose nonce the ledger holds as used
 *   (`settledBeforeHistory`): its carrier was accepted below that
 *   checkpoint, so below the required boundary; a node with the whole
 *   history answers yes there too.
 *
 * One {@linkcode PastQuery} serves all the transactions of one vertex and
 * shares its walk between them.
 */
import type { Storage } from "../storage/mod.ts";

/** Ancestors one vertex's questions may visit together; beyond it the answer is no. */
export const WALK_STEPS_MAX = 100_000;
/** Links remembered between vertices (recent vertices are asked about most). */
const LINKS_CACHE_MAX = 65_536;

interface Links {
  readonly parents: readonly string[];
  readonly timestampMs: number;
}

export interface CausalPastOptions {
  storage: Storage;
  /** Every accepted vertex below it is in the causal past of any vertex admitted now. */
  requiredBoundaryMs: () => number;
  isAccepted: (vertexId: string) => boolean;
  /**
   * Only on a node whose history starts at a synced checkpoint: whether the
   * ledger holds the key's nonce as used (its carrier is not stored here).
   */
  settledBeforeHistory?: (conflictKey: string) => boolean;
}

export class CausalPast {
  readonly #o: CausalPastOptions;
  readonly #links = new Map<string, Links>();

  constructor(o: CausalPastOptions) {
    this.#o = o;
  }

  /** Questions about the causal past of a vertex with these parents. */
  of(parents: readonly string[]): PastQuery {
    return new PastQuery(this, parents);
  }

  /** Remembers a vertex's links as it is stored (so the walk rarely reads them back). */
  remember(id: string, parents: readonly string[], timestampMs: number): void {
    if (this.#links.size >= LINKS_CACHE_MAX) this.#links.delete(this.#links.keys().next().value!);
    this.#links.set(id, { parents, timestampMs });
  }

  /**
   * Forgets the links of vertices older than `boundaryMs`: the walk never
   * needs them from memory once every new vertex descends from a cut at that
   * boundary (a rare question about one reads it from storage). Called when a
   * cut closes, so the cache holds about a cut's worth, not the cap.
   */
  forgetBelow(boundaryMs: number): void {
    for (const [id, l] of this.#links) if (l.timestampMs < boundaryMs) this.#links.delete(id);
  }

  get cached(): number {
    return this.#links.size;
  }

  links(id: string): Links | null {
    const cached = this.#links.get(id);
    if (cached !== undefined) return cached;
    const stored = this.#o.storage.vertexLinks(id);
    if (stored !== null) this.remember(id, stored.parents, stored.timestampMs);
    return stored;
  }

  carriers(conflictKey: string): { vertex: string; timestampMs: number }[] {
    return this.#o.storage.carriersOfConflict(conflictKey);
  }

  get requiredBoundaryMs(): number {
    return this.#o.requiredBoundaryMs();
  }

  isAccepted(vertexId: string): boolean {
    return this.#o.isAccepted(vertexId);
  }

  settledBeforeHistory(conflictKey: string): boolean {
    return this.#o.settledBeforeHistory?.(conflictKey) ?? false;
  }
}

export class PastQuery {
  readonly #past: CausalPast;
  readonly #parents: ReadonlySet<string>;
  /** Visited ancestors; the walk goes on from `#stack`, keeping what it skipped as too old in `#deferred`. */
  readonly #seen = new Set<string>();
  #stack: string[];
  #deferred: string[] = [];
  /** The walk has visited every ancestor at or above this timestamp. */
  #floorMs = Infinity;
  #steps = 0;

  constructor(past: CausalPast, parents: readonly string[]) {
    this.#past = past;
    this.#parents = new Set(parents);
    this.#stack = [...parents];
  }

  /** Whether a transaction with this conflict key is carried by an ancestor of the vertex. */
  carriedInPast(conflictKey: string): boolean {
    const candidates = this.#past.carriers(conflictKey);
    const boundary = this.#past.requiredBoundaryMs;
    let lowest = Infinity;
    for (const c of candidates) {
      if (this.#parents.has(c.vertex) || this.#seen.has(c.vertex)) return true;
      if (c.timestampMs < boundary && this.#past.isAccepted(c.vertex)) return true;
      // A candidate below the boundary that is not accepted is not an ancestor of anything accepted;
      // such a vertex is doomed anyway, and it is not searched for.
      if (c.timestampMs >= boundary) lowest = Math.min(lowest, c.timestampMs);
    }
    if (lowest !== Infinity) {
      this.#walkDownTo(lowest);
      if (candidates.some((c) => this.#seen.has(c.vertex))) return true;
    }
    // Accepted before this node's history begins (it synced from a checkpoint): no carrier of it is stored.
    return !candidates.some((c) => this.#past.isAccepted(c.vertex)) && this.#past.settledBeforeHistory(conflictKey);
  }

  /** Visits every ancestor with a timestamp at or above `floorMs` (within WALK_STEPS_MAX in all). */
  #walkDownTo(floorMs: number): void {
    if (floorMs >= this.#floorMs) return;
    // What was too old for the last floor may not be for this one.
    this.#stack.push(...this.#deferred);
    this.#deferred = [];
    while (this.#stack.length > 0 && this.#steps < WALK_STEPS_MAX) {
      const id = this.#stack.pop()!;
      if (this.#seen.has(id)) continue;
      const links = this.#past.links(id);
      if (links === null) continue;
      if (links.timestampMs < floorMs) {
        this.#deferred.push(id);
        continue;
      }
      this.#seen.add(id);
      this.#steps++;
      for (const p of links.parents) if (!this.#seen.has(p)) this.#stack.push(p);
    }
    if (this.#stack.length === 0) this.#floorMs = floorMs;
  }
}
