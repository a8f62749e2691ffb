/**
 * The vault's keys. One ML-KEM-768 key per vault, made at its first opening:
 * its private part (the 64-byte seed) is sealed under a key derived from the
 * vault passphrase by scrypt, in the key store's format (src/keys), and kept in
 * the database. Each secret has its own random AES-256 data key, sealed to the
 * vault key in an envelope (src/keys/envelope.ts, bound to the secret's id);
 * each version of the secret is AES-256-GCM under that data key with a fresh
 * nonce, bound to (secret id, version).
 *
 * scrypt rather than Argon2id: it is what the key store already uses, so one
 * KDF with one set of parameters (N=2^17, r=8, p=1, 128 MiB) protects every
 * secret of the node; node:crypto runs it natively (Argon2id would be pure JS
 * here, several times slower for the same memory).
 */
import type { CryptoBackend, KemKeyPair } from "../crypto/backend.ts";
import { openEnvelope, sealEnvelope } from "../keys/envelope.ts";
import { type KdfParams, openKeyText, sealKeyText } from "../keys/mod.ts";
import type { StoredVaultKey, VaultStore } from "../storage/mod.ts";
import { VaultError } from "./record.ts";

const enc = new TextEncoder();
const DATA_KEY_BYTES = 32;
const IV_BYTES = 12;

function keyAad(secretId: string): Uint8Array {
  return enc.encode(`qudag/vault/v1/key:${secretId}`);
}

function versionAad(secretId: string, version: number): Uint8Array<ArrayBuffer> {
  return enc.encode(`qudag/vault/v1/record:${secretId}:${version}`);
}

export interface VaultKeyOptions {
  store: VaultStore;
  backend: CryptoBackend;
  passphrase: string;
  /** scrypt parameters for a new vault key (tests use a cheap one); an existing key keeps its own. */
  kdf?: KdfParams;
  random: (bytes: number) => Uint8Array;
  nowMs: () => number;
}

export class VaultKey {
  readonly #backend: CryptoBackend;
  readonly #pair: KemKeyPair;
  readonly #random: (bytes: number) => Uint8Array;

  private constructor(backend: CryptoBackend, pair: KemKeyPair, random: (bytes: number) => Uint8Array) {
    this.#backend = backend;
    this.#pair = pair;
    this.#random = random;
  }

  /** Opens the vault's key with the passphrase, or makes it on first use. KeyError key_passphrase_wrong. */
  static async open(o: VaultKeyOptions): Promise<VaultKey> {
    const stored = o.store.getKey();
    if (stored === null) return await VaultKey.#create(o);
    const { secret } = await openKeyText(stored.sealed, o.passphrase, "the vault key");
    const pair = await o.backend.mlKemKeygen(768, secret.subarray(0, 32), secret.subarray(32, 64));
    if (pair.encapsulationKey.toHex() !== stored.publicKey.toHex()) {
      throw new VaultError("vault_corrupt", "the sealed vault key does not match the vault's public key");
    }
    return new VaultKey(o.backend, pair, o.random);
  }

  static async #create(o: VaultKeyOptions): Promise<VaultKey> {
    const seed = o.random(64);
    const pair = await o.backend.mlKemKeygen(768, seed.subarray(0, 32), seed.subarray(32, 64));
    const createdAtMs = o.nowMs();
    const key: StoredVaultKey = {
      sealed: await sealKeyText(
        {
          algorithm: "ml-kem",
          purpose: "vault",
          secret: seed,
          publicKey: pair.encapsulationKey,
          createdAt: new Date(createdAtMs).toISOString(),
        },
        o.passphrase,
        o.kdf,
      ),
      publicKey: pair.encapsulationKey,
      createdAtMs,
    };
    o.store.putKey(key);
    return new VaultKey(o.backend, pair, o.random);
  }

  /** A fresh data key for a new secret, and its envelope (sealed to the vault key, bound to the id). */
  async newDataKey(secretId: string): Promise<{ key: Uint8Array; wrapped: Uint8Array }> {
    const key = this.#random(DATA_KEY_BYTES);
    const wrapped = await sealEnvelope(this.#backend, this.#pair.encapsulationKey, key, {
      associatedData: keyAad(secretId),
    });
    return { key, wrapped };
  }

  async dataKey(secretId: string, wrapped: Uint8Array): Promise<Uint8Array> {
    try {
      return await openEnvelope(this.#backend, this.#pair.decapsulationKey, wrapped, keyAad(secretId));
    } catch (cause) {
      throw new VaultError("vault_corrupt", `the data key of secret ${secretId} does not open`, { cause });
    }
  }

  async encrypt(
    dataKey: Uint8Array,
    secretId: string,
    version: number,
    plaintext: Uint8Array,
  ): Promise<{ iv: Uint8Array; ciphertext: Uint8Array }> {
    const iv = this.#random(IV_BYTES).slice();
    const key = await crypto.subtle.importKey("raw", dataKey.slice(), "AES-GCM", false, ["encrypt"]);
    const ciphertext = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: versionAad(secretId, version) },
        key,
        plaintext.slice(),
      ),
    );
    return { iv, ciphertext };
  }

  async decrypt(
    dataKey: Uint8Array,
    secretId: string,
    version: number,
    v: { iv: Uint8Array; ciphertext: Uint8Array },
  ): Promise<Uint8Array> {
    const key = await crypto.subtle.importKey("raw", dataKey.slice(), "AES-GCM", false, ["decrypt"]);
    try {
      return new Uint8Array(
        await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: v.iv.slice(), additionalData: versionAad(secretId, version) },
          key,
          v.ciphertext.slice(),
        ),
      );
    } catch (cause) {
      throw new VaultError("vault_corrupt", `version ${version} of secret ${secretId} does not decrypt`, { cause });
    }
  }
}
