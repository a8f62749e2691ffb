/**
 * Which unsettled vertices descend from the whole frontier of a settled cut.
 *
 * A closed cut K (the accepted vertices with a timestamp below its boundary)
 * is downward closed; its frontier F is its maximal vertices. The ledger keeps
 * the effects of the last cut's vertices in its journal, so settlement is safe
 * if every vertex applied from now on descends from the whole frontier of the
 * cut before it ("covers" it): then no view ever needs an effect the journal
 * dropped (wasm/LEDGER.md, "Settlement"). So a vertex admitted after cut s
 * closed must have a timestamp at or above b_s and cover F_{s-1}. The one cut
 * of slack lets an honest author that had not yet seen the newest cut's last
 * vertices in.
 *
 * Pure and bounded: it holds the vertices at or above b_{s-1} only; `advance`
 * drops what a new cut leaves behind.
 */

/** Where the settled part of the DAG ends. */
export interface CutPosition {
  /** The cut holds the accepted vertices with a timestamp below this. */
  readonly boundaryMs: number;
  /** Its maximal vertices (hex ids, sorted). Empty before the first cut. */
  readonly frontier: readonly string[];
}

/** Before the first cut: nothing settled, nothing required. */
export const GENESIS_POSITION: CutPosition = Object.freeze({ boundaryMs: 0, frontier: Object.freeze([]) });

/** Why a vertex cannot enter above the cut. */
export type CoverageRefusal = "below_settled_cut" | "stale_parents";

export type CoverageVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: CoverageRefusal; readonly message: string };

interface Entry {
  readonly parents: readonly string[];
  readonly timestampMs: number;
  mask: bigint;
}

export class CoverageIndex {
  /** The last closed cut: nothing below its boundary may enter. */
  #current: CutPosition;
  /** The cut before it: new vertices must cover its frontier. */
  #required: CutPosition;
  #bits = new Map<string, bigint>();
  #full = 0n;
  /** Vertices at or above the required boundary, in insertion order (parents before children). */
  readonly #entries = new Map<string, Entry>();

  constructor(current: CutPosition = GENESIS_POSITION, required: CutPosition = GENESIS_POSITION) {
    if (required.boundaryMs > current.boundaryMs) {
      throw new RangeError(`The required cut ${required.boundaryMs} is after the current one ${current.boundaryMs}`);
    }
    this.#current = current;
    this.#required = required;
    this.#setFrontier(required.frontier);
  }

  /** The last closed cut. */
  get position(): CutPosition {
    return this.#current;
  }

  /** The cut whose frontier new vertices must cover. */
  get required(): CutPosition {
    return this.#required;
  }

  /** Vertices held. */
  get size(): number {
    return this.#entries.size;
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /**
   * Whether a vertex with these parents and timestamp may enter. Every parent
   * must be known to the caller (stored); one neither held here nor on the
   * required frontier lies below that cut and is not maximal in it: an honest
   * author never names one (its tips are never such vertices), and a node
   * that synced from a checkpoint does not hold it.
   */
  check(parents: readonly string[], timestampMs: number): CoverageVerdict {
    if (timestampMs < this.#current.boundaryMs) {
      return {
        ok: false,
        reason: "below_settled_cut",
        message: `timestamp ${timestampMs} is below the settled cut at ${this.#current.boundaryMs}`,
      };
    }
    const stale = parents.find((p) => !this.#entries.has(p) && !this.#bits.has(p));
    if (stale !== undefined) {
      return {
        ok: false,
        reason: "stale_parents",
        message: `parent ${stale.slice(0, 16)}… is settled and not on the settled frontier`,
      };
    }
    const missing = this.uncovered(parents);
    if (missing.length > 0) {
      return {
        ok: false,
        reason: "stale_parents",
        message: `it does not descend from settled frontier vertex ${
          missing[0].slice(0, 16)
        }… (${missing.length} of ${this.#required.frontier.length} missing)`,
      };
    }
    return { ok: true };
  }

  /** Records a vertex (its parents are held or on the required frontier). Idempotent. */
  add(id: string, parents: readonly string[], timestampMs: number): void {
    if (this.#entries.has(id) || this.#bits.has(id)) return;
    this.#entries.set(id, { parents, timestampMs, mask: this.#maskOf(parents) });
  }

  /** True when `id` (held, or a required frontier vertex) descends from the whole required frontier. */
  covers(id: string): boolean {
    if (this.#bits.has(id)) return this.#required.frontier.length === 1;
    const e = this.#entries.get(id);
    return e !== undefined && e.mask === this.#full;
  }

  /** Required frontier vertices not in the ancestry of any of `parents` (sorted). */
  uncovered(parents: readonly string[]): string[] {
    const mask = this.#maskOf(parents);
    return this.#required.frontier.filter((f) => (mask & this.#bits.get(f)!) === 0n);
  }

  /**
   * Moves to the next closed cut: the one that was current becomes the
   * required one; drops what lies below it (its frontier vertices become
   * frontier bits) and recomputes what the others cover.
   */
  advance(next: CutPosition): void {
    if (next.boundaryMs < this.#current.boundaryMs) {
      throw new RangeError(`Cannot move the settled cut back from ${this.#current.boundaryMs} to ${next.boundaryMs}`);
    }
    this.#required = this.#current;
    this.#current = next;
    this.#setFrontier(this.#required.frontier);
    for (const [id, e] of this.#entries) {
      if (e.timestampMs < this.#required.boundaryMs || this.#bits.has(id)) this.#entries.delete(id);
      else e.mask = this.#maskOf(e.parents);
    }
  }

  #setFrontier(frontier: readonly string[]): void {
    this.#bits = new Map(frontier.map((f, i) => [f, 1n << BigInt(i)]));
    this.#full = (1n << BigInt(frontier.length)) - 1n;
  }

  #maskOf(parents: readonly string[]): bigint {
    let mask = 0n;
    for (const p of parents) mask |= this.#bits.get(p) ?? this.#entries.get(p)?.mask ?? 0n;
    return mask;
  }
}
