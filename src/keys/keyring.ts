/**
 * The node's own keys for the crypto API (/api/v1/crypto): generated on
 * request, sealed into the node's key store (purpose "api") under the key
 * store passphrase, and used by the node to decrypt and sign. A secret never
 * leaves: callers get ids and public keys. Listing works without the
 * passphrase (public parts); making and using keys needs it.
 */
import type { CryptoBackend, KemKeyPair, MlDsaSigner } from "../crypto/backend.ts";
import { type KeyAlgorithm, KeyError, type KeyInfo, KeySession, type KeyStore } from "./mod.ts";

export const KEYRING_ALGORITHMS = ["ml-kem-768", "ml-dsa-87"] as const;
export type KeyringAlgorithm = typeof KEYRING_ALGORITHMS[number];

const STORE_ALGORITHM: Record<KeyringAlgorithm, KeyAlgorithm> = { "ml-kem-768": "ml-kem", "ml-dsa-87": "ml-dsa" };
const ALGORITHM_OF: Record<KeyAlgorithm, KeyringAlgorithm> = { "ml-kem": "ml-kem-768", "ml-dsa": "ml-dsa-87" };

/** Most keys the API may make: each is a file, and a list reads them all at start. */
export const KEYRING_KEYS_MAX = 10_000;
/** Most keys held unlocked in memory at once (the least recently unlocked go first). */
const UNLOCKED_MAX = 1_024;

export interface KeyringKey {
  /** BLAKE3-256 of the public key, hex. */
  readonly id: string;
  readonly algorithm: KeyringAlgorithm;
  readonly publicKey: Uint8Array;
  readonly label: string | null;
  readonly createdAt: string;
}

export interface KeyringOptions {
  store: KeyStore;
  backend: CryptoBackend;
  /** The key store passphrase; null: keys can be listed but not made or used (key_passphrase_missing). */
  session: KeySession | null;
  keysMax?: number;
}

type Unlocked = { kind: "ml-dsa-87"; signer: MlDsaSigner } | { kind: "ml-kem-768"; pair: KemKeyPair };

export class Keyring {
  readonly #o: KeyringOptions;
  #index: Map<string, { key: KeyringKey; path: string }> | null = null;
  /** Ids in ascending order, for pages. */
  #sorted: string[] = [];
  #unlocked = new Map<string, Promise<Unlocked>>();

  constructor(o: KeyringOptions) {
    this.#o = o;
  }

  #load(): Map<string, { key: KeyringKey; path: string }> {
    if (this.#index) return this.#index;
    const index = new Map<string, { key: KeyringKey; path: string }>();
    for (const k of this.#o.store.list().keys) {
      if (k.purpose === "api") index.set(k.keyId, { key: keyOf(k), path: k.path });
    }
    this.#sorted = [...index.keys()].sort();
    return this.#index = index;
  }

  get size(): number {
    return this.#load().size;
  }

  /** Keys in ascending id order after `after`, at most `limit`. */
  list(after: string | null, limit: number): KeyringKey[] {
    const index = this.#load();
    let lo = 0;
    if (after !== null) {
      let hi = this.#sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.#sorted[mid] <= after) lo = mid + 1;
        else hi = mid;
      }
    }
    return this.#sorted.slice(lo, lo + limit).map((id) => index.get(id)!.key);
  }

  get(id: string): KeyringKey {
    return this.#entry(id).key;
  }

  #entry(id: string): { key: KeyringKey; path: string } {
    const found = this.#load().get(id.toLowerCase());
    if (!found) throw new KeyError("key_not_found", `no key ${id.slice(0, 64)} in this node's key store`);
    return found;
  }

  #session(): KeySession {
    if (!this.#o.session) {
      throw new KeyError(
        "key_passphrase_missing",
        "the node's key store is locked: set QUDAG_KEY_PASSPHRASE on the node",
      );
    }
    return this.#o.session;
  }

  async generate(algorithm: KeyringAlgorithm, label?: string): Promise<KeyringKey> {
    const session = this.#session();
    const index = this.#load();
    const max = this.#o.keysMax ?? KEYRING_KEYS_MAX;
    if (index.size >= max) throw new KeyError("key_store_full", `the node holds ${max} API keys, its limit`);
    const info = await this.#o.store.generate(STORE_ALGORITHM[algorithm], "api", session, undefined, label);
    const key = keyOf(info);
    index.set(key.id, { key, path: info.path });
    let at = this.#sorted.length;
    while (at > 0 && this.#sorted[at - 1] > key.id) at--;
    this.#sorted.splice(at, 0, key.id);
    return key;
  }

  async #unlock(id: string): Promise<Unlocked> {
    const { key, path } = this.#entry(id);
    const session = this.#session();
    let pending = this.#unlocked.get(id);
    if (pending) {
      this.#unlocked.delete(id); // re-inserted below: most recently used last
    } else {
      pending = (async (): Promise<Unlocked> => {
        const { secret } = await this.#o.store.unlock(path, session);
        if (key.algorithm === "ml-dsa-87") {
          return { kind: key.algorithm, signer: await this.#o.backend.mlDsaSigner(secret) };
        }
        return {
          kind: key.algorithm,
          pair: await this.#o.backend.mlKemKeygen(768, secret.subarray(0, 32), secret.subarray(32, 64)),
        };
      })();
      pending.catch(() => this.#unlocked.delete(id));
      if (this.#unlocked.size >= UNLOCKED_MAX) this.#unlocked.delete(this.#unlocked.keys().next().value!);
    }
    this.#unlocked.set(id, pending);
    return await pending;
  }

  /** The ML-DSA-87 signer of a stored key (key_wrong_algorithm for an ML-KEM key). */
  async signer(id: string): Promise<MlDsaSigner> {
    const key = this.get(id);
    if (key.algorithm !== "ml-dsa-87") throw wrongAlgorithm(key, "sign", "ml-dsa-87");
    const u = await this.#unlock(key.id);
    if (u.kind !== "ml-dsa-87") throw wrongAlgorithm(key, "sign", "ml-dsa-87");
    return u.signer;
  }

  /** The ML-KEM-768 key pair of a stored key (key_wrong_algorithm for an ML-DSA key). */
  async kem(id: string): Promise<KemKeyPair> {
    const key = this.get(id);
    if (key.algorithm !== "ml-kem-768") throw wrongAlgorithm(key, "decrypt", "ml-kem-768");
    const u = await this.#unlock(key.id);
    if (u.kind !== "ml-kem-768") throw wrongAlgorithm(key, "decrypt", "ml-kem-768");
    return u.pair;
  }
}

function keyOf(k: KeyInfo): KeyringKey {
  return {
    id: k.keyId,
    algorithm: ALGORITHM_OF[k.algorithm],
    publicKey: k.publicKey,
    label: k.label ?? null,
    createdAt: k.createdAt,
  };
}

function wrongAlgorithm(key: KeyringKey, what: string, needed: KeyringAlgorithm): KeyError {
  return new KeyError(
    "key_wrong_algorithm",
    `key ${key.id.slice(0, 16)}… is ${key.algorithm}; to ${what} you need an ${needed} key`,
  );
}

export { KeySession };
