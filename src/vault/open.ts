/**
 * The node's vault, as its configuration allows: closed without an API key
 * (the HTTP area then refuses every call), locked without a passphrase
 * (QUDAG_VAULT_PASSPHRASE, else QUDAG_KEY_PASSPHRASE), open otherwise. A
 * passphrase that does not open an existing vault stops the node: starting
 * with the vault silently locked would hide the mistake.
 */
import type { Config } from "../config/mod.ts";
import type { CryptoBackend } from "../crypto/backend.ts";
import { KeyError } from "../keys/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Storage } from "../storage/mod.ts";
import { Vault } from "./vault.ts";

export interface NodeVaultOptions {
  config: Config;
  storage: Storage;
  backend: CryptoBackend;
  logger: Logger;
  nowMs: () => number;
}

export async function openNodeVault(o: NodeVaultOptions): Promise<Vault | null> {
  if (!o.config.secrets.apiKey) {
    o.logger.info("vault closed: set QUDAG_API_KEY (and QUDAG_VAULT_PASSPHRASE) to use /api/v1/vault");
    return null;
  }
  const passphrase = o.config.secrets.vaultPassphrase ?? o.config.secrets.keyPassphrase;
  if (!passphrase) {
    o.logger.warn("vault locked: set QUDAG_VAULT_PASSPHRASE (or QUDAG_KEY_PASSPHRASE) to open /api/v1/vault");
    return null;
  }
  try {
    const vault = await Vault.open({
      store: o.storage.vault,
      backend: o.backend,
      passphrase,
      nowMs: o.nowMs,
      random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    });
    o.logger.info("vault open", { secrets: vault.size });
    return vault;
  } catch (cause) {
    if (cause instanceof KeyError && cause.code === "key_passphrase_wrong") {
      const from = o.config.secrets.vaultPassphrase ? "QUDAG_VAULT_PASSPHRASE" : "QUDAG_KEY_PASSPHRASE";
      throw new KeyError(
        "key_passphrase_wrong",
        `${from} does not open this node's vault (it was made with another passphrase)`,
        { cause },
      );
    }
    throw cause;
  }
}
