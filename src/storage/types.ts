/**
 * The storage interface. Two implementations (SQLite and in-memory) pass one
 * conformance suite (conformance.ts). Calls are synchronous: node:sqlite is,
 * and a ledger applies state synchronously after prefetching (STYLE.md item 3).
 */

export type StorageKind = "sqlite" | "memory";

export interface StoredVertex {
  /** Hex id (BLAKE3-256 of the signed bytes). */
  readonly id: string;
  readonly bytes: Uint8Array;
  /** Hex validator id. */
  readonly author: string;
  readonly round: bigint;
  /** Hex parent ids, sorted. */
  readonly parents: readonly string[];
  readonly receivedAtMs: number;
}

export interface StoredTransaction {
  /** Hex id (BLAKE3-256 of the signed bytes). */
  readonly id: string;
  readonly bytes: Uint8Array;
  /** Transactions with equal keys conflict (account and nonce). */
  readonly conflictKey: string;
  /** The first vertex it was seen in. */
  readonly vertex: string;
  readonly receivedAtMs: number;
}

export type DecisionStatus = "accepted" | "rejected";
export type DecisionSubject = "tx" | "vertex";

export interface Decision {
  readonly id: string;
  readonly subject: DecisionSubject;
  readonly status: DecisionStatus;
  readonly decidedAtMs: number;
}

export type StorageErrorCode =
  | "storage_locked"
  | "storage_corrupt"
  | "storage_conflict"
  | "storage_closed"
  | "storage_io";

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StorageError";
    this.code = code;
  }
}

export interface Storage {
  readonly kind: StorageKind;
  /** Schema version after migrations. */
  readonly schemaVersion: number;

  getMeta(key: string): string | null;
  setMeta(key: string, value: string): void;

  /** Inserts a vertex; false when one with the same id is already stored (idempotent). */
  putVertex(v: StoredVertex): boolean;
  getVertex(id: string): StoredVertex | null;
  /** Ids of stored vertices that name `id` as a parent, sorted. */
  children(id: string): string[];
  vertexCount(): number;
  /** Vertices no stored vertex names as a parent, sorted. */
  tips(): string[];
  /** Every stored vertex id in (round, id) order: parents always come before children. */
  vertexIdsInOrder(): string[];

  /** Inserts a transaction; false when already stored (idempotent). */
  putTransaction(t: StoredTransaction): boolean;
  getTransaction(id: string): StoredTransaction | null;
  /** Ids of stored transactions with this conflict key, sorted. */
  conflicting(conflictKey: string): string[];

  /**
   * Records a decision. Deciding the same id again with the same status is a
   * no-op; with a different status it throws storage_conflict, because a
   * decision is final.
   */
  putDecision(d: Decision): void;
  getDecision(id: string): Decision | null;
  /** Every decision, in the order they were recorded. */
  allDecisions(): Decision[];
  decisionCounts(): Record<DecisionStatus, number>;

  /** Runs fn atomically: all its writes land or none do. */
  transaction<T>(fn: () => T): T;
  /** Proves the store accepts writes now (for /ready). Throws StorageError otherwise. */
  checkWritable(): void;
  close(): void;
}
