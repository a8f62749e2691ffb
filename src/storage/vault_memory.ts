/** The vault's tables in memory, with the same rules as vault_sqlite.ts (the conformance suite checks both). */
import { StorageError } from "./types.ts";
import {
  searchText,
  type StoredSecret,
  type StoredSecretVersion,
  type StoredVaultKey,
  VAULT_PAGE_MAX,
  type VaultQuery,
  type VaultStore,
} from "./vault_types.ts";

const copySecret = (s: StoredSecret): StoredSecret => ({ ...s, tags: [...s.tags], wrappedKey: s.wrappedKey.slice() });
const copyVersion = (v: StoredSecretVersion): StoredSecretVersion => ({
  ...v,
  iv: v.iv.slice(),
  ciphertext: v.ciphertext.slice(),
});

/** Newest first: (createdAtMs, id) descending, as SQLite's index walk. */
function newerFirst(a: StoredSecret, b: StoredSecret): number {
  return b.createdAtMs - a.createdAtMs || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

export class MemoryVaultStore implements VaultStore {
  #key: StoredVaultKey | null = null;
  #secrets = new Map<string, StoredSecret>();
  #versions = new Map<string, Map<number, StoredSecretVersion>>();
  readonly #open: () => void;

  /** `open` throws storage_closed once the storage is closed. */
  constructor(open: () => void) {
    this.#open = open;
  }

  getKey(): StoredVaultKey | null {
    this.#open();
    return this.#key ? { ...this.#key, publicKey: this.#key.publicKey.slice() } : null;
  }

  putKey(key: StoredVaultKey): void {
    this.#open();
    if (this.#key) throw new StorageError("storage_conflict", "the vault key exists already");
    this.#key = { ...key, publicKey: key.publicKey.slice() };
  }

  count(): number {
    this.#open();
    return this.#secrets.size;
  }

  insert(secret: StoredSecret, first: StoredSecretVersion): void {
    this.#open();
    if (this.#secrets.has(secret.id)) throw new StorageError("storage_conflict", `vault secret ${secret.id} exists`);
    this.#secrets.set(secret.id, copySecret(secret));
    this.#versions.set(secret.id, new Map([[first.version, copyVersion(first)]]));
  }

  get(id: string): StoredSecret | null {
    this.#open();
    const s = this.#secrets.get(id);
    return s ? copySecret(s) : null;
  }

  getVersion(id: string, version: number): StoredSecretVersion | null {
    this.#open();
    const v = this.#versions.get(id)?.get(version);
    return v ? copyVersion(v) : null;
  }

  versions(id: string): number[] {
    this.#open();
    return [...(this.#versions.get(id)?.keys() ?? [])].sort((a, b) => a - b);
  }

  update(secret: StoredSecret, next: StoredSecretVersion, keep: number): void {
    this.#open();
    if (!Number.isSafeInteger(keep) || keep < 1) throw new RangeError(`versions to keep is ${keep}, expected >= 1`);
    if (next.version !== secret.version || next.secretId !== secret.id) {
      throw new RangeError(`version ${next.version} of ${next.secretId} does not match the row's`);
    }
    const stored = this.#secrets.get(secret.id);
    if (!stored || stored.version !== secret.version - 1) {
      throw new StorageError("storage_conflict", `vault secret ${secret.id} is not at version ${secret.version - 1}`);
    }
    this.#secrets.set(secret.id, copySecret(secret));
    const versions = this.#versions.get(secret.id)!;
    versions.set(next.version, copyVersion(next));
    for (const v of [...versions.keys()]) if (v <= secret.version - keep) versions.delete(v);
  }

  delete(id: string): boolean {
    this.#open();
    this.#versions.delete(id);
    return this.#secrets.delete(id);
  }

  search(q: VaultQuery): StoredSecret[] {
    this.#open();
    if (!Number.isSafeInteger(q.limit) || q.limit < 1 || q.limit > VAULT_PAGE_MAX) {
      throw new RangeError(`limit of a vault search is ${q.limit}, expected 1..${VAULT_PAGE_MAX}`);
    }
    const terms = q.terms.map((t) => t.toLowerCase());
    const after = q.after;
    return [...this.#secrets.values()]
      .filter((s) =>
        after === null || s.createdAtMs < after.createdAtMs || (s.createdAtMs === after.createdAtMs && s.id < after.id)
      )
      .filter((s) => {
        const text = searchText(s);
        return terms.every((t) => text.includes(t));
      })
      .sort(newerFirst)
      .slice(0, q.limit)
      .map(copySecret);
  }
}
