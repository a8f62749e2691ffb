/**
 * The chain's feed: every settled vertex (its signed bytes) and every
 * certified checkpoint, in one order that is the same on every node, so that
 * a follower (the edge replica, an indexer) can resume from a cursor on any
 * node without a gap or a duplicate.
 *
 * The order: cut by cut (src/consensus/cut.ts; cut s holds the accepted
 * vertices with a timestamp in [b_{s-1}, b_s)), and inside a cut by
 * (timestamp, round, id), parents before children; after the vertices of cut
 * s, its certificate. A cut is the same set on every node that closed it, so
 * this order is too: it is a linear extension of the DAG that every node
 * computes alike (a node's own apply order is not: it depends on when votes
 * arrived). Only settled vertices are in the feed: a cut's vertex list is final
 * once the cut closed, and a follower that checks everything against a
 * certified checkpoint cannot use newer ones anyway.
 *
 * Cursor `s.i`: i events of cut s delivered (vertices 1..n, then the
 * checkpoint as event n + 1). `0.0` is the start of the chain. The cursor of an
 * event is the position just after it, so "after=<an event's cursor>" resumes
 * with the next event. A node that holds no certificate for cut s while it
 * holds a later one passes over that checkpoint event (a later certificate
 * vouches for the whole state); it never passes over a vertex. A checkpoint
 * event carries this node's certificate: the statement is the same on every
 * node, its signatures are whichever quorum this node collected.
 */
import { validateVertex } from "../core/mod.ts";
import type { Storage, StoredCertificate, StoredCut } from "../storage/mod.ts";

/** Most events one page returns. */
export const FEED_PAGE_EVENTS_MAX = 500;
/** Events per page when the caller names no limit. */
export const FEED_PAGE_EVENTS_DEFAULT = 100;
/** A page stops once its vertices' bytes pass this (it always holds at least one event). */
export const FEED_PAGE_BYTES_MAX = 4 * 1024 * 1024;
/** Cuts whose vertex lists are kept in memory (a follower reads one cut in several pages). */
const CUT_LISTS_KEPT = 8;

export const FEED_CURSOR_RE = /^(0|[1-9][0-9]{0,15})\.(0|[1-9][0-9]{0,5})$/;

export interface FeedCursor {
  readonly seq: number;
  readonly index: number;
}

export type FeedErrorCode = "feed_cursor_invalid" | "feed_history_unavailable";

export class FeedError extends Error {
  readonly code: FeedErrorCode;
  constructor(code: FeedErrorCode, message: string) {
    super(message);
    this.name = "FeedError";
    this.code = code;
  }
}

export type FeedEvent =
  | {
    readonly type: "vertex";
    readonly cursor: string;
    readonly cut: number;
    readonly id: string;
    readonly timestampMs: number;
    readonly bytes: Uint8Array;
    /** Ids of the transactions it carries, accepted with it. */
    readonly transactions: readonly string[];
  }
  | {
    readonly type: "checkpoint";
    readonly cursor: string;
    readonly cut: number;
    readonly certificate: StoredCertificate;
  };

export interface FeedPage {
  readonly events: FeedEvent[];
  /** Where the next page starts (the cursor of the last event, or `after` when there was none). */
  readonly next: string;
  /** True when nothing more is available here yet. */
  readonly caughtUp: boolean;
  /** The newest cut this node closed (0: none). */
  readonly headCut: number;
}

export type FeedStorage = Pick<
  Storage,
  "getCut" | "latestCut" | "acceptedVerticesBetween" | "getVertex" | "getCertificate" | "latestCertificate"
>;

export function formatCursor(c: FeedCursor): string {
  return `${c.seq}.${c.index}`;
}

/** Parses `s.i`; throws feed_cursor_invalid for anything else. */
export function parseCursor(text: string): FeedCursor {
  const m = FEED_CURSOR_RE.exec(text);
  if (m === null) {
    throw new FeedError("feed_cursor_invalid", `cursor ${JSON.stringify(text)} is not "<cut>.<index>", e.g. "0.0"`);
  }
  const seq = Number(m[1]);
  const index = Number(m[2]);
  if (!Number.isSafeInteger(seq)) throw new FeedError("feed_cursor_invalid", `cursor cut ${m[1]} is too large`);
  if (seq === 0 && index !== 0) throw new FeedError("feed_cursor_invalid", `cursor ${text}: cut 0 has no events`);
  return { seq, index };
}

/** Reads the feed from a node's storage. Holds a few cuts' vertex lists; otherwise stateless. */
export class FeedReader {
  readonly #storage: FeedStorage;
  readonly #lists = new Map<number, readonly string[]>();

