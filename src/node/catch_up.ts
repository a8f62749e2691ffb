/**
 * Catching up forward. A node far behind its peers (back from an overload,
 * or just synced from a checkpoint some cuts back) used to learn the missing
 * vertices backward: each new vertex from gossip waited in the orphan buffer
 * while its parents were fetched one level at a time. With more vertices
 * missing than the buffer holds (4,096), the buffer evicted what the walk
 * needed, fetched it again, and never caught up (seen in `bench:soak` at
 * twice the rate this machine sustains: 150,000 evictions in 5 minutes).
 *
 * So once orphans pile up (CATCH_UP_ORPHANS_MIN), the node asks one peer for
 * the vertices it accepted from this node's last closed cut on, oldest first
 * (`getAcceptedSince`), a page at a time: each page connects to what the node
 * holds, and the next is asked for when it is in. Every vertex still goes
 * through DAG admission (signatures, rules); the pages only change the order.
 *
 * `acceptedPage` is the serving side (reads storage, given the clock);
 * `CatchUp` the asking side (one catch-up at a time, given a clock).
 */
import { CATCH_UP_PAGE_BYTES_MAX, type ProtocolMessage, VERTICES_PER_MESSAGE_MAX } from "../net/protocol.ts";
import type { Storage } from "../storage/mod.ts";

/** Vertex time one look at storage spans (a page holds at most one span's vertices). */
export const CATCH_UP_SPAN_MS = 5_000;
/** Orphans at which a node starts catching up forward. */
export const CATCH_UP_ORPHANS_MIN = 256;
/** A page not answered by then lets another catch-up start. */
export const CATCH_UP_ANSWER_MS = 5_000;
/** Empty spans one request may walk over before it answers (a minute of quiet chain). */
const EMPTY_SPANS_MAX = 12;

export interface AcceptedPage {
  /** Oldest first (timestamp, round, id): parents before children. */
  readonly vertices: Uint8Array[];
  /** Vertices too large for a page, in their place in the order: sent alone, before the page. */
  readonly alone: Uint8Array[];
  /** Where the next page starts; null when the span reached this node's clock. */
  readonly next: { sinceMs: number; skip: number } | null;
}

/**
 * The accepted vertices with a timestamp at or after `sinceMs`, from the
 * `skip`-th on, at most one message's worth. A vertex whose body was pruned
 * is passed over (the asker fetches it by id, or syncs).
 */
export function acceptedPage(
  storage: Pick<Storage, "acceptedVerticesBetween" | "getVertex">,
  sinceMs: number,
  skip: number,
  nowMs: number,
): AcceptedPage {
  const vertices: Uint8Array[] = [];
  const alone: Uint8Array[] = [];
  let bytes = 0;
  let from = sinceMs;
  let at = skip;
  for (let spans = 0; spans < EMPTY_SPANS_MAX; spans++) {
    const ids = storage.acceptedVerticesBetween(from, from + CATCH_UP_SPAN_MS);
    for (; at < ids.length; at++) {
      const body = storage.getVertex(ids[at])?.bytes;
      if (body === undefined) continue;
      if (body.length > CATCH_UP_PAGE_BYTES_MAX) {
        alone.push(body);
        continue;
      }
      if (vertices.length === VERTICES_PER_MESSAGE_MAX || bytes + body.length > CATCH_UP_PAGE_BYTES_MAX) {
        return { vertices, alone, next: { sinceMs: from, skip: at } };
      }
      vertices.push(body);
      bytes += body.length;
    }
    from += CATCH_UP_SPAN_MS;
    at = 0;
    if (from > nowMs) return { vertices, alone, next: null };
    if (vertices.length > 0 || alone.length > 0) break;
  }
  return { vertices, alone, next: { sinceMs: from, skip: 0 } };
}

export interface CatchUpOptions {
  send: (to: string, m: ProtocolMessage) => void;
  nowMs: () => number;
  answerMs?: number;
}

/** The asking side: at most one catch-up under way, each page asked for when the last one is in. */
export class CatchUp {
  readonly #o: CatchUpOptions;
  #under: { peer: string; sinceMs: number; atMs: number } | null = null;
  /** Catch-ups started, and pages received (for tests and diagnostics). */
  started = 0;
  pages = 0;

  constructor(o: CatchUpOptions) {
    this.#o = o;
  }

  /** Whether a catch-up is under way (asked, and answered within answerMs). */
  get active(): boolean {
    return this.#under !== null && this.#o.nowMs() - this.#under.atMs < (this.#o.answerMs ?? CATCH_UP_ANSWER_MS);
  }

  /** Starts catching up from `sinceMs` with `peer`, unless one is under way. Returns whether it started. */
  start(peer: string, sinceMs: number): boolean {
    if (this.active) return false;
    this.#under = { peer, sinceMs, atMs: this.#o.nowMs() };
    this.started++;
    this.#o.send(peer, { type: "getAcceptedSince", sinceMs, skip: 0 });
    return true;
  }

  /** A page from `from` is in (its vertices submitted): asks for the next, or ends. */
  onPage(from: string, next: { sinceMs: number; skip: number } | null): void {
    if (this.#under?.peer !== from) return; // not ours, or an old one's: its vertices were checked anyway
    this.pages++;
    if (next === null) {
      this.#under = null;
      return;
    }
    this.#under = { peer: from, sinceMs: next.sinceMs, atMs: this.#o.nowMs() };
    this.#o.send(from, { type: "getAcceptedSince", sinceMs: next.sinceMs, skip: next.skip });
  }
}
