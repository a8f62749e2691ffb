import type { Decision, TxInput } from "../consensus/mod.ts";

/**
 * A vertex as it travels between validators. `id` is the hash of the body
 * (everything but the signature); the signature covers the id.
 */
export interface SignedVertex {
  readonly id: string;
  /** Validator id of the author; must be in the genesis set. */
  readonly author: string;
  readonly parents: readonly string[];
  readonly txs: readonly TxInput[];
  readonly timestampMs: number;
  readonly signature: Uint8Array;
}

/**
 * One validator's answer to one query: its preferred frontier, signed over
 * (querier, requestId, responder, frontier), so it counts in that query only.
 */
export interface SignedVote {
  readonly querier: string;
  readonly requestId: number;
  readonly responder: string;
  readonly frontier: readonly string[];
  readonly signature: Uint8Array;
}

/**
 * Outgoing messages. Fire and forget: the transport may lose any of them.
 * For each `sendQuery` the transport must later deliver exactly one of
 * `onVotes` from that peer or `onQueryFailed` (its request timeout): the
 * engine owns no timers.
 */
export interface Sender {
  sendVertices(to: string, vertices: readonly SignedVertex[]): void;
  sendGetVertices(to: string, ids: readonly string[]): void;
  sendQuery(to: string, requestId: number, frontier: readonly string[]): void;
  sendVotes(to: string, vote: SignedVote): void;
  sendFrontier(to: string, frontier: readonly string[], replyWanted: boolean): void;
}

export interface Clock {
  nowMs(): number;
}

/** Seeded in tests; used only to sample validators and gossip partners. */
export interface Rng {
  /** A uniformly distributed integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}

/** Durable record of decisions. `record` returns only once they are durable. */
export interface DecisionStore {
  record(decisions: readonly Decision[]): void;
}

/** Signs as this node's validator key (ML-DSA-87 in production). */
export interface Signer {
  readonly validatorId: string;
  sign(message: Uint8Array): Uint8Array;
}

/** Checks signatures against the genesis validator set. */
export interface Verifier {
  isValidator(validatorId: string): boolean;
  verify(validatorId: string, message: Uint8Array, signature: Uint8Array): boolean;
}

/** Computes a vertex id from its body bytes (BLAKE3 hex in production). */
export interface Hasher {
  idOf(bytes: Uint8Array): string;
}
