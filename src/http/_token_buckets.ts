/**
 * Token buckets by partition (a client and a request class), pure: the caller
 * passes the time. A bucket holds at most `burst` tokens and gains
 * `perMinute` tokens a minute; a request takes one or is refused. The table
 * is bounded: past `partitionsMax` the least recently used bucket is
 * forgotten (its client starts again with a full bucket, as a new one would).
 */

export interface Budget {
  /** Tokens gained per minute: the sustained rate. */
  readonly perMinute: number;
  /** Most tokens held: how many requests may come at once after a quiet spell. */
  readonly burst: number;
}

export interface Take {
  readonly allowed: boolean;
  /** Whole tokens left after this request. */
  readonly remaining: number;
  /** Milliseconds until the bucket holds one more whole token; 0 when it is full. */
  readonly nextMs: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

export class TokenBuckets {
  readonly #partitionsMax: number;
  /** In least recently used order (a Map keeps insertion order; a touched bucket is moved to the end). */
  readonly #buckets = new Map<string, Bucket>();

  constructor(partitionsMax: number) {
    if (!Number.isSafeInteger(partitionsMax) || partitionsMax < 1) {
      throw new RangeError(`partitionsMax = ${partitionsMax}: expected a positive integer`);
    }
    this.#partitionsMax = partitionsMax;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Takes `cost` tokens (default 1), all or none. */
  take(partition: string, budget: Budget, nowMs: number, cost = 1): Take {
    const perMs = budget.perMinute / 60_000;
    let b = this.#buckets.get(partition);
    if (b === undefined) {
      b = { tokens: budget.burst, atMs: nowMs };
      if (this.#buckets.size >= this.#partitionsMax) this.#buckets.delete(this.#buckets.keys().next().value!);
    } else {
      this.#buckets.delete(partition);
      // A clock that steps back adds nothing.
      b.tokens = Math.min(budget.burst, b.tokens + Math.max(0, nowMs - b.atMs) * perMs);
      b.atMs = Math.max(b.atMs, nowMs);
    }
    this.#buckets.set(partition, b);
    const allowed = b.tokens >= cost;
    if (allowed) b.tokens -= cost;
    const whole = Math.floor(b.tokens);
    const nextMs = b.tokens >= budget.burst ? 0 : Math.ceil((whole + 1 - b.tokens) / perMs);
    return { allowed, remaining: whole, nextMs };
  }
}
