/**
 * The exchange ledger around the WASM core: the service that keeps it in step
 * with consensus, and the exchange section of the chain genesis.
 *
 * @module
 */
export { LedgerService, SNAPSHOTS_KEPT } from "./service.ts";
export { type LedgerHalt, type LedgerHaltCode, LedgerServiceError } from "./halt.ts";
export { ACCOUNTS_PAGE_MAX } from "./queries.ts";
export type {
  AsyncSignatureVerifier,
  CutFold,
  LedgerCut,
  LedgerDecisionInput,
  LedgerServiceOptions,
  RestoreSummary,
} from "./types.ts";
export { ConcurrencyIndex } from "./concurrency.ts";
export {
  ExchangeGenesisError,
  type ExchangeGenesisJson,
  GENESIS_ACCOUNTS_MAX,
  makeExchangeGenesis,
  parseExchangeGenesis,
  ROLE_NAMES,
  type RoleName,
} from "./genesis.ts";
