/**
 * The exchange ledger around the WASM core: the service that keeps it in step
 * with consensus, and the exchange section of the chain genesis.
 *
 * @module
 */
export {
  ACCOUNTS_PAGE_MAX,
  type AsyncSignatureVerifier,
  type CutFold,
  type LedgerCut,
  type LedgerDecisionInput,
  type LedgerHalt,
  type LedgerHaltCode,
  LedgerService,
  LedgerServiceError,
  type LedgerServiceOptions,
  type RestoreSummary,
  SNAPSHOTS_KEPT,
} from "./service.ts";
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
