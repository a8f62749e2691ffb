/**
 * Where a node finds an account's ML-DSA-87 key: the genesis accounts, the
 * account's `create_account` among the stored transactions (its conflict key
 * is (account, 0); transaction bytes are never pruned), or, on a node that
 * started from a ledger snapshot, the exchange ledger. An account id is the
 * BLAKE3-256 of its key, so any of them is the one key the account can have.
 */
import { validateTransaction } from "../core/mod.ts";
import { conflictKeyOf } from "../dag/conflict_key.ts";
import type { Storage } from "../storage/mod.ts";

/** Keys remembered between lookups (an account's key never changes). */
const CACHE_MAX = 65_536;

export interface AccountKeysOptions {
  storage: Storage;
  /** Hex account id -> key, for the accounts the genesis creates. */
  genesisAccounts?: ReadonlyMap<string, Uint8Array>;
  /** The exchange ledger's key for an account it holds (a snapshot may hold accounts whose creation is not stored). */
  ledgerKey?: (accountHex: string) => Uint8Array | null;
}

export class AccountKeys {
  readonly #o: AccountKeysOptions;
  readonly #cache = new Map<string, Uint8Array>();

  constructor(o: AccountKeysOptions) {
    this.#o = o;
  }

  isGenesisAccount(accountHex: string): boolean {
    return this.#o.genesisAccounts?.has(accountHex) ?? false;
  }

  /** The account's key, or null when this node knows of no create_account for it. */
  keyOf(accountHex: string): Uint8Array | null {
    const known = this.#o.genesisAccounts?.get(accountHex) ?? this.#cache.get(accountHex);
    if (known !== undefined) return known;
    const key = this.#stored(accountHex) ?? this.#o.ledgerKey?.(accountHex) ?? null;
    if (key !== null) {
      if (this.#cache.size >= CACHE_MAX) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(accountHex, key);
    }
    return key;
  }

  #stored(accountHex: string): Uint8Array | null {
    const storage = this.#o.storage;
    for (const id of storage.conflicting(conflictKeyOf(accountHex, 0n))) {
      const bytes = storage.getTransaction(id)?.bytes;
      if (bytes === undefined) continue;
      const { tx } = validateTransaction(bytes);
      // The core checked that a create_account's account id is its key's hash.
      if (tx.kind === "create_account") return tx.publicKey;
    }
    return null;
  }
}
