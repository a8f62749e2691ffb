/**
 * The storage interface. Two implementations (SQLite and in-memory) pass one
 * conformance suite (conformance.ts). Calls are synchronous: node:sqlite is,
 * and a ledger applies state synchronously after prefetching (STYLE.md item 3).
 */

import type { VaultStore } from "./vault_types.ts";

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
  /** The author's timestamp (settlement cuts by it). */
  readonly timestampMs: number;
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
  /**
   * Where `bytes` sit in the bytes of `vertex` (`carriedOffsets`), when the
   * caller stored that vertex: SQLite then keeps them only there, and reads
   * them back from it. Absent or -1: stored whole.
   */
  readonly inVertexAt?: number;
}

export type DecisionStatus = "accepted" | "rejected";
export type DecisionSubject = "tx" | "vertex";

/** A contested conflict set's preferred member (a carrier id), or null: the set is decided. */
export interface PreferenceRow {
  readonly conflictKey: string;
  readonly member: string | null;
}

export interface Decision {
  readonly id: string;
  readonly subject: DecisionSubject;
  readonly status: DecisionStatus;
  readonly decidedAtMs: number;
}

/** The exchange ledger's receipt of a transaction, kept after the core forgets it (settlement). */
export interface StoredReceipt {
  readonly txId: string;
  /** "ok" or the refusal code. */
  readonly code: string;
  /** Smallest units. */
  readonly fee: bigint;
  readonly ratePpb: number;
  /** The carrier vertex it was applied in. */
  readonly vertex: string;
  /** Ledger time (the carrier's timestamp). */
  readonly timeMs: number;
  /**
   * Hex ids of the accounts it changed (the ledger's `touched`): the receipt
   * is listed in each one's history (accountHistory). Not returned by getReceipt.
   */
  readonly accounts?: readonly string[];
}

/** A transaction's decision status and its receipt's vertex, each null when there is none (txDecisionsAndReceipts). */
export interface TxDecisionAndReceipt {
  readonly status: DecisionStatus | null;
  readonly receiptVertex: string | null;
}

/** One transaction in an account's history: its place in apply order and its receipt. */
export interface HistoryEntry {
  /** Increases with apply order; the cursor of the next page. */
  readonly seq: number;
  readonly receipt: StoredReceipt;
}

/**
 * A closed cut (src/consensus/cut.ts) and this node's checkpoint statement of
 * it (src/checkpoint). The statement fields are filled once the ledger folded
 * the cut (`statement` is null until then).
 */
export interface StoredCut {
  readonly seq: number;
  readonly boundaryMs: number;
  readonly prevBoundaryMs: number;
  /** Hex ids, sorted. */
  readonly frontier: readonly string[];
  /** Vertices this cut settled. */
  readonly vertexCount: number;
  readonly snapshotSafe: boolean;
  /** The encoded statement (src/checkpoint encodeStatement), once known. */
  readonly statement: Uint8Array | null;
  /** Hex digest of `statement`. */
  readonly digest: string | null;
  /** This node's ML-DSA-87 signature of `statement`, if it signed it. */
  readonly signature: Uint8Array | null;
}

/** A statement more than two thirds of the genesis validators signed. */
export interface StoredCertificate {
  readonly seq: number;
  /** Hex digest of `statement`. */
  readonly digest: string;
  readonly statement: Uint8Array;
  /** Signer id (hex) and signature, sorted by signer. */
  readonly signatures: readonly { readonly validator: string; readonly signature: Uint8Array }[];
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

/** How a {@linkcode Storage.transaction} commits (see there). */
export interface TransactionOptions {
  durable?: boolean;
  grouped?: boolean;
  withGroup?: boolean;
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
  /** Ids of stored vertices with a timestamp at or above `timestampMs`, parents before children ((timestamp, round, id) order). */
  verticesFrom(timestampMs: number): string[];
  /** The same, only those decided accepted. */
  acceptedVerticesFrom(timestampMs: number): string[];
  /** Accepted vertices with a timestamp in [fromMs, toMs), parents before children. */
  acceptedVerticesBetween(fromMs: number, toMs: number): string[];
  /** Timestamp of a stored vertex, or null. */
  vertexTimestamp(id: string): number | null;
  /**
   * Vertices stored before schema version 4 carry no timestamp until the node
   * reads it from their bytes and calls setVertexTimestamp: until then the
   * range reads above skip them, vertexTimestamp returns null and getVertex
   * reports their `timestampMs` as NaN. Returns at most `limit` of their ids,
   * in (round, id) order; a store that never held such rows returns none.
   */
  vertexIdsWithoutTimestamp(limit: number): string[];
  /**
   * Backfills the timestamp of a stored vertex. Setting the one it already has
   * is a no-op; an unknown vertex or a different timestamp is storage_conflict
   * (the timestamp is part of the vertex's signed bytes, so it never changes).
   */
  setVertexTimestamp(id: string, timestampMs: number): void;
  /**
   * Deletes the bytes of vertices with a timestamp below `timestampMs` (ids,
   * parents and decisions stay); later reads of their bytes return an empty
   * array. Returns how many were pruned.
   */
  pruneVertexBodies(timestampMs: number): number;