  constructor(storage: FeedStorage) {
    this.#storage = storage;
  }

  /** The newest cut closed here (0: none). */
  headCut(): number {
    return this.#storage.latestCut()?.seq ?? 0;
  }

  /**
   * Up to `limit` events after `after` (and at most FEED_PAGE_BYTES_MAX of
   * vertex bytes). Throws FeedError when the cursor does not fit this chain
   * (feed_cursor_invalid) or names history this node does not hold
   * (feed_history_unavailable: it started from a state sync, or pruned).
   */
  read(after: FeedCursor, limit = FEED_PAGE_EVENTS_DEFAULT): FeedPage {
    const max = Math.min(Math.max(1, Math.floor(limit)), FEED_PAGE_EVENTS_MAX);
    const head = this.headCut();
    const events: FeedEvent[] = [];
    let bytes = 0;
    let at = after;
    let caughtUp = false;
    while (events.length < max && bytes < FEED_PAGE_BYTES_MAX) {
      const step = this.#next(at, head);
      if (step === null) {
        caughtUp = true;
        break;
      }
      at = step.at;
      if (step.event !== null) {
        events.push(step.event);
        if (step.event.type === "vertex") bytes += step.event.bytes.length;
      }
    }
    if (!caughtUp && this.#next(at, head) === null) caughtUp = true;
    return { events, next: formatCursor(at), caughtUp, headCut: head };
  }

  /** The event after `at` and its position, a position move without an event, or null when none is here yet. */
  #next(at: FeedCursor, head: number): { at: FeedCursor; event: FeedEvent | null } | null {
    if (at.seq === 0) return head >= 1 ? { at: { seq: 1, index: 0 }, event: null } : null;
    if (at.seq > head) return null;
    const cut = this.#cut(at.seq);
    const n = cut.vertexCount;
    if (at.index > n + 1) {
      throw new FeedError(
        "feed_cursor_invalid",
        `cursor ${formatCursor(at)}: cut ${at.seq} has ${n} vertices and a checkpoint (indexes 0..${n + 1})`,
      );
    }
    if (at.index === n + 1) return at.seq < head ? { at: { seq: at.seq + 1, index: 0 }, event: null } : null;
    const position = { seq: at.seq, index: at.index + 1 };
    if (at.index < n) return { at: position, event: this.#vertexEvent(cut, at.index, position) };
    // All vertices delivered: the checkpoint, or past it once a later one is certified here.
    const certificate = this.#storage.getCertificate(at.seq);
    if (certificate !== null) {
      return { at: position, event: { type: "checkpoint", cursor: formatCursor(position), cut: at.seq, certificate } };
    }
    const latest = this.#storage.latestCertificate()?.seq ?? 0;
    return latest > at.seq ? { at: position, event: null } : null;
  }

  #cut(seq: number): StoredCut {
    const cut = this.#storage.getCut(seq);
    if (cut === null) {
      throw new FeedError(
        "feed_history_unavailable",
        `this node does not hold cut ${seq} (it started from a state sync past it): read the feed from another node`,
      );
    }
    return cut;
  }

  #vertexEvent(cut: StoredCut, index: number, position: FeedCursor): FeedEvent {
    const ids = this.#list(cut);
    const stored = this.#storage.getVertex(ids[index]);
    if (stored === null || stored.bytes.length === 0) {
      throw new FeedError(
        "feed_history_unavailable",
        `this node no longer holds vertex ${ids[index]} of cut ${cut.seq} (pruned): read the feed from another node`,
      );
    }
    const info = validateVertex(stored.bytes);
    return {
      type: "vertex",
      cursor: formatCursor(position),
      cut: cut.seq,
      id: stored.id,
      timestampMs: stored.timestampMs,
      bytes: stored.bytes,
      transactions: info.transactionIds.map((t) => t.toHex()),
    };
  }

  /** The cut's vertices in feed order; refuses a cut whose stored list is not the one it settled. */
  #list(cut: StoredCut): readonly string[] {
    let ids = this.#lists.get(cut.seq);
    if (ids === undefined) {
      ids = this.#storage.acceptedVerticesBetween(cut.prevBoundaryMs, cut.boundaryMs);
      if (ids.length !== cut.vertexCount) {
        throw new FeedError(
          "feed_history_unavailable",
          `this node holds ${ids.length} of the ${cut.vertexCount} vertices of cut ${cut.seq}: read the feed from another node`,
        );
      }
      if (this.#lists.size >= CUT_LISTS_KEPT) this.#lists.delete(this.#lists.keys().next().value!);
      this.#lists.set(cut.seq, ids);
    }
    return ids;
  }
}
