/** Shared shapes of the pure consensus layer. Ids are opaque strings (hex). */

/** A transaction as consensus sees it: who it conflicts with and needs. */
export interface TxInput {
  readonly id: string;
  /**
   * Transactions with equal keys conflict; at most one of them is ever
   * accepted. The ledger uses `${account}:${nonce}`.
   */
  readonly conflictKey: string;
  /** Transactions that must be accepted before this one can be. */
  readonly deps: readonly string[];
}

/** A vertex as consensus sees it; signatures were checked by the engine. */
export interface VertexInput {
  readonly id: string;
  readonly parents: readonly string[];
  readonly txs: readonly TxInput[];
  /** Its author's timestamp: never below a parent's; settlement cuts by it (0 when absent). */
  readonly timestampMs?: number;
  /** Its author (validator id): votes share their room fairly between authors ("" when absent). */
  readonly author?: string;
}

export type Status = "processing" | "accepted" | "rejected";

/** A final outcome, reported once per id and never revised. */
export interface Decision {
  readonly kind: "tx" | "vertex";
  readonly id: string;
  readonly status: "accepted" | "rejected";
  /** Polls this node recorded between learning the id and deciding it. */
  readonly rounds: number;
}

/**
 * What a contested conflict set's Snowball prefers (`member`, a carrier id),
 * or that the set is decided (`member` null: the record can go). Stored, so a
 * restarted node votes as it did (DagConsensus.takePreferenceChanges).
 */
export interface PreferenceRecord {
  readonly conflictKey: string;
  readonly member: string | null;
}

/** A vertex that breaks a structural rule; the engine drops and counts it. */
export class ConsensusError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConsensusError";
  }
}

/**
 * Outcomes read back after a restart that cannot be reinstated: they name
 * unknown ids or contradict each other. The store is inconsistent (or holds
 * another DAG's decisions); the node must not start on it.
 */
export class RestoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RestoreError";
  }
}