  /**
   * Inserts a transaction and records `t.vertex` as one of its carriers;
   * false when the transaction was already stored (its first carrier stays
   * in `vertex`, and the new carrier is recorded all the same).
   */
  putTransaction(t: StoredTransaction): boolean;
  /** Every stored vertex carrying a transaction with this conflict key, with its timestamp, by vertex id. */
  carriersOfConflict(conflictKey: string): { vertex: string; timestampMs: number }[];
  /** A stored vertex's parents (sorted) and timestamp, without its bytes; null when not stored. */
  vertexLinks(id: string): { parents: string[]; timestampMs: number } | null;
  getTransaction(id: string): StoredTransaction | null;
  /** Ids of stored transactions with this conflict key, sorted. */
  conflicting(conflictKey: string): string[];
  /** The transaction with this conflict key that was decided accepted, if any. */
  acceptedOfConflict(conflictKey: string): string | null;

  /**
   * Records a decision; true when it is new. Deciding the same id again with
   * the same status is a no-op (false); with a different status it throws
   * storage_conflict, because a decision is final.
   */
  putDecision(d: Decision): boolean;
  getDecision(id: string): Decision | null;
  /** Every decision, in the order they were recorded (tests and tools only: it reads the whole table). */
  allDecisions(): Decision[];
  /**
   * Records what contested conflict sets prefer (src/consensus/_preferences.ts),
   * in order: a member sets the key's row, null removes it. Inside the
   * decision log's commit, like the decisions.
   */
  putPreferences(records: readonly PreferenceRow[]): void;
  /** Every recorded preference, by conflict key (sorted): what a restart adopts again. */
  preferences(): { conflictKey: string; member: string }[];
  /** Decisions by status, kept as counters (constant time). */
  decisionCounts(): Record<DecisionStatus, number>;
  /** Decisions by subject and status, kept as counters (constant time). */
  decisionCountsBySubject(): Record<DecisionSubject, Record<DecisionStatus, number>>;

  /**
   * Stores receipts (idempotent per transaction id: the first one stays). `grouped`: they may share the
   * burst's group commit (see `transaction`); the ledger passes it, because a replay writes lost receipts again.
   */
  putReceipts(receipts: readonly StoredReceipt[], options?: { grouped?: boolean }): void;
  getReceipt(txId: string): StoredReceipt | null;
  /**
   * For each transaction id, in order: its decision's status and the vertex of its receipt (null for none), as
   * `getDecision` and `getReceipt` answer. What the ledger reads of each transaction of a vertex it applies, in
   * one call.
   */
  txDecisionsAndReceipts(txIds: readonly string[]): TxDecisionAndReceipt[];
  /**
   * The receipts that touched `account`, newest first: at most `limit`
   * (1..HISTORY_PAGE_MAX) with seq below `beforeSeq` (from the newest when
   * null). Indexed: a page costs the same at any depth.
   */
  accountHistory(account: string, beforeSeq: number | null, limit: number): HistoryEntry[];

  /** The vault's tables (src/vault seals and opens what they hold). */
  readonly vault: VaultStore;

  /** Records a closed cut; its seq must follow the last one's (storage_conflict otherwise). */
  putCut(cut: StoredCut): void;
  /** Fills in the statement of a stored cut (and later this node's signature). */
  setCutStatement(seq: number, statement: Uint8Array, digest: string, signature: Uint8Array | null): void;
  getCut(seq: number): StoredCut | null;
  latestCut(): StoredCut | null;
  /** Cuts with seq >= `seq`, ascending (at most `limit`). */
  cutsFrom(seq: number, limit?: number): StoredCut[];

  /** Stores a certificate (replacing none: the first one for a seq stays). */
  putCertificate(c: StoredCertificate): void;
  getCertificate(seq: number): StoredCertificate | null;
  latestCertificate(): StoredCertificate | null;

  /** Stores a ledger snapshot at cut `seq` and keeps only the newest `keep` snapshots. */
  putSnapshot(seq: number, bytes: Uint8Array, keep: number): void;
  getSnapshot(seq: number): Uint8Array | null;
  /** Sequence numbers of the snapshots held, newest first. */
  snapshotSeqs(): number[];

  /**
   * Runs fn atomically: all its writes land or none do. With `durable`, they
   * are on disk when it returns (and so is everything written before them):
   * what a caller reports after such a commit survives a power failure. Other
   * commits survive a crash of the process, not necessarily of the machine.
   * With `grouped` (never with `durable`), the commit may be shared with the
   * other grouped writes of this turn of the event loop and land a moment
   * later, before any other write: for data peers send again (received
   * vertices), never for what is reported to anyone at once. With
   * `withGroup` (ignored with `durable`), fn joins the grouped writes waiting
   * for their commit and commits them with its own when it returns: one
   * commit instead of two (fn failing undoes only its own writes).
   */
  transaction<T>(fn: () => T, options?: TransactionOptions): T;
  /**
   * Makes every commit made so far as durable as a `durable` one, without
   * blocking the event loop: the disk sync runs on another thread. Resolves
   * at once where every commit is already synced, or where the store
   * promises no durability (memory). Rejects with StorageError when the sync
   * fails; those commits are then not known to be on disk.
   */
  syncCommitted(): Promise<void>;
  /** Proves the store accepts writes now (for /ready). Throws StorageError otherwise. */
  checkWritable(): void;
  close(): void;
}
