import type { Rng } from "./types.ts";

/** Request ids travel as u32. */
export const REQUEST_ID_MAX = 0xffff_ffff;

/**
 * One of this node's polls: the validators yet to answer, and the frontiers
 * counted so far with who sent each (`voters[i]` sent `votes[i]`).
 */
export interface Poll {
  readonly pending: Set<string>;
  readonly votes: (readonly string[])[];
  readonly voters: string[];
  /** When it was opened, by the engine's clock. */
  readonly startedMs: number;
  /**
   * When the poll settled while its votes named vertices this node did not
   * hold yet (see the engine's held polls); null while it is still open to votes.
   */
  heldSinceMs: number | null;
}

/**
 * This node's open polls by request id. Ids count up from the first one and
 * wrap within [1, 2^32), so an id below the next one was handed out before
 * (a vote for it whose poll is gone arrived late).
 */
export class PollBook {
  readonly #open = new Map<number, Poll>();
  #nextRequestId: number;

  constructor(firstRequestId: number | undefined) {
    this.#nextRequestId = firstRequestId ?? 1;
    if (!Number.isInteger(this.#nextRequestId) || this.#nextRequestId < 1 || this.#nextRequestId > REQUEST_ID_MAX) {
      throw new RangeError(
        `Cannot start engine: firstRequestId is ${firstRequestId}, expected 1..${REQUEST_ID_MAX}`,
      );
    }
  }

  /** Open polls, held ones included. */
  get size(): number {
    return this.#open.size;
  }

  /** Polls still taking votes (open and not held). */
  get inFlight(): number {
    let n = 0;
    for (const poll of this.#open.values()) if (poll.heldSinceMs === null) n++;
    return n;
  }

  get(requestId: number): Poll | undefined {
    return this.#open.get(requestId);
  }

  /** True for an id below the next one (handed out earlier, unless the ids wrapped since). */
  isPast(requestId: number): boolean {
    return requestId < this.#nextRequestId;
  }

  /** Opens an empty poll under the next request id, at `nowMs`. */
  open(nowMs: number): { readonly requestId: number; readonly poll: Poll } {
    const requestId = this.#nextRequestId;
    this.#nextRequestId = requestId >= REQUEST_ID_MAX ? 1 : requestId + 1;
    const poll: Poll = { pending: new Set(), votes: [], voters: [], startedMs: nowMs, heldSinceMs: null };
    this.#open.set(requestId, poll);
    return { requestId, poll };
  }

  /** The held polls (settled, waiting for vertices their votes name), oldest first. */
  held(): number[] {
    const out: number[] = [];
    for (const [requestId, poll] of this.#open) if (poll.heldSinceMs !== null) out.push(requestId);
    return out;
  }

  /** Ends an open poll and returns it. */
  close(requestId: number): Poll {
    const poll = this.#open.get(requestId)!;
    this.#open.delete(requestId);
    return poll;
  }
}

/** k distinct validators of `validators` (sorted), uniformly (partial Fisher-Yates). */
export function sampleValidators(validators: readonly string[], k: number, rng: Rng): string[] {
  const pool = [...validators];
  const n = Math.min(k, pool.length);
  for (let i = 0; i < n; i++) {
    const j = i + rng.nextInt(pool.length - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, n);
}
