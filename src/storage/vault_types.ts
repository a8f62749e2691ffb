/**
 * The vault's storage: rows as src/vault seals them. Storage never sees a
 * plaintext value or note: those travel inside `ciphertext`. What it does see
 * in clear (label, username, URL, tags) is what search reads.
 *
 * Deletes are real: a deleted secret's rows are overwritten on disk (SQLite
 * secure_delete) and the write-ahead log is checkpointed and truncated, so no
 * page of the database file or its WAL still holds them.
 */

/** The vault's ML-KEM-768 key: the private part sealed under the passphrase (a key file, src/keys). */
export interface StoredVaultKey {
  /** The sealed key file (JSON text). */
  readonly sealed: string;
  /** The 1,184-byte ML-KEM-768 encapsulation key. */
  readonly publicKey: Uint8Array;
  readonly createdAtMs: number;
}

export interface StoredSecret {
  /** 32 hex digits. */
  readonly id: string;
  readonly label: string;
  readonly username: string | null;
  readonly url: string | null;
  readonly tags: readonly string[];
  /** The current (newest) version. */
  readonly version: number;
  /** The secret's AES-256 data key, sealed to the vault key (an envelope, src/keys/envelope.ts). */
  readonly wrappedKey: Uint8Array;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface StoredSecretVersion {
  readonly secretId: string;
  readonly version: number;
  /** AES-256-GCM nonce, 12 bytes. */
  readonly iv: Uint8Array;
  /** The whole record of this version, encrypted under the secret's data key (tag appended). */
  readonly ciphertext: Uint8Array;
  readonly createdAtMs: number;
}

/** Where a page of search results starts: after this (createdAtMs, id), newest first. */
export interface VaultPosition {
  readonly createdAtMs: number;
  readonly id: string;
}

export interface VaultQuery {
  /** Lower-case substrings that must all occur in the label, username, URL or tags. Empty: every secret. */
  readonly terms: readonly string[];
  readonly after: VaultPosition | null;
  readonly limit: number;
}

/** Most secrets one search page returns. */
export const VAULT_PAGE_MAX = 500;

export interface VaultStore {
  getKey(): StoredVaultKey | null;
  /** Stores the vault key; storage_conflict when one is stored already (it is made once). */
  putKey(key: StoredVaultKey): void;
  /** Secrets stored (constant time). */
  count(): number;
  /** A new secret with its first version; storage_conflict when the id exists. */
  insert(secret: StoredSecret, first: StoredSecretVersion): void;
  get(id: string): StoredSecret | null;
  getVersion(id: string, version: number): StoredSecretVersion | null;
  /** Versions kept, ascending. */
  versions(id: string): number[];
  /**
   * Replaces the secret's row and adds `next` (next.version must be the row's
   * version, one more than the stored one: storage_conflict otherwise), then
   * deletes versions older than the newest `keep`, for real.
   */
  update(secret: StoredSecret, next: StoredSecretVersion, keep: number): void;
  /** Deletes the secret and every version, for real; false when there was none. */
  delete(id: string): boolean;
  /** Secrets matching every term, newest first, after `after`, at most `limit` (1..VAULT_PAGE_MAX). */
  search(query: VaultQuery): StoredSecret[];
}

/** What search matches: the lower-cased label, username, URL and tags, one per line. */
export function searchText(s: Pick<StoredSecret, "label" | "username" | "url" | "tags">): string {
  return [s.label, s.username ?? "", s.url ?? "", ...s.tags].join("\n").toLowerCase();
}
