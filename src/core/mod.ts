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
 * One file per part of wasm/src/, so that a caller (the edge replica) can
 * import exactly what it needs: constants.ts, hash.ts, tx.ts, vertex.ts,
 * fee.ts, amount.ts, ledger.ts. This module only re-exports them.
 *
 * @module
 */
export { CORE_ERROR_CODES, CoreError, isCoreErrorCode, LEDGER_REFUSAL_CODES } from "./_error.ts";
export type { CoreErrorCode, LedgerRefusalCode } from "./_error.ts";
export {
  CORE_CONSTANTS,
  type CoreConstants,
  coreMemoryBytes,
  HASH_BYTES,
  ML_DSA_87_PUBLIC_KEY_BYTES,
  ML_DSA_87_SIGNATURE_BYTES,
} from "./constants.ts";
export { blake3 } from "./hash.ts";
export {
  decodeTransaction,
  encodeTransaction,
  type Transaction,
  type TransactionHeader,
  transactionId,
  type TransactionInfo,
  type TransactionKind,
  type TransactionPayload,
  transactionSigningMessage,
  type UnsignedTransaction,
  validateTransaction,
} from "./tx.ts";
export {
  decodeVertex,
  encodeVertex,
  signedVertexBytes,
  type UnsignedVertex,
  unsignedVertexBytes,
  validateVertex,
  type Vertex,
  vertexId,
  type VertexInfo,
  vertexSigningMessage,
  type VertexTx,
} from "./vertex.ts";
export {
  defaultFeeParams,
  feeFor,
  type FeeInput,
  type FeeParams,
  type FeeQuote,
  feeRate,
  formatRatePercent,
  validateFeeParams,
} from "./fee.ts";
export { formatAmount, parseAmount } from "./amount.ts";
export {
  Ledger,
  type LedgerAccount,
  type LedgerAttestation,
  type LedgerAuditRecord,
  type LedgerContext,
  type LedgerCutHashes,
  type LedgerFeeQuote,
  type LedgerGenesis,
  type LedgerGenesisAccount,
  type LedgerLock,
  type LedgerOutcome,
  type LedgerPrepared,
  type LedgerReceipt,
  type LedgerResultCode,
  type LedgerRoles,
  type LedgerStatus,
  type SignatureVerifier,
} from "./ledger.ts";
