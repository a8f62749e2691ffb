/**
 * What the exchange API answers: the JSON views of ledger values and their
 * schemas, side by side so that one cannot change without the other. Amounts
 * leave as decimal rUv strings with the smallest-unit string beside them
 * (`...Units`); every u64 is a decimal string, never a JSON number.
 */
import { z } from "@hono/zod-openapi";
import {
  decodeTransaction,
  type FeeParams,
  formatAmount,
  formatRatePercent,
  type LedgerAccount,
  type LedgerFeeQuote,
  type LedgerReceipt,
  type Transaction,
} from "../core/mod.ts";
import type { StoredReceipt } from "../storage/mod.ts";
import { Hex64, NextCursor, U64String } from "./_schemas.ts";

const Amount = z.string().openapi({ description: "decimal rUv, e.g. 12.5" });

export const Fees = z.object({
  fMinPpb: z.number().int(),
  fMaxPpb: z.number().int(),
  fMinVerifiedPpb: z.number().int(),
  fMaxVerifiedPpb: z.number().int(),
  fMin: z.string(),
  fMax: z.string(),
  fMinVerified: z.string(),
  fMaxVerified: z.string(),
  timeConstantMs: U64String,
  usageThreshold: Amount,
  usageThresholdUnits: U64String,
}).openapi("ExchangeFees");

export function feesView(f: FeeParams): z.infer<typeof Fees> {
  return {
    fMinPpb: f.fMinPpb,
    fMaxPpb: f.fMaxPpb,
    fMinVerifiedPpb: f.fMinVerifiedPpb,
    fMaxVerifiedPpb: f.fMaxVerifiedPpb,
    fMin: formatRatePercent(f.fMinPpb),
    fMax: formatRatePercent(f.fMaxPpb),
    fMinVerified: formatRatePercent(f.fMinVerifiedPpb),
    fMaxVerified: formatRatePercent(f.fMaxVerifiedPpb),
    timeConstantMs: f.timeConstantMs.toString(),
    usageThreshold: formatAmount(f.usageThreshold),
    usageThresholdUnits: f.usageThreshold.toString(),
  };
}

const AccountFields = {
  id: Hex64,
  name: z.string(),
  nameOwner: z.boolean(),
  balance: Amount,
  balanceUnits: U64String,
  nextNonce: U64String,
  createdMs: U64String,
  lastMs: U64String,
  attestation: z.object({ expiryMs: U64String, proofDigest: Hex64, attestedMs: U64String }).nullable(),
};
export const AccountSummary = z.object(AccountFields).openapi("ExchangeAccountSummary");
export const Account = z.object({
  ...AccountFields,
  publicKey: z.string().openapi({ description: "ML-DSA-87 public key, base64", format: "byte" }),
}).openapi("ExchangeAccount");

export function accountView(a: LedgerAccount): z.infer<typeof AccountSummary> {
  return {
    id: a.id.toHex(),
    name: a.name,
    nameOwner: a.nameOwner,
    balance: formatAmount(a.balance),
    balanceUnits: a.balance.toString(),
    nextNonce: a.nextNonce.toString(),
    createdMs: a.createdMs.toString(),
    lastMs: a.lastMs.toString(),
    attestation: a.attestation === undefined ? null : {
      expiryMs: a.attestation.expiryMs.toString(),
      proofDigest: a.attestation.proofDigest.toHex(),
      attestedMs: a.attestation.attestedMs.toString(),
    },
  };
}

export const Receipt = z.object({
  code: z.string().openapi({ description: '"ok", or the ledger\'s refusal code' }),
  fee: Amount,
  feeUnits: U64String,
  ratePpb: z.number().int(),
  rate: z.string(),
  vertex: Hex64.openapi({ description: "the vertex that carried it when it was applied" }),
  timeMs: U64String,
}).openapi("ExchangeReceipt");

export function receiptView(r: LedgerReceipt): z.infer<typeof Receipt> {
  return {
    code: r.code,
    fee: formatAmount(r.fee),
    feeUnits: r.fee.toString(),
    ratePpb: r.ratePpb,
    rate: formatRatePercent(r.ratePpb),
    vertex: r.vertex.toHex(),
    timeMs: r.timeMs.toString(),
  };
}

export function storedReceiptView(r: StoredReceipt): z.infer<typeof Receipt> {
  return {
    code: r.code,
    fee: formatAmount(r.fee),
    feeUnits: r.fee.toString(),
    ratePpb: r.ratePpb,
    rate: formatRatePercent(r.ratePpb),
    vertex: r.vertex,
    timeMs: String(r.timeMs),
  };
}

export const HistoryItem = z.object({
  id: Hex64,
  kind: z.string().nullable().openapi({ description: "transfer, mint, ...; null when this node lacks the bytes" }),
  account: Hex64.nullable().openapi({ description: "the signing account" }),
  nonce: U64String.nullable(),
  to: Hex64.nullable().openapi({ description: "the receiving account of a transfer or a mint" }),
  amount: Amount.nullable(),
  amountUnits: U64String.nullable(),
  receipt: Receipt,
}).openapi("ExchangeHistoryItem");

