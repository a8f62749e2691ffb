import type { LedgerCutHashes, LedgerGenesis, VertexInfo } from "../core/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import type { DecisionStatus, DecisionSubject, Storage } from "../storage/mod.ts";

/**
 * Async ML-DSA-87 verification by the crypto backend. `txId` (hex) names the
 * transaction, so a verifier may remember verdicts (src/node/verified_txs.ts).
 */
export type AsyncSignatureVerifier = (
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  txId: string,
) => Promise<boolean>;

export interface LedgerServiceOptions {
  genesis: LedgerGenesis;
  storage: Storage;
  verify: AsyncSignatureVerifier;
  /**
   * Whether `verify` found this transaction's signature valid before (src/node/verified_txs.ts): such a
   * transaction needs no `prepare` to be applied (src/ledger/signatures.ts).
   */
  verifiedBefore?: (txId: string) => boolean;
  logger: Logger;
  registry: Registry;
  /** A snapshot every this many cuts (default 6); 0 keeps none. */
  snapshotEvery?: number;
  /** Snapshots kept (default SNAPSHOTS_KEPT). */
  snapshotsKept?: number;
  /** A vertex's decoded form if the caller still holds it (saves the core's decode and hashing). */
  decoded?: (id: string) => VertexInfo | undefined;
}

/**
 * A decision as consensus reports it (`kind`, src/consensus) or as storage
 * returns it (`subject`): either shape is taken.
 */
export type LedgerDecisionInput =
  & { readonly id: string; readonly status: DecisionStatus }
  & ({ readonly kind: DecisionSubject } | { readonly subject: DecisionSubject });

/** What a cut the ledger folds must say (src/consensus Cut and storage StoredCut both fit). */
export interface LedgerCut {
  readonly seq: number;
  readonly boundaryMs: number;
  readonly prevBoundaryMs: number;
  readonly snapshotSafe: boolean;
}

/** The ledger's part of a checkpoint statement. */
export interface CutFold extends LedgerCutHashes {
  readonly seq: number;
  /** A snapshot of the state at this cut was stored. */
  readonly snapshot: boolean;
}

export interface RestoreSummary {
  /** The cut whose snapshot the restore started from (0: genesis). */
  fromSeq: number;
  vertices: number;
  transactions: number;
  /** Cuts folded again after the snapshot. */
  cuts: number;
  durationMs: number;
}

/** A decision's subject, whichever of the two shapes it came in. */
export function subjectOf(d: LedgerDecisionInput): DecisionSubject {
  return "kind" in d ? d.kind : d.subject;
}
