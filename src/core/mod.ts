/**
 * The QuDAG core: typed access to the WASM core (wasm/), which owns the
 * consensus-critical rules: canonical encoding of transactions and
 * vertices, their ids (BLAKE3-256), structural validation with explicit
 * limits, fixed-point fee math and decimal rUv amounts. TypeScript never
 * re-implements these rules; it calls them here. The format is described
 * in wasm/FORMAT.md. Signatures are verified by the crypto backends over
 * the exact `signingMessage` bytes returned here.
 *
 * u64 values are bigint; every rejection is a `CoreError` with a stable
 * `code`. The exchange ledger ({@linkcode Ledger}) runs in the core too:
 * refusals there are results with a stable code, not exceptions.
 *
 * @module
 */
import { core } from "./_wasm.ts";
import { FrameReader, FrameWriter, Tag } from "./_frame.ts";
import { CoreError } from "./_error.ts";

export { CORE_ERROR_CODES, CoreError, isCoreErrorCode, LEDGER_REFUSAL_CODES } from "./_error.ts";
export type { CoreErrorCode, LedgerRefusalCode } from "./_error.ts";
import type { LedgerRefusalCode } from "./_error.ts";

// ---------------------------------------------------------------- types

/** Common fields of every transaction. Ids and hashes are 32 bytes. */
export interface TransactionHeader {
  chainId: Uint8Array;
  /** BLAKE3-256 of the account's ML-DSA-87 public key. */
  account: Uint8Array;
  nonce: bigint;
  /** Informational only: no rule reads it. */
  timestampMs: bigint;
  /** The most the signer agrees to pay in fees, in smallest units. */
  maxFee: bigint;
}

/** Fee parameters; rates in parts per billion (1e9 = 100%). */
export interface FeeParams {
  fMinPpb: number;
  fMaxPpb: number;
  fMinVerifiedPpb: number;
  fMaxVerifiedPpb: number;
  /** T, in milliseconds. */
  timeConstantMs: bigint;
  /** U, in smallest units. */
  usageThreshold: bigint;
}

export type TransactionPayload =
  | {
    kind: "create_account";
    /** 1..64 bytes of [a-z0-9_-]. */
    name: string;
    /** ML-DSA-87 public key, 2,592 bytes; `account` must be its BLAKE3-256. */
    publicKey: Uint8Array;
  }
  | { kind: "transfer"; to: Uint8Array; amount: bigint; memo: Uint8Array }
  | { kind: "mint"; to: Uint8Array; amount: bigint }
  | { kind: "burn"; amount: bigint }
  | { kind: "configure_fees"; fees: FeeParams }
  | {
    kind: "attest_agent";
    agent: Uint8Array;
    proofDigest: Uint8Array;
    expiryMs: bigint;
  }
  | { kind: "revoke_agent"; agent: Uint8Array }
  | { kind: "immutable_lock"; configHash: Uint8Array; gracePeriodMs: bigint }
  | { kind: "governance_override"; configHash: Uint8Array; reason: string }
  | { kind: "data"; data: Uint8Array };

export type TransactionKind = TransactionPayload["kind"];
export type UnsignedTransaction = TransactionHeader & TransactionPayload;
/** A signed transaction; `signature` is ML-DSA-87, 4,627 bytes. */
export type Transaction = UnsignedTransaction & { signature: Uint8Array };

export interface TransactionInfo {
  tx: Transaction;
  /** BLAKE3-256 of the signed bytes. */
  id: Uint8Array;
  /** "qudag/tx/v1" || unsigned body: verify `tx.signature` over this. */
  signingMessage: Uint8Array;
  /** Hex of account || nonce (u64 LE): equal keys are a conflict set. */
  conflictKey: string;
}

export interface UnsignedVertex {
  chainId: Uint8Array;
  /** BLAKE3-256 of the validator's ML-DSA-87 public key. */
  author: Uint8Array;
  /** 0 for genesis (no parents); otherwise at least one parent. */
  round: bigint;
  /** Informational only: no rule reads it. */
  timestampMs: bigint;
  /** Vertex ids in strictly ascending byte order. */
  parents: Uint8Array[];
  /** Full signed transaction bytes. */
  transactions: Uint8Array[];
}

export interface Vertex extends UnsignedVertex {
  signature: Uint8Array;
}

export interface VertexInfo {
  vertex: Vertex;
  id: Uint8Array;
  /** "qudag/vertex/v1" || unsigned body: verify `vertex.signature` over this. */
  signingMessage: Uint8Array;
  /** Ids of `vertex.transactions`, in order. */
  transactionIds: Uint8Array[];
}

export interface FeeInput {
  verified: boolean;
  /** t: milliseconds since the account's first transaction. */
  tMs: bigint;
  /** u: the account's volume over the last 30 days, in smallest units. */
  usage: bigint;
}

export interface FeeQuote {
  ratePpb: number;
  fee: bigint;
}

export interface CoreConstants {
  abiVersion: number;
  formatVersion: number;
  txBytesMax: number;
  dataBytesMax: number;
  memoBytesMax: number;
  nameBytesMax: number;
  reasonBytesMax: number;
  parentsMax: number;
  txsPerVertexMax: number;
  vertexBytesMax: number;
  blake3OutputBytesMax: number;
  unitsPerRuv: bigint;
  amountDecimals: number;
  rateScalePpb: number;
}

