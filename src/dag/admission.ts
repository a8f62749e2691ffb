/**
 * Admission rules for a vertex that the WASM core has already decoded and
 * checked for structure: the rules TypeScript owns because they depend on
 * local state (the validator set, which parents are known, the local clock).
 * Pure: the clock reading and the lookups are passed in.
 */

/** Why a vertex was not admitted. Each is counted in metrics by this name. */
import { VERTEX_PARENTS_MAX, VERTEX_TXS_MAX } from "../consensus/mod.ts";

export type RejectReason =
  | "malformed"
  | "wrong_chain"
  | "unknown_author"
  | "bad_signature"
  | "clock_drift"
  | "round_not_after_parents"
  | "round_gap"
  | "timestamp_before_parent"
  | "exceeds_consensus_limits"
  | "orphan_evicted"
  | "orphan_expired"
  | "orphan_author_share"
  | "parent_rejected"
  | "below_settled_cut"
  | "stale_parents"
  | "tx_unknown_account"
  | "tx_bad_signature"
  | "tx_out_of_order";

export const REJECT_REASONS: readonly RejectReason[] = [
  "malformed",
  "wrong_chain",
  "unknown_author",
  "bad_signature",
  "clock_drift",
  "round_not_after_parents",
  "round_gap",
  "timestamp_before_parent",
  "exceeds_consensus_limits",
  "orphan_evicted",
  "orphan_expired",
  // A waiting vertex pushed out by newer ones of its own author, past that author's share of the buffer.
  "orphan_author_share",
  "parent_rejected",
  "below_settled_cut",
  "stale_parents",
  // The carried-transaction rules (src/dag/carried.ts).
  "tx_unknown_account",
  "tx_bad_signature",
  "tx_out_of_order",
];

export interface AdmissionLimits {
  /** How far a vertex's timestamp may be ahead of the local clock. */
  readonly futureDriftMaxMs: number;
  /** How far it may lag behind (old vertices arrive during catch-up, so this is generous). */
  readonly pastDriftMaxMs: number;
}

export const DEFAULT_ADMISSION_LIMITS: AdmissionLimits = Object.freeze({
  futureDriftMaxMs: 30_000,
  pastDriftMaxMs: 7 * 24 * 3600_000,
});

export interface AdmissionInput {
  readonly chainIdHex: string;
  readonly authorHex: string;
  readonly round: bigint;
  readonly timestampMs: bigint;
  readonly parentIds: readonly string[];
  readonly txCount: number;
}

export interface AdmissionContext {
  readonly chainIdHex: string;
  readonly isValidator: (authorHex: string) => boolean;
  /** Round of a stored vertex, or null when it is not known here. */
  readonly roundOf: (idHex: string) => bigint | null;
  /** Timestamp of a stored vertex (called only for parents roundOf knows). */
  readonly timestampOf: (idHex: string) => bigint;
  readonly nowMs: number;
  readonly limits: AdmissionLimits;
}

export type Admission =
  | { readonly kind: "admit" }
  | { readonly kind: "reject"; readonly reason: RejectReason; readonly message: string }
  | { readonly kind: "wait"; readonly missing: readonly string[] };

/**
 * Decides whether a structurally valid vertex may enter the DAG now, must wait
 * for missing parents, or is rejected. The signature is checked separately
 * (it is asynchronous and the most expensive check, so it runs last).
 */
export function admit(v: AdmissionInput, ctx: AdmissionContext): Admission {
  if (v.chainIdHex !== ctx.chainIdHex) {
    return reject(
      "wrong_chain",
      `vertex is for chain ${v.chainIdHex.slice(0, 16)}…, this node runs ${ctx.chainIdHex.slice(0, 16)}…`,
    );
  }
  // Consensus takes fewer parents and transactions than the encoding allows: a vertex it would
  // refuse must not be stored as if it counted.
  if (v.parentIds.length > VERTEX_PARENTS_MAX || v.txCount > VERTEX_TXS_MAX) {
    return reject(
      "exceeds_consensus_limits",
      `${v.parentIds.length} parents and ${v.txCount} transactions; consensus takes at most ${VERTEX_PARENTS_MAX} and ${VERTEX_TXS_MAX}`,
    );
  }
  if (!ctx.isValidator(v.authorHex)) {
    return reject("unknown_author", `author ${v.authorHex.slice(0, 16)}… is not in the validator set`);
  }
  const ts = Number(v.timestampMs);
  if (ts > ctx.nowMs + ctx.limits.futureDriftMaxMs) {
    return reject(
      "clock_drift",
      `timestamp is ${ts - ctx.nowMs} ms ahead of this node's clock (limit ${ctx.limits.futureDriftMaxMs} ms)`,
    );
  }
  if (ts < ctx.nowMs - ctx.limits.pastDriftMaxMs) {
    return reject(
      "clock_drift",
      `timestamp is ${ctx.nowMs - ts} ms behind this node's clock (limit ${ctx.limits.pastDriftMaxMs} ms)`,
    );
  }
  const missing: string[] = [];
  let highest = -1n;
  for (const p of v.parentIds) {
    const r = ctx.roundOf(p);
    if (r === null) missing.push(p);
    else if (r >= v.round) {
      return reject("round_not_after_parents", `round ${v.round} is not after parent ${p.slice(0, 16)}…'s round ${r}`);
    } else {
      // Ledger time (a vertex's timestamp) must only grow along causal chains.
      const t = ctx.timestampOf(p);
      if (t > v.timestampMs) {
        return reject(
          "timestamp_before_parent",
          `timestamp ${v.timestampMs} is before parent ${p.slice(0, 16)}…'s timestamp ${t}`,
        );
      }
      if (r > highest) highest = r;
    }
  }
  if (missing.length > 0) return { kind: "wait", missing };
  // Rounds count parent steps exactly, so they stay small (storable, comparable) and cannot be inflated.
  if (v.round !== highest + 1n) {
    return reject(
      "round_gap",
      `round ${v.round} must be one more than its highest parent's (${highest + 1n} expected)`,
    );
  }
  return { kind: "admit" };
}

function reject(reason: RejectReason, message: string): Admission {
  return { kind: "reject", reason, message };
}
