/**
 * Checkpoint statements: what a validator signs about a settled cut of the DAG
 * (src/consensus/cut.ts closes the cuts). A statement is an exact object: it has
 * one canonical encoding, {@linkcode encodeStatement}, which is also the signing
 * message, and {@linkcode decodeStatement} accepts that encoding and nothing else.
 *
 * Encoding (integers little-endian, no padding, 215 + 32·frontier bytes):
 * ```
 * "qudag/checkpoint/v1" (19 ASCII bytes) ‖ chainId (32) ‖ u64 seq ‖ u64 boundaryMs ‖
 * u64 prevBoundaryMs ‖ u64 vertexCount ‖ u32 frontier count ‖ frontier ids (32 each) ‖
 * txAccumulator (32) ‖ stateHash (32) ‖ journalHash (32) ‖ prevDigest (32)
 * ```
 * Invariants (checked on encode and decode, refused as `checkpoint_malformed`):
 * - seq is a safe integer >= 1; boundaryMs, prevBoundaryMs, vertexCount are safe integers >= 0;
 * - prevBoundaryMs < boundaryMs: a cut always moves the boundary forward;
 * - seq 1 has prevBoundaryMs 0 and prevDigest all zeros; any later seq has a non-zero prevDigest
 *   (a signer that does not know the previous statement's digest must not sign);
 * - the frontier holds 1..{@linkcode STATEMENT_FRONTIER_MAX} lowercase 64-hex ids, strictly ascending
 *   (so no duplicates: the frontier is a set with one spelling).
 *
 * Pure: no I/O, no clock, no randomness (tests/tidy_test.ts).
 */
import { blake3, HASH_BYTES } from "../core/mod.ts";

/** Stable codes of every checkpoint failure, in precedence order (the first that applies is reported). */
export const CHECKPOINT_ERROR_CODES = [
  "checkpoint_malformed",
  "checkpoint_digest_mismatch",
  "checkpoint_wrong_chain",
  "checkpoint_unknown_signer",
  "checkpoint_duplicate_signer",
  "checkpoint_under_signed",
  "checkpoint_bad_signature",
] as const;
export type CheckpointErrorCode = typeof CHECKPOINT_ERROR_CODES[number];

export class CheckpointError extends Error {
  readonly code: CheckpointErrorCode;
  constructor(code: CheckpointErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CheckpointError";
    this.code = code;
  }
}

export const STATEMENT_DOMAIN = "qudag/checkpoint/v1";
export const TX_ACCUMULATOR_DOMAIN = "qudag/checkpoint-txs/v1";
/** Most ids a statement's frontier may list. */
export const STATEMENT_FRONTIER_MAX = 64;
/** A vertex, transaction or validator id as text: 64 lowercase hex digits. */
export const HEX_ID_RE = /^[0-9a-f]{64}$/;

/**
 * 32 zero bytes: the txAccumulator `prev` of the first checkpoint, and the hashes a chain without an
 * exchange puts in stateHash and journalHash. Shared: never write into it.
 */
export const ZERO_HASH: Uint8Array = new Uint8Array(HASH_BYTES);

export interface CheckpointStatement {
  readonly chainId: Uint8Array;
  /** 1 for the first checkpoint, then +1 per checkpoint. */
  readonly seq: number;
  /** The cut holds the accepted vertices with timestamp < boundaryMs. */
  readonly boundaryMs: number;
  /** The previous checkpoint's boundaryMs; 0 for seq 1. */
  readonly prevBoundaryMs: number;
  /** Vertices in this cut that were not in the previous one. */
  readonly vertexCount: number;
  /** The cut's maximal vertices: 64-hex ids, strictly ascending, 1..STATEMENT_FRONTIER_MAX. */
  readonly frontier: readonly string[];
  /** {@linkcode nextTxAccumulator} over the previous checkpoint's accumulator and this cut's transactions. */
  readonly txAccumulator: Uint8Array;
  /** The exchange ledger's state hash at the cut (zeros without an exchange). */
  readonly stateHash: Uint8Array;
  /** Hash of the ledger journal kept at the cut (zeros without an exchange). */
  readonly journalHash: Uint8Array;
  /** statementDigest of checkpoint seq - 1; zeros only for seq 1. */
  readonly prevDigest: Uint8Array;
}

