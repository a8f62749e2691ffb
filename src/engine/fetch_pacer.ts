/** Most ids one request for vertices names (asking or answering). */
export const IDS_PER_REQUEST_MAX = 64;
/** Outstanding fetches remembered for retry pacing. */
const REQUESTED_IDS_MAX = 8192;

/**
 * Paces requests for missing vertices: an id is asked for again only once
 * `retryMs` passed since it was last asked for (from any peer).
 *
 * A vertex that another validator only names (in its votes, query or
 * frontier) is usually still on its way here: its author sends every vertex
 * to every validator when it issues it. So such an id is first asked for
 * only `graceMs` after it was first named ({@linkcode FetchPacer.takeNamed});
 * asking at once mostly brought a second copy of a vertex that arrived
 * meanwhile (at saturation 40 % of the vertices a node received were such
 * copies, up to 400 KB each: bench/PROFILE.md). A missing parent of a vertex
 * already here is asked for at once ({@linkcode FetchPacer.take}).
 *
 * Both maps are bounded by REQUESTED_IDS_MAX.
 */
export class FetchPacer {
  /** Vertex id -> when it was last requested; bounded by REQUESTED_IDS_MAX. */
  readonly #requestedAt = new Map<string, number>();
  /** Vertex id -> when and by whom it was first named, while not yet requested; bounded by REQUESTED_IDS_MAX. */
  readonly #named = new Map<string, { atMs: number; by: string }>();
  readonly #retryMs: number;
  readonly #graceMs: number;

  constructor(retryMs: number, graceMs = 0) {
    this.#retryMs = retryMs;
    this.#graceMs = graceMs;
  }

  /** The ids of `ids` due for a request at `nowMs` (at most `max`), marked as requested then. */
  take(ids: readonly string[], nowMs: number, max = IDS_PER_REQUEST_MAX): string[] {
    return this.#mark(ids.filter((id) => this.#retryDue(id, nowMs)), nowMs, max);
  }

  /**
   * As {@linkcode FetchPacer.take}, for ids peer `by` named: one never
   * requested is due only once `graceMs` passed since it was first named
   * (then {@linkcode FetchPacer.namedDue} gives it, if no one names it again).
   */
  takeNamed(ids: readonly string[], by: string, nowMs: number): string[] {
    return this.#mark(
      ids.filter((id) => {
        if (this.#requestedAt.has(id)) return this.#retryDue(id, nowMs);
        const named = this.#named.get(id);
        if (named !== undefined) return nowMs - named.atMs >= this.#graceMs;
        if (this.#graceMs <= 0) return true;
        // Ids nobody ever sends (a Byzantine peer can name any) must not pile up.
        if (this.#named.size >= REQUESTED_IDS_MAX) this.#named.clear();
        this.#named.set(id, { atMs: nowMs, by });
        return false;
      }),
      nowMs,
    );
  }

  /**
   * The named ids whose grace ran out by `nowMs` and that `missing` still
   * says are missing, each with the peer that first named it (at most
   * IDS_PER_REQUEST_MAX per peer; the rest wait for the next call), marked as
   * requested; those no longer missing are forgotten.
   */
  namedDue(nowMs: number, missing: (id: string) => boolean): Map<string, string[]> {
    const due = new Map<string, string[]>();
    for (const [id, named] of this.#named) {
      if (nowMs - named.atMs < this.#graceMs) continue;
      if (!missing(id)) {
        this.#named.delete(id);
        continue;
      }
      const ids = due.get(named.by) ?? [];
      if (ids.length >= IDS_PER_REQUEST_MAX) continue;
      ids.push(id);
      due.set(named.by, ids);
    }
    for (const ids of due.values()) this.#mark(ids, nowMs);
    return due;
  }

  /** The vertex arrived: no request for it is outstanding. */
  arrived(id: string): void {
    this.#requestedAt.delete(id);
    this.#named.delete(id);
  }

  #retryDue(id: string, nowMs: number): boolean {
    const at = this.#requestedAt.get(id);
    return at === undefined || nowMs - at >= this.#retryMs;
  }

  #mark(due: string[], nowMs: number, max = IDS_PER_REQUEST_MAX): string[] {
    due = due.slice(0, Math.min(max, IDS_PER_REQUEST_MAX));
    if (due.length === 0) return due;
    // Ids nobody ever serves (a Byzantine peer can name any) must not pile up.
    if (this.#requestedAt.size + due.length > REQUESTED_IDS_MAX) this.#requestedAt.clear();
    for (const id of due) {
      this.#requestedAt.set(id, nowMs);
      this.#named.delete(id);
    }
    return due;
  }
}