export const History = z.object({
  account: Hex64,
  name: z.string(),
  transactions: z.array(HistoryItem),
  nextCursor: NextCursor,
}).openapi("ExchangeAccountHistory");

/** One history entry: the receipt, and what the transaction did when this node holds its bytes. */
export function historyItem(r: StoredReceipt, bytes: Uint8Array | null): z.infer<typeof HistoryItem> {
  let tx: Transaction | null = null;
  if (bytes !== null && bytes.length > 0) tx = decodeTransaction(bytes);
  const moves = tx !== null && (tx.kind === "transfer" || tx.kind === "mint");
  const amount = tx === null
    ? null
    : tx.kind === "transfer" || tx.kind === "mint" || tx.kind === "burn"
    ? tx.amount
    : null;
  return {
    id: r.txId,
    kind: tx?.kind ?? null,
    account: tx?.account.toHex() ?? null,
    nonce: tx?.nonce.toString() ?? null,
    to: moves ? (tx as { to: Uint8Array }).to.toHex() : null,
    amount: amount === null ? null : formatAmount(amount),
    amountUnits: amount === null ? null : amount.toString(),
    receipt: storedReceiptView(r),
  };
}

const Role = z.object({ id: Hex64, name: z.string().nullable() });

export const ExchangeStatus = z.object({
  chainId: Hex64,
  genesisTimeMs: U64String,
  supply: Amount,
  supplyUnits: U64String,
  minted: Amount,
  mintedUnits: U64String,
  burned: Amount,
  burnedUnits: U64String,
  supplyCap: Amount.nullable(),
  supplyCapUnits: U64String,
  fees: Fees,
  roles: z.object({
    feeAccount: Role,
    exchangeMaster: Role,
    feeAdmin: Role,
    agentVerifier: Role,
    governance: Role,
  }),
  configHash: Hex64,
  locked: z.boolean(),
  lock: z.object({ configHash: Hex64, lockedMs: U64String, graceEndMs: U64String, lockTx: Hex64 }).nullable(),
  stateHash: Hex64,
  accountCount: z.number().int().min(0),
  appliedVertices: z.number().int().min(0),
  journalVertices: z.number().int().min(0),
  cut: z.number().int().min(0),
  halted: z.string().nullable().openapi({ description: "why the ledger stopped following consensus, if it did" }),
  haltCode: z.string().nullable(),
}).openapi("ExchangeStatus");

export const AccountPage = z.object({
  accounts: z.array(AccountSummary),
  nextCursor: NextCursor,
  next: z.string().nullable().openapi({ description: "deprecated: the same as nextCursor", deprecated: true }),
}).openapi("ExchangeAccountPage");

export const Balance = z.object({ id: Hex64, name: z.string(), balance: Amount, balanceUnits: U64String })
  .openapi("ExchangeBalance");

export const Submitted = z.object({
  id: Hex64,
  state: z.string().openapi({ description: "pending, processing, accepted or rejected" }),
}).openapi("ExchangeSubmitted");

export const TransactionState = z.object({
  id: Hex64,
  state: z.string().openapi({ description: "pending, processing, accepted, rejected or unknown" }),
  // A union, not Receipt.nullable(): the document keeps Receipt one component, so null would not be said there.
  receipt: z.union([Receipt, z.null()]).openapi({ description: "null until the ledger applied it" }),
}).openapi("ExchangeTransaction");

export const Quote = z.object({
  account: Hex64,
  name: z.string(),
  amount: Amount,
  amountUnits: U64String,
  timeMs: U64String,
  ratePpb: z.number().int(),
  rate: z.string(),
  fee: Amount,
  feeUnits: U64String,
  verified: z.boolean(),
  tMs: U64String,
  usage: Amount,
  usageUnits: U64String,
}).openapi("ExchangeFeeQuote");

/**
 * A fee quote's price fields, in the order both the node (Quote) and the edge
 * replica answer them: the amount, the ledger time and what it costs then.
 */
export function quotePriceView(
  units: bigint,
  timeMs: bigint,
  fq: LedgerFeeQuote,
): Pick<
  z.infer<typeof Quote>,
  "amount" | "amountUnits" | "timeMs" | "ratePpb" | "rate" | "fee" | "feeUnits" | "verified"
> {
  return {
    amount: formatAmount(units),
    amountUnits: units.toString(),
    timeMs: timeMs.toString(),
    ratePpb: fq.ratePpb,
    rate: formatRatePercent(fq.ratePpb),
    fee: formatAmount(fq.fee),
    feeUnits: fq.fee.toString(),
    verified: fq.verified,
  };
}

export const Immutable = z.object({
  locked: z.boolean(),
  configHash: Hex64,
  nowMs: U64String,
  lock: z.object({
    configHash: Hex64,
    lockedMs: U64String,
    graceEndMs: U64String,
    lockTx: Hex64,
    inGracePeriod: z.boolean(),
    graceRemainingMs: U64String,
  }).nullable(),
  audit: z.array(z.object({
    txId: Hex64,
    timeMs: U64String,
    action: z.string(),
    configHash: Hex64,
    reason: z.string(),
  })),
}).openapi("ExchangeImmutable");
