/**
 * Stable result codes of the WASM core (wasm/src/error.rs). The core itself
 * supplies the name for each numeric code; this list exists so TypeScript
 * can switch on them exhaustively. mod_test.ts checks it against the core.
 */
export const CORE_ERROR_CODES = [
  "invalid_input",
  "truncated",
  "trailing_bytes",
  "unknown_version",
  "unknown_object_type",
  "unknown_kind",
  "tx_too_large",
  "vertex_too_large",
  "memo_too_large",
  "data_too_large",
  "name_too_large",
  "reason_too_large",
  "too_many_parents",
  "too_many_transactions",
  "output_too_large",
  "name_invalid",
  "reason_invalid",
  "amount_zero",
  "account_key_mismatch",
  "invalid_fee_params",
  "parents_unsorted",
  "parents_duplicate",
  "genesis_has_parents",
  "parents_missing",
  "chain_id_mismatch",
  "duplicate_transaction",
  "conflicting_transactions",
  "amount_invalid",
  "amount_too_many_decimals",
  "amount_overflow",
  "wrong_chain",
  "unknown_account",
  "bad_signature",
  "account_exists",
  "nonce_too_low",
  "nonce_too_high",
  "time_regressed",
  "not_authorized",
  "config_locked",
  "already_locked",
  "not_locked",
  "config_hash_mismatch",
  "name_taken",
  "unknown_recipient",
  "attestation_expired",
  "not_attested",
  "supply_cap_exceeded",
  "fee_exceeds_max_fee",
  "insufficient_funds",
  "internal",
] as const;

export type CoreErrorCode = typeof CORE_ERROR_CODES[number];

/**
 * The codes a ledger refusal can carry, in the precedence the rules check
 * them (wasm/LEDGER.md). A refusal is a result, not an exception: it changes
 * nothing and a replay returns it again.
 */
export const LEDGER_REFUSAL_CODES = [
  "wrong_chain",
  "unknown_account",
  "bad_signature",
  "account_exists",
  "nonce_too_low",
  "nonce_too_high",
  "time_regressed",
  "not_authorized",
  "config_locked",
  "already_locked",
  "not_locked",
  "config_hash_mismatch",
  "name_taken",
  "unknown_recipient",
  "attestation_expired",
  "not_attested",
  "amount_overflow",
  "supply_cap_exceeded",
  "fee_exceeds_max_fee",
  "insufficient_funds",
] as const satisfies readonly CoreErrorCode[];

export type LedgerRefusalCode = typeof LEDGER_REFUSAL_CODES[number];

export function isCoreErrorCode(name: string): name is CoreErrorCode {
  return (CORE_ERROR_CODES as readonly string[]).includes(name);
}

/** A rejection by the core: `code` is stable, `message` says what and why. */
export class CoreError extends Error {
  readonly code: CoreErrorCode;

  constructor(code: CoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CoreError";
    this.code = code;
  }
}
