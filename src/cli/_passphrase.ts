import type { Config } from "../config/mod.ts";
import { KeyError } from "../keys/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { keyStoreDir, localPassphrase } from "../node/identity.ts";
import type { Io } from "./_command.ts";

/**
 * The key passphrase: QUDAG_KEY_PASSPHRASE, else (with `localStore`, in
 * network mode local) the one kept beside the key store, as the node does, so
 * the exchange commands work on a fresh `deno task dev` machine; else asked on
 * a terminal (twice when `confirm`).
 */
export async function passphrase(config: Config, io: Io, confirm: boolean, localStore = false): Promise<string> {
  if (config.secrets.keyPassphrase) return config.secrets.keyPassphrase;
  if (localStore && config.node.networkMode === "local") {
    return localPassphrase(keyStoreDir(config.node.dataDir), silentLogger);
  }
  if (!io.isTerminal()) {
    throw new KeyError(
      "key_passphrase_missing",
      "no key passphrase: set QUDAG_KEY_PASSPHRASE or run on a terminal to be asked",
    );
  }
  const first = await io.readSecret("key passphrase: ");
  if (!first) throw new KeyError("key_passphrase_missing", "an empty passphrase cannot protect a key");
  if (confirm && first !== await io.readSecret("repeat passphrase: ")) {
    throw new KeyError("key_passphrase_wrong", "the two passphrases differ");
  }
  return first;
}
