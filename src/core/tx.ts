/**
 * Transactions (wasm/src/tx.rs): canonical encoding, structural validation,
 * ids, signing messages and conflict keys, all by the WASM core.
 */
import { core } from "./_wasm.ts";
import { FrameReader, FrameWriter, Tag } from "./_frame.ts";
import { CoreError } from "./_error.ts";
import { type FeeParams, readFees, writeFees } from "./fee.ts";

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
