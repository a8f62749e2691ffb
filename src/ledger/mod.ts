/**
 * The exchange ledger around the WASM core: the service that keeps it in step
 * with consensus, and the exchange section of the chain genesis.
 *
 * @module
 */
export {
  ACCOUNTS_PAGE_MAX,
  type AsyncSignatureVerifier,
  CONCURRENT_VERTICES_MAX,
  type LedgerDecisionInput,
  LedgerService,
  LedgerServiceError,
  type LedgerServiceOptions,
  type RebuildSummary,
} from "./service.ts";
export {
  ExchangeGenesisError,
  type ExchangeGenesisJson,
  GENESIS_ACCOUNTS_MAX,
  makeExchangeGenesis,
  parseExchangeGenesis,
  ROLE_NAMES,
  type RoleName,
} from "./genesis.ts";
