/**
 * A bounded buffer of vertices whose parents are not known yet. Each author
 * (a genesis validator: the author's signature is checked before a vertex is
 * buffered) has a fair share of it, `countMax / authors` vertices and
 * `bytesMax / authors` bytes: an author past its share loses its own oldest
 * entry (`orphan_author_share`), so a validator sending vertices whose parents
 * never exist evicts only its own, never an honest author's. Past the whole
 * buffer's bounds (a vertex larger than a share, more authors than expected)
 * the oldest entry of the author holding the most bytes goes
 * (`orphan_evicted`). Entries older than a limit expire (`orphan_expired`).
 * Every drop is reported, never silent. Pure: times are passed in.
 */

export interface OrphanLimits {
  /** Most vertices held at once. */
  readonly countMax: number;
  /** Most bytes held at once. */
  readonly bytesMax: number;
  /** How long a vertex may wait for its parents. */
  readonly ageMaxMs: number;
}

export const DEFAULT_ORPHAN_LIMITS: OrphanLimits = Object.freeze({
  countMax: 4_096,
  bytesMax: 64 * 1024 * 1024,
  ageMaxMs: 10 * 60_000,
});

export interface Orphan {
  readonly id: string;
  readonly bytes: Uint8Array;
  readonly addedAtMs: number;
  /** Parents still missing. */
  readonly missing: ReadonlySet<string>;
}

export type DropReason = "orphan_evicted" | "orphan_expired" | "orphan_author_share";

export interface Dropped {
  readonly id: string;
  readonly reason: DropReason;
}

interface Entry {
  readonly bytes: Uint8Array;
  readonly addedAtMs: number;
  readonly author: string;
  readonly missing: Set<string>;
}

/** What one author holds; `ids` in the order they were added, so its first is its oldest. */
interface Holding {
  readonly ids: Set<string>;
  bytes: number;
}

export class OrphanBuffer {
  readonly limits: OrphanLimits;
  /** Each author's share: at most this many vertices... */
  readonly authorCountMax: number;
  /** ...and this many bytes (one vertex larger than this may still wait, alone). */
  readonly authorBytesMax: number;
  // Insertion order is age order: Map iteration is the expiry order.
  #byId = new Map<string, Entry>();
  #waitingOn = new Map<string, Set<string>>();
  /** Invariant: an author is here exactly while it holds an entry; its ids and bytes sum to the buffer's. */
  #byAuthor = new Map<string, Holding>();
  #bytes = 0;

  /** `authors`: how many may hold entries (the genesis validators), each given an equal share. */
  constructor(limits: OrphanLimits = DEFAULT_ORPHAN_LIMITS, authors = 1) {
    if (!Number.isSafeInteger(authors) || authors < 1) {
      throw new RangeError(`authors = ${authors}: expected a positive integer (the genesis validators)`);
    }
    this.limits = limits;
    this.authorCountMax = Math.max(1, Math.floor(limits.countMax / authors));
    this.authorBytesMax = Math.floor(limits.bytesMax / authors);
  }

