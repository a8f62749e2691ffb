/**
 * How much expensive work each peer may make this node do: ML-DSA signatures
 * it makes us produce (a query is answered with a signed vote), signatures it
 * makes us verify (votes, vertices, checkpoint signatures) and storage it makes
 * us read and send (fetches). Each peer has a token bucket per kind of work,
 * kept for the node's life (one per validator: a reconnect does not refill it).
 *
 * The transport spends from it before it hands a message on (pump.ts): a peer
 * over its budget has its messages held, in order, until its tokens are back,
 * at most `heldMax` messages of a kind (more are dropped), and within the
 * inbox bounds (beyond them the peer is disconnected as a flood). The defaults
 * sit well above what an honest validator asks (an engine has at most 4 polls
 * out, one query each to us; in bench:testnet, 1,000 transactions through 4
 * nodes, each node got 30-40 queries/s from each peer and no message waited),
 * so only a peer that floods ever waits. Consensus
 * may spend from the same budget for work the transport cannot see, through
 * `PeerTransport.budget` (`take`).
 *
 * Pure: time comes from the caller.
 */

import { TokenBucket } from "./limits.ts";

/** Kinds of work; the `work` label of qudag_p2p_peer_budget_exceeded_total. */
export type PeerWork = "answer" | "verify" | "serve";
export const PEER_WORK: readonly PeerWork[] = ["answer", "verify", "serve"];

export interface WorkLimit {
  /** Units of this work a peer may cause per second, and in a burst. */
  readonly perSecond: number;
  readonly burst: number;
  /** Messages of this work held while the peer is over budget; more are dropped. */
  readonly heldMax: number;
}

export type PeerBudgetLimits = Readonly<Record<PeerWork, WorkLimit>>;

/** What one message asks for: `units` of `work` (a unit is about one ML-DSA-87 operation or one vertex read). */
export interface WorkCost {
  readonly work: PeerWork;
  readonly units: number;
}

/**
 * Defaults, per peer. answer: 2,000 queries/s (each answered with a vote, which
 * carries no signature: a frontier read and a send), burst 4,000, 8 held; an
 * honest validator polls each peer a few hundred times a second at most. verify: 2,000
 * signatures/s, burst 8,000 (a catch-up answer of 64 vertices of 10
 * transactions is ~700), 64 messages held. serve: 4,096 vertex reads/s, burst
 * 16,384, 64 requests held.
 */
export const DEFAULT_PEER_BUDGET: PeerBudgetLimits = Object.freeze({
  answer: Object.freeze({ perSecond: 2_000, burst: 4_000, heldMax: 8 }),
  verify: Object.freeze({ perSecond: 2_000, burst: 8_000, heldMax: 64 }),
  serve: Object.freeze({ perSecond: 4_096, burst: 16_384, heldMax: 64 }),
});

/** The defaults overridden per work kind, checked: every number positive, heldMax an integer. */
export function resolvePeerBudget(partial?: Partial<Record<PeerWork, Partial<WorkLimit>>>): PeerBudgetLimits {
  const out = {} as Record<PeerWork, WorkLimit>;
  for (const work of PEER_WORK) {
    const limit = { ...DEFAULT_PEER_BUDGET[work], ...partial?.[work] };
    for (const [name, v] of Object.entries(limit)) {
      if (!Number.isFinite(v) || v <= 0 || (name === "heldMax" && !Number.isInteger(v))) {
        throw new RangeError(`peer budget ${work}.${name} = ${v} is invalid: expected a positive number`);
      }
    }
    out[work] = Object.freeze(limit);
  }
  return Object.freeze(out);
}

export class PeerBudget {
  readonly limits: PeerBudgetLimits;
  readonly #buckets = new Map<string, Record<PeerWork, TokenBucket>>();

  constructor(limits: PeerBudgetLimits = DEFAULT_PEER_BUDGET) {
    this.limits = limits;
  }

  /**
   * Spends `cost` for `peer` (a validator id: the table holds one entry per
   * validator) if its budget has it: returns 0. Otherwise spends
   * nothing and returns the milliseconds until it will have it (a cost above
   * the burst counts as the burst, so every cost is affordable eventually).
   */
  take(peer: string, cost: WorkCost, nowMs: number): number {
    const limit = this.limits[cost.work];
    const units = Math.min(cost.units, limit.burst);
    const bucket = this.#bucketsOf(peer, nowMs)[cost.work];
    if (bucket.take(units, nowMs)) return 0;
    return Math.max(1, Math.ceil((units - bucket.available(nowMs)) * 1000 / limit.perSecond));
  }

  #bucketsOf(peer: string, nowMs: number): Record<PeerWork, TokenBucket> {
    let b = this.#buckets.get(peer);
    if (b === undefined) {
      const make = (w: PeerWork) => new TokenBucket(this.limits[w].perSecond, this.limits[w].burst, nowMs);
      b = { answer: make("answer"), verify: make("verify"), serve: make("serve") };
      this.#buckets.set(peer, b);
    }
    return b;
  }
}
