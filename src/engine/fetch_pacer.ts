/** Most ids one request for vertices names (asking or answering). */
export const IDS_PER_REQUEST_MAX = 64;
/** Outstanding fetches remembered for retry pacing. */
const REQUESTED_IDS_MAX = 8192;

/**
 * Paces requests for missing vertices: an id is asked for again only once
 * `retryMs` passed since it was last asked for (from any peer).
 */
export class FetchPacer {
  /** Vertex id -> when it was last requested; bounded by REQUESTED_IDS_MAX. */
  readonly #requestedAt = new Map<string, number>();
  readonly #retryMs: number;

  constructor(retryMs: number) {
    this.#retryMs = retryMs;
  }

  /** The ids of `ids` due for a request at `nowMs` (at most IDS_PER_REQUEST_MAX), marked as requested then. */
  take(ids: readonly string[], nowMs: number): string[] {
    const due = ids.filter((id) => {
      const at = this.#requestedAt.get(id);
      return at === undefined || nowMs - at >= this.#retryMs;
    }).slice(0, IDS_PER_REQUEST_MAX);
    if (due.length === 0) return due;
    // Ids nobody ever serves (a Byzantine peer can name any) must not pile up.
    if (this.#requestedAt.size + due.length > REQUESTED_IDS_MAX) this.#requestedAt.clear();
    for (const id of due) this.#requestedAt.set(id, nowMs);
    return due;
  }

  /** The vertex arrived: no request for it is outstanding. */
  arrived(id: string): void {
    this.#requestedAt.delete(id);
  }
}