  get size(): number {
    return this.#byId.size;
  }
  get bytes(): number {
    return this.#bytes;
  }
  has(id: string): boolean {
    return this.#byId.has(id);
  }
  /** Every parent some orphan is waiting for, sorted: what to fetch from peers. */
  wanted(): string[] {
    return [...this.#waitingOn.keys()].sort();
  }

  /** Vertices `author` holds here. */
  heldBy(author: string): number {
    return this.#byAuthor.get(author)?.ids.size ?? 0;
  }

  /**
   * Holds `author`'s vertex until `missing` arrive. Returns what had to be
   * dropped to make room (the vertex itself if it is larger than the buffer).
   */
  add(id: string, bytes: Uint8Array, missing: readonly string[], nowMs: number, author: string): Dropped[] {
    if (this.#byId.has(id)) return [];
    const dropped = this.expire(nowMs);
    if (bytes.length > this.limits.bytesMax) {
      dropped.push({ id, reason: "orphan_evicted" });
      return dropped;
    }
    // The author's share first: what it sends beyond its share pushes out only its own.
    for (let own = this.#byAuthor.get(author); own !== undefined; own = this.#byAuthor.get(author)) {
      const over = own.ids.size + 1 > this.authorCountMax || own.bytes + bytes.length > this.authorBytesMax;
      if (!over) break;
      dropped.push(this.#drop(own.ids.values().next().value!, "orphan_author_share"));
    }
    // Then the whole buffer's bounds, paid by whoever holds the most.
    while (
      this.#byId.size > 0 &&
      (this.#byId.size + 1 > this.limits.countMax || this.#bytes + bytes.length > this.limits.bytesMax)
    ) {
      const [largest, holding] = this.#largestHolder();
      dropped.push(
        this.#drop(holding.ids.values().next().value!, largest === author ? "orphan_author_share" : "orphan_evicted"),
      );
    }
    const entry: Entry = { bytes, addedAtMs: nowMs, author, missing: new Set(missing) };
    this.#byId.set(id, entry);
    this.#bytes += bytes.length;
    let holding = this.#byAuthor.get(author);
    if (!holding) this.#byAuthor.set(author, holding = { ids: new Set(), bytes: 0 });
    holding.ids.add(id);
    holding.bytes += bytes.length;
    for (const p of entry.missing) {
      let s = this.#waitingOn.get(p);
      if (!s) this.#waitingOn.set(p, s = new Set());
      s.add(id);
    }
    return dropped;
  }

  /** The author holding the most bytes (ties: the most entries, then the lowest id); the buffer is not empty. */
  #largestHolder(): [string, Holding] {
    let best: [string, Holding] | null = null;
    // At most one entry per genesis validator: a short loop.
    for (const h of this.#byAuthor) {
      if (
        best === null || h[1].bytes > best[1].bytes ||
        (h[1].bytes === best[1].bytes &&
          (h[1].ids.size > best[1].ids.size || (h[1].ids.size === best[1].ids.size && h[0] < best[0])))
      ) best = h;
    }
    return best!;
  }

  #drop(id: string, reason: DropReason): Dropped {
    this.#remove(id);
    return { id, reason };
  }

  /**
   * A parent arrived: returns the orphans that now have every parent, in the
   * order they were added, and removes them from the buffer.
   */
  arrived(parentId: string): Orphan[] {
    const waiting = this.#waitingOn.get(parentId);
    if (!waiting) return [];
    this.#waitingOn.delete(parentId);
    const ready: Orphan[] = [];
    for (const id of waiting) {
      const e = this.#byId.get(id);
      if (!e) continue;
      e.missing.delete(parentId);
      if (e.missing.size === 0) {
        ready.push({ id, bytes: e.bytes, addedAtMs: e.addedAtMs, missing: new Set() });
        this.#remove(id);
      }
    }
    return ready.sort((a, b) => a.addedAtMs - b.addedAtMs || (a.id < b.id ? -1 : 1));
  }

  /** A parent was rejected: every orphan waiting on it (directly) is removed and returned. */
  discardDependents(parentId: string): string[] {
    const waiting = this.#waitingOn.get(parentId);
    if (!waiting) return [];
    const ids = [...waiting].filter((id) => this.#byId.has(id)).sort();
    for (const id of ids) this.#remove(id);
    this.#waitingOn.delete(parentId);
    return ids;
  }

  /** Drops entries older than the age limit. */
  expire(nowMs: number): Dropped[] {
    const out: Dropped[] = [];
    for (const [id, e] of this.#byId) {
      if (nowMs - e.addedAtMs <= this.limits.ageMaxMs) break;
      this.#remove(id);
      out.push({ id, reason: "orphan_expired" });
    }
    return out;
  }

  #remove(id: string): void {
    const e = this.#byId.get(id);
    if (!e) return;
    this.#byId.delete(id);
    this.#bytes -= e.bytes.length;
    const holding = this.#byAuthor.get(e.author)!;
    holding.ids.delete(id);
    holding.bytes -= e.bytes.length;
    if (holding.ids.size === 0) this.#byAuthor.delete(e.author);
    for (const p of e.missing) {
      const s = this.#waitingOn.get(p);
      s?.delete(id);
      if (s && s.size === 0) this.#waitingOn.delete(p);
    }
  }
}