// ---------------------------------------------------------------- constants

function readConstants(): CoreConstants {
  const values = new Map<string, string>();
  for (const line of new TextDecoder().decode(core.constants()).split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const num = (key: string): number => {
    const v = values.get(key);
    if (v === undefined) {
      throw new CoreError("internal", `The core lacks constant ${key}`);
    }
    return Number(v);
  };
  return Object.freeze({
    abiVersion: num("abi_version"),
    formatVersion: num("format_version"),
    txBytesMax: num("tx_bytes_max"),
    dataBytesMax: num("data_bytes_max"),
    memoBytesMax: num("memo_bytes_max"),
    nameBytesMax: num("name_bytes_max"),
    reasonBytesMax: num("reason_bytes_max"),
    parentsMax: num("parents_max"),
    txsPerVertexMax: num("txs_per_vertex_max"),
    vertexBytesMax: num("vertex_bytes_max"),
    blake3OutputBytesMax: num("blake3_output_bytes_max"),
    unitsPerRuv: BigInt(values.get("units_per_ruv") ?? "0"),
    amountDecimals: num("amount_decimals"),
    rateScalePpb: num("rate_scale_ppb"),
  });
}

/** Limits and constants, read from the core itself. */
export const CORE_CONSTANTS: CoreConstants = readConstants();

/** Sizes fixed by FIPS 204 (ML-DSA-87) and BLAKE3-256. */
/** Bytes of the WASM core's linear memory: it grows with the largest state ever held and never shrinks. */
export function coreMemoryBytes(): number {
  return core.memoryBytes();
}

export const ML_DSA_87_PUBLIC_KEY_BYTES = 2592;
export const ML_DSA_87_SIGNATURE_BYTES = 4627;
export const HASH_BYTES = 32;

// ---------------------------------------------------------------- BLAKE3

/** BLAKE3 of `data`; `outLen` bytes of extended output (default 32). */
export function blake3(data: Uint8Array, outLen = 32): Uint8Array {
  if (!Number.isInteger(outLen) || outLen < 0 || outLen > 0xffff_ffff) {
    throw new CoreError(
      "output_too_large",
      `BLAKE3 output length ${outLen} is not a valid length`,
    );
  }
  return core.blake3(data, outLen);
}

// ---------------------------------------------------------------- transactions

function writeFees(w: FrameWriter, p: FeeParams): FrameWriter {
  return w
    .u32(Tag.fMinPpb, p.fMinPpb, "fMinPpb")
    .u32(Tag.fMaxPpb, p.fMaxPpb, "fMaxPpb")
    .u32(Tag.fMinVerifiedPpb, p.fMinVerifiedPpb, "fMinVerifiedPpb")
    .u32(Tag.fMaxVerifiedPpb, p.fMaxVerifiedPpb, "fMaxVerifiedPpb")
    .u64(Tag.timeConstantMs, p.timeConstantMs, "timeConstantMs")
    .u64(Tag.usageThreshold, p.usageThreshold, "usageThreshold");
}

function readFees(r: FrameReader): FeeParams {
  return {
    fMinPpb: r.u32(Tag.fMinPpb),
    fMaxPpb: r.u32(Tag.fMaxPpb),
    fMinVerifiedPpb: r.u32(Tag.fMinVerifiedPpb),
    fMaxVerifiedPpb: r.u32(Tag.fMaxVerifiedPpb),
    timeConstantMs: r.u64(Tag.timeConstantMs),
    usageThreshold: r.u64(Tag.usageThreshold),
  };
}

function txFrame(tx: UnsignedTransaction, signature?: Uint8Array): Uint8Array {
  if (tx === null || typeof tx !== "object") {
    throw new CoreError("invalid_input", "A transaction must be an object");
  }
  const w = new FrameWriter()
    .text(Tag.kind, tx.kind, "kind")
    .bytes(Tag.chainId, tx.chainId, "chainId")
    .bytes(Tag.account, tx.account, "account")
    .u64(Tag.nonce, tx.nonce, "nonce")
    .u64(Tag.timestampMs, tx.timestampMs, "timestampMs")
    .u64(Tag.maxFee, tx.maxFee, "maxFee");
  if (signature !== undefined) w.bytes(Tag.signature, signature, "signature");
  switch (tx.kind) {
    case "create_account":
      w.text(Tag.name, tx.name, "name").bytes(
        Tag.publicKey,
        tx.publicKey,
        "publicKey",
      );
      break;
    case "transfer":
      w.bytes(Tag.to, tx.to, "to").u64(Tag.amount, tx.amount, "amount")
        .bytes(Tag.memo, tx.memo, "memo");
      break;
    case "mint":
      w.bytes(Tag.to, tx.to, "to").u64(Tag.amount, tx.amount, "amount");
      break;
    case "burn":
      w.u64(Tag.amount, tx.amount, "amount");
      break;
    case "configure_fees":
      writeFees(w, tx.fees);
      break;
    case "attest_agent":
      w.bytes(Tag.agent, tx.agent, "agent")
        .bytes(Tag.proofDigest, tx.proofDigest, "proofDigest")
        .u64(Tag.expiryMs, tx.expiryMs, "expiryMs");
      break;
    case "revoke_agent":
      w.bytes(Tag.agent, tx.agent, "agent");
      break;
    case "immutable_lock":
      w.bytes(Tag.configHash, tx.configHash, "configHash")
        .u64(Tag.gracePeriodMs, tx.gracePeriodMs, "gracePeriodMs");
      break;
    case "governance_override":
      w.bytes(Tag.configHash, tx.configHash, "configHash")
        .text(Tag.reason, tx.reason, "reason");
      break;
    case "data":
      w.bytes(Tag.data, tx.data, "data");
      break;
    default: {
      // Only reachable from untyped callers: the frame then carries just the
      // header and the core rejects the kind name (unknown_kind).
      const unknownKind: never = tx;
      void unknownKind;
      break;
    }
  }
  return w.finish();
}

function readPayload(r: FrameReader): TransactionPayload {
  const kind = r.text(Tag.kind);
  switch (kind) {
    case "create_account":
      return {
        kind,
        name: r.text(Tag.name),
        publicKey: r.bytes(Tag.publicKey),
      };
    case "transfer":
      return {
        kind,
        to: r.bytes(Tag.to),
        amount: r.u64(Tag.amount),
        memo: r.bytes(Tag.memo),
      };
    case "mint":
      return { kind, to: r.bytes(Tag.to), amount: r.u64(Tag.amount) };
    case "burn":
      return { kind, amount: r.u64(Tag.amount) };
    case "configure_fees":
      return { kind, fees: readFees(r) };
    case "attest_agent":
      return {
        kind,
        agent: r.bytes(Tag.agent),
        proofDigest: r.bytes(Tag.proofDigest),
        expiryMs: r.u64(Tag.expiryMs),
      };
    case "revoke_agent":
      return { kind, agent: r.bytes(Tag.agent) };
    case "immutable_lock":
      return {
        kind,
        configHash: r.bytes(Tag.configHash),
        gracePeriodMs: r.u64(Tag.gracePeriodMs),
      };
    case "governance_override":
      return {
        kind,
        configHash: r.bytes(Tag.configHash),
        reason: r.text(Tag.reason),
      };
    case "data":
      return { kind, data: r.bytes(Tag.data) };
    default:
      throw new CoreError("internal", `The core returned unknown kind ${kind}`);
  }
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Canonical signed bytes of `tx`, after structural validation. */
export function encodeTransaction(tx: Transaction): Uint8Array {
  if (tx?.signature === undefined) {
    throw new CoreError(
      "invalid_input",
      "Cannot encode transaction: it has no signature (use transactionSigningMessage to sign it first)",
    );
  }
  return core.txEncode(txFrame(tx, tx.signature));
}

/** Decodes and validates signed bytes; also returns id, signing message and conflict key. */
export function validateTransaction(bytes: Uint8Array): TransactionInfo {
  const r = new FrameReader(core.txDecode(bytes));
  const tx: Transaction = {
    chainId: r.bytes(Tag.chainId),
    account: r.bytes(Tag.account),
    nonce: r.u64(Tag.nonce),
    timestampMs: r.u64(Tag.timestampMs),
    maxFee: r.u64(Tag.maxFee),
    ...readPayload(r),
    signature: r.bytes(Tag.signature),
  };
  return {
    tx,
    id: r.bytes(Tag.id),
    signingMessage: r.bytes(Tag.signingMessage),
    conflictKey: hex(r.bytes(Tag.conflictKey)),
  };
}

/** Decodes and validates signed bytes. decode(encode(tx)) equals tx. */
export function decodeTransaction(bytes: Uint8Array): Transaction {
  return validateTransaction(bytes).tx;
}

/** BLAKE3-256 of the signed bytes (validated first). */
export function transactionId(tx: Uint8Array | Transaction): Uint8Array {
  const bytes = tx instanceof Uint8Array ? tx : encodeTransaction(tx);
  return validateTransaction(bytes).id;
}

/**
 * The exact bytes the account signs: "qudag/tx/v1" || unsigned body.
 * Accepts an unsigned transaction (to sign it), a signed one, or signed bytes.
 */
export function transactionSigningMessage(
  tx: Uint8Array | UnsignedTransaction,
): Uint8Array {
  if (tx instanceof Uint8Array) return validateTransaction(tx).signingMessage;
  return core.txSigningMessage(txFrame(tx));
}

// ---------------------------------------------------------------- vertices

function vertexFrame(v: UnsignedVertex, signature?: Uint8Array): Uint8Array {
  if (v === null || typeof v !== "object") {
    throw new CoreError("invalid_input", "A vertex must be an object");
  }
  if (!Array.isArray(v.parents) || !Array.isArray(v.transactions)) {
    throw new CoreError(
      "invalid_input",
      "A vertex needs arrays `parents` and `transactions`",
    );
  }
  const w = new FrameWriter()
    .bytes(Tag.chainId, v.chainId, "chainId")
    .bytes(Tag.author, v.author, "author")
    .u64(Tag.round, v.round, "round")
    .u64(Tag.timestampMs, v.timestampMs, "timestampMs");
  if (signature !== undefined) w.bytes(Tag.signature, signature, "signature");
  v.parents.forEach((p, i) => w.bytes(Tag.parent, p, `parents[${i}]`));
  v.transactions.forEach((t, i) => w.bytes(Tag.tx, t, `transactions[${i}]`));
  return w.finish();
}

/** Canonical signed bytes of `v`, after structural validation (its transactions included). */
export function encodeVertex(v: Vertex): Uint8Array {
  if (v?.signature === undefined) {
    throw new CoreError(
      "invalid_input",
      "Cannot encode vertex: it has no signature (use vertexSigningMessage to sign it first)",
    );
  }
  return core.vertexEncode(vertexFrame(v, v.signature));
}

/** Decodes and validates signed bytes; also returns id, signing message and transaction ids. */
export function validateVertex(bytes: Uint8Array): VertexInfo {
  const r = new FrameReader(core.vertexDecode(bytes));
  return {
    vertex: {
      chainId: r.bytes(Tag.chainId),
      author: r.bytes(Tag.author),
      round: r.u64(Tag.round),
      timestampMs: r.u64(Tag.timestampMs),
      parents: r.all(Tag.parent),
      transactions: r.all(Tag.tx),
      signature: r.bytes(Tag.signature),
    },
    id: r.bytes(Tag.id),
    signingMessage: r.bytes(Tag.signingMessage),
    transactionIds: r.all(Tag.txId),
  };
}

/** Decodes and validates signed bytes. decode(encode(v)) equals v. */
export function decodeVertex(bytes: Uint8Array): Vertex {
  return validateVertex(bytes).vertex;
}

/** BLAKE3-256 of the signed bytes (validated first). */
export function vertexId(v: Uint8Array | Vertex): Uint8Array {
  const bytes = v instanceof Uint8Array ? v : encodeVertex(v);
  return validateVertex(bytes).id;
}

/** The exact bytes the author signs: "qudag/vertex/v1" || unsigned body. */
export function vertexSigningMessage(
  v: Uint8Array | UnsignedVertex,
): Uint8Array {
  if (v instanceof Uint8Array) return validateVertex(v).signingMessage;
  return core.vertexSigningMessage(vertexFrame(v));
}

// ---------------------------------------------------------------- fees

/** SPEC.md defaults: 0.1%..1.0%, verified 0.25%..0.50%, T 90 days, U 10,000 rUv. */
export function defaultFeeParams(): FeeParams {
  return readFees(new FrameReader(core.feeDefaults()));
}

/** Throws `invalid_fee_params` unless f_min <= f_max <= 100% (both curves), T > 0, U > 0. */
export function validateFeeParams(params: FeeParams): void {
  core.feeParamsValidate(writeFees(new FrameWriter(), params).finish());
}

function feeFrame(
  params: FeeParams,
  input: FeeInput,
  amount?: bigint,
): Uint8Array {
  const w = writeFees(new FrameWriter(), params)
    .bool(Tag.verified, input.verified, "verified")
    .u64(Tag.ageMs, input.tMs, "tMs")
    .u64(Tag.usage, input.usage, "usage");
  if (amount !== undefined) w.u64(Tag.amount, amount, "amount");
  return w.finish();
}

/** The fee rate in parts per billion, in deterministic fixed point. */
export function feeRate(params: FeeParams, input: FeeInput): number {
  const r = new FrameReader(core.feeCompute(feeFrame(params, input)));
  return Number(r.u64(Tag.ratePpb));
}

/** Rate and fee for `amount` smallest units: ceil(amount * rate), at least 1 if amount > 0. */
export function feeFor(
  params: FeeParams,
  input: FeeInput,
  amount: bigint,
): FeeQuote {
  const r = new FrameReader(core.feeCompute(feeFrame(params, input, amount)));
  return { ratePpb: Number(r.u64(Tag.ratePpb)), fee: r.u64(Tag.fee) };
}

/**
 * A ppb rate as a percent string with `decimals` places, rounded half up
 * (display only: 3,238,480 ppb -> "0.324%").
 */
export function formatRatePercent(ratePpb: number, decimals = 3): string {
  if (!Number.isInteger(ratePpb) || ratePpb < 0) {
    throw new CoreError("invalid_input", `Rate ${ratePpb} is not a ppb rate`);
  }
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 7) {
    throw new CoreError("invalid_input", `decimals must be 0..7`);
  }
  // 1% = 10^7 ppb; keep `decimals` digits after the percent's point.
  const step = 10n ** BigInt(7 - decimals);
  const units = (BigInt(ratePpb) + step / 2n) / step;
  const scale = 10n ** BigInt(decimals);
  const whole = units / scale;
  const frac = (units % scale).toString().padStart(decimals, "0");
  return decimals === 0 ? `${whole}%` : `${whole}.${frac}%`;
}

// ---------------------------------------------------------------- amounts

const encoder = new TextEncoder();

/** Decimal rUv text ("50000", "0.5") to smallest units (1 rUv = 10^6). */
export function parseAmount(text: string): bigint {
  if (typeof text !== "string") {
    throw new CoreError("amount_invalid", "An amount must be a string");
  }
  const out = core.amountParse(encoder.encode(text));
  return new DataView(out.buffer).getBigUint64(0, true);
}

/** Smallest units to the shortest decimal rUv text. */
export function formatAmount(units: bigint): string {
  const w = new Uint8Array(8);
  if (typeof units !== "bigint" || units < 0n || units >= 1n << 64n) {
    throw new CoreError(
      "amount_overflow",
      `Amount ${units} is outside 0..2^64-1 smallest units`,
    );
  }
  new DataView(w.buffer).setBigUint64(0, units, true);
  return new TextDecoder().decode(core.amountFormat(w));
}

// ---------------------------------------------------------------- ledger

/** A genesis account: created with the ledger, balance 0. */
export interface LedgerGenesisAccount {
  /** 1..64 bytes of [a-z0-9_-]. */
  name: string;
  /** ML-DSA-87 public key (2,592 bytes); the account id is its BLAKE3-256. */
  publicKey: Uint8Array;
}

/** Account ids (BLAKE3-256 of a genesis account's key) holding each authority. */
export interface LedgerRoles {
  /** Receives every fee. */
  feeAccount: Uint8Array;
  /** The only signer of mint. */
  exchangeMaster: Uint8Array;
  /** The only signer of configure_fees. */
  feeAdmin: Uint8Array;
  /** The only signer of attest_agent / revoke_agent. */
  agentVerifier: Uint8Array;
  /** The only signer of immutable_lock / governance_override. */
  governance: Uint8Array;
}

/** Everything a chain's ledger starts from; every node must use the same. */
export interface LedgerGenesis {
  chainId: Uint8Array;
  /** Ledger time of the genesis accounts' creation (their fee age starts here). */
  timeMs: bigint;
  fees: FeeParams;
  /** Most smallest units in circulation (minted - burned); 0n = no cap. */
  supplyCap: bigint;
  /** 1..16 accounts; every role must name one of them. */
  accounts: LedgerGenesisAccount[];
  roles: LedgerRoles;
}

/**
 * Where and when a transaction is applied (wasm/LEDGER.md): the vertex that
 * carries it, the ledger time (that vertex's timestamp) and the already
 * applied vertices that are not ancestors of it. Validity and fee are
 * decided against the state without those concurrent vertices' effects.
 */
export interface LedgerContext {
  vertex: Uint8Array;
  timeMs: bigint;
  /** Applied vertices that are not ancestors of `vertex` (at most 65,536, the journal's limit). */
  concurrent?: Uint8Array[];
}

export type LedgerResultCode = "ok" | LedgerRefusalCode;

/** The result of one transaction, kept by id: a replay returns it again. */
export interface LedgerReceipt {
  code: LedgerResultCode;
  /** Fee charged (transfers only), smallest units. */
  fee: bigint;
  ratePpb: number;
  /** The vertex that carried it when it was first applied. */
  vertex: Uint8Array;
  timeMs: bigint;
}

export interface LedgerOutcome extends LedgerReceipt {
  /** Transaction id. */
  id: Uint8Array;
  /** Empty when applied; otherwise what was refused and why. */
  message: string;
  /** Already applied or refused before: nothing changed, same receipt. */
  duplicate: boolean;
  /** A duplicate whose first carrier is concurrent to this one (a DAG anomaly to report). */
  concurrentDuplicate: boolean;
  /** Accounts whose records changed, ascending; empty unless applied. */
  touched: Uint8Array[];
}

export interface LedgerPrepared {
  id: Uint8Array;
  account: Uint8Array;
  nonce: bigint;
  kind: TransactionKind;
  /** Verify the transaction's signature over exactly these bytes... */
  signingMessage: Uint8Array;
  /** ...with this key; absent when the account does not exist (apply refuses it). */
  publicKey?: Uint8Array;
  /** An earlier result for this id. */
  receipt?: LedgerReceipt;
}

export interface LedgerAttestation {
  expiryMs: bigint;
  proofDigest: Uint8Array;
  attestedMs: bigint;
}

export interface LedgerAccount {
  id: Uint8Array;
  name: string;
  /** False only if a concurrent claim with a smaller id owns the name. */
  nameOwner: boolean;
  publicKey: Uint8Array;
  balance: bigint;
  nextNonce: bigint;
  /** Ledger time of its first transaction (fee age t counts from here). */
  createdMs: bigint;
  lastMs: bigint;
  attestation?: LedgerAttestation;
}

export interface LedgerAuditRecord {
  txId: Uint8Array;
  timeMs: bigint;
  action: "lock" | "override";
  configHash: Uint8Array;
  reason: string;
}

export interface LedgerLock {
  configHash: Uint8Array;
  lockedMs: bigint;
  /** Configuration changes at or after this ledger time are refused (config_locked). */
  graceEndMs: bigint;
  lockTx: Uint8Array;
}

export interface LedgerStatus {
  chainId: Uint8Array;
  genesisTimeMs: bigint;
  supplyCap: bigint;
  minted: bigint;
  burned: bigint;
  /** minted - burned; always the sum of all balances. */
  supply: bigint;
  fees: FeeParams;
  roles: LedgerRoles;
  /** BLAKE3 of chain id, fee parameters and supply cap (what a lock fixes). */
  configHash: Uint8Array;
  lock?: LedgerLock;
  audit: LedgerAuditRecord[];
  accountCount: number;
  /** Receipts held: those of transactions whose first carrier is not settled yet. */
  resultCount: number;
  /** Unsettled vertices whose transactions changed state (journal entries). */
  journalVertices: number;
  /** Unsettled vertices that carried a first application (each holds receipts until settled). */
  appliedVertices: number;
  stateHash: Uint8Array;
}

/** What a checkpoint signs: the hashes of the state at a cut (see {@linkcode Ledger.cutHashes}). */
export interface LedgerCutHashes {
  /** The state hash of the cut state (what a ledger that applied only the kept vertices has). */
  stateHash: Uint8Array;
  /** BLAKE3-256 of the cut state's journal (the kept unsettled vertices' facts). */
  journalHash: Uint8Array;
  /** Entries left in the cut state's journal. */
  journalVertices: number;
}

export interface LedgerFeeQuote extends FeeQuote {
  verified: boolean;
  /** t, ms since the account's first transaction. */
  tMs: bigint;
  /** u, smallest units sent in the 30-day window. */
  usage: bigint;
}

/** Verifies an ML-DSA-87 signature; supplied by the crypto backends. */
export type SignatureVerifier = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

function resultCode(n: number): LedgerResultCode {
  if (n === 0) return "ok";
  const name = core.codeName(n);
  if (name === undefined) throw new CoreError("internal", `The core returned unknown result code ${n}`);
  return name as LedgerRefusalCode;
}

function readReceipt(r: FrameReader): LedgerReceipt {
  return {
    code: resultCode(r.u32(Tag.resultCode)),
    fee: r.u64(Tag.fee),
    ratePpb: Number(r.u64(Tag.ratePpb)),
    vertex: r.bytes(Tag.vertex),
    timeMs: r.u64(Tag.ledgerTimeMs),
  };
}

function readRoles(r: FrameReader): LedgerRoles {
  return {
    feeAccount: r.bytes(Tag.feeAccount),
    exchangeMaster: r.bytes(Tag.exchangeMaster),
    feeAdmin: r.bytes(Tag.feeAdmin),
    agentVerifier: r.bytes(Tag.agentVerifier),
    governance: r.bytes(Tag.governance),
  };
}

const textDecoder = new TextDecoder();

/** Concatenates 32-byte ids, as the core takes a set of vertices. */
function packIds(ids: Uint8Array[], field: string): Uint8Array {
  if (!Array.isArray(ids)) throw new CoreError("invalid_input", `${field} must be an array of 32-byte ids`);
  const out = new Uint8Array(ids.length * HASH_BYTES);
  ids.forEach((id, i) => {
    if (!(id instanceof Uint8Array) || id.length !== HASH_BYTES) {
      throw new CoreError("invalid_input", `${field}[${i}] must be a 32-byte id`);
    }
    out.set(id, i * HASH_BYTES);
  });
  return out;
}

function applyFrame(tx: Uint8Array, context: LedgerContext, signatureOk: boolean): Uint8Array {
  const w = new FrameWriter()
    .bytes(Tag.tx, tx, "tx")
    .bool(Tag.signatureOk, signatureOk, "signatureOk")
    .bytes(Tag.vertex, context.vertex, "context.vertex")
    .u64(Tag.ledgerTimeMs, context.timeMs, "context.timeMs");
  // One field of packed ids: a concurrent set may be longer than a frame's field limit.
  if (context.concurrent !== undefined && context.concurrent.length > 0) {
    w.bytes(Tag.concurrent, packIds(context.concurrent, "context.concurrent"), "context.concurrent");
  }
  return w.finish();
}

/**
 * The exchange ledger, held by the WASM core: a pure, deterministic state
 * transition (wasm/LEDGER.md). Two steps per transaction, so a bad signature
 * can never change state: {@linkcode Ledger.prepare} says which key must have
 * signed it, the caller verifies, {@linkcode Ledger.apply} applies (or
 * refuses with a stable code) given that verdict. {@linkcode Ledger.applyVerified}
 * does all three. {@linkcode Ledger.settle} bounds its memory;
 * {@linkcode Ledger.cutHashes} and {@linkcode Ledger.cutSnapshot} give the
 * state at a cut of the DAG (a checkpoint). Call {@linkcode Ledger.free} when done.
 */
export class Ledger {
  #handle: number;

  private constructor(handle: number) {
    this.#handle = handle;
  }

  static #open(result: Uint8Array): Ledger {
    return new Ledger(new DataView(result.buffer, result.byteOffset, 4).getUint32(0, true));
  }

  /** A new ledger from its genesis configuration (checked: `invalid_input`, `name_invalid`, `invalid_fee_params`). */
  static genesis(g: LedgerGenesis): Ledger {
    if (g === null || typeof g !== "object" || !Array.isArray(g.accounts) || g.roles === undefined) {
      throw new CoreError(
        "invalid_input",
        "A ledger genesis needs chainId, timeMs, fees, supplyCap, accounts and roles",
      );
    }
    const w = writeFees(new FrameWriter(), g.fees)
      .bytes(Tag.chainId, g.chainId, "chainId")
      .u64(Tag.genesisTimeMs, g.timeMs, "timeMs")
      .u64(Tag.supplyCap, g.supplyCap, "supplyCap")
      .bytes(Tag.feeAccount, g.roles.feeAccount, "roles.feeAccount")
      .bytes(Tag.exchangeMaster, g.roles.exchangeMaster, "roles.exchangeMaster")
      .bytes(Tag.feeAdmin, g.roles.feeAdmin, "roles.feeAdmin")
      .bytes(Tag.agentVerifier, g.roles.agentVerifier, "roles.agentVerifier")
      .bytes(Tag.governance, g.roles.governance, "roles.governance");
    g.accounts.forEach((a, i) => {
      w.text(Tag.name, a.name, `accounts[${i}].name`).bytes(Tag.publicKey, a.publicKey, `accounts[${i}].publicKey`);
    });
    return Ledger.#open(core.ledgerGenesis(w.finish()));
  }

  /** A ledger from {@linkcode Ledger.export} bytes (checked; `invalid_input` if damaged). */
  static import(bytes: Uint8Array): Ledger {
    return Ledger.#open(core.ledgerImport(bytes));
  }

  #live(): number {
    if (this.#handle === 0) throw new CoreError("invalid_input", "This ledger was freed");
    return this.#handle;
  }

  /** Releases the core's memory for this ledger; the object is unusable afterwards. */
  free(): void {
    if (this.#handle !== 0) core.ledgerFree(this.#handle);
    this.#handle = 0;
  }

  [Symbol.dispose](): void {
    this.free();
  }

  /** Step 1: decode `tx` (signed bytes) and name the key its signature must verify with. */
  prepare(tx: Uint8Array): LedgerPrepared {
    const r = new FrameReader(core.ledgerPrepare(this.#live(), tx));
    return {
      id: r.bytes(Tag.id),
      account: r.bytes(Tag.account),
      nonce: r.u64(Tag.nonce),
      kind: r.text(Tag.kind) as TransactionKind,
      signingMessage: r.bytes(Tag.signingMessage),
      publicKey: r.has(Tag.publicKey) ? r.bytes(Tag.publicKey) : undefined,
      receipt: r.has(Tag.resultCode) ? readReceipt(r) : undefined,
    };
  }

  /**
   * Step 2: apply `tx` in `context`. `signatureOk` is the caller's verdict on
   * the signature over `prepare(tx).signingMessage` with `prepare(tx).publicKey`;
   * false refuses it (`bad_signature`) and changes nothing. Refusals are
   * returned, not thrown; a `CoreError` means the call itself was wrong.
   */
  apply(tx: Uint8Array, context: LedgerContext, signatureOk: boolean): LedgerOutcome {
    return this.#outcome(core.ledgerApply(this.#live(), applyFrame(tx, context, signatureOk)));
  }

  /**
   * A dry run (not consensus): the receipt `apply` would give `tx` at ledger
   * time `timeMs` against the whole current state, changing nothing. Its
   * `vertex` is zero; `touched` names the signer when the refusal would
   * consume its nonce. A node refuses submissions with it.
   */
  check(tx: Uint8Array, timeMs: bigint, signatureOk: boolean): LedgerOutcome {
    const context = { vertex: new Uint8Array(32), timeMs };
    return this.#outcome(core.ledgerCheck(this.#live(), applyFrame(tx, context, signatureOk)));
  }

  #outcome(bytes: Uint8Array): LedgerOutcome {
    const r = new FrameReader(bytes);
    return {
      id: r.bytes(Tag.id),
      ...readReceipt(r),
      message: r.text(Tag.message),
      duplicate: r.bool(Tag.duplicate),
      concurrentDuplicate: r.bool(Tag.concurrentDuplicate),
      touched: r.all(Tag.touched),
    };
  }

  /** prepare, verify with `verify`, apply: the usual path. */
  applyVerified(tx: Uint8Array, context: LedgerContext, verify: SignatureVerifier): LedgerOutcome {
    const p = this.prepare(tx);
    const signature = tx.subarray(tx.length - ML_DSA_87_SIGNATURE_BYTES);
    const ok = p.receipt === undefined && p.publicKey !== undefined && verify(p.publicKey, p.signingMessage, signature);
    return this.apply(tx, context, ok);
  }

  /** BLAKE3-256 of the canonical state: equal on every node with the same accepted set. */
  stateHash(): Uint8Array {
    return core.ledgerStateHash(this.#live());
  }

  /** Everything (receipts and journal included), for persistence; see {@linkcode Ledger.import}. */
  export(): Uint8Array {
    return core.ledgerExport(this.#live());
  }

  account(id: Uint8Array): LedgerAccount | undefined {
    let frame: Uint8Array;
    try {
      frame = core.ledgerAccount(this.#live(), id);
    } catch (error) {
      if (error instanceof CoreError && error.code === "unknown_account") return undefined;
      throw error;
    }
    const r = new FrameReader(frame);
    return {
      id: r.bytes(Tag.id),
      name: r.text(Tag.name),
      nameOwner: r.bool(Tag.nameOwner),
      publicKey: r.bytes(Tag.publicKey),
      balance: r.u64(Tag.balance),
      nextNonce: r.u64(Tag.nextNonce),
      createdMs: r.u64(Tag.createdMs),
      lastMs: r.u64(Tag.lastMs),
      attestation: r.has(Tag.expiryMs)
        ? { expiryMs: r.u64(Tag.expiryMs), proofDigest: r.bytes(Tag.proofDigest), attestedMs: r.u64(Tag.attestedMs) }
        : undefined,
    };
  }

  /** The account that owns `name`, if any. */
  accountByName(name: string): LedgerAccount | undefined {
    try {
      return this.account(core.ledgerLookupName(this.#live(), new TextEncoder().encode(name)));
    } catch (error) {
      if (error instanceof CoreError && error.code === "unknown_account") return undefined;
      throw error;
    }
  }

  /** Balance in smallest units; 0n for an unknown account. */
  balance(id: Uint8Array): bigint {
    return this.account(id)?.balance ?? 0n;
  }

  /** Every account id, ascending bytewise. */
  accountIds(): Uint8Array[] {
    const all = core.ledgerAccounts(this.#live());
    const out: Uint8Array[] = [];
    for (let i = 0; i < all.length; i += HASH_BYTES) out.push(all.slice(i, i + HASH_BYTES));
    return out;
  }

  status(): LedgerStatus {
    const r = new FrameReader(core.ledgerStatus(this.#live()));
    const minted = r.u64(Tag.minted);
    const burned = r.u64(Tag.burned);
    return {
      chainId: r.bytes(Tag.chainId),
      genesisTimeMs: r.u64(Tag.genesisTimeMs),
      supplyCap: r.u64(Tag.supplyCap),
      minted,
      burned,
      supply: minted - burned,
      fees: readFees(r),
      roles: readRoles(r),
      configHash: r.bytes(Tag.currentConfigHash),
      lock: r.has(Tag.lockedMs)
        ? {
          configHash: r.bytes(Tag.configHash),
          lockedMs: r.u64(Tag.lockedMs),
          graceEndMs: r.u64(Tag.graceEndMs),
          lockTx: r.bytes(Tag.lockTx),
        }
        : undefined,
      audit: r.all(Tag.audit).map((frame) => {
        const a = new FrameReader(frame);
        return {
          txId: a.bytes(Tag.txId),
          timeMs: a.u64(Tag.ledgerTimeMs),
          action: a.text(Tag.action) as "lock" | "override",
          configHash: a.bytes(Tag.configHash),
          reason: textDecoder.decode(a.bytes(Tag.reason)),
        };
      }),
      accountCount: Number(r.u64(Tag.accountCount)),
      resultCount: Number(r.u64(Tag.resultCount)),
      journalVertices: Number(r.u64(Tag.journalVertices)),
      appliedVertices: Number(r.u64(Tag.appliedVertices)),
      stateHash: r.bytes(Tag.stateHash),
    };
  }

  /** The rate and fee `account` would pay for a transfer of `amount` at ledger time `timeMs`. */
  feeQuote(account: Uint8Array, amount: bigint, timeMs: bigint): LedgerFeeQuote {
    const w = new FrameWriter()
      .bytes(Tag.account, account, "account")
      .u64(Tag.amount, amount, "amount")
      .u64(Tag.ledgerTimeMs, timeMs, "timeMs");
    const r = new FrameReader(core.ledgerFeeQuote(this.#live(), w.finish()));
    return {
      ratePpb: Number(r.u64(Tag.ratePpb)),
      fee: r.u64(Tag.fee),
      verified: r.bool(Tag.verified),
      tMs: r.u64(Tag.ageMs),
      usage: r.u64(Tag.usage),
    };
  }

  /**
   * Vertices no later vertex can be concurrent to (every vertex still to be
   * applied descends from them): their journal entries are dropped, and so
   * are the receipts of the transactions they carried first (`prepare` no
   * longer returns those: keep receipts durably). Changes no balance and not
   * the state hash.
   */
  settle(vertices: Uint8Array[]): void {
    core.ledgerSettle(this.#live(), packIds(vertices, "vertices"));
  }

  /**
   * The hashes of the state at a cut K of the DAG: this ledger without the
   * effects of the `excluded` applied vertices, as if a ledger had applied
   * only K. Every kept vertex must have no excluded ancestor (K is downward
   * closed) and no excluded vertex may have been settled; excluded vertices
   * without journal entries are ignored. This ledger does not change.
   */
  cutHashes(excluded: Uint8Array[]): LedgerCutHashes {
    const r = new FrameReader(core.ledgerCutHashes(this.#live(), packIds(excluded, "excluded")));
    return {
      stateHash: r.bytes(Tag.stateHash),
      journalHash: r.bytes(Tag.journalHash),
      journalVertices: Number(r.u64(Tag.journalVertices)),
    };
  }

  /**
   * The {@linkcode Ledger.export} of the state at the cut that
   * {@linkcode Ledger.cutHashes} describes, without receipts;
   * {@linkcode Ledger.import} loads it. This ledger does not change.
   */
  cutSnapshot(excluded: Uint8Array[]): Uint8Array {
    return core.ledgerCutSnapshot(this.#live(), packIds(excluded, "excluded"));
  }
}