const ascii = (text: string) => new TextEncoder().encode(text);
const DOMAIN_BYTES = ascii(STATEMENT_DOMAIN);
const TX_DOMAIN_BYTES = ascii(TX_ACCUMULATOR_DOMAIN);
/** Bytes before the frontier ids: domain, chainId, four u64, the u32 count. */
const HEAD_BYTES = DOMAIN_BYTES.length + HASH_BYTES + 4 * 8 + 4;
/** Bytes after the frontier ids: txAccumulator, stateHash, journalHash, prevDigest. */
const TAIL_BYTES = 4 * HASH_BYTES;
/** The longest encoding: a full frontier. */
export const STATEMENT_BYTES_MAX = HEAD_BYTES + STATEMENT_FRONTIER_MAX * HASH_BYTES + TAIL_BYTES;

function malformed(why: string): CheckpointError {
  return new CheckpointError("checkpoint_malformed", `Invalid checkpoint statement: ${why}`);
}

function isZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

function checkHash(name: string, value: unknown): void {
  if (!(value instanceof Uint8Array)) throw malformed(`${name} is not bytes`);
  if (value.length !== HASH_BYTES) throw malformed(`${name} is ${value.length} bytes, expected ${HASH_BYTES}`);
}

function checkU64(name: string, value: unknown, min: number): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw malformed(`${name} is ${String(value)}, expected a safe integer >= ${min}`);
  }
}

/** Throws `checkpoint_malformed` naming the first invariant (see the module doc) that `s` breaks. */
export function checkStatement(s: CheckpointStatement): void {
  if (typeof s !== "object" || s === null) throw malformed("not an object");
  checkHash("chainId", s.chainId);
  checkU64("seq", s.seq, 1);
  checkU64("boundaryMs", s.boundaryMs, 0);
  checkU64("prevBoundaryMs", s.prevBoundaryMs, 0);
  checkU64("vertexCount", s.vertexCount, 0);
  if (s.prevBoundaryMs >= s.boundaryMs) {
    throw malformed(`prevBoundaryMs ${s.prevBoundaryMs} is not below boundaryMs ${s.boundaryMs}`);
  }
  const f = s.frontier;
  if (!Array.isArray(f) || f.length < 1 || f.length > STATEMENT_FRONTIER_MAX) {
    throw malformed(
      `the frontier has ${Array.isArray(f) ? f.length : "no"} ids, expected 1..${STATEMENT_FRONTIER_MAX}`,
    );
  }
  for (let i = 0; i < f.length; i++) {
    if (typeof f[i] !== "string" || !HEX_ID_RE.test(f[i])) {
      throw malformed(`frontier id ${i} is not 64 lowercase hex digits`);
    }
    if (i > 0 && f[i] === f[i - 1]) throw malformed(`frontier id ${f[i]} is listed twice`);
    if (i > 0 && f[i] < f[i - 1]) throw malformed(`the frontier is not sorted ascending at id ${i}`);
  }
  checkHash("txAccumulator", s.txAccumulator);
  checkHash("stateHash", s.stateHash);
  checkHash("journalHash", s.journalHash);
  checkHash("prevDigest", s.prevDigest);
  if (s.seq === 1 && s.prevBoundaryMs !== 0) {
    throw malformed(`checkpoint 1 has prevBoundaryMs ${s.prevBoundaryMs}, expected 0`);
  }
  if (s.seq === 1 && !isZero(s.prevDigest)) throw malformed("checkpoint 1 has a non-zero prevDigest");
  if (s.seq > 1 && isZero(s.prevDigest)) {
    throw malformed(`checkpoint ${s.seq} has a zero prevDigest; only checkpoint 1 has no predecessor`);
  }
}

/** The canonical bytes of a statement; also exactly what validators sign. Throws `checkpoint_malformed`. */
export function encodeStatement(s: CheckpointStatement): Uint8Array {
  checkStatement(s);
  const out = new Uint8Array(HEAD_BYTES + s.frontier.length * HASH_BYTES + TAIL_BYTES);
  const view = new DataView(out.buffer);
  let at = 0;
  const put = (bytes: Uint8Array) => {
    out.set(bytes, at);
    at += bytes.length;
  };
  const u64 = (n: number) => {
    view.setBigUint64(at, BigInt(n), true);
    at += 8;
  };
  put(DOMAIN_BYTES);
  put(s.chainId);
  u64(s.seq);
  u64(s.boundaryMs);
  u64(s.prevBoundaryMs);
  u64(s.vertexCount);
  view.setUint32(at, s.frontier.length, true);
  at += 4;
  for (const id of s.frontier) put(Uint8Array.fromHex(id));
  put(s.txAccumulator);
  put(s.stateHash);
  put(s.journalHash);
  put(s.prevDigest);
  return out;
}

