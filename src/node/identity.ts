/**
 * The node's ML-DSA-87 identity: NODE_PRIVATE_KEY when set, else the key
 * store's "node" key, created on first start. In network mode "local" only, a
 * missing passphrase is replaced by a random one kept beside the key store so
 * `deno task dev` works on a fresh machine; every other mode refuses to start
 * without QUDAG_KEY_PASSPHRASE or NODE_PRIVATE_KEY.
 */
import type { Config } from "../config/mod.ts";
import type { CryptoBackend, MlDsaSigner } from "../crypto/backend.ts";
import { KeyError, keyIdOf, KeyStore, parseSeedSecret, toHex } from "../keys/mod.ts";
import type { Logger } from "../log/mod.ts";

export interface NodeIdentity {
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  readonly source: "env" | "key-store";
  readonly signer: MlDsaSigner;
  /** The 32-byte ML-DSA-87 seed, in memory only, for the engine's synchronous signer. Never logged. */
  readonly seed: Uint8Array;
}

const LOCAL_PASSPHRASE_FILE = "local-passphrase";

export function keyStoreDir(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, "")}/keys`;
}

/** The local-mode passphrase kept beside the key store in `dir`, made on first use. */
export function localPassphrase(dir: string, log: Logger): string {
  const path = `${dir}/${LOCAL_PASSPHRASE_FILE}`;
  try {
    return Deno.readTextFileSync(path).trim();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const pass = toHex(crypto.getRandomValues(new Uint8Array(32)));
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  Deno.writeTextFileSync(path, pass + "\n", { createNew: true, mode: 0o600 });
  log.warn("local mode: the node key's passphrase is kept beside it; set QUDAG_KEY_PASSPHRASE for real protection", {
    path,
  });
  return pass;
}

export async function loadIdentity(config: Config, backend: CryptoBackend, log: Logger): Promise<NodeIdentity> {
  if (config.secrets.nodePrivateKey) {
    const seed = parseSeedSecret("NODE_PRIVATE_KEY", config.secrets.nodePrivateKey);
    const signer = await backend.mlDsaSigner(seed);
    return { keyId: keyIdOf(signer.publicKey), publicKey: signer.publicKey, source: "env", signer, seed };
  }
  const dir = keyStoreDir(config.node.dataDir);
  const store = new KeyStore({ dir, backend });
  let passphrase = config.secrets.keyPassphrase;
  if (!passphrase) {
    if (config.node.networkMode !== "local") {
      throw new KeyError(
        "key_passphrase_missing",
        `network mode ${config.node.networkMode} needs NODE_PRIVATE_KEY or QUDAG_KEY_PASSPHRASE for the node key`,
      );
    }
    passphrase = localPassphrase(dir, log);
  }
  const listing = store.list();
  // A damaged key file is an error, never a reason to make a new identity.
  if (listing.errors.length > 0) throw listing.errors[0];
  const nodeKeys = listing.keys.filter((k) => k.purpose === "node" && k.algorithm === "ml-dsa");
  if (nodeKeys.length > 1) {
    throw new KeyError(
      "key_invalid",
      `${dir} holds ${nodeKeys.length} node keys (${nodeKeys.map((k) => k.keyId.slice(0, 16)).join(", ")}); keep one`,
    );
  }
  const info = nodeKeys[0] ?? await store.generate("ml-dsa", "node", passphrase);
  if (!nodeKeys[0]) log.info("generated node key", { keyId: info.keyId, path: info.path });
  const key = await store.unlock(info.path, passphrase);
  const signer = await backend.mlDsaSigner(key.secret);
  return { keyId: key.keyId, publicKey: key.publicKey, source: "key-store", signer, seed: key.secret };
}
