/** Rows as node:sqlite returns them, and the stored values they map to. */
import { decodeSignatures } from "./_signatures.ts";
import type {
  Decision,
  DecisionStatus,
  DecisionSubject,
  StoredCertificate,
  StoredCut,
  StoredReceipt,
} from "./types.ts";

// Types, not interfaces, so they match node:sqlite's index signature.

export type DecisionRow = {
  id: string;
  subject: DecisionSubject;
  status: DecisionStatus;
  decided_at_ms: number;
};
export function decisionOf(r: DecisionRow): Decision {
  return { id: r.id, subject: r.subject, status: r.status, decidedAtMs: Number(r.decided_at_ms) };
}

export type ReceiptRow = {
  tx_id: string;
  code: string;
  fee: string;
  rate_ppb: number;
  vertex: string;
  time_ms: number;
};
/** Without its accounts (they are in the account history). */
export function receiptOf(r: ReceiptRow): StoredReceipt {
  return {
    txId: r.tx_id,
    code: r.code,
    fee: BigInt(r.fee),
    ratePpb: Number(r.rate_ppb),
    vertex: r.vertex,
    timeMs: Number(r.time_ms),
  };
}

export type CutRow = {
  seq: number;
  boundary_ms: number;
  prev_boundary_ms: number;
  frontier: string;
  vertex_count: number;
  snapshot_safe: number;
  statement: Uint8Array | null;
  digest: string | null;
  signature: Uint8Array | null;
};
export function cutOf(r: CutRow): StoredCut {
  return {
    seq: Number(r.seq),
    boundaryMs: Number(r.boundary_ms),
    prevBoundaryMs: Number(r.prev_boundary_ms),
    frontier: JSON.parse(r.frontier) as string[],
    vertexCount: Number(r.vertex_count),
    snapshotSafe: r.snapshot_safe === 1,
    statement: r.statement === null ? null : new Uint8Array(r.statement),
    digest: r.digest,
    signature: r.signature === null ? null : new Uint8Array(r.signature),
  };
}

export type CertificateRow = {
  seq: number;
  digest: string;
  statement: Uint8Array;
  signatures: Uint8Array;
};
export function certificateOf(r: CertificateRow): StoredCertificate {
  return {
    seq: Number(r.seq),
    digest: r.digest,
    statement: new Uint8Array(r.statement),
    signatures: decodeSignatures(r.signatures, `certificate ${r.seq}`),
  };
}