/** The exact inverse of {@linkcode encodeStatement}: anything else is refused with `checkpoint_malformed`. */
export function decodeStatement(bytes: Uint8Array): CheckpointStatement {
  if (!(bytes instanceof Uint8Array)) throw malformed("not bytes");
  if (bytes.length < HEAD_BYTES) {
    throw malformed(`${bytes.length} bytes end before the frontier count (byte ${HEAD_BYTES})`);
  }
  for (let i = 0; i < DOMAIN_BYTES.length; i++) {
    if (bytes[i] !== DOMAIN_BYTES[i]) throw malformed(`it does not start with "${STATEMENT_DOMAIN}"`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(HEAD_BYTES - 4, true);
  if (count < 1 || count > STATEMENT_FRONTIER_MAX) {
    throw malformed(`the frontier has ${count} ids, expected 1..${STATEMENT_FRONTIER_MAX}`);
  }
  const expected = HEAD_BYTES + count * HASH_BYTES + TAIL_BYTES;
  if (bytes.length < expected) {
    throw malformed(`${bytes.length} bytes are truncated: ${count} frontier ids need ${expected}`);
  }
  if (bytes.length > expected) {
    throw malformed(`${bytes.length - expected} trailing bytes after the ${expected} of the statement`);
  }
  let at = DOMAIN_BYTES.length;
  const take = (n: number) => bytes.slice(at, at += n);
  const u64 = (name: string) => {
    const v = view.getBigUint64(at, true);
    at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`${name} ${v} is above 2^53 - 1`);
    return Number(v);
  };
  const chainId = take(HASH_BYTES);
  const seq = u64("seq");
  const boundaryMs = u64("boundaryMs");
  const prevBoundaryMs = u64("prevBoundaryMs");
  const vertexCount = u64("vertexCount");
  at += 4;
  const frontier: string[] = [];
  for (let i = 0; i < count; i++) frontier.push(take(HASH_BYTES).toHex());
  const s: CheckpointStatement = {
    chainId,
    seq,
    boundaryMs,
    prevBoundaryMs,
    vertexCount,
    frontier,
    txAccumulator: take(HASH_BYTES),
    stateHash: take(HASH_BYTES),
    journalHash: take(HASH_BYTES),
    prevDigest: take(HASH_BYTES),
  };
  checkStatement(s);
  return s;
}

/** BLAKE3-256 of {@linkcode encodeStatement}: the statement's identity, and the next one's prevDigest. */
export function statementDigest(s: CheckpointStatement): Uint8Array {
  return blake3(encodeStatement(s));
}

/**
 * The running commitment to every transaction settled so far:
 * BLAKE3-256("qudag/checkpoint-txs/v1" ‖ prev ‖ u32 count ‖ ids ascending, 32 bytes each).
 * The ids are a set: their order in `txIdsHex` does not matter, a repeated id is refused.
 * `prev` is the previous checkpoint's accumulator, {@linkcode ZERO_HASH} for the first.
 */
export function nextTxAccumulator(prev: Uint8Array, txIdsHex: readonly string[]): Uint8Array {
  checkHash("the previous txAccumulator", prev);
  if (!Array.isArray(txIdsHex) || txIdsHex.length > 0xffff_ffff) throw malformed("transaction ids are not a list");
  const ids = [...txIdsHex].sort();
  const out = new Uint8Array(TX_DOMAIN_BYTES.length + HASH_BYTES + 4 + ids.length * HASH_BYTES);
  out.set(TX_DOMAIN_BYTES, 0);
  out.set(prev, TX_DOMAIN_BYTES.length);
  let at = TX_DOMAIN_BYTES.length + HASH_BYTES;
  new DataView(out.buffer).setUint32(at, ids.length, true);
  at += 4;
  for (let i = 0; i < ids.length; i++) {
    if (typeof ids[i] !== "string" || !HEX_ID_RE.test(ids[i])) {
      throw malformed(`transaction id ${JSON.stringify(ids[i])} is not 64 lowercase hex digits`);
    }
    if (i > 0 && ids[i] === ids[i - 1]) throw malformed(`transaction id ${ids[i]} is listed twice`);
    out.set(Uint8Array.fromHex(ids[i]), at);
    at += HASH_BYTES;
  }
  return blake3(out);
}
