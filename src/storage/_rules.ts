/**
 * The checks both implementations make before they write, so that SQLite and
 * memory refuse the same calls with the same errors. A value that no caller
 * should ever pass (a fractional timestamp, keep = 0) is a RangeError; a write
 * that contradicts what is stored (a second decision, a cut out of order, a
 * second certified statement for one sequence) is StorageError
 * "storage_conflict".
 */
import {
  type Decision,
  StorageError,
  type StoredCertificate,
  type StoredCut,
  type StoredReceipt,
  type StoredVertex,
} from "./types.ts";

/** Default page size of cutsFrom(). */
export const CUTS_FROM_LIMIT_DEFAULT = 1000;
/** Most entries one accountHistory() page returns. */
export const HISTORY_PAGE_MAX = 1000;
const U64_MAX = 2n ** 64n - 1n;

function checkInteger(what: string, value: number, min = Number.MIN_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `${what} is ${value}, expected a safe integer${min > Number.MIN_SAFE_INTEGER ? ` >= ${min}` : ""}`,
    );
  }
}

export function checkVertex(v: StoredVertex): void {
  checkInteger(`timestamp of vertex ${v.id}`, v.timestampMs);
}

export function checkLimit(what: string, limit: number): void {
  checkInteger(what, limit, 0);
}

export function checkKeep(keep: number): void {
  checkInteger("snapshots to keep", keep, 1);
}

/** Cut, certificate and snapshot sequence numbers start at 1. */
export function checkSeq(what: string, seq: number): void {
  checkInteger(`${what} seq`, seq, 1);
}

/** Parents before children: (timestamp, round, id), as SQLite's index vertices_by_ts orders them. */
export function compareVertexOrder(
  a: { readonly timestampMs: number; readonly round: bigint; readonly id: string },
  b: { readonly timestampMs: number; readonly round: bigint; readonly id: string },
): number {
  if (a.timestampMs !== b.timestampMs) return a.timestampMs < b.timestampMs ? -1 : 1;
  if (a.round !== b.round) return a.round < b.round ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * `current` is the stored timestamp: undefined when the vertex is not stored,
 * null when it predates schema version 4. True when it must be written.
 */
export function checkTimestampBackfill(id: string, current: number | null | undefined, timestampMs: number): boolean {
  checkInteger(`timestamp of vertex ${id}`, timestampMs);
  if (current === undefined) {
    throw new StorageError("storage_conflict", `cannot set the timestamp of vertex ${id}: it is not stored`);
  }
  if (current === null) return true;
  if (current === timestampMs) return false;
  throw new StorageError(
    "storage_conflict",
    `cannot set the timestamp of vertex ${id} to ${timestampMs}: it is ${current}, and a vertex's timestamp is part of its signed bytes`,
  );
}

/** True when `d` must be written; false when the same decision is already stored. */
export function checkDecision(prev: Decision | null, d: Decision): boolean {
  if (!prev) return true;
  if (prev.status !== d.status || prev.subject !== d.subject) {
    throw new StorageError(
      "storage_conflict",
      `${d.subject} ${d.id} was already ${prev.status}; cannot record it as ${d.status}`,
    );
  }
  return false;
}

export function checkReceipt(r: StoredReceipt): void {
  if (typeof r.fee !== "bigint" || r.fee < 0n || r.fee > U64_MAX) {
    throw new RangeError(`fee of receipt ${r.txId} is ${r.fee}, expected a u64`);
  }
  checkInteger(`rate of receipt ${r.txId}`, r.ratePpb, 0);
  checkInteger(`time of receipt ${r.txId}`, r.timeMs);
}

export function checkHistoryPage(beforeSeq: number | null, limit: number): void {
  if (beforeSeq !== null) checkInteger("beforeSeq of accountHistory()", beforeSeq, 0);
  checkInteger("limit of accountHistory()", limit, 1);
  if (limit > HISTORY_PAGE_MAX) {
    throw new RangeError(`limit of accountHistory() is ${limit}, at most ${HISTORY_PAGE_MAX}`);
  }
}

/** `latest` is the newest stored cut's seq, or null when none is stored. */
export function checkCut(cut: StoredCut, latest: number | null): void {
  checkSeq("cut", cut.seq);
  checkInteger(`boundary of cut ${cut.seq}`, cut.boundaryMs);
  checkInteger(`previous boundary of cut ${cut.seq}`, cut.prevBoundaryMs);
  checkInteger(`vertex count of cut ${cut.seq}`, cut.vertexCount, 0);
  // A node restored from a state sync starts its history at the synced cut,
  // so only a stored cut fixes what the next seq must be.
  if (latest !== null && cut.seq !== latest + 1) {
    throw new StorageError(
      "storage_conflict",
      `cannot store cut ${cut.seq}: the latest stored cut is ${latest}, so the next one must be ${latest + 1}`,
    );
  }
}

/**
 * `stored` is the cut's current digest (null when no statement is set yet),
 * undefined when the cut is not stored. True when this is the first
 * statement; false when the same digest is set already (only a missing
 * signature may then be filled in).
 */
export function checkCutStatement(seq: number, stored: string | null | undefined, digest: string): boolean {
  if (stored === undefined) {
    throw new StorageError("storage_conflict", `cannot set the statement of cut ${seq}: no such cut is stored`);
  }
  if (stored === null) return true;
  if (stored === digest) return false;
  throw new StorageError(
    "storage_conflict",
    `cannot set the statement of cut ${seq} to digest ${digest}: it already has digest ${stored}, and a statement never changes once set`,
  );
}

/**
 * Checks a certificate and returns it with its signatures sorted by signer;
 * null when one with the same digest is stored already (the first stays).
 */
export function checkCertificate(prevDigest: string | null, c: StoredCertificate): StoredCertificate | null {
  checkSeq("certificate", c.seq);
  for (const { validator } of c.signatures) {
    if (!isHexId(validator)) {
      throw new RangeError(`certificate ${c.seq} names signer "${validator}", expected 64 lowercase hex digits`);
    }
  }
  if (prevDigest !== null) {
    if (prevDigest === c.digest) return null;
    throw new StorageError(
      "storage_conflict",
      `cannot store a certificate for seq ${c.seq} with digest ${c.digest}: one with digest ${prevDigest} is stored; ` +
        `two certified statements for one sequence mean the validators equivocated`,
    );
  }
  const signatures = c.signatures
    .map((s) => ({ validator: s.validator, signature: s.signature.slice() }))
    .sort((a, b) => (a.validator < b.validator ? -1 : a.validator > b.validator ? 1 : 0));
  return { seq: c.seq, digest: c.digest, statement: c.statement.slice(), signatures };
}

/** 32 bytes as 64 lowercase hex digits (what the signature encoding can hold). */
function isHexId(s: string): boolean {
  if (typeof s !== "string" || s.length !== 64) return false;
  try {
    return Uint8Array.fromHex(s).toHex() === s;
  } catch {
    return false;
  }
}
