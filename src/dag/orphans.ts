/**
 * A bounded buffer of vertices whose parents are not known yet. When full,
 * the oldest entry is evicted and reported (never dropped silently); entries
 * older than a limit expire the same way. Pure: times are passed in.
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

export interface Dropped {
  readonly id: string;
  readonly reason: "orphan_evicted" | "orphan_expired";
}

export class OrphanBuffer {
  readonly limits: OrphanLimits;
  // Insertion order is age order: Map iteration is the eviction order.
  #byId = new Map<string, { bytes: Uint8Array; addedAtMs: number; missing: Set<string> }>();
  #waitingOn = new Map<string, Set<string>>();
  #bytes = 0;

  constructor(limits: OrphanLimits = DEFAULT_ORPHAN_LIMITS) {
    this.limits = limits;
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

  /** Holds a vertex until `missing` arrive. Returns what had to be dropped to make room. */
  add(id: string, bytes: Uint8Array, missing: readonly string[], nowMs: number): Dropped[] {
    if (this.#byId.has(id)) return [];
    const dropped = this.expire(nowMs);
    while (
      this.#byId.size > 0 &&
      (this.#byId.size + 1 > this.limits.countMax || this.#bytes + bytes.length > this.limits.bytesMax)
    ) {
      const oldest = this.#byId.keys().next().value!;
      this.#remove(oldest);
      dropped.push({ id: oldest, reason: "orphan_evicted" });
    }
    if (bytes.length > this.limits.bytesMax) {
      dropped.push({ id, reason: "orphan_evicted" });
      return dropped;
    }
    const entry = { bytes, addedAtMs: nowMs, missing: new Set(missing) };
    this.#byId.set(id, entry);
    this.#bytes += bytes.length;
    for (const p of entry.missing) {
      let s = this.#waitingOn.get(p);
      if (!s) this.#waitingOn.set(p, s = new Set());
      s.add(id);
    }
    return dropped;
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
    for (const p of e.missing) {
      const s = this.#waitingOn.get(p);
      s?.delete(id);
      if (s && s.size === 0) this.#waitingOn.delete(p);
    }
  }
}
