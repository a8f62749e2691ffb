/** Encrypted secrets: the service, its records and limits, and how they are sealed. */
export {
  cursorOf,
  parseCursor,
  type SecretSummary,
  type SecretView,
  Vault,
  type VaultOptions,
  type VaultPage,
} from "./vault.ts";
export {
  VAULT_LIMITS,
  VAULT_SECRETS_MAX,
  VAULT_VERSIONS_KEPT,
  VaultError,
  type VaultErrorCode,
  type VaultPatch,
  type VaultRecord,
} from "./record.ts";
